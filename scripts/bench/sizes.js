// Sizes as people write them ("10KB", "25MB", "1GB"; binary units: 1 MB =
// 1024 x 1024 bytes) and back.
export const KiB = 1024;
export const MiB = 1024 * KiB;

/** "1GB", "512MB", "10kb", "1073741824": binary units. */
export function parseSize(text) {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(String(text).trim());
  if (!match) throw new Error(`not a size: ${text}`);
  const unit = { b: 1, kb: KiB, mb: MiB, gb: 1024 * MiB }[(match[2] ?? 'b').toLowerCase()];
  return Math.round(Number(match[1]) * unit);
}

/** Whole MiB, for memory figures. */
export const mib = (bytes) => (bytes / MiB).toFixed(0);

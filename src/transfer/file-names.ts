/**
 * File names of shares come from mail attachments, browsers and the CLI:
 * untrusted. Before a name is stored or shown it loses every path component
 * (`../../etc/passwd` becomes `passwd`, `C:\temp\plan.pdf` becomes
 * `plan.pdf`), control and bidi-override characters (a name must not be
 * able to spoof its extension), leading dots (no hidden files on the
 * recipient's disk) and trailing dots and spaces (Windows drops them). It
 * keeps Unicode: `Bauantrag Müller – Straße 3.pdf` stays as it is.
 */

/** Longest name kept, in UTF-16 code units (file systems allow 255 bytes; a long name with its extension still fits). */
export const MAX_FILE_NAME_LENGTH = 200;
const FALLBACK_NAME = 'file';

// C0/C1 controls, DEL, zero-width and bidirectional formatting characters, line/paragraph separators.
// eslint-disable-next-line no-control-regex
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/gu;

export function sanitizeFileName(name: string): string {
  const normalized = (typeof name === 'string' ? name : '').normalize('NFC');
  // The last path component, for both separators (a Windows client sends backslashes).
  const base = normalized.split(/[/\\]/).pop() ?? '';
  let clean = base
    .replace(UNSAFE_CHARACTERS, '')
    // Characters Windows refuses in names; ':' would also make an NTFS alternate data stream.
    .replace(/[<>:"|?*]/g, '_')
    .replace(/\s+/gu, ' ')
    .replace(/^[\s.]+/u, '')
    .replace(/[\s.]+$/u, '');
  clean = truncateKeepingExtension(clean, MAX_FILE_NAME_LENGTH);
  return clean === '' ? FALLBACK_NAME : clean;
}

/** Cuts the stem, not the extension, and never inside a surrogate pair. */
function truncateKeepingExtension(name: string, max: number): string {
  if (name.length <= max) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const stem = [...name.slice(0, name.length - extension.length)];
  let kept = '';
  for (const character of stem) {
    if (kept.length + character.length + extension.length > max) break;
    kept += character;
  }
  return (kept.replace(/[\s.]+$/u, '') + extension).slice(0, max);
}

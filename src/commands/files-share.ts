/**
 * `siegel files share --owner ADDR FILE [--expires 14d] [--password-file F]
 * [--max-downloads N] [--json]`: stores FILE encrypted (streamed: a file of
 * gigabytes needs no more memory than a small one) and prints the link
 * with name, size, SHA-256 and expiry. The link is shown once; Siegel
 * keeps only its hash.
 */
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { formatDuration } from '../config/format-duration.js';
import { parseDuration } from '../config/units.js';
import type { CreatedShare } from '../transfer/types.js';
import { ExitCode, type CommandContext } from './context.js';
import { humanSize, UsageError, withTransfer } from './files-common.js';

export interface FilesShareOptions {
  readonly owner: string;
  readonly expires?: string;
  readonly passwordFile?: string;
  readonly maxDownloads?: string;
  readonly contentType?: string;
  /** Commander's --no-notify. */
  readonly notify?: boolean;
  readonly json?: boolean;
}

export async function filesShare(ctx: CommandContext, file: string, opts: FilesShareOptions): Promise<number> {
  return withTransfer(ctx, 'share', async (service) => {
    const expiresIn = opts.expires === undefined ? undefined : expiry(opts.expires, ctx.config.largeFiles.maxExpiry);
    const maxDownloads = opts.maxDownloads === undefined ? undefined : downloadLimit(opts.maxDownloads);
    const password = opts.passwordFile === undefined ? undefined : await readPassword(opts.passwordFile);
    // Opened here, so an unreadable file is an error of this command, and the handle is closed whatever the service decides.
    const handle = await open(file, 'r');
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new UsageError(`${file} is not a regular file`);
      const created = await service.share(handle.createReadStream({ highWaterMark: 256 * 1024, autoClose: false }), {
        owner: opts.owner,
        fileName: path.basename(file),
        origin: 'cli',
        expectedSize: info.size,
        ...(opts.contentType === undefined ? {} : { contentType: opts.contentType }),
        ...(expiresIn === undefined ? {} : { expiresIn }),
        ...(maxDownloads === undefined ? {} : { maxDownloads }),
        ...(password === undefined ? {} : { password }),
        ...(opts.notify === false ? { notifyOnFirstDownload: false } : {}),
      });
      ctx.stdout.write(opts.json === true ? `${JSON.stringify(toJson(created), null, 2)}\n` : describe(created, ctx.now()));
      return ExitCode.ok;
    } finally {
      await handle.close();
    }
  });
}

function toJson(created: CreatedShare): Record<string, unknown> {
  return { ...created, expiresAt: created.expiresAt.toISOString() };
}

function describe(created: CreatedShare, now: Date): string {
  const left = formatDuration(created.expiresAt.getTime() - now.getTime());
  return [
    `Link:     ${created.url}`,
    `File:     ${created.fileName}`,
    `Size:     ${created.size} bytes (${humanSize(created.size)})`,
    `SHA-256:  ${created.sha256}`,
    `Expires:  ${created.expiresAt.toISOString()} (in ${left})`,
    `Share ID: ${created.id}`,
    'The link is shown only now: Siegel keeps no copy of it.',
    '',
  ].join('\n');
}

function expiry(text: string, maxExpiry: number): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`--expires: "${text}" is not a duration like 14d, 36h or 90m`);
  // The service would cap it silently; on the command line, say so instead.
  if (ms > maxExpiry) throw new UsageError(`--expires: ${text} is beyond largeFiles.maxExpiry (${formatDuration(maxExpiry)})`);
  return ms;
}

function downloadLimit(text: string): number {
  const value = /^\d{1,9}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(value >= 1)) throw new UsageError(`--max-downloads: "${text}" is not a whole number of at least 1`);
  return value;
}

/** The first line of the file, without its line ending: `printf '%s\n' "$PW" > f` works as expected. */
async function readPassword(file: string): Promise<string> {
  const text = await readFile(file, 'utf8');
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password === '') throw new UsageError(`--password-file: ${file} holds no password on its first line`);
  return password;
}

/**
 * `siegel files audit [--share ID] [--since 7d|ISO-DATE] [--limit N] [--json]`:
 * who shared, uploaded, downloaded, revoked or failed a password, when,
 * how many bytes, from which IP. Oldest first; --limit keeps the newest N.
 */
import { parseDuration } from '../config/units.js';
import type { AuditEntry } from '../transfer/types.js';
import { ExitCode, type CommandContext } from './context.js';
import { table, UsageError, withTransfer } from './files-common.js';

export interface FilesAuditOptions {
  readonly share?: string;
  readonly since?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

export async function filesAudit(ctx: CommandContext, opts: FilesAuditOptions): Promise<number> {
  return withTransfer(ctx, 'audit', async (service) => {
    const since = opts.since === undefined ? undefined : sinceDate(opts.since, ctx.now());
    const limit = opts.limit === undefined ? undefined : positive(opts.limit);
    const entries = await service.audit({
      ...(opts.share === undefined ? {} : { shareId: opts.share }),
      ...(since === undefined ? {} : { since }),
      ...(limit === undefined ? {} : { limit }),
    });
    if (opts.json === true) ctx.stdout.write(`${JSON.stringify(entries.map(auditJson), null, 2)}\n`);
    else ctx.stdout.write(entries.length === 0 ? 'No audit entries.\n' : auditTable(entries));
    return ExitCode.ok;
  });
}

export function auditJson(entry: AuditEntry): Record<string, unknown> {
  return { ...entry, at: entry.at.toISOString() };
}

export function auditTable(entries: readonly AuditEntry[]): string {
  const rows = entries.map((entry) => [
    entry.at.toISOString().slice(0, 19).replace('T', ' '),
    entry.event,
    entry.shareId ?? '-',
    entry.actor ?? '-',
    entry.size === undefined ? '-' : String(entry.size),
    entry.clientIp ?? '-',
    entry.fileName ?? '-',
    entry.detail ?? '',
  ]);
  return table(['TIME (UTC)', 'EVENT', 'SHARE', 'WHO', 'BYTES', 'IP', 'FILE', 'DETAIL'], rows);
}

/** "7d" (that long ago) or a date such as 2026-11-01 / 2026-11-01T08:00:00Z. */
function sinceDate(text: string, now: Date): Date {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now.getTime() - ms);
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const date = new Date(text);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw new UsageError(`--since: "${text}" is neither a duration like 7d nor a date like 2026-11-01`);
}

function positive(text: string): number {
  const value = /^\d{1,9}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(value >= 1)) throw new UsageError(`--limit: "${text}" is not a whole number of at least 1`);
  return value;
}


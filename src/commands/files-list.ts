/**
 * `siegel files list [--owner ADDR] [--all] [--audit] [--json]`: the shares
 * (active ones, or with --all also expired, revoked and exhausted ones) with
 * state, downloads and expiry. The "audit log readable with
 * `siegel files list`": --audit appends the audit log (the same as
 * `siegel files audit`, limited to the listed owner's shares when --owner
 * is given).
 */
import type { AuditEntry, ShareInfo } from '../transfer/types.js';
import { auditJson, auditTable } from './files-audit.js';
import { ExitCode, type CommandContext } from './context.js';
import { humanSize, shortTime, table, withTransfer } from './files-common.js';

export interface FilesListOptions {
  readonly owner?: string;
  readonly all?: boolean;
  readonly audit?: boolean;
  readonly json?: boolean;
}

export async function filesList(ctx: CommandContext, opts: FilesListOptions): Promise<number> {
  return withTransfer(ctx, 'list', async (service) => {
    const shares = await service.list({ ...(opts.owner === undefined ? {} : { owner: opts.owner }), includeInactive: opts.all === true });
    let audit: AuditEntry[] | undefined;
    if (opts.audit === true) {
      audit = await service.audit();
      if (opts.owner !== undefined) {
        // Owner filter: the entries of that owner's shares (all of them, not only the listed active ones).
        const owned = new Set((await service.list({ owner: opts.owner, includeInactive: true })).map((share) => share.id));
        audit = audit.filter((entry) => entry.shareId !== undefined && owned.has(entry.shareId));
      }
    }
    if (opts.json === true) {
      const out = { shares: shares.map(shareJson), ...(audit === undefined ? {} : { audit: audit.map(auditJson) }) };
      ctx.stdout.write(`${JSON.stringify(opts.audit === true ? out : out.shares, null, 2)}\n`);
      return ExitCode.ok;
    }
    ctx.stdout.write(shares.length === 0 ? noShares(opts) : sharesTable(shares));
    if (audit !== undefined) ctx.stdout.write(`\nAudit log:\n${audit.length === 0 ? 'No entries.\n' : auditTable(audit)}`);
    return ExitCode.ok;
  });
}

export function shareJson(share: ShareInfo): Record<string, unknown> {
  return { ...share, createdAt: share.createdAt.toISOString(), expiresAt: share.expiresAt.toISOString() };
}

function noShares(opts: FilesListOptions): string {
  const whose = opts.owner === undefined ? '' : ` of ${opts.owner.trim().toLowerCase()}`;
  return opts.all === true ? `No shares${whose}.\n` : `No active shares${whose} (--all shows expired, revoked and exhausted ones).\n`;
}

function sharesTable(shares: readonly ShareInfo[]): string {
  const rows = shares.map((share) => [
    share.id,
    share.state,
    share.owner,
    humanSize(share.size),
    share.maxDownloads === undefined ? String(share.downloads) : `${share.downloads}/${share.maxDownloads}`,
    shortTime(share.createdAt),
    shortTime(share.expiresAt),
    share.passwordRequired ? 'yes' : 'no',
    share.origin,
    share.fileName,
  ]);
  return table(['ID', 'STATE', 'OWNER', 'SIZE', 'DOWNLOADS', 'CREATED (UTC)', 'EXPIRES (UTC)', 'PASSWORD', 'ORIGIN', 'FILE'], rows);
}

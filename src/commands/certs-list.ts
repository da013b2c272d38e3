/**
 * `siegel certs list`: the enrolled identities with their expiry, as a
 * table or JSON (for monitoring). Reads the store directly: listing needs
 * no master key, so a monitoring job need not be able to decrypt keys.
 */
import { errorMessage } from '../errors.js';
import { summarize, type IdentitySummary } from '../keystore/keystore.js';
import { openIdentityStore } from '../keystore/open.js';
import { ExitCode, type CommandContext } from './context.js';

const DAY = 86_400_000;

export interface CertsListOptions {
  json?: boolean;
}

export interface IdentityListing {
  readonly id: string;
  readonly mailbox: string;
  readonly role: string;
  readonly state: string;
  readonly subject: string | null;
  readonly issuer: string | null;
  readonly serial: string | null;
  readonly notBefore: string | null;
  readonly notAfter: string | null;
  /** Whole days until notAfter (negative once expired); null while pending. */
  readonly daysLeft: number | null;
  readonly createdAt: string;
}

export async function certsList(ctx: CommandContext, opts: CertsListOptions): Promise<number> {
  let identities: IdentitySummary[];
  try {
    const store = openIdentityStore(ctx.config, ctx.logger);
    try {
      identities = (await store.list()).map(summarize);
    } finally {
      await store.close();
    }
  } catch (err) {
    ctx.stderr.write(`siegel certs list: ${errorMessage(err)}\n`);
    return ExitCode.failure;
  }
  const now = ctx.now();
  const listing = identities.sort(byMailboxThenExpiry).map((identity) => toListing(identity, now));
  if (opts.json) {
    ctx.stdout.write(`${JSON.stringify(listing, null, 2)}\n`);
  } else if (listing.length === 0) {
    ctx.stdout.write('No identities enrolled. Add one with `siegel enroll import`.\n');
  } else {
    ctx.stdout.write(table(listing));
  }
  return ExitCode.ok;
}

export function toListing(identity: IdentitySummary, now: Date): IdentityListing {
  return {
    id: identity.id,
    mailbox: identity.mailbox,
    role: identity.role,
    state: identity.state,
    subject: identity.subject,
    issuer: identity.issuer,
    serial: identity.serial,
    notBefore: identity.notBefore?.toISOString() ?? null,
    notAfter: identity.notAfter?.toISOString() ?? null,
    daysLeft: identity.notAfter ? Math.floor((identity.notAfter.getTime() - now.getTime()) / DAY) : null,
    createdAt: identity.createdAt.toISOString(),
  };
}

function byMailboxThenExpiry(a: IdentitySummary, b: IdentitySummary): number {
  return a.mailbox.localeCompare(b.mailbox) || (a.notAfter?.getTime() ?? Infinity) - (b.notAfter?.getTime() ?? Infinity) || a.id.localeCompare(b.id);
}

function table(rows: readonly IdentityListing[]): string {
  const header = ['MAILBOX', 'ROLE', 'STATE', 'SUBJECT', 'ISSUER', 'SERIAL', 'EXPIRES', 'DAYS LEFT'];
  const cells = rows.map((r) => [
    r.mailbox,
    r.role,
    r.state,
    r.subject ?? '-',
    r.issuer ?? '-',
    r.serial ?? '-',
    r.notAfter?.slice(0, 10) ?? '-',
    r.daysLeft === null ? '-' : r.daysLeft < 0 ? 'expired' : String(r.daysLeft),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[header, ...cells].map(line).join('\n')}\n`;
}

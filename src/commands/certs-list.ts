/**
 * `siegel certs list`: the enrolled identities with their expiry and
 * lifecycle status (in use, superseded by a renewal, expiring without a
 * successor), as a table or JSON (for monitoring). Reads the store
 * directly: listing needs no master key, so a monitoring job need not be
 * able to decrypt keys.
 */
import { errorMessage } from '../errors.js';
import { summarize, type IdentitySummary } from '../keystore/keystore.js';
import { openIdentityStore } from '../keystore/open.js';
import { identityLifecycles, type IdentityLifecycle, type IdentityStatus } from '../lifecycle/identity-status.js';
import { ExitCode, type CommandContext } from './context.js';
import { table } from './table.js';

/** enrollment.expiryWarning's default, for callers without a config at hand. */
const DEFAULT_WARNING_MS = 30 * 86_400_000;

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
  /** Lifecycle status now (lifecycle/identity-status.ts): in-use, superseded, expired, ... */
  readonly status: IdentityStatus;
  /** Active, without a renewal, and expiring within enrollment.expiryWarning (or expired): renew it. */
  readonly expiring: boolean;
  /** Id of the renewed identity that takes over when this one ends, if one is enrolled. */
  readonly renewedBy: string | null;
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
  const listing = toListings(identities.sort(byMailboxThenExpiry), ctx.now(), ctx.config.enrollment.expiryWarning);
  if (opts.json) {
    ctx.stdout.write(`${JSON.stringify(listing, null, 2)}\n`);
  } else if (listing.length === 0) {
    ctx.stdout.write('No identities enrolled. Add one with `siegel enroll import`.\n');
  } else {
    ctx.stdout.write(listingTable(listing));
  }
  return ExitCode.ok;
}

/** Listings of identities that are judged together (a renewal supersedes its predecessor); order kept. */
export function toListings(identities: readonly IdentitySummary[], now: Date, warningMs: number = DEFAULT_WARNING_MS): IdentityListing[] {
  return identityLifecycles(identities, now, warningMs).map(fromLifecycle);
}

/** One identity judged alone (no renewal known). */
export function toListing(identity: IdentitySummary, now: Date, warningMs: number = DEFAULT_WARNING_MS): IdentityListing {
  return toListings([identity], now, warningMs)[0] as IdentityListing;
}

function fromLifecycle({ identity, status, daysLeft, expiring, renewedBy }: IdentityLifecycle): IdentityListing {
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
    daysLeft,
    status,
    expiring,
    renewedBy,
    createdAt: identity.createdAt.toISOString(),
  };
}

function byMailboxThenExpiry(a: IdentitySummary, b: IdentitySummary): number {
  return a.mailbox.localeCompare(b.mailbox) || (a.notAfter?.getTime() ?? Infinity) - (b.notAfter?.getTime() ?? Infinity) || a.id.localeCompare(b.id);
}

/** e.g. "in use", "superseded", "in use, renewed", "in use, EXPIRING: renew", "expired, NOT RENEWED". */
export function statusText(listing: Pick<IdentityListing, 'status' | 'expiring' | 'renewedBy'>): string {
  const base = listing.status.replace(/-/g, ' ');
  if (listing.expiring) return listing.status === 'expired' ? `${base}, NOT RENEWED` : `${base}, EXPIRING: renew`;
  return listing.renewedBy !== null ? `${base}, renewed` : base;
}

function listingTable(rows: readonly IdentityListing[]): string {
  const header = ['MAILBOX', 'ROLE', 'STATE', 'SUBJECT', 'ISSUER', 'SERIAL', 'EXPIRES', 'DAYS LEFT', 'STATUS'];
  const cells = rows.map((r) => [
    r.mailbox,
    r.role,
    r.state,
    r.subject ?? '-',
    r.issuer ?? '-',
    r.serial ?? '-',
    r.notAfter?.slice(0, 10) ?? '-',
    r.daysLeft === null ? '-' : r.daysLeft < 0 ? 'expired' : String(r.daysLeft),
    statusText(r),
  ]);
  return table(header, cells);
}

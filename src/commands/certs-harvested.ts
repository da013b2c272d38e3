/**
 * `siegel certs list --harvested`: the correspondents' certificates learned
 * from verified inbound mail, as a table or JSON. Like `certs list`, it
 * needs no master key (harvested certificates are public).
 */
import { errorMessage } from '../errors.js';
import type { HarvestedRecord } from '../keystore/harvested-store.js';
import { SqliteHarvestedStore } from '../keystore/sqlite-harvested-store.js';
import { ExitCode, type CommandContext } from './context.js';
import { table } from './table.js';

const DAY = 86_400_000;

export interface CertsListHarvestedOptions {
  json?: boolean;
}

/** A harvested certificate for display and JSON (no DER: the fingerprint names it). */
export interface HarvestedListing {
  readonly address: string;
  readonly state: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** Whole days until notAfter, negative once expired. */
  readonly daysLeft: number;
  readonly capabilities: readonly string[];
  readonly source: string;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly anchorFingerprint: string;
}

export async function certsListHarvested(ctx: CommandContext, opts: CertsListHarvestedOptions): Promise<number> {
  let records: HarvestedRecord[];
  try {
    const store = SqliteHarvestedStore.open(ctx.config.dataDir, (message) => ctx.logger.warn(message));
    try {
      records = await store.list();
    } finally {
      await store.close();
    }
  } catch (err) {
    ctx.stderr.write(`siegel certs list: ${errorMessage(err)}\n`);
    return ExitCode.failure;
  }
  const now = ctx.now();
  const listing = records.map((record) => toHarvestedListing(record, now));
  if (opts.json) {
    ctx.stdout.write(`${JSON.stringify(listing, null, 2)}\n`);
  } else if (listing.length === 0) {
    ctx.stdout.write('No certificates harvested yet. They are learned from signed mail that verifies.\n');
  } else {
    ctx.stdout.write(
      table(
        ['ADDRESS', 'STATE', 'SUBJECT', 'ISSUER', 'SERIAL', 'EXPIRES', 'LAST SEEN'],
        listing.map((r) => [r.address, r.state, r.subject, r.issuer, r.serial, r.daysLeft < 0 ? `${r.notAfter.slice(0, 10)} (expired)` : r.notAfter.slice(0, 10), r.lastSeen.slice(0, 10)]),
      ),
    );
  }
  return ExitCode.ok;
}

export function toHarvestedListing(record: HarvestedRecord, now: Date): HarvestedListing {
  return {
    address: record.address,
    state: record.state,
    subject: record.subject,
    issuer: record.issuer,
    serial: record.serial,
    fingerprint: record.fingerprint,
    notBefore: record.notBefore.toISOString(),
    notAfter: record.notAfter.toISOString(),
    daysLeft: Math.floor((record.notAfter.getTime() - now.getTime()) / DAY),
    capabilities: record.capabilities,
    source: record.source,
    firstSeen: record.firstSeen.toISOString(),
    lastSeen: record.lastSeen.toISOString(),
    anchorFingerprint: record.anchorFingerprint,
  };
}

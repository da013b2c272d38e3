/**
 * Certificates of correspondents, learned from inbound mail that verified
 * (`pass`), so that replies to them can be encrypted (DESIGN rule 6: one
 * interface, node:sqlite embedded, PostgreSQL later; both must pass
 * test/harvest/harvested-store.conformance.ts).
 *
 * The store only keeps records; which certificate is harvested, which one
 * supersedes which and which one is used lives in harvest.ts, so every
 * store behaves the same.
 */
/** 'imported': handed over by other means and added with `siegel certs import` (same validation). */
export type HarvestSource = 'signer' | 'encryption-preference' | 'same-address' | 'imported';
export type HarvestState = 'active' | 'superseded';

export const harvestSources: readonly HarvestSource[] = ['signer', 'encryption-preference', 'same-address', 'imported'];
export const harvestStates: readonly HarvestState[] = ['active', 'superseded'];

/** One certificate for one address; keyed by (address, fingerprint). */
export interface HarvestedRecord {
  /** Lower-case mailbox address the certificate was harvested for. */
  readonly address: string;
  /** DER. */
  readonly certificate: Buffer;
  /** SHA-256 of the DER, lower-case hex. */
  readonly fingerprint: string;
  /** RFC 4514. */
  readonly subject: string;
  readonly issuer: string;
  /** Upper-case hex. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SMIMECapabilities OIDs in the sender's order of preference; may be empty. */
  readonly capabilities: readonly string[];
  /** How the certificate was chosen from the message. */
  readonly source: HarvestSource;
  readonly firstSeen: Date;
  /** Signing time of the latest verified message that carried it. */
  readonly lastSeen: Date;
  /** SHA-256 (lower-case hex) of the trust anchor its path ended at. */
  readonly anchorFingerprint: string;
  readonly state: HarvestState;
}

export interface HarvestedStore {
  /** Inserts, or replaces the record with the same (address, fingerprint). */
  put(record: HarvestedRecord): Promise<void>;
  get(address: string, fingerprint: string): Promise<HarvestedRecord | undefined>;
  /** Records of one address (matched case-insensitively), newest notBefore first, then fingerprint. */
  forAddress(address: string): Promise<HarvestedRecord[]>;
  /** All records, by address, then as forAddress(). */
  list(): Promise<HarvestedRecord[]>;
  /** True when a record was removed. */
  remove(address: string, fingerprint: string): Promise<boolean>;
  /** Idempotent. */
  close(): Promise<void>;
}

const HEX64 = /^[0-9a-f]{64}$/;
const OID_TEXT = /^[0-2](\.(0|[1-9][0-9]*))+$/;

/** Checks the invariants every store enforces on put; throws a plain Error naming the field. */
export function checkHarvestedRecord(record: HarvestedRecord): void {
  const label = `harvested record ${record.address}/${record.fingerprint.slice(0, 16)}`;
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(record.address)) throw new Error(`${label}: address ${JSON.stringify(record.address)} is not an address`);
  if (!HEX64.test(record.fingerprint)) throw new Error(`${label}: fingerprint is not lower-case SHA-256 hex`);
  if (!HEX64.test(record.anchorFingerprint)) throw new Error(`${label}: anchorFingerprint is not lower-case SHA-256 hex`);
  if (record.certificate.length === 0) throw new Error(`${label}: certificate is empty`);
  if (!harvestSources.includes(record.source)) throw new Error(`${label}: unknown source ${String(record.source)}`);
  if (!harvestStates.includes(record.state)) throw new Error(`${label}: unknown state ${String(record.state)}`);
  for (const oid of record.capabilities) {
    if (!OID_TEXT.test(oid)) throw new Error(`${label}: capability ${JSON.stringify(oid)} is not a dotted OID`);
  }
  for (const [name, value] of [['notBefore', record.notBefore], ['notAfter', record.notAfter], ['firstSeen', record.firstSeen], ['lastSeen', record.lastSeen]] as const) {
    if (Number.isNaN(value.getTime())) throw new Error(`${label}: ${name} is not a date`);
  }
}

/** Newest notBefore first, then fingerprint: the order every store returns. */
export function newestFirst(a: HarvestedRecord, b: HarvestedRecord): number {
  return b.notBefore.getTime() - a.notBefore.getTime() || a.fingerprint.localeCompare(b.fingerprint);
}

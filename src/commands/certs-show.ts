/**
 * `siegel certs show ADDR`: everything Siegel knows about one address, for
 * an administrator asking "why was this reply (not) encrypted?" or "which
 * certificate do we sign with?": the enrolled identities of a mailbox of
 * ours and the harvested certificates of a correspondent, with the one
 * replies are encrypted to. Needs no master key.
 */
import { errorMessage } from '../errors.js';
import { lookupEncryptionCertificate } from '../keystore/harvest.js';
import type { HarvestedRecord } from '../keystore/harvested-store.js';
import { summarize } from '../keystore/keystore.js';
import { openIdentityStore } from '../keystore/open.js';
import { SqliteHarvestedStore } from '../keystore/sqlite-harvested-store.js';
import { toHarvestedListing, type HarvestedListing } from './certs-harvested.js';
import { toListings, type IdentityListing } from './certs-list.js';
import { ExitCode, type CommandContext } from './context.js';

export interface CertsShowOptions {
  address: string;
  json?: boolean;
}

export interface AddressReport {
  readonly address: string;
  readonly identities: readonly IdentityListing[];
  readonly harvested: readonly (HarvestedListing & { readonly capabilityNames: readonly string[] })[];
  /** Fingerprint of the harvested certificate replies are encrypted to now; null when none. */
  readonly encryptTo: string | null;
}

/** SMIMECapabilities entries and related algorithms as mail clients announce them. */
const CAPABILITY_NAMES: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.1.2': 'AES-128-CBC',
  '2.16.840.1.101.3.4.1.22': 'AES-192-CBC',
  '2.16.840.1.101.3.4.1.42': 'AES-256-CBC',
  '2.16.840.1.101.3.4.1.6': 'AES-128-GCM',
  '2.16.840.1.101.3.4.1.26': 'AES-192-GCM',
  '2.16.840.1.101.3.4.1.46': 'AES-256-GCM',
  '2.16.840.1.101.3.4.1.5': 'AES-128 key wrap',
  '2.16.840.1.101.3.4.1.25': 'AES-192 key wrap',
  '2.16.840.1.101.3.4.1.45': 'AES-256 key wrap',
  '1.2.840.113549.1.9.16.3.18': 'ChaCha20-Poly1305',
  '1.2.840.113549.3.7': '3DES-CBC (weak)',
  '1.2.840.113549.3.2': 'RC2-CBC (weak)',
  '1.3.14.3.2.7': 'DES-CBC (weak)',
  '1.2.840.113549.1.1.1': 'RSA (PKCS #1 v1.5)',
  '1.2.840.113549.1.1.7': 'RSAES-OAEP',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.113549.1.1.11': 'SHA-256 with RSA',
  '1.2.840.113549.1.1.12': 'SHA-384 with RSA',
  '1.2.840.113549.1.1.13': 'SHA-512 with RSA',
  '1.2.840.10045.4.3.2': 'ECDSA with SHA-256',
  '1.2.840.10045.4.3.3': 'ECDSA with SHA-384',
  '1.2.840.10045.4.3.4': 'ECDSA with SHA-512',
  '1.3.132.1.11.1': 'ECDH (SHA-256 KDF)',
  '1.3.132.1.11.2': 'ECDH (SHA-384 KDF)',
  '1.3.132.1.11.3': 'ECDH (SHA-512 KDF)',
  '1.3.14.3.2.26': 'SHA-1',
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
  '1.2.840.113549.1.9.15.1': 'prefers signed data',
  '1.2.840.113549.1.9.15.2': 'cannot decrypt any',
  '1.2.840.113549.1.9.15.3': 'S/MIME capabilities versions',
};

/** A human name for a capability OID; unknown OIDs are shown as they are. */
export function capabilityName(oid: string): string {
  return CAPABILITY_NAMES[oid] ?? oid;
}

export async function certsShow(ctx: CommandContext, opts: CertsShowOptions): Promise<number> {
  const address = opts.address.trim().toLowerCase();
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(address)) {
    ctx.stderr.write(`siegel certs show: ${JSON.stringify(opts.address)} is not a mailbox address (expected local@domain)\n`);
    return ExitCode.usage;
  }
  const now = ctx.now();
  let report: AddressReport;
  try {
    report = await gather(ctx, address, now);
  } catch (err) {
    ctx.stderr.write(`siegel certs show: ${errorMessage(err)}\n`);
    return ExitCode.failure;
  }
  ctx.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
  return ExitCode.ok;
}

async function gather(ctx: CommandContext, address: string, now: Date): Promise<AddressReport> {
  const identityStore = openIdentityStore(ctx.config, ctx.logger);
  let identities: IdentityListing[];
  try {
    identities = toListings((await identityStore.forMailbox(address)).map(summarize), now, ctx.config.enrollment.expiryWarning);
  } finally {
    await identityStore.close();
  }
  const harvestedStore = SqliteHarvestedStore.open(ctx.config.dataDir, (message) => ctx.logger.warn(message));
  let records: HarvestedRecord[];
  let encryptTo: string | null;
  try {
    records = await harvestedStore.forAddress(address);
    encryptTo = (await lookupEncryptionCertificate(harvestedStore, address, now))?.fingerprint ?? null;
  } finally {
    await harvestedStore.close();
  }
  const harvested = records.map((record) => ({ ...toHarvestedListing(record, now), capabilityNames: record.capabilities.map(capabilityName) }));
  return { address, identities, harvested, encryptTo };
}

function render(report: AddressReport): string {
  const out: string[] = [`Address: ${report.address}`, ''];
  if (report.identities.length === 0 && report.harvested.length === 0) {
    return `${out[0]}\nNothing known about this address: no enrolled identity, no harvested certificate.\n`;
  }
  out.push(`Enrolled identities (own mailbox): ${report.identities.length === 0 ? 'none' : report.identities.length}`);
  for (const identity of report.identities) {
    out.push(
      `  - ${identity.role}, ${identity.state}: ${identity.subject ?? '(pending request)'}`,
      `      issuer:   ${identity.issuer ?? '-'}`,
      `      serial:   ${identity.serial ?? '-'}`,
      `      expires:  ${expiry(identity.notAfter, identity.daysLeft)}`,
      `      id:       ${identity.id}`,
    );
  }
  out.push('', `Harvested certificates (correspondent): ${report.harvested.length === 0 ? 'none' : report.harvested.length}`);
  for (const cert of report.harvested) {
    const used = cert.fingerprint === report.encryptTo ? ' [replies are encrypted to this one]' : '';
    out.push(
      `  - ${cert.state}: ${cert.subject}${used}`,
      `      issuer:       ${cert.issuer}`,
      `      serial:       ${cert.serial}`,
      `      valid:        ${cert.notBefore.slice(0, 10)} to ${expiry(cert.notAfter, cert.daysLeft)}`,
      `      source:       ${cert.source}`,
      `      capabilities: ${cert.capabilityNames.length === 0 ? 'none announced' : cert.capabilityNames.join(', ')}`,
      `      first seen:   ${cert.firstSeen}`,
      `      last seen:    ${cert.lastSeen}`,
      `      fingerprint:  ${cert.fingerprint}`,
      `      trust anchor: ${cert.anchorFingerprint}`,
    );
  }
  if (report.harvested.length > 0 && report.encryptTo === null) out.push('  No harvested certificate is usable now: replies go out unencrypted.');
  return `${out.join('\n')}\n`;
}

function expiry(notAfter: string | null, daysLeft: number | null): string {
  if (notAfter === null || daysLeft === null) return '-';
  return `${notAfter.slice(0, 10)} (${daysLeft < 0 ? 'expired' : `${daysLeft} days left`})`;
}

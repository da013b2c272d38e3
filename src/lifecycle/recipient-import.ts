/**
 * `siegel certs import ADDR FILE`: a correspondent's encryption certificate
 * handed over by other means (mail attachment, USB stick, a PKI's web
 * directory). It is validated exactly like a harvested one, in this order,
 * each refusal naming what is wrong:
 *   one end-entity certificate for ADDR in the file (the others may only be
 *   issuing CAs), ADDR in its subjectAltName, not a CA, keyUsage allowing
 *   encryption, emailProtection allowed, valid now, and a path through the
 *   file's CA certificates to a configured trust anchor (path-validation.ts,
 *   the same rules as for inbound signers, minRsaBits included).
 * It then goes through harvest.ts with source 'imported', so the harvested
 * replacement rules hold too: a certificate from another trust anchor does
 * not replace a kept, unexpired one, nor does one that is not newer. An
 * administrator who knows better says --force: the imported certificate
 * becomes the one used and the others of the address are superseded (kept
 * for the record, never deleted).
 * The file's CA certificates that made the validated path (not the trust
 * anchor) go into the issuer store: the revocation check needs the issuer,
 * which the harvested record does not hold, after every restart too.
 */
import { SiegelError } from '../errors.js';
import { harvest } from '../keystore/harvest.js';
import { newestFirst, type HarvestedRecord, type HarvestedStore } from '../keystore/harvested-store.js';
import { keepPathIssuers, type IssuerStore } from '../keystore/issuer-store.js';
import { encryptionUnfitness, parseCertificate, type CertificateInfo } from '../pki/certificate-info.js';
import { oneLine, readCertificate, validatePath, MAX_CANDIDATES } from '../pki/path-validation.js';
import { looksLikePem, readPemBlocks } from '../pki/pem.js';
import type { TrustAnchor } from '../pki/trust-store.js';

/** A certificate file is small; anything larger is not what the administrator meant. */
export const MAX_IMPORT_FILE_BYTES = 1024 * 1024;

export interface RecipientImportInput {
  readonly address: string;
  /** The file's bytes: PEM (one or more CERTIFICATE blocks) or one DER certificate. */
  readonly file: Buffer;
  readonly anchors: readonly TrustAnchor[];
  readonly now: Date;
  /** inbound.minRsaBits: the same bar as for signers. */
  readonly minRsaBits: number;
  /** Use the certificate even where the harvest rules would keep the current one. */
  readonly force?: boolean;
  /** Where the issuing CAs of the validated path are kept; a failure there is reported, the import stands. */
  readonly issuers?: IssuerStore;
}

export type RecipientImportAction =
  /** First certificate for the address. */
  | 'added'
  /** Newer than the kept one under the same anchor: it replaced it. */
  | 'superseded'
  /** --force: replaced a certificate the harvest rules would have kept. */
  | 'forced'
  /** This very certificate is already the one used for the address. */
  | 'unchanged';

export interface RecipientImportResult {
  readonly address: string;
  readonly action: RecipientImportAction;
  readonly fingerprint: string;
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly anchorFingerprint: string;
  readonly anchorSubject: string;
  /** Fingerprints of the certificates of the address that this one superseded. */
  readonly replaced: readonly string[];
  /** Subjects of the issuing CA certificates kept for the revocation check (the trust anchor needs none). */
  readonly issuers: readonly string[];
  /** Why the issuing CAs could not be kept, when they could not: revocation then relies on caIssuers or inbound mail. */
  readonly issuersNotKept?: string;
}

interface Parsed {
  readonly der: Buffer;
  readonly info: CertificateInfo;
}

export async function importRecipientCertificate(store: HarvestedStore, input: RecipientImportInput): Promise<RecipientImportResult> {
  const address = input.address.trim().toLowerCase();
  const { leaf, intermediates } = pickLeaf(readCertificates(input.file), address);
  checkUsable(leaf.info, address, input.now);
  if (input.anchors.length === 0) reject('no trust anchors are configured (trustAnchors), so no certificate can be validated');
  const path = validatePath(
    leaf.der,
    intermediates.map((c) => c.der),
    input.anchors,
    { at: input.now, minRsaBits: input.minRsaBits },
  );
  if (!path.ok) {
    reject(`the certificate does not validate to a configured trust anchor (${path.reason}): ${path.detail}${path.certificate ? ` [${path.certificate}]` : ''}`);
  }
  const anchorFingerprint = path.anchor.fingerprint;
  const validatedPath = path.path;
  const describe = async (action: RecipientImportAction, replaced: readonly string[]): Promise<RecipientImportResult> => ({
    address,
    action,
    fingerprint: leaf.info.sha256,
    subject: leaf.info.subject,
    issuer: leaf.info.issuer,
    serial: leaf.info.serialHex,
    notBefore: leaf.info.notBefore.toISOString(),
    notAfter: leaf.info.notAfter.toISOString(),
    anchorFingerprint,
    anchorSubject: oneLine(path.anchor.x509.subject),
    replaced,
    // Only once the certificate is kept (a refused import keeps nothing); an unchanged one heals an older import.
    ...(await keepIssuers(input.issuers, validatedPath, input.now)),
  });

  const existing = await store.forAddress(address);
  const activeBefore = existing.filter((r) => r.state === 'active').map((r) => r.fingerprint);
  const same = existing.find((r) => r.fingerprint === leaf.info.sha256);
  if (same?.state === 'active') {
    // Re-importing a harvested certificate must not drop the capabilities its owner announced.
    return describe('unchanged', []);
  }
  if (!same) {
    const [outcome] = await harvest(
      store,
      // The validation above stands in for a verified signature: harvest() only ever stores after a pass.
      { verdict: { result: 'pass' }, addresses: [address], candidates: [{ certificate: leaf.der, source: 'imported', anchorFingerprint }], capabilities: [], anchorFingerprint },
      input.now,
    );
    if (outcome?.action === 'added') return describe('added', []);
    if (outcome?.action === 'superseded') return describe('superseded', activeBefore);
    if (!input.force) {
      const kept = existing.filter((r) => r.state === 'active').sort(newestFirst)[0];
      const keptText = kept ? ` (kept: ${kept.subject}, serial ${kept.serial}, valid to ${day(kept.notAfter)})` : '';
      if (outcome?.action === 'refused-other-anchor') {
        reject(`${address} already has a valid certificate from another trust anchor${keptText}; a second CA must not take over the address. Use --force if this certificate is to be used instead`);
      }
      if (outcome?.action === 'kept-current') {
        reject(`${address} already has a certificate that is not older than this one${keptText}. Use --force if this certificate is to be used instead`);
      }
      throw new SiegelError('INTERNAL', `unexpected harvest outcome ${outcome?.action ?? 'none'} for ${address}`);
    }
  } else if (!input.force) {
    reject(`this certificate was superseded for ${address} by a newer one; use --force to use it again`);
  }
  // --force: this certificate becomes the one used; the others stay, superseded.
  const record: HarvestedRecord = same
    ? { ...same, state: 'active' }
    : {
        address,
        certificate: leaf.der,
        fingerprint: leaf.info.sha256,
        subject: leaf.info.subject,
        issuer: leaf.info.issuer,
        serial: leaf.info.serialHex,
        notBefore: leaf.info.notBefore,
        notAfter: leaf.info.notAfter,
        capabilities: [],
        source: 'imported',
        firstSeen: input.now,
        lastSeen: input.now,
        anchorFingerprint,
        state: 'active',
      };
  await store.put(record);
  const replaced: string[] = [];
  for (const other of existing.filter((r) => r.state === 'active' && r.fingerprint !== record.fingerprint)) {
    await store.put({ ...other, state: 'superseded' });
    replaced.push(other.fingerprint);
  }
  return describe('forced', replaced);
}

async function keepIssuers(store: IssuerStore | undefined, path: readonly Buffer[], now: Date): Promise<Pick<RecipientImportResult, 'issuers' | 'issuersNotKept'>> {
  const { kept, error } = await keepPathIssuers(store, [path], now);
  const issuers = kept.map((der) => oneLine(readCertificate(der)?.x509.subject ?? ''));
  return error === undefined ? { issuers } : { issuers, issuersNotKept: error };
}

/** Every certificate in the file, in order; refuses files that hold none or something else. */
export function readCertificates(file: Buffer): Parsed[] {
  if (file.length === 0) reject('the file is empty');
  if (file.length > MAX_IMPORT_FILE_BYTES) reject(`the file is larger than ${MAX_IMPORT_FILE_BYTES} bytes; a certificate file is a few kilobytes`);
  let ders: Buffer[];
  if (looksLikePem(file)) {
    const blocks = readPemBlocks(file.toString('latin1'));
    ders = blocks.filter((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE').map((b) => b.der);
    if (ders.length === 0) {
      const labels = [...new Set(blocks.map((b) => b.label))].join(', ');
      reject(`the PEM file holds no CERTIFICATE block${labels ? ` (only ${labels})` : ''}`);
    }
  } else {
    ders = [file];
  }
  if (ders.length > MAX_CANDIDATES) reject(`the file holds ${ders.length} certificates; at most ${MAX_CANDIDATES} (the certificate and its issuing CAs) are read`);
  return ders.map((der, index) => {
    try {
      return { der, info: parseCertificate(der) };
    } catch {
      const which = ders.length === 1 ? 'the file' : `certificate ${index + 1} of the file`;
      return reject(`${which} is not an X.509 certificate in PEM or DER (a PKCS#7 bundle can be converted with \`openssl pkcs7 -print_certs -in FILE\`)`);
    }
  });
}

/** The one end-entity certificate for `address`; the CA certificates are the candidate intermediates. */
function pickLeaf(certificates: readonly Parsed[], address: string): { leaf: Parsed; intermediates: Parsed[] } {
  const endEntities = certificates.filter((c) => !c.info.isCA);
  if (endEntities.length === 0) reject('the file holds only CA certificates, no certificate of a person or mailbox');
  const forAddress = endEntities.filter((c) => c.info.emailAddresses.includes(address));
  if (forAddress.length === 0) {
    const names = [...new Set(endEntities.flatMap((c) => c.info.emailAddresses))];
    reject(`no certificate in the file is for ${address}: its subjectAltName holds ${names.length > 0 ? names.join(', ') : 'no e-mail address'}`);
  }
  if (forAddress.length > 1) {
    reject(`the file holds ${forAddress.length} certificates for ${address}; import the encryption certificate alone`);
  }
  if (endEntities.length > 1) {
    reject('the file holds end-entity certificates for other addresses too; besides the certificate only its issuing CA certificates may be in it');
  }
  const leaf = forAddress[0] as Parsed;
  return { leaf, intermediates: certificates.filter((c) => c !== leaf) };
}

function checkUsable(info: CertificateInfo, address: string, now: Date): void {
  // pickLeaf chose an end-entity certificate for the address: the rest of the shared rule decides.
  switch (encryptionUnfitness(info, address, now)) {
    case 'ca':
    case 'other-address':
      return reject(`the certificate is not an end-entity certificate for ${address}`);
    case 'sign-only':
      return reject(`the certificate for ${address} does not allow encryption (its keyUsage lacks keyEncipherment/keyAgreement): a signing-only certificate is never used to encrypt`);
    case 'not-email':
      return reject(`the certificate for ${address} is not for e-mail: its extendedKeyUsage lacks emailProtection`);
    case 'not-valid':
      return reject(
        info.notAfter.getTime() < now.getTime()
          ? `the certificate for ${address} expired on ${day(info.notAfter)}`
          : `the certificate for ${address} is valid only from ${day(info.notBefore)}; import it then`,
      );
    case undefined:
      return;
  }
}

function reject(detail: string): never {
  throw new SiegelError('CERTIFICATE_REJECTED', detail);
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

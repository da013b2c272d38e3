/**
 * Correspondents for the reply-encryption tests: a partner PKI whose
 * mailboxes (RSA and P-256, with and without the AES-GCM and RSA-OAEP
 * capabilities) are harvested into a real SqliteHarvestedStore the way a
 * verified inbound message would put them there, and OpenSSL as the peer
 * that opens, prints and verifies what the gateway sends.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { harvest } from '../../src/keystore/harvest.js';
import type { HarvestedStore } from '../../src/keystore/harvested-store.js';
import { createRootCa, issueCa, issueMailbox, type Issued, type KeySpec, type MailboxUsage } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { ENV_OID } from '../../src/smime/envelope-oids.js';

export const CAP = { gcm: ENV_OID.aes256Gcm, cbc: ENV_OID.aes256Cbc, oaep: ENV_OID.rsaesOaep } as const;

export interface PartnerPki {
  readonly root: Issued;
  readonly ca: Issued;
  /** SHA-256 of the root, lower-case hex: the anchor the harvested paths ended at. */
  readonly anchor: string;
}

export async function partnerPki(validity: { notBefore?: Date; notAfter?: Date } = {}): Promise<PartnerPki> {
  const root = await createRootCa({ subject: [['C', 'DE'], ['O', 'Partner'], ['CN', 'Partner Root']], keySpec: 'p256', ...validity });
  const ca = await issueCa(root, { subject: [['C', 'DE'], ['O', 'Partner'], ['CN', 'Partner Issuing CA']], keySpec: 'p256', ...validity });
  return { root, ca, anchor: createHash('sha256').update(root.certificate).digest('hex') };
}

export interface Correspondent {
  readonly address: string;
  readonly issued: Issued;
  /** PEM files for openssl. */
  readonly certFile: string;
  readonly keyFile: string;
}

export async function correspondent(
  pki: PartnerPki,
  dir: string,
  address: string,
  keySpec: KeySpec,
  options: { usage?: MailboxUsage; notBefore?: Date; notAfter?: Date } = {},
): Promise<Correspondent> {
  const issued = await issueMailbox(pki.ca, {
    subject: [['C', 'DE'], ['O', 'Partner'], ['CN', address]],
    email: address,
    keySpec,
    usage: options.usage ?? 'encrypt',
    ...(options.notBefore ? { notBefore: options.notBefore } : {}),
    ...(options.notAfter ? { notAfter: options.notAfter } : {}),
  });
  const base = path.join(dir, address.replace(/\W/g, '_'));
  writeFileSync(`${base}.pem`, toPem('CERTIFICATE', issued.certificate));
  writeFileSync(`${base}.key`, issued.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return { address, issued, certFile: `${base}.pem`, keyFile: `${base}.key` };
}

/** What the inbound pipeline does after a `pass` from this correspondent. */
export async function harvestFrom(store: HarvestedStore, pki: PartnerPki, who: Correspondent, capabilities: readonly string[], at: Date): Promise<void> {
  const outcomes = await harvest(
    store,
    {
      verdict: { result: 'pass' },
      addresses: [who.address],
      candidates: [{ certificate: who.issued.certificate, source: 'signer' }],
      capabilities,
      anchorFingerprint: pki.anchor,
      signingTime: at,
    },
    at,
  );
  if (outcomes[0]?.action !== 'added') throw new Error(`harvest of ${who.address} did not add a certificate: ${JSON.stringify(outcomes)}`);
}

export interface OpensslResult {
  readonly status: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

let counter = 0;

export function openssl(dir: string, args: readonly string[], input: Buffer): OpensslResult {
  const file = path.join(dir, `in-${process.pid}-${counter++}.eml`);
  writeFileSync(file, input);
  const result = spawnSync('openssl', [...args, '-in', file], { timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr.toString('utf8') };
}

/** `openssl cms -decrypt` with the correspondent's certificate and key; fails the test with openssl's stderr. */
export function decryptWith(dir: string, who: Correspondent, message: Buffer): Buffer {
  const result = openssl(dir, ['cms', '-decrypt', '-recip', who.certFile, '-inkey', who.keyFile], message);
  if (result.status !== 0) throw new Error(`openssl cms -decrypt for ${who.address} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/** `openssl cms -cmsout -print`: the structure with algorithm names. */
export function printCms(dir: string, message: Buffer): string {
  const result = openssl(dir, ['cms', '-cmsout', '-print'], message);
  if (result.status !== 0) throw new Error(`openssl cms -cmsout -print exited ${result.status}: ${result.stderr}`);
  return result.stdout.toString('utf8');
}

/** The content algorithm and one key-management algorithm per RecipientInfo, as OpenSSL names them. */
export function algorithms(printed: string): { content: string; keyManagement: string[] } {
  const content = /contentEncryptionAlgorithm:\s*\n\s*algorithm: (\S+)/.exec(printed)?.[1] ?? '';
  const keyManagement = [...printed.matchAll(/keyEncryptionAlgorithm:\s*\n\s*algorithm: (\S+)/g)].map((m) => m[1] ?? '');
  return { content, keyManagement };
}

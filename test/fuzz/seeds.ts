/**
 * Seeds for the inbound fuzzing: real S/MIME messages made once by
 * `openssl cms` from a generated PKI at fixed dates (multipart/signed,
 * opaque signed-data, enveloped AES-CBC, authEnveloped AES-GCM, signed then
 * encrypted, a forwarded signed message/rfc822), the inbound pipeline built
 * in-process around them, and helpers to read its output. Also a small
 * tolerant DER walker, so mutations can aim at tags and length octets.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { authservIdOf } from '../../src/mime/authentication-results.js';
import { splitTopLevel } from '../../src/mime/top-level.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { createInboundPipeline } from '../../src/pipeline/inbound.js';
import type { InboundMessage } from '../../src/pipeline/inbound/findings.js';
import { pipelineMessage } from '../../src/pipeline/message.js';
import type { PipelineResult } from '../../src/pipeline/types.js';
import { createRootCa, issueCa, issueMailbox, type Issued } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { trustStoreFromDer } from '../../src/pki/trust-store.js';

export const AUTHSERV_ID = 'mx.stadt.example';
export const AT = new Date('2027-01-01T00:00:00Z');
export const SENDER = 'absender@partner.example';
export const MAILBOX = 'poststelle@stadt.example';
export const SMIME_RESULTS: ReadonlySet<string> = new Set(['pass', 'fail', 'policy', 'neutral', 'none', 'temperror', 'permerror']);

export interface Seed {
  readonly name: string;
  readonly raw: Buffer;
  /** The bytes a signature in the seed covers (the entity a reader sees as signed), if any. */
  readonly signedContent?: Buffer;
  /** The CMS blob (ContentInfo DER) the seed carries in base64, for the DER-level mutations. */
  readonly der?: Buffer;
}

export interface Seeds {
  readonly dir: string;
  readonly root: Issued;
  readonly signer: Issued;
  readonly recipient: Issued;
  /** The inner entity every signed seed signs. */
  readonly entity: Buffer;
  readonly seeds: readonly Seed[];
  /** DER blobs the seeds carry (ContentInfo), for the DER-level mutations. */
  readonly signedDer: Buffer;
  readonly opaqueDer: Buffer;
  readonly envelopedDer: Buffer;
  readonly authEnvelopedDer: Buffer;
}

const validity = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') };

export function header(subject: string, extra = ''): string {
  return `From: Absender <${SENDER}>\r\nTo: ${MAILBOX}\r\nSubject: ${subject}\r\nDate: Fri, 01 Jan 2027 09:00:00 +0100\r\nMessage-ID: <${subject.replace(/\W/g, '')}@partner.example>\r\nMIME-Version: 1.0\r\n${extra}`;
}

/** Base64 in 76-column CRLF lines, as mail clients write it. */
export function base64Lines(der: Buffer): string {
  return (der.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n') + '\r\n';
}

/** A multipart/signed body (header fields of the message already given) over `entity` with detached DER `signature`. */
export function multipartSigned(top: string, entity: Buffer, signature: Buffer, boundary = 'sig-b0undary'): Buffer {
  return Buffer.concat([
    Buffer.from(`${top}Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="${boundary}"\r\n\r\nThis is an S/MIME signed message.\r\n--${boundary}\r\n`, 'latin1'),
    entity,
    Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="smime.p7s"\r\n\r\n${base64Lines(signature)}\r\n--${boundary}--\r\n`, 'latin1'),
  ]);
}

export function pkcs7Mime(top: string, smimeType: string, der: Buffer): Buffer {
  return Buffer.from(`${top}Content-Type: application/pkcs7-mime; smime-type=${smimeType}; name="smime.p7m"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="smime.p7m"\r\n\r\n${base64Lines(der)}`, 'latin1');
}

export async function createSeeds(): Promise<Seeds> {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-fuzz-'));
  const root = await createRootCa({ subject: [['C', 'DE'], ['O', 'Fuzz'], ['CN', 'Fuzz Root']], keySpec: 'rsa2048', ...validity });
  const ca = await issueCa(root, { subject: [['C', 'DE'], ['O', 'Fuzz'], ['CN', 'Fuzz CA']], keySpec: 'rsa2048', ...validity });
  const [signer, recipient] = await Promise.all([
    issueMailbox(ca, { subject: [['C', 'DE'], ['CN', 'Absender']], email: SENDER, keySpec: 'p256', usage: 'sign', ...validity }),
    issueMailbox(ca, { subject: [['C', 'DE'], ['CN', 'Poststelle']], email: MAILBOX, keySpec: 'rsa2048', usage: 'encrypt', ...validity }),
  ]);
  const file = (name: string, data: Buffer | string): string => {
    const target = path.join(dir, name);
    writeFileSync(target, data);
    return target;
  };
  const signerCert = file('signer.pem', toPem('CERTIFICATE', signer.certificate));
  const signerKey = file('signer.key', signer.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const chain = file('chain.pem', toPem('CERTIFICATE', ca.certificate));
  const recipientCert = file('recipient.pem', toPem('CERTIFICATE', recipient.certificate));
  const cms = (args: readonly string[], input: Buffer): Buffer => {
    const inFile = file(`in-${Math.random().toString(16).slice(2)}`, input);
    const outFile = `${inFile}.der`;
    execFileSync('openssl', ['cms', ...args, '-binary', '-in', inFile, '-outform', 'DER', '-out', outFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    return readFileSync(outFile);
  };
  const sign = (content: Buffer, extra: readonly string[] = []): Buffer => cms(['-sign', '-signer', signerCert, '-inkey', signerKey, '-certfile', chain, '-md', 'sha256', ...extra], content);
  const encrypt = (content: Buffer, cipher: string): Buffer => cms(['-encrypt', `-${cipher}`, '-recip', recipientCert], content);

  const entity = Buffer.from(
    'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSehr geehrte Damen und Herren,\r\n\r\nanbei der Bescheid =C3=BCber den Antrag.\r\n\r\nMit freundlichen Gr=C3=BC=C3=9Fen\r\n',
    'latin1',
  );
  const signedDer = sign(entity);
  const opaqueDer = sign(entity, ['-nodetach']);
  const detached = multipartSigned(header('Detached'), entity, signedDer);
  const opaque = pkcs7Mime(header('Opaque'), 'signed-data', opaqueDer);
  // The inner entity of an encrypted message: its own Content-* fields and body.
  const envelopedDer = encrypt(entity, 'aes-256-cbc');
  const authEnvelopedDer = encrypt(entity, 'aes-256-gcm');
  const innerSigned = multipartSigned('', entity, signedDer, 'inner-b');
  const signedThenEncryptedDer = encrypt(innerSigned, 'aes-256-cbc');
  const forwarded = Buffer.concat([
    Buffer.from(`${header('Forwarded')}Content-Type: multipart/mixed; boundary="fwd-b"\r\n\r\n--fwd-b\r\nContent-Type: text/plain\r\n\r\nSiehe unten.\r\n--fwd-b\r\nContent-Type: message/rfc822\r\n\r\n`, 'latin1'),
    detached,
    Buffer.from('\r\n--fwd-b--\r\n', 'latin1'),
  ]);
  const seeds: Seed[] = [
    { name: 'multipart/signed', raw: detached, signedContent: entity, der: signedDer },
    { name: 'opaque signed-data', raw: opaque, signedContent: entity, der: opaqueDer },
    { name: 'enveloped aes-256-cbc', raw: pkcs7Mime(header('Enveloped'), 'enveloped-data', envelopedDer), der: envelopedDer },
    { name: 'authEnveloped aes-256-gcm', raw: pkcs7Mime(header('AuthEnveloped'), 'authEnveloped-data', authEnvelopedDer), der: authEnvelopedDer },
    { name: 'signed then encrypted', raw: pkcs7Mime(header('Triple'), 'enveloped-data', signedThenEncryptedDer), signedContent: entity, der: signedThenEncryptedDer },
    { name: 'forwarded signed message/rfc822', raw: forwarded, signedContent: entity, der: signedDer },
    { name: 'unsigned', raw: Buffer.from(`${header('Plain')}Content-Type: text/plain\r\n\r\nHallo.\r\n`, 'latin1') },
  ];
  return { dir, root, signer, recipient, entity, seeds, signedDer, opaqueDer, envelopedDer, authEnvelopedDer };
}

export type Pipeline = (raw: Buffer) => Promise<PipelineResult<InboundMessage>>;

export interface Gateway {
  readonly run: Pipeline;
  close(): Promise<void>;
}

/** The inbound pipeline as the gateway builds it, in-process, with the seeds' root as the one anchor and the recipient's key enrolled. */
export function inboundGateway(seeds: Seeds): Gateway {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'siegel-fuzz-data-'));
  const trustDir = path.join(seeds.dir, 'trust');
  execFileSync('mkdir', ['-p', trustDir]);
  const config = loadConfig({ values: { dataDir, trustAnchors: trustDir, authservId: AUTHSERV_ID }, baseDir: dataDir, env: {} });
  const anchors = trustStoreFromDer([seeds.root.certificate]).anchors;
  const harvested = SqliteHarvestedStore.open(dataDir);
  const keys = { decryptionKeys: () => Promise.resolve([{ certificate: seeds.recipient.certificate, privateKey: seeds.recipient.privateKey }]) };
  const pipeline = createInboundPipeline({ config, anchors: () => anchors, keys, harvested, now: () => AT });
  let n = 0;
  return {
    run: (raw) => pipeline(pipelineMessage({ mailFrom: SENDER, rcptTo: [MAILBOX] }, raw), `FUZZ${(n++).toString(16)}`),
    async close() {
      await harvested.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function removeSeeds(seeds: Seeds): void {
  rmSync(seeds.dir, { recursive: true, force: true });
}

/** The Authentication-Results field the pipeline wrote (first field), unfolded, and the smime results in it. */
export function verdictsOf(output: Buffer): { field: string; results: string[]; ourFields: number } {
  const { fields } = splitTopLevel(output);
  const ours = fields.filter((f) => f.name.toLowerCase() === 'authentication-results' && authservIdOf(f.raw.subarray(f.raw.indexOf(0x3a) + 1).toString('latin1'))?.toLowerCase() === AUTHSERV_ID);
  const first = fields[0];
  const field = first ? first.raw.toString('latin1').replace(/\r\n(?=[ \t])/g, '') : '';
  const results = [...field.matchAll(/;\s+smime=([a-z]+)/g)].map((m) => m[1] as string);
  return { field, results, ourFields: ours.length };
}

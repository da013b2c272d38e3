/**
 * The other import path: `--cert FILE --key FILE [--chain FILE]`, as
 * issued by PKIs that accept CSRs or as exported from other tools.
 * Certificates: PEM (one or many), DER, or a PKCS#7 certificate bundle
 * (.p7b/.p7c, how many CA portals deliver chains). Keys: PEM or DER, in
 * PKCS#8, PKCS#1 (RSA) or SEC1 (EC) form, plain or encrypted.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { SiegelError } from '../errors.js';
import { assembleKeyMaterial, type KeyMaterial } from './key-material.js';
import { looksLikePem, readPemBlocks } from './pem.js';

export interface KeyFiles {
  /** Contents of --cert: the mailbox certificate, possibly followed by CA certificates. */
  readonly certificate: Buffer;
  /** Contents of --key. */
  readonly privateKey: Buffer;
  /** Contents of --chain, when given. */
  readonly chain?: Buffer;
  /** For an encrypted key; from --key-passphrase-file, never from argv. */
  readonly keyPassphrase?: string;
}

export function readKeyFiles(files: KeyFiles): KeyMaterial {
  const privateKey = parsePrivateKey(files.privateKey, files.keyPassphrase);
  const certificates = [
    ...parseCertificates(files.certificate, 'certificate file'),
    ...(files.chain ? parseCertificates(files.chain, 'chain file') : []),
  ];
  return assembleKeyMaterial(privateKey, certificates, 'certificate file');
}

const PKCS7_SIGNED_DATA = '1.2.840.113549.1.7.2';

/** All certificates in a PEM, DER or PKCS#7 file, as DER in file order. */
export function parseCertificates(bytes: Buffer, source: string): Buffer[] {
  if (looksLikePem(bytes)) {
    const blocks = readPemBlocks(bytes.toString('latin1'));
    const certs = blocks.filter((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE').map((b) => b.der);
    const bundles = blocks.filter((b) => b.label === 'PKCS7').flatMap((b) => certificatesOfPkcs7(b.der, source));
    const all = [...certs, ...bundles];
    if (all.length === 0) throw new SiegelError('ENROLL_REJECTED', `${source} contains no PEM CERTIFICATE block`);
    all.forEach((der) => checkCertificate(der, source));
    return all;
  }
  try {
    new X509Certificate(bytes);
    return [bytes];
  } catch {
    return certificatesOfPkcs7(bytes, source);
  }
}

/**
 * Reads SignedData.certificates of a degenerate PKCS#7 bundle with asn1js,
 * keeping each certificate's original bytes rather than a re-encoding.
 */
function certificatesOfPkcs7(der: Buffer, source: string): Buffer[] {
  const notCerts = new SiegelError('ENROLL_REJECTED', `${source} is neither a certificate (PEM or DER) nor a PKCS#7 certificate bundle`);
  const parsed = asn1js.fromBER(der);
  const contentInfo = parsed.result;
  if (parsed.offset === -1 || !(contentInfo instanceof asn1js.Sequence)) throw notCerts;
  const [type, explicit] = contentInfo.valueBlock.value;
  if (!(type instanceof asn1js.ObjectIdentifier) || type.valueBlock.toString() !== PKCS7_SIGNED_DATA) throw notCerts;
  const signedData = explicit instanceof asn1js.Constructed ? explicit.valueBlock.value[0] : undefined;
  if (!(signedData instanceof asn1js.Sequence)) throw notCerts;
  const certSet = signedData.valueBlock.value.find((el) => el.idBlock.tagClass === 3 && el.idBlock.tagNumber === 0);
  if (!(certSet instanceof asn1js.Constructed)) throw new SiegelError('ENROLL_REJECTED', `${source}: PKCS#7 bundle holds no certificates`);
  const certs = certSet.valueBlock.value
    .filter((el) => el.idBlock.tagClass === 1 && el.idBlock.tagNumber === 16)
    .map((el) => Buffer.from(el.valueBeforeDecodeView));
  certs.forEach((c) => checkCertificate(c, source));
  return certs;
}

function checkCertificate(der: Buffer, source: string): void {
  try {
    new X509Certificate(der);
  } catch {
    throw new SiegelError('ENROLL_REJECTED', `${source} contains a certificate that cannot be parsed`);
  }
}

const PEM_KEY = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/g;

/** One private key from PEM or DER; `passphrase` for encrypted forms. */
export function parsePrivateKey(bytes: Buffer, passphrase: string | undefined): KeyObject {
  if (looksLikePem(bytes)) {
    const blocks = [...bytes.toString('latin1').matchAll(PEM_KEY)].map((m) => m[0]);
    if (blocks.length === 0) throw new SiegelError('ENROLL_REJECTED', 'key file contains no PEM PRIVATE KEY block');
    if (blocks.length > 1) throw new SiegelError('ENROLL_REJECTED', `key file contains ${blocks.length} private keys; give one`);
    const block = blocks[0] as string;
    // OpenSSL reports a missing PEM passphrase only as "interrupted or cancelled"; look ourselves.
    if (passphrase === undefined && /^-----BEGIN ENCRYPTED|Proc-Type: 4,ENCRYPTED/m.test(block)) throw missingPassphrase();
    // node:crypto takes the whole block, including RFC 1421 headers of legacy encrypted PEM.
    return tryKey(() => createPrivateKey({ key: block, format: 'pem', passphrase }), passphrase);
  }
  const attempts: Array<() => KeyObject> = [
    () => createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8', passphrase }),
    () => createPrivateKey({ key: bytes, format: 'der', type: 'pkcs1' }),
    () => createPrivateKey({ key: bytes, format: 'der', type: 'sec1' }),
  ];
  let first: unknown;
  for (const attempt of attempts) {
    try {
      return attempt();
    } catch (err) {
      first ??= err;
    }
  }
  return tryKey(() => {
    throw first;
  }, passphrase);
}

function tryKey(read: () => KeyObject, passphrase: string | undefined): KeyObject {
  try {
    return read();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MISSING_PASSPHRASE') throw missingPassphrase(err);
    if (passphrase !== undefined) {
      throw new SiegelError('ENROLL_REJECTED', 'wrong passphrase for the private key, or the key file is damaged', { cause: err });
    }
    throw new SiegelError('ENROLL_REJECTED', 'the key file holds no readable private key (expected PKCS#8, PKCS#1 or SEC1, PEM or DER)', { cause: err });
  }
}

function missingPassphrase(cause?: unknown): SiegelError {
  return new SiegelError('ENROLL_REJECTED', 'the private key is encrypted; give its passphrase with --key-passphrase-file', cause === undefined ? undefined : { cause });
}

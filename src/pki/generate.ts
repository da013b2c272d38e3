/**
 * Generates certificates and keys for a PKI shaped like the Behörden-PKI
 * (root -> issuing CA -> mailbox certificates). Used by the demo set-up and
 * by tests; never by the production paths, which only import certificates.
 */
import { createPrivateKey, createHash, randomBytes, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { arrayBufferOf } from './bytes.js';

export type KeySpec = 'rsa2048' | 'rsa3072' | 'rsa4096' | 'p256' | 'p384';
export type MailboxUsage = 'sign' | 'encrypt' | 'both';

/** A distinguished name as ordered [attribute, value] pairs, e.g. [['C','DE'],['O','Stadt'],['CN','x']]. */
export type DistinguishedName = ReadonlyArray<readonly [string, string]>;

export interface Issued {
  /** Certificate, DER. */
  readonly certificate: Buffer;
  readonly privateKey: KeyObject;
  /** The same key as a WebCrypto key, for issuing further certificates. */
  readonly signingKey: CryptoKey;
  readonly keySpec: KeySpec;
}

export interface CertificateOptions {
  readonly subject: DistinguishedName;
  readonly keySpec?: KeySpec;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** CRL distribution point URL to embed. */
  readonly crlUrl?: string;
}

export interface MailboxOptions extends CertificateOptions {
  readonly email: string | readonly string[];
  readonly usage?: MailboxUsage;
  /** Omit the emailProtection extended key usage (to test rejection). */
  readonly withoutEmailProtection?: boolean;
}

const attributeOids: Record<string, string> = {
  C: '2.5.4.6',
  ST: '2.5.4.8',
  L: '2.5.4.7',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
  SN: '2.5.4.4',
  GN: '2.5.4.42',
  serialNumber: '2.5.4.5',
  emailAddress: '1.2.840.113549.1.9.1',
};

const KEY_USAGE = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;

const DAY = 86_400_000;

export async function createRootCa(options: CertificateOptions): Promise<Issued> {
  const keys = await generateKeys(options.keySpec ?? 'rsa3072');
  const extensions = [
    extension('2.5.29.19', true, new pkijs.BasicConstraints({ cA: true }).toSchema()),
    extension('2.5.29.15', true, keyUsageBits(['keyCertSign', 'cRLSign'])),
    extension('2.5.29.14', false, new asn1js.OctetString({ valueHex: await keyIdentifier(keys.publicKey) })),
  ];
  return build(options, options.subject, keys, keys.privateKey, await keyIdentifier(keys.publicKey), extensions, options.keySpec ?? 'rsa3072');
}

export async function issueCa(issuer: Issued, options: CertificateOptions): Promise<Issued> {
  const spec = options.keySpec ?? 'rsa3072';
  const keys = await generateKeys(spec);
  const extensions = [
    extension('2.5.29.19', true, new pkijs.BasicConstraints({ cA: true, pathLenConstraint: 0 }).toSchema()),
    extension('2.5.29.15', true, keyUsageBits(['keyCertSign', 'cRLSign'])),
    extension('2.5.29.14', false, new asn1js.OctetString({ valueHex: await keyIdentifier(keys.publicKey) })),
    ...crlExtension(options.crlUrl),
  ];
  return build(options, subjectOf(issuer), keys, issuer.signingKey, await issuerKeyId(issuer), extensions, spec);
}

export async function issueMailbox(issuer: Issued, options: MailboxOptions): Promise<Issued> {
  const spec = options.keySpec ?? 'rsa3072';
  const keys = await generateKeys(spec);
  const usage = options.usage ?? 'both';
  const ec = spec.startsWith('p');
  const bits: Array<keyof typeof KEY_USAGE> = [];
  if (usage !== 'encrypt') bits.push('digitalSignature', 'nonRepudiation');
  if (usage !== 'sign') bits.push(ec ? 'keyAgreement' : 'keyEncipherment');
  const emails = typeof options.email === 'string' ? [options.email] : [...options.email];
  const san = new pkijs.GeneralNames({ names: emails.map((value) => new pkijs.GeneralName({ type: 1, value })) });
  const extensions = [
    extension('2.5.29.19', true, new pkijs.BasicConstraints({ cA: false }).toSchema()),
    extension('2.5.29.15', true, keyUsageBits(bits)),
    extension('2.5.29.17', false, san.toSchema()),
    extension('2.5.29.14', false, new asn1js.OctetString({ valueHex: await keyIdentifier(keys.publicKey) })),
    ...(options.withoutEmailProtection
      ? []
      : [extension('2.5.29.37', false, new pkijs.ExtKeyUsage({ keyPurposes: ['1.3.6.1.5.5.7.3.4'] }).toSchema())]),
    ...crlExtension(options.crlUrl),
  ];
  return build(options, subjectOf(issuer), keys, issuer.signingKey, await issuerKeyId(issuer), extensions, spec);
}

/** A self-signed TLS server certificate for STARTTLS in the demo and tests. */
export async function createTlsCertificate(hostnames: readonly string[], notAfter?: Date): Promise<Issued> {
  const keys = await generateKeys('p256');
  const san = new pkijs.GeneralNames({
    names: hostnames.map((name) =>
      /^\d+\.\d+\.\d+\.\d+$/.test(name)
        ? new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: Uint8Array.from(name.split('.').map(Number)).buffer }) })
        : new pkijs.GeneralName({ type: 2, value: name }),
    ),
  });
  const extensions = [
    extension('2.5.29.19', true, new pkijs.BasicConstraints({ cA: false }).toSchema()),
    extension('2.5.29.15', true, keyUsageBits(['digitalSignature'])),
    extension('2.5.29.17', false, san.toSchema()),
    extension('2.5.29.37', false, new pkijs.ExtKeyUsage({ keyPurposes: ['1.3.6.1.5.5.7.3.1'] }).toSchema()),
  ];
  const subject: DistinguishedName = [['CN', hostnames[0] ?? 'localhost']];
  return build({ subject, notAfter }, subject, keys, keys.privateKey, await keyIdentifier(keys.publicKey), extensions, 'p256');
}

async function build(
  options: CertificateOptions,
  issuerName: DistinguishedName,
  keys: CryptoKeyPair,
  issuerKey: CryptoKey,
  authorityKeyId: ArrayBuffer,
  extensions: pkijs.Extension[],
  keySpec: KeySpec,
): Promise<Issued> {
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - DAY);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 3 * 365 * DAY);
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f | 0x01;
  cert.serialNumber = new asn1js.Integer({ valueHex: serial.buffer.slice(serial.byteOffset, serial.byteOffset + serial.length) });
  cert.subject = nameOf(options.subject);
  cert.issuer = nameOf(issuerName);
  cert.notBefore = timeOf(notBefore);
  cert.notAfter = timeOf(notAfter);
  const selfSigned = issuerKey === keys.privateKey;
  cert.extensions = selfSigned
    ? extensions
    : [...extensions, extension('2.5.29.35', false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: authorityKeyId }) }).toSchema())];
  await cert.subjectPublicKeyInfo.importKey(keys.publicKey);
  await cert.sign(issuerKey, 'SHA-256');
  const der = Buffer.from(cert.toSchema(true).toBER(false));
  const pkcs8 = Buffer.from(await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    certificate: der,
    privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    signingKey: keys.privateKey,
    keySpec,
  };
}

async function generateKeys(spec: KeySpec): Promise<CryptoKeyPair> {
  if (spec === 'p256' || spec === 'p384') {
    return globalThis.crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: spec === 'p256' ? 'P-256' : 'P-384' }, true, ['sign', 'verify']);
  }
  const modulusLength = Number(spec.slice(3));
  return globalThis.crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  );
}

/**
 * One RDN per attribute, as real PKIs issue them. pkijs would put all
 * attributes into a single multi-valued RDN, so the SEQUENCE is built here.
 */
function nameOf(name: DistinguishedName): pkijs.RelativeDistinguishedNames {
  const rdns = name.map(([attr, value]) => {
    const type = attributeOids[attr] ?? attr;
    const asn1 =
      attr === 'C' || attr === 'serialNumber'
        ? new asn1js.PrintableString({ value })
        : attr === 'emailAddress'
          ? new asn1js.IA5String({ value })
          : new asn1js.Utf8String({ value });
    return new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value: asn1 }).toSchema()] });
  });
  return pkijs.RelativeDistinguishedNames.fromBER(new asn1js.Sequence({ value: rdns }).toBER(false));
}

function subjectOf(issued: Issued): DistinguishedName {
  const cert = pkijs.Certificate.fromBER(arrayBufferOf(issued.certificate));
  const names = Object.fromEntries(Object.entries(attributeOids).map(([k, v]) => [v, k]));
  return cert.subject.typesAndValues.map((tv) => [names[tv.type] ?? tv.type, String(tv.value.valueBlock.value)] as const);
}

async function issuerKeyId(issuer: Issued): Promise<ArrayBuffer> {
  const cert = pkijs.Certificate.fromBER(arrayBufferOf(issuer.certificate));
  const ski = cert.extensions?.find((e) => e.extnID === '2.5.29.14');
  if (ski) return (asn1js.fromBER(ski.extnValue.valueBlock.valueHexView).result as asn1js.OctetString).valueBlock.valueHexView.slice().buffer;
  return createHash('sha1').update(Buffer.from(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView)).digest().buffer as ArrayBuffer;
}

async function keyIdentifier(publicKey: CryptoKey): Promise<ArrayBuffer> {
  const spki = pkijs.PublicKeyInfo.fromBER(await globalThis.crypto.subtle.exportKey('spki', publicKey));
  const digest = createHash('sha1').update(Buffer.from(spki.subjectPublicKey.valueBlock.valueHexView)).digest();
  return digest.buffer.slice(digest.byteOffset, digest.byteOffset + digest.length) as ArrayBuffer;
}

function timeOf(date: Date): pkijs.Time {
  return new pkijs.Time({ type: date.getUTCFullYear() >= 2050 ? 1 : 0, value: date });
}

function extension(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

function keyUsageBits(names: ReadonlyArray<keyof typeof KEY_USAGE>): asn1js.BitString {
  let value = 0;
  let highest = 0;
  for (const name of names) {
    const bit = KEY_USAGE[name];
    value |= 0x80 >> bit;
    highest = Math.max(highest, bit);
  }
  // DER: trailing zero bits are not encoded (X.690 11.2.2).
  const lowestSet = [...Array(8).keys()].reverse().find((bit) => (value & (0x80 >> bit)) !== 0) ?? highest;
  return new asn1js.BitString({ valueHex: new Uint8Array([value]).buffer, unusedBits: 7 - lowestSet });
}

function crlExtension(url: string | undefined): pkijs.Extension[] {
  if (!url) return [];
  const dp = new pkijs.CRLDistributionPoints({
    distributionPoints: [new pkijs.DistributionPoint({ distributionPoint: [new pkijs.GeneralName({ type: 6, value: url })] })],
  });
  return [extension('2.5.29.31', false, dp.toSchema())];
}

/**
 * PKCS#10 certification requests (RFC 2986) for mailbox keys, shaped like
 * Behörden-PKI mailbox requests: subject C, O, OU, CN (one RDN each), the
 * address as rfc822Name in subjectAltName, and the key usages the mailbox
 * needs, all requested in an extensionRequest attribute (RFC 2985 5.4.2).
 *
 * The key is generated with node:crypto and the request is signed with
 * node:crypto too (SHA-256; RSA PKCS#1 v1.5 or ECDSA): pkijs only encodes.
 */
import { createHash, createPublicKey, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { arrayBufferOf } from './bytes.js';

export type RequestKeySpec = 'rsa3072' | 'rsa4096' | 'p256';
export type RequestUsage = 'sign' | 'encrypt' | 'both';

export const requestKeySpecs: readonly RequestKeySpec[] = ['rsa3072', 'rsa4096', 'p256'];
export const requestUsages: readonly RequestUsage[] = ['sign', 'encrypt', 'both'];

/** Subject attributes in the order they appear in the encoded name (C first, CN last). */
export interface RequestSubject {
  readonly country: string;
  readonly organization?: string | undefined;
  readonly organizationalUnit?: string | undefined;
  readonly commonName: string;
}

export interface MailboxRequest {
  /** DER of the CertificationRequest. */
  readonly der: Buffer;
  readonly privateKey: KeyObject;
  /** SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex (links the issued certificate to the key). */
  readonly publicKeySha256: string;
  /** RFC 4514 form, most specific first, as certificate subjects are shown elsewhere. */
  readonly subject: string;
  /** The key usages requested, in RFC 5280 order. */
  readonly keyUsage: readonly KeyUsageBit[];
}

const OIDS = {
  country: '2.5.4.6',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  commonName: '2.5.4.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
} as const;

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement'] as const;
export type KeyUsageBit = (typeof KEY_USAGE_BITS)[number];

const generate = promisify(generateKeyPair);

/** A new key pair (async: RSA 4096 takes seconds and must not block the event loop). */
export async function generateRequestKey(spec: RequestKeySpec): Promise<KeyObject> {
  const pair =
    spec === 'p256'
      ? await generate('ec', { namedCurve: 'prime256v1' })
      : await generate('rsa', { modulusLength: spec === 'rsa4096' ? 4096 : 3072, publicExponent: 0x10001 });
  return pair.privateKey;
}

/** digitalSignature + nonRepudiation to sign; keyEncipherment (RSA) or keyAgreement (EC) to encrypt. */
export function keyUsageFor(usage: RequestUsage, ec: boolean): KeyUsageBit[] {
  const bits: KeyUsageBit[] = [];
  if (usage !== 'encrypt') bits.push('digitalSignature', 'nonRepudiation');
  if (usage !== 'sign') bits.push(ec ? 'keyAgreement' : 'keyEncipherment');
  return bits;
}

export function buildMailboxRequest(privateKey: KeyObject, mailbox: string, subject: RequestSubject, usage: RequestUsage): MailboxRequest {
  const ec = privateKey.asymmetricKeyType === 'ec';
  if (!ec && privateKey.asymmetricKeyType !== 'rsa') throw new Error(`unsupported key type ${String(privateKey.asymmetricKeyType)}`);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const keyUsage = keyUsageFor(usage, ec);

  const attributes = [
    new pkijs.Attribute({
      type: OIDS.extensionRequest,
      values: [
        new pkijs.Extensions({
          extensions: [
            extension(OIDS.subjectAltName, false, new pkijs.GeneralNames({ names: [new pkijs.GeneralName({ type: 1, value: mailbox })] }).toSchema()),
            extension(OIDS.keyUsage, true, keyUsageBitString(keyUsage)),
            extension(OIDS.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [OIDS.emailProtection] }).toSchema()),
          ],
        }).toSchema(),
      ],
    }),
  ];
  // CertificationRequestInfo (RFC 2986 section 4.1); pkijs keeps its own encoder protected.
  const info = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 0 }),
      nameOf(subject).toSchema(),
      pkijs.PublicKeyInfo.fromBER(arrayBufferOf(spki)).toSchema(),
      new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: attributes.map((a) => a.toSchema()) }),
    ],
  });
  const tbs = Buffer.from(info.toBER(false));
  const algorithm = ec
    ? new pkijs.AlgorithmIdentifier({ algorithmId: OIDS.ecdsaWithSHA256 })
    : new pkijs.AlgorithmIdentifier({ algorithmId: OIDS.sha256WithRSAEncryption, algorithmParams: new asn1js.Null() });
  // RSA keys sign with PKCS#1 v1.5 by default; EC signatures come DER-encoded (Ecdsa-Sig-Value), as X.509 wants.
  const signature = new asn1js.BitString({ valueHex: new Uint8Array(sign('sha256', tbs, privateKey)) });
  const request = new asn1js.Sequence({ value: [info, algorithm.toSchema(), signature] });
  return {
    der: Buffer.from(request.toBER(false)),
    privateKey,
    publicKeySha256: createHash('sha256').update(spki).digest('hex'),
    subject: rfc4514(subject),
    keyUsage,
  };
}

/** One RDN per attribute, C first: the order Behörden-PKI subjects are issued in. */
function nameOf(subject: RequestSubject): pkijs.RelativeDistinguishedNames {
  const pairs: Array<[string, asn1js.PrintableString | asn1js.Utf8String]> = [[OIDS.country, new asn1js.PrintableString({ value: subject.country })]];
  if (subject.organization) pairs.push([OIDS.organization, new asn1js.Utf8String({ value: subject.organization })]);
  if (subject.organizationalUnit) pairs.push([OIDS.organizationalUnit, new asn1js.Utf8String({ value: subject.organizationalUnit })]);
  pairs.push([OIDS.commonName, new asn1js.Utf8String({ value: subject.commonName })]);
  const rdns = pairs.map(([type, value]) => new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value }).toSchema()] }));
  // pkijs would put all attributes into one multi-valued RDN, so the SEQUENCE is built here.
  return pkijs.RelativeDistinguishedNames.fromBER(new asn1js.Sequence({ value: rdns }).toBER(false));
}

function rfc4514(subject: RequestSubject): string {
  const parts = [`CN=${escapeRdnValue(subject.commonName)}`];
  if (subject.organizationalUnit) parts.push(`OU=${escapeRdnValue(subject.organizationalUnit)}`);
  if (subject.organization) parts.push(`O=${escapeRdnValue(subject.organization)}`);
  parts.push(`C=${escapeRdnValue(subject.country)}`);
  return parts.join(',');
}

/** RFC 4514 section 2.4. */
function escapeRdnValue(value: string): string {
  return value
    .replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ');
}

function extension(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

function keyUsageBitString(names: readonly KeyUsageBit[]): asn1js.BitString {
  let value = 0;
  let lastBit = 0;
  for (const name of names) {
    const bit = KEY_USAGE_BITS.indexOf(name);
    value |= 0x80 >> bit;
    lastBit = Math.max(lastBit, bit);
  }
  // DER: trailing zero bits are not encoded (X.690 11.2.2).
  return new asn1js.BitString({ valueHex: new Uint8Array([value]).buffer, unusedBits: 7 - lastBit });
}

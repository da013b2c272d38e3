/**
 * Reads the few certificate extensions S/MIME decisions depend on (RFC 5280
 * section 4.2). pkijs decodes SAN, EKU and basicConstraints; keyUsage it
 * leaves as raw bytes, so the BIT STRING is read here.
 */
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

export const OID = {
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  anyExtendedKeyUsage: '2.5.29.37.0',
  emailAddressAttribute: '1.2.840.113549.1.9.1',
} as const;

/** keyUsage bits in RFC 5280 order (bit 0 first). */
const KEY_USAGE_NAMES = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;

export type KeyUsageName = (typeof KEY_USAGE_NAMES)[number];
export type KeyUsageFlags = Readonly<Record<KeyUsageName, boolean>>;

function extensionOf(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((ext) => ext.extnID === oid);
}

/** Per parsed certificate (path validation parses each distinct certificate once and checks it with every message). */
const keyUsages = new WeakMap<pkijs.Certificate, KeyUsageFlags | undefined>();

/** undefined when the certificate has no keyUsage extension (then every usage is allowed). */
export function keyUsageOf(cert: pkijs.Certificate): KeyUsageFlags | undefined {
  if (keyUsages.has(cert)) return keyUsages.get(cert);
  const flags = readKeyUsage(cert);
  keyUsages.set(cert, flags);
  return flags;
}

function readKeyUsage(cert: pkijs.Certificate): KeyUsageFlags | undefined {
  const ext = extensionOf(cert, OID.keyUsage);
  if (!ext) return undefined;
  const parsed = asn1js.fromBER(ext.extnValue.valueBlock.valueHexView);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.BitString)) {
    throw new Error('keyUsage extension is not a BIT STRING');
  }
  const bytes = parsed.result.valueBlock.valueHexView;
  const isSet = (bit: number): boolean => (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) === 1;
  const flags = {} as Record<KeyUsageName, boolean>;
  KEY_USAGE_NAMES.forEach((name, bit) => {
    flags[name] = isSet(bit);
  });
  return flags;
}

/** Extended key usage OIDs; undefined when the extension is absent (any purpose). */
export function extendedKeyUsageOf(cert: pkijs.Certificate): string[] | undefined {
  const ext = extensionOf(cert, OID.extKeyUsage);
  if (!ext) return undefined;
  const value = ext.parsedValue instanceof pkijs.ExtKeyUsage ? ext.parsedValue : new pkijs.ExtKeyUsage({ schema: asn1js.fromBER(ext.extnValue.valueBlock.valueHexView).result });
  return [...value.keyPurposes];
}

/** rfc822Name entries of subjectAltName, lower-cased, in certificate order. */
export function sanEmailsOf(cert: pkijs.Certificate): string[] {
  const ext = extensionOf(cert, OID.subjectAltName);
  if (!ext) return [];
  const value = ext.parsedValue instanceof pkijs.AltName ? ext.parsedValue : new pkijs.AltName({ schema: asn1js.fromBER(ext.extnValue.valueBlock.valueHexView).result });
  const emails: string[] = [];
  for (const name of value.altNames) {
    if (name.type === 1 && typeof name.value === 'string') emails.push(name.value.trim().toLowerCase());
  }
  return emails;
}

/** PKCS#9 emailAddress attributes of the subject DN (pre-RFC 2632 certificates), lower-cased. */
export function dnEmailsOf(cert: pkijs.Certificate): string[] {
  const emails: string[] = [];
  for (const tv of cert.subject.typesAndValues) {
    if (tv.type !== OID.emailAddressAttribute) continue;
    const value: unknown = tv.value.valueBlock.value;
    if (typeof value === 'string') emails.push(value.trim().toLowerCase());
  }
  return emails;
}

export function isCaOf(cert: pkijs.Certificate): boolean {
  const ext = extensionOf(cert, OID.basicConstraints);
  if (!ext) return false;
  const value = ext.parsedValue instanceof pkijs.BasicConstraints ? ext.parsedValue : new pkijs.BasicConstraints({ schema: asn1js.fromBER(ext.extnValue.valueBlock.valueHexView).result });
  return value.cA === true;
}

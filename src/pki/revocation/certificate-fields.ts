/**
 * The few certificate fields revocation checking needs, read from the DER
 * with the bounded BER reader: the serial number (as in CertID and CRL
 * entries), the issuer and subject names as encoded (what CertID hashes and
 * CRLs name) and the subject public key bits (what CertID's issuerKeyHash
 * covers), plus the OCSP, CRL and caIssuers URLs of the extensions.
 */
import * as pkijs from 'pkijs';
import { AIA, accessLocations } from '../authority-info-access.js';
import { memoByCertificate } from '../memo.js';
import { readCertificate } from '../path-validation.js';
import { BerReader, expectTag } from '../../smime/ber-reader.js';

export interface CertificateFields {
  /** INTEGER contents as encoded. */
  readonly serial: Buffer;
  /** Lower-case hex of the serial without leading zero octets: the key of CRL entries. */
  readonly serialHex: string;
  readonly issuerName: Buffer;
  readonly subjectName: Buffer;
  /** The subjectPublicKey BIT STRING contents without the unused-bits octet. */
  readonly publicKeyBits: Buffer;
}

export function certificateFields(der: Buffer): CertificateFields {
  const ber = new BerReader(der);
  const top = ber.read(0, der.length, 0);
  const [tbs] = ber.children(expectTag(top, 0x30, 'Certificate'), 3);
  const parts = ber.children(expectTag(tbs, 0x30, 'TBSCertificate'), 12);
  const offset = parts[0]?.tag === 0xa0 ? 1 : 0;
  const serial = ber.contents(expectTag(parts[offset], 0x02, 'serialNumber'));
  const issuerName = ber.bytes(expectTag(parts[offset + 2], 0x30, 'issuer'));
  const subjectName = ber.bytes(expectTag(parts[offset + 4], 0x30, 'subject'));
  const spki = ber.children(expectTag(parts[offset + 5], 0x30, 'subjectPublicKeyInfo'), 2);
  const bits = ber.contents(expectTag(spki[1], 0x03, 'subjectPublicKey'));
  return { serial, serialHex: serialHex(serial), issuerName, subjectName, publicKeyBits: bits.subarray(1) };
}

/** INTEGER contents -> lower-case hex without leading zero octets (0x00 0x8f and 0x8f name the same serial in practice). */
export function serialHex(contents: Buffer): string {
  let start = 0;
  while (start < contents.length - 1 && contents[start] === 0) start++;
  return contents.subarray(start).toString('hex');
}

export interface RevocationUrls {
  /** id-ad-ocsp access locations (RFC 5280 4.2.2.1), http(s) only. */
  readonly ocsp: readonly string[];
  /** cRLDistributionPoints fullName URIs (RFC 5280 4.2.1.13), http(s) only; LDAP URIs are skipped. */
  readonly crl: readonly string[];
  /** id-ad-caIssuers locations, http(s) only. */
  readonly caIssuers: readonly string[];
}

const CRL_DP = '2.5.29.31';
const URI = 6;
const MAX_URLS = 4;

/**
 * Unreadable extensions give no URLs (the certificate then has "no
 * revocation information"). Memoised by content: the same partner chains
 * are checked for every message.
 */
export const revocationUrls: (der: Buffer) => RevocationUrls = memoByCertificate(revocationUrlsUncached);

function revocationUrlsUncached(der: Buffer): RevocationUrls {
  const empty = { ocsp: [], crl: [], caIssuers: [] };
  const view = readCertificate(der);
  if (!view) return empty;
  // The AIA locations come from the one reader of that extension (authority-info-access.ts).
  const ocsp = accessLocations(der, AIA.ocsp);
  const caIssuers = accessLocations(der, AIA.caIssuers);
  const crl: string[] = [];
  try {
    for (const ext of view.cert.extensions ?? []) {
      if (ext.extnID === CRL_DP && ext.parsedValue instanceof pkijs.CRLDistributionPoints) {
        for (const point of ext.parsedValue.distributionPoints) {
          // Only full names; a point limited to some reasons or with another CRL issuer is not a complete CRL for us.
          if (point.reasons || point.cRLIssuer || !Array.isArray(point.distributionPoint)) continue;
          for (const name of point.distributionPoint) if (name.type === URI && typeof name.value === 'string') crl.push(name.value);
        }
      }
    }
  } catch {
    return empty;
  }
  const web = (list: string[]): string[] => [...new Set(list.filter((u) => /^https?:\/\//i.test(u)))].slice(0, MAX_URLS);
  return { ocsp: web(ocsp), crl: web(crl), caIssuers: web(caIssuers) };
}

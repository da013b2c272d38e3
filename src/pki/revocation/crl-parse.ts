/**
 * Reads an X.509 CRL (RFC 5280 section 5) with the bounded BER reader.
 * The revokedCertificates list is walked entry by entry, keeping only the
 * serial (as hex) and the entry's offset: a CRL of 100,000 entries costs
 * one pass and one small Map, never an object tree (asn1js stops at 10,000
 * nodes, and would need hundreds of megabytes for such a list). Dates and
 * reasons are decoded only for the entry a certificate is found in.
 *
 * Scope: complete CRLs issued by the certificate's issuer. Delta CRLs,
 * indirect CRLs and CRLs limited to some reasons are refused (they cannot
 * say that a certificate is good); an unknown critical extension too.
 */
import { AIA } from '../authority-info-access.js';
import { BerError, BerReader, expectTag, type BerNode } from '../../smime/ber-reader.js';
import { decodeOid, decodeSmallInteger, decodeTime } from '../../smime/ber-values.js';
import { readAlgorithm, type AlgorithmIdentifier } from '../../smime/read-signer-info.js';
import { serialHex } from './certificate-fields.js';

export interface RevokedEntry {
  readonly revokedAt: Date;
  readonly reasonCode?: number;
}

export interface ParsedCrl {
  /** The exact signed bytes (tbsCertList). */
  readonly tbs: Buffer;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  readonly signature: Buffer;
  /** The issuer Name as encoded. */
  readonly issuerName: Buffer;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  /** Scope from issuingDistributionPoint. */
  readonly onlyUserCerts: boolean;
  readonly onlyCaCerts: boolean;
  readonly entryCount: number;
  /** The entry of a serial (lower-case hex, see serialHex), undefined when it is not listed. */
  lookup(serial: string): RevokedEntry | undefined;
}

const TAG = { INTEGER: 0x02, BOOLEAN: 0x01, OCTET_STRING: 0x04, BIT_STRING: 0x03, ENUMERATED: 0x0a, OID: 0x06, SEQUENCE: 0x30, UTC: 0x17, GENERALIZED: 0x18, EXTENSIONS: 0xa0 } as const;

const CRL_NUMBER = '2.5.29.20';
const AUTHORITY_KEY_ID = '2.5.29.35';
const ISSUING_DP = '2.5.29.28';
const DELTA_INDICATOR = '2.5.29.27';
const FRESHEST_CRL = '2.5.29.46';
const REASON_CODE = '2.5.29.21';
const INVALIDITY_DATE = '2.5.29.24';
const KNOWN_CRL_EXTENSIONS = new Set([CRL_NUMBER, AUTHORITY_KEY_ID, ISSUING_DP, FRESHEST_CRL, AIA.extension]);
const KNOWN_ENTRY_EXTENSIONS = new Set([REASON_CODE, INVALIDITY_DATE, '2.5.29.23' /* holdInstructionCode */]);

/** Throws BerError (or Error) with a sentence when the CRL cannot be used. */
export function parseCrl(der: Buffer): ParsedCrl {
  const ber = new BerReader(der);
  const top = ber.read(0, der.length, 0);
  if (top.tag !== TAG.SEQUENCE || top.end !== der.length) throw new BerError('not a DER CertificateList');
  const [tbsNode, algorithmNode, signatureNode, ...extra] = ber.children(top, 3, 1);
  if (extra.length > 0 || !tbsNode) throw new BerError('CertificateList has extra fields');
  const signatureAlgorithm = readAlgorithm(ber, algorithmNode, 'signatureAlgorithm');
  const signatureBits = ber.contents(expectTag(signatureNode, TAG.BIT_STRING, 'signatureValue'));
  if (signatureBits[0] !== 0) throw new BerError('signatureValue with unused bits');

  const fields = ber.children(expectTag(tbsNode, TAG.SEQUENCE, 'tbsCertList'), 7, 1);
  let index = 0;
  if (fields[index]?.tag === TAG.INTEGER) {
    if (decodeSmallInteger(ber.contents(fields[index] as BerNode)) !== 1) throw new BerError('CRL version other than v2');
    index++;
  }
  const innerAlgorithm = fields[index++];
  if (!innerAlgorithm || !ber.bytes(innerAlgorithm).equals(ber.bytes(algorithmNode as BerNode))) throw new BerError('the two signature algorithm fields of the CRL differ');
  const issuerName = ber.bytes(expectTag(fields[index++], TAG.SEQUENCE, 'issuer'));
  const thisUpdate = timeOf(ber, fields[index++], 'thisUpdate');
  let nextUpdate: Date | undefined;
  if (fields[index]?.tag === TAG.UTC || fields[index]?.tag === TAG.GENERALIZED) nextUpdate = timeOf(ber, fields[index++], 'nextUpdate');
  const entries = new Map<string, number>();
  if (fields[index]?.tag === TAG.SEQUENCE) indexEntries(ber, fields[index++] as BerNode, entries);
  let scope = { onlyUserCerts: false, onlyCaCerts: false };
  if (fields[index]?.tag === TAG.EXTENSIONS) scope = readCrlExtensions(ber, fields[index++] as BerNode);
  if (index !== fields.length) throw new BerError('unexpected fields in tbsCertList');

  return {
    tbs: ber.bytes(tbsNode),
    signatureAlgorithm,
    signature: signatureBits.subarray(1),
    issuerName,
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    ...scope,
    entryCount: entries.size,
    lookup(serial: string): RevokedEntry | undefined {
      const offset = entries.get(serial);
      return offset === undefined ? undefined : readEntry(ber, ber.read(offset, tbsNode.end, 3));
    },
  };
}

/** One pass over revokedCertificates: serial -> offset of its entry. */
function indexEntries(ber: BerReader, list: BerNode, entries: Map<string, number>): void {
  for (let pos = list.contentStart; pos < list.contentEnd; ) {
    const entry = ber.read(pos, list.contentEnd, 2);
    if (entry.tag !== TAG.SEQUENCE) throw new BerError('a revokedCertificates entry is not a SEQUENCE');
    const serial = ber.read(entry.contentStart, entry.contentEnd, 3);
    if (serial.tag !== TAG.INTEGER || serial.contentEnd === serial.contentStart) throw new BerError('a revokedCertificates entry without serial number');
    const key = serialHex(ber.contents(serial));
    if (!entries.has(key)) entries.set(key, entry.start);
    pos = entry.end;
  }
}

function readEntry(ber: BerReader, entry: BerNode): RevokedEntry {
  const [, time, extensions] = ber.children(entry, 3, 3);
  const revokedAt = timeOf(ber, time, 'revocationDate');
  let reasonCode: number | undefined;
  if (extensions) {
    for (const ext of readExtensions(ber, extensions, 4)) {
      if (ext.oid === REASON_CODE) {
        const inner = new BerReader(ext.value);
        const node = inner.read(0, ext.value.length, 0);
        if (node.tag === TAG.ENUMERATED) reasonCode = decodeSmallInteger(inner.contents(node));
      } else if (ext.critical && !KNOWN_ENTRY_EXTENSIONS.has(ext.oid)) {
        // RFC 5280 5.3: an unrecognised critical entry extension (e.g. certificateIssuer of indirect CRLs) makes the CRL unusable.
        throw new BerError(`critical CRL entry extension ${ext.oid} is not supported`);
      }
    }
  }
  return reasonCode === undefined ? { revokedAt } : { revokedAt, reasonCode };
}

function readCrlExtensions(ber: BerReader, wrapper: BerNode): { onlyUserCerts: boolean; onlyCaCerts: boolean } {
  const [list] = ber.children(wrapper, 1, 2);
  const scope = { onlyUserCerts: false, onlyCaCerts: false };
  if (!list) return scope;
  for (const ext of readExtensions(ber, list, 2)) {
    if (ext.oid === DELTA_INDICATOR) throw new BerError('delta CRLs are not used');
    if (ext.oid === ISSUING_DP) Object.assign(scope, readIssuingDistributionPoint(ext.value));
    else if (ext.critical && !KNOWN_CRL_EXTENSIONS.has(ext.oid)) throw new BerError(`critical CRL extension ${ext.oid} is not supported`);
  }
  return scope;
}

/** IssuingDistributionPoint (RFC 5280 5.2.5): the scope flags; partial and indirect CRLs are refused. */
function readIssuingDistributionPoint(value: Buffer): { onlyUserCerts: boolean; onlyCaCerts: boolean } {
  const ber = new BerReader(value);
  const top = ber.read(0, value.length, 0);
  const scope = { onlyUserCerts: false, onlyCaCerts: false };
  for (const field of ber.children(expectTag(top, TAG.SEQUENCE, 'issuingDistributionPoint'), 6, 1)) {
    const isTrue = (): boolean => (field.tag & 0x20) === 0 && ber.contents(field)[0] !== 0;
    if (field.tag === 0x81) scope.onlyUserCerts = isTrue();
    else if (field.tag === 0x82) scope.onlyCaCerts = isTrue();
    else if (field.tag === 0x83) throw new BerError('a CRL limited to some reasons is not complete');
    else if (field.tag === 0x84 && isTrue()) throw new BerError('indirect CRLs are not used');
    else if (field.tag === 0x85 && isTrue()) throw new BerError('a CRL of attribute certificates does not cover certificates');
  }
  return scope;
}

interface ExtensionFields {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

function readExtensions(ber: BerReader, list: BerNode, depth: number): ExtensionFields[] {
  return ber.children(expectTag(list, TAG.SEQUENCE, 'Extensions'), 32, depth).map((ext) => {
    const parts = ber.children(expectTag(ext, TAG.SEQUENCE, 'Extension'), 3, depth + 1);
    const oid = decodeOid(ber.contents(expectTag(parts[0], TAG.OID, 'extnID')));
    const critical = parts.length === 3 && parts[1]?.tag === TAG.BOOLEAN && ber.contents(parts[1])[0] !== 0;
    const value = ber.contents(expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue'));
    return { oid, critical, value };
  });
}

function timeOf(ber: BerReader, node: BerNode | undefined, what: string): Date {
  if (!node || (node.tag !== TAG.UTC && node.tag !== TAG.GENERALIZED)) throw new BerError(`${what} missing`);
  const date = decodeTime(node.tag, ber.contents(node));
  if (!date) throw new BerError(`${what} unreadable`);
  return date;
}

/**
 * Reads and checks an OCSP response (RFC 6960 sections 4.2 and 3.2) for the
 * request that was sent, with the bounded BER reader:
 *
 * - responseStatus successful, responseType id-pkix-ocsp-basic;
 * - signed by the issuer itself, or by a delegated responder whose
 *   certificate (carried in the response) the issuer signed, that has
 *   extendedKeyUsage id-kp-OCSPSigning and is valid at the check time
 *   (its own revocation is not checked: RFC 6960 4.2.2.2.1 leaves that to
 *   the CA, which usually marks such certificates id-pkix-ocsp-nocheck);
 * - a SingleResponse for our CertID (matched with the hash it uses);
 * - the nonce: when the responder echoes one it must be ours (a different
 *   one is a replayed response); a responder that ignores nonces
 *   (precomputed responses, RFC 5019) is accepted, because the freshness
 *   rules below then bound how old a replayed answer can be;
 * - freshness: thisUpdate not in the future (5 minutes' clock skew),
 *   nextUpdate not passed (same skew), and without nextUpdate thisUpdate
 *   no older than ocspMaxAge.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { extendedKeyUsageOf } from '../certificate-extensions.js';
import { readCertificate } from '../path-validation.js';
import { BerError, BerReader, expectTag, type BerNode } from '../../smime/ber-reader.js';
import { decodeOid, decodeSmallInteger, decodeTime } from '../../smime/ber-values.js';
import { readAlgorithm } from '../../smime/read-signer-info.js';
import { certificateFields } from './certificate-fields.js';
import { CLOCK_SKEW_MS } from './crl-fetch.js';
import { issuerHashes, OID_NONCE, type OcspRequest } from './ocsp-request.js';
import { verifySignature } from './signature.js';

const BASIC = '1.3.6.1.5.5.7.48.1.1';
const OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';
const MAX_CERTS = 8;
const MAX_RESPONSES = 64;
const RESPONSE_STATUS = ['successful', 'malformedRequest', 'internalError', 'tryLater', '(4)', 'sigRequired', 'unauthorized'];

export type OcspAnswer =
  | {
      readonly ok: true;
      readonly status: 'good' | 'revoked' | 'unknown';
      readonly thisUpdate: Date;
      readonly nextUpdate?: Date;
      readonly revokedAt?: Date;
      readonly reasonCode?: number;
      readonly nonce: 'matched' | 'absent';
      /** Who signed: 'issuer' or the delegated responder's subject. */
      readonly signer: string;
    }
  | { readonly ok: false; readonly why: string };

export interface OcspCheckOptions {
  readonly at: Date;
  readonly ocspMaxAge: number;
}

/** Never throws: unreadable responses give { ok: false }. */
export function checkOcspResponse(der: Buffer, request: OcspRequest, issuerDer: Buffer, options: OcspCheckOptions): OcspAnswer {
  try {
    return check(der, request, issuerDer, options);
  } catch (err) {
    return { ok: false, why: `unreadable OCSP response: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function check(der: Buffer, request: OcspRequest, issuerDer: Buffer, options: OcspCheckOptions): OcspAnswer {
  const outer = new BerReader(der);
  const top = outer.read(0, der.length, 0);
  const [statusNode, bytesWrapper] = outer.children(expectTag(top, 0x30, 'OCSPResponse'), 2, 1);
  const responseStatus = decodeSmallInteger(outer.contents(expectTag(statusNode, 0x0a, 'responseStatus')));
  if (responseStatus !== 0) return { ok: false, why: `the responder answered ${RESPONSE_STATUS[responseStatus] ?? responseStatus}` };
  const [responseBytes] = outer.children(expectTag(bytesWrapper, 0xa0, 'responseBytes'), 1, 2);
  const [typeNode, responseNode] = outer.children(expectTag(responseBytes, 0x30, 'ResponseBytes'), 2, 3);
  if (decodeOid(outer.contents(expectTag(typeNode, 0x06, 'responseType'))) !== BASIC) return { ok: false, why: 'not a basic OCSP response' };
  const basicDer = outer.contents(expectTag(responseNode, 0x04, 'response'));

  const ber = new BerReader(basicDer);
  const basic = ber.read(0, basicDer.length, 0);
  const [tbsNode, algorithmNode, signatureNode, certsWrapper] = ber.children(expectTag(basic, 0x30, 'BasicOCSPResponse'), 4, 1);
  const tbs = expectTag(tbsNode, 0x30, 'tbsResponseData');
  const algorithm = readAlgorithm(ber, algorithmNode, 'signatureAlgorithm');
  const signatureBits = ber.contents(expectTag(signatureNode, 0x03, 'signature'));
  const certs: Buffer[] = [];
  if (certsWrapper) {
    const [list] = ber.children(expectTag(certsWrapper, 0xa0, 'certs'), 1, 2);
    for (const cert of ber.children(expectTag(list, 0x30, 'certs'), MAX_CERTS, 3)) certs.push(Buffer.from(ber.bytes(cert)));
  }

  const fields = ber.children(tbs, 5, 2);
  let index = fields[0]?.tag === 0xa0 ? 1 : 0;
  const responderId = fields[index++];
  index++; // producedAt
  const responses = ber.children(expectTag(fields[index++], 0x30, 'responses'), MAX_RESPONSES, 3);
  const extensions = fields[index]?.tag === 0xa1 ? (fields[index] as BerNode) : undefined;

  // 1. Who signed, and may they speak for the issuer?
  const signer = findSigner(ber, responderId, issuerDer, certs, options.at);
  if (typeof signer === 'string') return { ok: false, why: signer };
  let valid: boolean;
  try {
    valid = signatureBits[0] === 0 && verifySignature(algorithm, signer.key.publicKey, ber.bytes(tbs), signatureBits.subarray(1));
  } catch (err) {
    return { ok: false, why: `the response signature cannot be checked: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!valid) return { ok: false, why: `the response signature does not verify with the key of ${signer.name}` };

  // 2. The nonce.
  const echoed = extensions ? nonceOf(ber, extensions) : undefined;
  if (echoed && !echoed.equals(request.nonceValue)) return { ok: false, why: 'the response carries another nonce than the request (a replayed response?)' };

  // 3. Our certificate's answer, and its freshness.
  const single = responses.map((node) => readSingle(ber, node)).find((r) => sameCertId(r, request, issuerDer));
  if (!single) return { ok: false, why: 'the response does not answer for the requested certificate' };
  const t = options.at.getTime();
  if (single.thisUpdate.getTime() > t + CLOCK_SKEW_MS) return { ok: false, why: `the response is dated in the future (thisUpdate ${single.thisUpdate.toISOString()})` };
  if (single.nextUpdate && t > single.nextUpdate.getTime() + CLOCK_SKEW_MS) return { ok: false, why: `the response is stale (nextUpdate ${single.nextUpdate.toISOString()} has passed)` };
  if (!single.nextUpdate && t > single.thisUpdate.getTime() + options.ocspMaxAge) return { ok: false, why: `the response is stale (thisUpdate ${single.thisUpdate.toISOString()}, no nextUpdate)` };
  return {
    ok: true,
    status: single.status,
    thisUpdate: single.thisUpdate,
    ...(single.nextUpdate ? { nextUpdate: single.nextUpdate } : {}),
    ...(single.revokedAt ? { revokedAt: single.revokedAt } : {}),
    ...(single.reasonCode !== undefined ? { reasonCode: single.reasonCode } : {}),
    nonce: echoed ? 'matched' : 'absent',
    signer: signer.name,
  };
}

interface Signer {
  readonly key: X509Certificate;
  readonly name: string;
}

/** The issuer, or a delegated responder certificate from the response; a string says why there is none. */
function findSigner(ber: BerReader, responderId: BerNode | undefined, issuerDer: Buffer, certs: readonly Buffer[], at: Date): Signer | string {
  if (!responderId || (responderId.tag !== 0xa1 && responderId.tag !== 0xa2)) throw new BerError('responderID missing');
  const [inner] = ber.children(responderId, 1, 3);
  if (!inner) throw new BerError('empty responderID');
  const wanted = responderId.tag === 0xa1 ? { byName: ber.bytes(expectTag(inner, 0x30, 'byName')) } : { byKey: ber.contents(expectTag(inner, 0x04, 'byKey')) };
  const names = (der: Buffer): boolean => {
    const fields = certificateFields(der);
    return wanted.byName ? wanted.byName.equals(fields.subjectName) : createHash('sha1').update(fields.publicKeyBits).digest().equals(wanted.byKey as Buffer);
  };
  if (names(issuerDer)) return { key: new X509Certificate(issuerDer), name: 'the issuer' };
  const candidate = certs.find((der) => {
    try {
      return names(der);
    } catch {
      return false;
    }
  });
  if (!candidate) return 'the responder is neither the issuer nor a responder certificate included in the response';
  const view = readCertificate(candidate);
  const issuer = new X509Certificate(issuerDer);
  if (!view) return 'the responder certificate cannot be read';
  const name = `the responder "${view.x509.subject.split('\n').reverse().join(', ')}"`;
  let issued = false;
  try {
    issued = view.x509.checkIssued(issuer) && view.x509.verify(issuer.publicKey);
  } catch {
    issued = false;
  }
  if (!issued) return `${name} is not certified by the issuer of the checked certificate`;
  let eku: string[] | undefined;
  try {
    eku = extendedKeyUsageOf(view.cert);
  } catch {
    eku = undefined;
  }
  if (!eku?.includes(OCSP_SIGNING)) return `${name} is not authorised to sign OCSP responses (no id-kp-OCSPSigning)`;
  const t = at.getTime();
  if (t < view.x509.validFromDate.getTime() || t > view.x509.validToDate.getTime()) return `${name} certificate is not valid at ${at.toISOString()}`;
  return { key: view.x509, name };
}

interface Single {
  readonly hashOid: string;
  readonly issuerNameHash: Buffer;
  readonly issuerKeyHash: Buffer;
  readonly serial: Buffer;
  readonly status: 'good' | 'revoked' | 'unknown';
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly revokedAt?: Date;
  readonly reasonCode?: number;
}

function readSingle(ber: BerReader, node: BerNode): Single {
  const [certIdNode, statusNode, thisUpdateNode, ...rest] = ber.children(expectTag(node, 0x30, 'SingleResponse'), 5, 4);
  const [hashNode, nameHash, keyHash, serial] = ber.children(expectTag(certIdNode, 0x30, 'CertID'), 4, 5);
  const hashOid = readAlgorithm(ber, hashNode, 'CertID hashAlgorithm').oid;
  const thisUpdate = time(ber, thisUpdateNode, 'thisUpdate');
  const nextWrapper = rest.find((n) => n.tag === 0xa0);
  const nextUpdate = nextWrapper ? time(ber, ber.children(nextWrapper, 1, 5)[0], 'nextUpdate') : undefined;
  const base = {
    hashOid,
    issuerNameHash: ber.contents(expectTag(nameHash, 0x04, 'issuerNameHash')),
    issuerKeyHash: ber.contents(expectTag(keyHash, 0x04, 'issuerKeyHash')),
    serial: ber.contents(expectTag(serial, 0x02, 'serialNumber')),
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
  };
  if (statusNode?.tag === 0x80) return { ...base, status: 'good' };
  if (statusNode?.tag === 0x82) return { ...base, status: 'unknown' };
  const [revocationTime, reasonWrapper] = ber.children(expectTag(statusNode, 0xa1, 'certStatus'), 2, 5);
  const revokedAt = time(ber, revocationTime, 'revocationTime');
  let reasonCode: number | undefined;
  if (reasonWrapper?.tag === 0xa0) reasonCode = decodeSmallInteger(ber.contents(expectTag(ber.children(reasonWrapper, 1, 6)[0], 0x0a, 'revocationReason')));
  return { ...base, status: 'revoked', revokedAt, ...(reasonCode !== undefined ? { reasonCode } : {}) };
}

function sameCertId(single: Single, request: OcspRequest, issuerDer: Buffer): boolean {
  if (!single.serial.equals(request.certId.serial)) return false;
  const expected = single.hashOid === request.certId.hashOid ? request.certId : issuerHashes(issuerDer, single.hashOid);
  return expected !== undefined && single.issuerNameHash.equals(expected.issuerNameHash) && single.issuerKeyHash.equals(expected.issuerKeyHash);
}

/** The nonce extension's extnValue contents, when the response has one. */
function nonceOf(ber: BerReader, wrapper: BerNode): Buffer | undefined {
  const [list] = ber.children(wrapper, 1, 3);
  if (!list) return undefined;
  for (const ext of ber.children(expectTag(list, 0x30, 'responseExtensions'), 16, 4)) {
    const parts = ber.children(expectTag(ext, 0x30, 'Extension'), 3, 5);
    if (decodeOid(ber.contents(expectTag(parts[0], 0x06, 'extnID'))) === OID_NONCE) return ber.contents(expectTag(parts[parts.length - 1], 0x04, 'extnValue'));
  }
  return undefined;
}

function time(ber: BerReader, node: BerNode | undefined, what: string): Date {
  if (!node || (node.tag !== 0x18 && node.tag !== 0x17)) throw new BerError(`${what} missing`);
  const date = decodeTime(node.tag, ber.contents(node));
  if (!date) throw new BerError(`${what} unreadable`);
  return date;
}

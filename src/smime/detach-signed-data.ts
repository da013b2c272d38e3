/**
 * Turns an opaque SignedData (eContent embedded, RFC 8551 3.4.2) into a
 * detached one plus its content, so an inbound opaque message can be
 * re-framed as multipart/signed that every client can show and S/MIME
 * clients can still verify themselves.
 *
 * The signature covers the signed attributes (or, without them, the
 * content), never the SignedData structure around them (RFC 5652 5.4).
 * So version, digestAlgorithms, eContentType, certificates, crls and
 * signerInfos are kept as the exact bytes received (BER stays BER); only
 * the wrappers whose contents change are written anew, with definite
 * lengths. Nothing goes through an object model that re-serialises.
 */
import { SiegelError, errorMessage } from '../errors.js';
import { BerReader, expectTag, type BerNode } from './ber-reader.js';
import { oid, sequence, tlv, TAG } from './der.js';
import { OID } from './oids.js';

export interface DetachedSignedData {
  /** The eContent octets: a view into the input when primitive, concatenated when constructed (BER). */
  readonly content: Buffer;
  /** ContentInfo(SignedData) without eContent; the rest of the SignedData as received. */
  readonly detached: Buffer;
  /** RFC 8551 3.4.3.2 micalg value: the signers' digest names in signer order, comma-separated when they differ. */
  readonly micalg: string;
}

/** Real S/MIME messages carry one or two signers; more is a resource attack, not mail. */
const MAX_SIGNERS = 10;

/** The names RFC 8551 3.4.3.2 defines, by DER OID encoding (other digests get no name; see micalgOf). */
const MICALG_NAMES: readonly (readonly [string, string])[] = [
  ['1.2.840.113549.2.5', 'md5'],
  ['1.3.14.3.2.26', 'sha-1'],
  ['2.16.840.1.101.3.4.2.4', 'sha-224'],
  ['2.16.840.1.101.3.4.2.1', 'sha-256'],
  ['2.16.840.1.101.3.4.2.2', 'sha-384'],
  ['2.16.840.1.101.3.4.2.3', 'sha-512'],
];
const MICALG_BY_OID = new Map(MICALG_NAMES.map(([dotted, name]) => [oid(dotted).toString('hex'), name]));

/** Used only when no signer's digest algorithm can be read: the RFC has no "unknown", and SHA-256 is what signers use today. */
const FALLBACK_MICALG = 'sha-256';

const SIGNED_DATA_OID = oid(OID.signedData);
const DATA_OID = oid(OID.data);

/**
 * Splits an opaque ContentInfo(SignedData) into content and detached
 * signature. Throws SiegelError('MESSAGE_MALFORMED') for anything that is
 * not a readable SignedData with embedded id-data content.
 */
export function detachSignedData(contentInfoDer: Buffer): DetachedSignedData {
  try {
    return detach(contentInfoDer);
  } catch (err) {
    if (err instanceof SiegelError) throw err;
    // BerError (structure, bounds) and RangeError from the writer: all mean the input cannot be read.
    throw new SiegelError('MESSAGE_MALFORMED', `opaque SignedData cannot be read: ${errorMessage(err)}`, { cause: err });
  }
}

function detach(der: Buffer): DetachedSignedData {
  const ber = new BerReader(der);
  // Trailing octets after the ContentInfo are ignored, as the verifier does.
  const [contentType, wrapped] = ber.children(expectTag(ber.read(0, der.length, 0), TAG.SEQUENCE, 'ContentInfo'));
  if (!contentType || !ber.bytes(contentType).equals(SIGNED_DATA_OID)) throw malformed('not a SignedData ContentInfo');
  const [signedData] = ber.children(expectTag(wrapped, TAG.CONTEXT_0, '[0] content'));
  const fields = ber.children(expectTag(signedData, TAG.SEQUENCE, 'SignedData'));
  // version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos
  if (fields.length < 4) throw malformed('SignedData has too few fields');
  const version = expectTag(fields[0], TAG.INTEGER, 'SignedData version');
  const digestAlgorithms = expectTag(fields[1], TAG.SET, 'digestAlgorithms');
  const encap = expectTag(fields[2], TAG.SEQUENCE, 'EncapsulatedContentInfo');
  const signerInfos = expectTag(fields.at(-1), TAG.SET, 'signerInfos');
  const optional = fields.slice(3, -1);
  if (!['', 'a0', 'a1', 'a0a1'].includes(optional.map((field) => field.tag.toString(16)).join(''))) {
    throw malformed('SignedData fields are not version, digestAlgorithms, encapContentInfo, [0]?, [1]?, signerInfos');
  }
  const [typeNode, eContentWrapper, ...extra] = ber.children(encap);
  const eContentType = expectTag(typeNode, TAG.OID, 'eContentType');
  if (!ber.bytes(eContentType).equals(DATA_OID)) {
    // Only id-data is a MIME entity (RFC 8551 3.4.2); anything else would become a meaningless MIME part.
    throw malformed('the signed content is not id-data, so it is not a MIME entity');
  }
  if (eContentWrapper === undefined) throw malformed('the SignedData has no embedded content (eContent); it is already detached');
  if (extra.length > 0) throw malformed('EncapsulatedContentInfo has extra fields');
  const [eContent, ...more] = ber.children(expectTag(eContentWrapper, TAG.CONTEXT_0, '[0] eContent'));
  if (!eContent || more.length > 0) throw malformed('[0] eContent must hold exactly one OCTET STRING');
  const content = ber.octets(eContent, 0);

  const signers = ber.children(signerInfos, MAX_SIGNERS);
  const detachedSignedData = sequence(
    ber.bytes(version),
    ber.bytes(digestAlgorithms),
    sequence(ber.bytes(eContentType)),
    ...optional.map((field) => ber.bytes(field)),
    ber.bytes(signerInfos),
  );
  const detached = sequence(ber.bytes(contentType), tlv(TAG.CONTEXT_0, detachedSignedData));
  return { content, detached, micalg: micalgOf(ber, signers) };
}

/**
 * The micalg parameter from the SignerInfos' digestAlgorithm (RFC 8551
 * 3.4.3.2): one name per distinct algorithm, in signer order. A signer
 * whose algorithm cannot be read or has no registered name is left out:
 * receivers take the algorithm from the SignerInfo, micalg only lets them
 * start hashing before they reach the signature.
 */
function micalgOf(ber: BerReader, signers: readonly BerNode[]): string {
  const names: string[] = [];
  for (const signer of signers) {
    const name = digestNameOf(ber, signer);
    if (name && !names.includes(name)) names.push(name);
  }
  return names.length > 0 ? names.join(',') : FALLBACK_MICALG;
}

function digestNameOf(ber: BerReader, signerInfo: BerNode): string | undefined {
  try {
    // SignerInfo: version, sid, digestAlgorithm, ...; AlgorithmIdentifier: algorithm, parameters?
    const [, , digestAlgorithm] = ber.children(expectTag(signerInfo, TAG.SEQUENCE, 'SignerInfo'), 8, 2);
    const [algorithm] = ber.children(expectTag(digestAlgorithm, TAG.SEQUENCE, 'digestAlgorithm'), 2, 3);
    return MICALG_BY_OID.get(ber.bytes(expectTag(algorithm, TAG.OID, 'digest OID')).toString('hex'));
  } catch {
    return undefined;
  }
}

function malformed(detail: string): SiegelError {
  return new SiegelError('MESSAGE_MALFORMED', detail);
}

/**
 * Verifies an inbound CMS SignedData (RFC 5652 section 5.6, RFC 8551,
 * RFC 8550) and returns a Verdict (verdict.ts for the result mapping) plus
 * what harvesting needs later. The signature is checked over the exact
 * bytes received: the detached content chunks or the embedded eContent, and
 * the signed attributes as encoded by the signer. node:crypto does all
 * cryptography (WebCrypto lacks brainpool curves, streaming input and
 * PSS parameter variants). The whole SignedData, SignerInfos included, is
 * walked by a small bounded BER reader (ber-reader.ts) that slices
 * certificates, content and attributes without building objects for them;
 * certificates are read by OpenSSL and, for extensions, pkijs (cached).
 *
 * Only the content and the signed attributes are covered by the signature,
 * so the unsigned rest is read strictly where strictness costs no
 * interoperability (RFC 5652 5.1, 5.3): exact field order, no extra fields,
 * known versions, parameters of the supported algorithms as specified. A
 * deviation is 'malformed' (permerror). Two fields are read liberally on
 * purpose, because senders get them wrong and neither says anything about
 * who signed what: the SignedData version may be any that RFC 5652 defines
 * (1, 3, 4, 5), not only the one it computes, and digestAlgorithms may list
 * anything, even nothing ("any number of elements ... including zero",
 * RFC 5652 5.1). After the ContentInfo only zero octets are tolerated
 * (padding carries no information; any other trailing byte is refused).
 *
 * Order of checks for a signer: algorithms known -> signer certificate
 * found -> messageDigest -> signature -> weak digest (SHA-1/MD5 give
 * 'policy': the signature is valid but no longer acceptable) -> path ->
 * keyUsage -> extendedKeyUsage -> From address. The first failure decides.
 *
 * Several SignerInfos: the message passes when one of them passes (RFC 5652
 * 5.6 leaves it to the recipient; a message signed by two people is valid
 * when one of them is). Otherwise the verdict of the first signer whose
 * signature verified is reported ('policy'), else that of the first signer.
 *
 * Hostile input never throws: structural problems and exceeded bounds give
 * 'permerror'.
 */
import { createVerify, constants, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { digestChunks } from '../crypto/bulk-crypto.js';
import { errorMessage } from '../errors.js';
import { validatePath, readCertificate, oneLine, type CertificateView } from '../pki/path-validation.js';
import type { TrustAnchor } from '../pki/trust-store.js';
import { allowsEmailProtection, canSign, certificatePublicKey, parseCertificate, type CertificateInfo } from '../pki/certificate-info.js';
import type { EncryptionKeyPreference } from './read-signed-attributes.js';
import { oid } from './der.js';
import { OID } from './oids.js';
import { verdictOf, type SignerSummary, type Verdict, type VerdictReason } from './verdict.js';
import { BerError, BerReader, expectTag, type BerNode } from './ber-reader.js';
import { decodeOid, decodeSmallInteger } from './ber-values.js';
import { absentOrNull, isPlainName, readAlgorithm, readPssParams, readSignerInfo, type SignerId, type SignerInfoFields } from './read-signer-info.js';

export interface SignedDataInput {
  /** DER (or BER) ContentInfo wrapping the SignedData. */
  readonly signedData: Buffer;
  /** Detached content (the first MIME part of multipart/signed), exact bytes, possibly in chunks; ignored when the SignedData embeds its content. */
  readonly content?: readonly Buffer[];
}

export interface TrustContext {
  readonly anchors: readonly TrustAnchor[];
  /** Validation time (injected clock). */
  readonly at: Date;
  /** Default 2048. */
  readonly minRsaBits?: number;
  /** Addresses of the From header; when given, each must be an rfc822Name of the signer (RFC 8550 section 3). */
  readonly fromAddresses?: readonly string[];
  /**
   * The Sender header's address: RFC 8550 section 3 accepts a match with
   * From or Sender (a person sending for a functional mailbox may sign with
   * their own certificate and name themselves in Sender).
   */
  readonly senderAddress?: string;
}

export interface VerifyOutcome {
  readonly verdict: Verdict;
  /** DER of the certificate of the signer the verdict is about. */
  readonly signerCertificate?: Buffer;
  /** Every certificate the SignedData carried, DER, in message order. */
  readonly certificates: readonly Buffer[];
  readonly encryptionKeyPreference?: EncryptionKeyPreference;
  readonly smimeCapabilities?: readonly string[];
  /** The embedded eContent of an opaque signature (uninterpreted bytes). */
  readonly embeddedContent?: Buffer;
  /** On 'pass': the signer's validated path, leaf first, anchor last (for revocation checking). */
  readonly path?: readonly Buffer[];
}

/** Bounds for untrusted input: real S/MIME messages carry a few certificates and one or two signers. */
const MAX_CERTIFICATES = 100;
const MAX_SIGNERS = 10;

const DIGESTS: Readonly<Record<string, { name: string; weak: boolean }>> = {
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', weak: false },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', weak: false },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', weak: false },
  '1.3.14.3.2.26': { name: 'sha1', weak: true },
  '1.2.840.113549.2.5': { name: 'md5', weak: true },
};

/** Signature algorithm OID -> family; the hash comes from the SignerInfo digestAlgorithm. */
const SIGNATURE_FAMILY: Readonly<Record<string, 'rsa' | 'pss' | 'ecdsa'>> = {
  '1.2.840.113549.1.1.1': 'rsa',
  '1.2.840.113549.1.1.4': 'rsa',
  '1.2.840.113549.1.1.5': 'rsa',
  '1.2.840.113549.1.1.11': 'rsa',
  '1.2.840.113549.1.1.12': 'rsa',
  '1.2.840.113549.1.1.13': 'rsa',
  '1.2.840.113549.1.1.10': 'pss',
  '1.2.840.10045.2.1': 'ecdsa',
  '1.2.840.10045.4.1': 'ecdsa',
  '1.2.840.10045.4.3.2': 'ecdsa',
  '1.2.840.10045.4.3.3': 'ecdsa',
  '1.2.840.10045.4.3.4': 'ecdsa',
};

class Malformed extends Error {
  constructor(
    message: string,
    readonly reason: VerdictReason = 'malformed',
  ) {
    super(message);
  }
}

interface ParsedSignedData {
  readonly eContentType: string;
  readonly embedded?: Buffer;
  readonly certificates: Buffer[];
  readonly signerInfos: readonly SignerInfoFields[];
}

export async function verifySignedData(input: SignedDataInput, trust: TrustContext): Promise<VerifyOutcome> {
  let parsed: ParsedSignedData;
  try {
    parsed = parseSignedData(input.signedData);
  } catch (err) {
    const reason = err instanceof Malformed || err instanceof BerError ? err.reason : 'malformed';
    return { verdict: verdictOf(reason, `the SignedData cannot be read: ${errorMessage(err)}`), certificates: [] };
  }
  // Embedded eContent is what an opaque signature covers; `content` only serves detached signatures.
  const content = parsed.embedded ? [parsed.embedded] : input.content;
  const base = { certificates: parsed.certificates, ...(parsed.embedded ? { embeddedContent: parsed.embedded } : {}) };
  if (!content) return { ...base, verdict: verdictOf('no-content', 'detached signature without content to verify') };
  if (parsed.signerInfos.length === 0) return { ...base, verdict: verdictOf('unsigned', 'the SignedData has no SignerInfo') };
  const views = parsed.certificates.map((der) => readCertificate(der));
  const outcomes: VerifyOutcome[] = [];
  for (const signerInfo of parsed.signerInfos) {
    const outcome = await verifySigner(signerInfo, parsed, views, content, trust);
    const full = { ...base, ...outcome };
    if (full.verdict.result === 'pass') return full;
    outcomes.push(full);
  }
  const chosen = outcomes.find((o) => o.verdict.result === 'policy') ?? outcomes[0];
  return chosen ?? { ...base, verdict: verdictOf('unsigned', 'no SignerInfo') };
}

function parseSignedData(der: Buffer): ParsedSignedData {
  const ber = new BerReader(der);
  const top = ber.read(0, der.length, 0);
  if (der.subarray(top.end).some((octet) => octet !== 0)) throw new Malformed('bytes after the ContentInfo');
  const [contentType, wrapped, ...extraInfo] = ber.children(expectTag(top, 0x30, 'ContentInfo'), 2);
  if (!contentType || !ber.bytes(contentType).equals(SIGNED_DATA_OID) || extraInfo.length > 0) throw new Malformed('not a SignedData ContentInfo');
  const [signedData, ...extraContent] = ber.children(expectTag(wrapped, 0xa0, '[0] content'), 1);
  if (extraContent.length > 0) throw new Malformed('more than one value in the ContentInfo [0]');
  // version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos: in this order, nothing else.
  const fields = ber.children(expectTag(signedData, 0x30, 'SignedData'), 6);
  const version = decodeSmallInteger(ber.contents(expectTag(fields[0], 0x02, 'SignedData version')));
  const digestAlgorithms = new Set<string>();
  for (const node of ber.children(expectTag(fields[1], 0x31, 'digestAlgorithms'), MAX_SIGNERS, 2)) {
    const algorithm = readAlgorithm(ber, node, 'digestAlgorithms element');
    if (DIGESTS[algorithm.oid] && !absentOrNull(algorithm)) throw new Malformed(`digestAlgorithms lists ${algorithm.oid} with parameters`);
    digestAlgorithms.add(algorithm.oid);
  }
  const encap = ber.children(expectTag(fields[2], 0x30, 'EncapsulatedContentInfo'), 2, 2);
  const eContentType = decodeOid(ber.contents(expectTag(encap[0], 0x06, 'eContentType')));
  let embedded: Buffer | undefined;
  if (encap[1] !== undefined) {
    const [eContent, ...extra] = ber.children(expectTag(encap[1], 0xa0, 'eContent'), 1, 3);
    if (!eContent || extra.length > 0) throw new Malformed('eContent [0] does not hold one OCTET STRING');
    embedded = ber.octets(eContent, 0);
  }
  let index = 3;
  let certificateChoices: BerNode[] = [];
  let crlChoices: BerNode[] = [];
  if (fields[index]?.tag === 0xa0) certificateChoices = ber.children(fields[index++] as BerNode, MAX_CERTIFICATES, 2);
  if (fields[index]?.tag === 0xa1) crlChoices = ber.children(fields[index++] as BerNode, MAX_CERTIFICATES, 2);
  const infos = ber.children(expectTag(fields[index], 0x31, 'signerInfos'), MAX_SIGNERS, 2);
  if (index + 1 !== fields.length) throw new Malformed('SignedData has fields after signerInfos');
  const certificates: Buffer[] = [];
  // Only the plain X.509 Certificate choice (a SEQUENCE) is used for S/MIME; the others only count for the version.
  for (const choice of certificateChoices) if (choice.tag === 0x30) certificates.push(Buffer.from(ber.bytes(choice)));
  const signerInfos = infos.map((info) => readSignerInfo(ber, info));
  checkChoices(certificateChoices, crlChoices);
  if (![1, 3, 4, 5].includes(version)) throw new Malformed(`SignedData version ${version} (RFC 5652 5.1 knows 1, 3, 4 and 5)`);
  return { eContentType, ...(embedded ? { embedded } : {}), certificates, signerInfos };
}

function checkChoices(certificates: readonly BerNode[], crls: readonly BerNode[]): void {
  // CertificateChoices: Certificate, [0] extendedCertificate (obsolete), [1] v1AttrCert, [2] v2AttrCert, [3] other.
  for (const choice of certificates) if (![0x30, 0xa0, 0xa1, 0xa2, 0xa3].includes(choice.tag)) throw new Malformed('unknown CertificateChoices');
  // RevocationInfoChoice: CertificateList, [1] other.
  for (const choice of crls) if (choice.tag !== 0x30 && choice.tag !== 0xa1) throw new Malformed('unknown RevocationInfoChoice');
}

const SIGNED_DATA_OID = oid(OID.signedData);

type SignerOutcome = Omit<VerifyOutcome, 'certificates' | 'embeddedContent'>;

async function verifySigner(
  fields: SignerInfoFields,
  parsed: ParsedSignedData,
  views: readonly (CertificateView | undefined)[],
  content: readonly Buffer[],
  trust: TrustContext,
): Promise<SignerOutcome> {
  const { attributes } = fields;
  const harvest = {
    ...(attributes?.encryptionKeyPreference ? { encryptionKeyPreference: attributes.encryptionKeyPreference } : {}),
    ...(attributes?.smimeCapabilities ? { smimeCapabilities: attributes.smimeCapabilities } : {}),
  };
  const extra = attributes?.signingTime ? { signingTime: attributes.signingTime } : {};
  const digest = DIGESTS[fields.digestAlgorithm.oid];
  if (!digest) return { ...harvest, verdict: verdictOf('unsupported-algorithm', `digest algorithm ${fields.digestAlgorithm.oid} is not supported`, extra) };
  const family = SIGNATURE_FAMILY[fields.signatureAlgorithm.oid];
  if (!family) return { ...harvest, verdict: verdictOf('unsupported-algorithm', `signature algorithm ${fields.signatureAlgorithm.oid} is not supported`, extra) };
  // Parameters are unsigned too: absent or NULL where the algorithm defines none, valid RSASSA-PSS-params for PSS.
  if (!absentOrNull(fields.digestAlgorithm)) return { ...harvest, verdict: verdictOf('malformed', 'digest algorithm with parameters', extra) };
  let pss: PssParams | undefined;
  try {
    if (family === 'pss') pss = pssParams(fields.signatureAlgorithm.params);
    else if (!absentOrNull(fields.signatureAlgorithm)) throw new Malformed(`signature algorithm ${fields.signatureAlgorithm.oid} with parameters`);
  } catch (err) {
    return { ...harvest, verdict: verdictOf(err instanceof Malformed || err instanceof BerError ? err.reason : 'malformed', `signature algorithm parameters: ${errorMessage(err)}`, extra) };
  }

  const signer = views.find((view) => view !== undefined && identifies(fields.sid, view));
  if (!signer) return { ...harvest, verdict: verdictOf('signer-not-found', 'the signer certificate is not in the message', extra) };
  let info: CertificateInfo;
  try {
    info = parseCertificate(signer.der);
  } catch (err) {
    return { ...harvest, verdict: verdictOf('malformed', `the signer certificate cannot be read: ${errorMessage(err)}`, extra) };
  }
  const summary: SignerSummary = { subject: info.subject, issuer: info.issuer, serialHex: info.serialHex, emails: info.emailAddresses, fingerprint: info.sha256 };
  const withSigner = { ...extra, signer: summary };
  const result = (reason: VerdictReason, detail: string): SignerOutcome => ({ ...harvest, signerCertificate: signer.der, verdict: verdictOf(reason, detail, withSigner) });

  // 1. The signature over the exact bytes.
  let signedChunks: readonly Buffer[];
  if (attributes) {
    if (!attributes.messageDigest) return result('malformed', 'signed attributes without messageDigest');
    if (attributes.contentType === undefined) return result('malformed', 'signed attributes without contentType');
    if (attributes.contentType !== parsed.eContentType) return result('bad-signature', 'the signed contentType differs from the encapsulated content type');
    // Large content is hashed on a worker thread (bulk-crypto.ts), so other connections are not stalled meanwhile.
    const contentDigest = await digestChunks(digest.name, content);
    if (!contentDigest.equals(attributes.messageDigest)) return result('digest-mismatch', 'the content does not match the signed message digest (altered in transit?)');
    signedChunks = [attributes.signedBytes];
  } else {
    signedChunks = content;
  }
  let valid: boolean;
  try {
    valid = await checkSignature(digest.name, family, pss, certificatePublicKey(signer.der), signedChunks, fields.signature);
  } catch (err) {
    if (err instanceof Malformed) return result(err.reason, err.message);
    valid = false;
  }
  if (!valid) return result('bad-signature', 'the signature does not verify with the signer certificate');
  if (digest.weak) return result('weak-digest', `the signature is valid but uses ${digest.name.toUpperCase()}, which is no longer accepted`);

  // 2. The signer's certificate path to a configured anchor.
  const path = validatePath(signer.der, parsed.certificates, trust.anchors, {
    at: trust.at,
    minRsaBits: trust.minRsaBits ?? 2048,
    ...(attributes?.signingTime ? { signingTime: attributes.signingTime } : {}),
  });
  if (!path.ok) return result(path.reason, `the signature is valid, but: ${path.detail}`);

  // 3. The certificate's purpose (RFC 8550 section 4.4) and the sender address.
  if (!canSign(info)) return result('key-usage', 'the signer certificate does not allow digitalSignature or nonRepudiation');
  if (!allowsEmailProtection(info)) return result('no-email-protection', 'the signer certificate is not for e-mail protection (extendedKeyUsage)');
  if (trust.fromAddresses) {
    // RFC 8550 section 3: rfc822Name subjectAltNames, and the PKCS #9 emailAddress of older certificates' subject DN.
    const certified = new Set([...info.emailAddresses, ...info.legacyEmailAddresses]);
    const missing = trust.fromAddresses.map((a) => a.trim().toLowerCase()).filter((a) => !certified.has(a));
    const sender = trust.senderAddress?.trim().toLowerCase();
    const senderMatches = sender !== undefined && certified.has(sender);
    if (!senderMatches && (missing.length > 0 || trust.fromAddresses.length === 0)) {
      return result('from-mismatch', `From ${missing.join(', ') || '(empty)'} is not an address of the signer certificate (${info.emailAddresses.join(', ') || 'none'})`);
    }
  }
  return { ...result('valid', `signed by ${oneLine(signer.x509.subject)}, issued under ${oneLine(path.anchor.x509.subject)}`), path: path.path };
}

function identifies(sid: SignerId, view: CertificateView): boolean {
  try {
    if (sid.kind === 'ski') {
      const ext = view.cert.extensions?.find((e) => e.extnID === '2.5.29.14');
      if (!ext) return false;
      // SubjectKeyIdentifier ::= OCTET STRING, inside the extnValue OCTET STRING.
      const value = Buffer.from(ext.extnValue.valueBlock.valueHexView);
      const ski = new BerReader(value);
      const node = ski.read(0, value.length, 0);
      return node.tag === 0x04 && node.end === value.length && ski.contents(node).equals(sid.ski);
    }
    // Serial and issuer straight from the TBSCertificate octets: cheap, and byte equality is what RFC 5652 implies.
    const ber = new BerReader(view.der);
    const [tbs] = ber.children(ber.read(0, view.der.length, 0));
    const parts = ber.children(expectTag(tbs, 0x30, 'TBSCertificate'));
    const offset = parts[0]?.tag === 0xa0 ? 1 : 0;
    const serial = expectTag(parts[offset], 0x02, 'serialNumber');
    const issuer = expectTag(parts[offset + 2], 0x30, 'issuer');
    if (!view.der.subarray(serial.contentStart, serial.contentEnd).equals(sid.serial)) return false;
    if (ber.bytes(issuer).equals(sid.issuer)) return true;
    // Some signers re-encode the issuer name (string types, case): let pkijs compare the names, but
    // only for a well-formed plain Name, so an altered (unsigned) sid cannot be read past leniently.
    if (!isPlainName(sid.issuer)) return false;
    const asn = asn1js.fromBER(sid.issuer);
    return asn.offset !== -1 && view.cert.issuer.isEqual(new pkijs.RelativeDistinguishedNames({ schema: asn.result }));
  } catch {
    return false;
  }
}

async function checkSignature(
  hash: string,
  family: 'rsa' | 'pss' | 'ecdsa',
  pss: PssParams | undefined,
  key: KeyObject,
  data: readonly Buffer[],
  signature: Buffer,
): Promise<boolean> {
  if (family === 'ecdsa') {
    if (key.asymmetricKeyType !== 'ec') return false;
    // RFC 5753 wants Ecdsa-Sig-Value (DER); NSS's cmsutil writes the raw r||s form (IEEE P1363) for some
    // keys, which is the same signature in another encoding, so it is accepted when it has exactly that size.
    const valid = await verifyChunks(hash, data, key, undefined, signature); // DER is the default encoding
    if (valid || signature.length !== 2 * ecFieldBytes(key)) return valid;
    return verifyChunks(hash, data, key, { dsaEncoding: 'ieee-p1363' }, signature);
  }
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') return false;
  // PKCS #1 v1.5 is the default padding of an 'rsa' key; the bare key is also much cheaper to hand over than options.
  if (family === 'rsa') return verifyChunks(hash, data, key, key.asymmetricKeyType === 'rsa' ? undefined : { padding: constants.RSA_PKCS1_PADDING }, signature);
  if (!pss) return false;
  if (pss.hash !== hash || pss.mgfHash !== hash) throw new Malformed('RSA-PSS with a hash different from the digest algorithm', 'unsupported-algorithm');
  return verifyChunks(hash, data, key, { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, signature);
}

/**
 * false for a signature that does not verify or cannot be read. One chunk
 * (the signed attributes, the usual case) is verified on libuv's thread
 * pool, so the public-key operation does not hold up other connections;
 * several chunks (content signed without attributes) are streamed through
 * a verifier instead of being joined into one copy.
 */
function verifyChunks(hash: string, data: readonly Buffer[], publicKey: KeyObject, options: Omit<VerifyKeyObjectInput, 'key'> | undefined, signature: Buffer): Promise<boolean> {
  const key = options ? { key: publicKey, ...options } : publicKey;
  if (data.length !== 1) {
    try {
      const verifier = createVerify(hash);
      for (const chunk of data) verifier.update(chunk);
      return Promise.resolve(verifier.verify(key, signature));
    } catch {
      return Promise.resolve(false); // e.g. an ECDSA signature that is not DER at all
    }
  }
  return new Promise((resolve) => {
    try {
      verify(hash, data[0] as Buffer, key, signature, (err, valid) => resolve(!err && valid));
    } catch {
      resolve(false);
    }
  });
}

const EC_FIELD_BYTES: Readonly<Record<string, number>> = { prime256v1: 32, secp384r1: 48, secp521r1: 66, brainpoolP256r1: 32, brainpoolP384r1: 48, brainpoolP512r1: 64 };

function ecFieldBytes(key: KeyObject): number {
  return EC_FIELD_BYTES[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? -1;
}

interface PssParams {
  readonly hash: string;
  readonly mgfHash: string;
  readonly saltLength: number;
}

/** RSASSA-PSS-params with the hashes named; an unknown hash gives '?', which then mismatches the digest algorithm. */
function pssParams(params: Buffer | undefined): PssParams {
  const read = readPssParams(params);
  return { hash: DIGESTS[read.hashOid]?.name ?? '?', mgfHash: DIGESTS[read.mgfHashOid]?.name ?? '?', saltLength: read.saltLength };
}

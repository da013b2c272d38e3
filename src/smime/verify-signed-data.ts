/**
 * Verifies an inbound CMS SignedData (RFC 5652 section 5.6, RFC 8551,
 * RFC 8550) and returns a Verdict (verdict.ts for the result mapping) plus
 * what harvesting needs later. The signature is checked over the exact
 * bytes received: the detached content chunks or the embedded eContent, and
 * the signed attributes as encoded by the signer. node:crypto does all
 * cryptography (WebCrypto lacks brainpool curves, streaming input and
 * PSS parameter variants). The outer structure is walked by a small bounded
 * BER reader (below) that slices certificates and content without building
 * objects for them; each SignerInfo is parsed by asn1js with its default
 * caps (it is small), certificates by OpenSSL and, for extensions, pkijs.
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
import { createHash, createVerify, constants, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { errorMessage } from '../errors.js';
import { validatePath, readCertificate, oneLine, type CertificateView } from '../pki/path-validation.js';
import type { TrustAnchor } from '../pki/trust-store.js';
import { allowsEmailProtection, canSign, parseCertificate, type CertificateInfo } from '../pki/certificate-info.js';
import { octets, readSignedAttributes, type EncryptionKeyPreference, type SignedAttributesView } from './read-signed-attributes.js';
import { oid } from './der.js';
import { OID } from './oids.js';
import { verdictOf, type SignerSummary, type Verdict, type VerdictReason } from './verdict.js';
import { BerError, BerReader, expectTag } from './ber-reader.js';

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
  readonly signerInfos: readonly asn1js.Sequence[];
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
  const [contentType, wrapped] = ber.children(expectTag(top, 0x30, 'ContentInfo'));
  if (!contentType || !ber.bytes(contentType).equals(SIGNED_DATA_OID)) throw new Malformed('not a SignedData ContentInfo');
  const [signedData] = ber.children(expectTag(wrapped, 0xa0, '[0] content'));
  const fields = ber.children(expectTag(signedData, 0x30, 'SignedData'));
  // version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos
  if (fields.length < 4) throw new Malformed('SignedData has too few fields');
  const [eContentType, eContentWrapper] = ber.children(expectTag(fields[2], 0x30, 'EncapsulatedContentInfo'));
  const typeAsn = asn1js.fromBER(ber.bytes(expectTag(eContentType, 0x06, 'eContentType')));
  if (!(typeAsn.result instanceof asn1js.ObjectIdentifier)) throw new Malformed('eContentType is not an OID');
  let embedded: Buffer | undefined;
  if (eContentWrapper !== undefined) {
    const [eContent] = ber.children(expectTag(eContentWrapper, 0xa0, 'eContent'));
    if (!eContent) throw new Malformed('eContent missing');
    embedded = ber.octets(eContent, 0);
  }
  const certificates: Buffer[] = [];
  for (const field of fields.slice(3, -1)) {
    if (field.tag !== 0xa0) continue;
    for (const choice of ber.children(field, MAX_CERTIFICATES)) {
      // Only the plain X.509 Certificate choice (a SEQUENCE); attribute and other certificates are not used for S/MIME.
      if (choice.tag === 0x30) certificates.push(Buffer.from(ber.bytes(choice)));
    }
  }
  const infos = ber.children(expectTag(fields[fields.length - 1], 0x31, 'signerInfos'), MAX_SIGNERS);
  const signerInfos = infos.map((info) => {
    // Each SignerInfo is small; asn1js with its default caps reads it (and keeps the signed attribute octets as received).
    const parsed = asn1js.fromBER(ber.bytes(info));
    if (parsed.offset === -1 || !(parsed.result instanceof asn1js.Sequence)) throw new Malformed('SignerInfo is not a SEQUENCE');
    return parsed.result;
  });
  return { eContentType: typeAsn.result.valueBlock.toString(), ...(embedded ? { embedded } : {}), certificates, signerInfos };
}

const SIGNED_DATA_OID = oid(OID.signedData);

function asnChildren(node: asn1js.AsnType | undefined, what: string): asn1js.AsnType[] {
  if (!(node instanceof asn1js.Constructed) && !(node instanceof asn1js.Sequence) && !(node instanceof asn1js.Set)) throw new Malformed(`${what} is not constructed`);
  return node.valueBlock.value;
}

type SignerOutcome = Omit<VerifyOutcome, 'certificates' | 'embeddedContent'>;

async function verifySigner(
  signerInfo: asn1js.Sequence,
  parsed: ParsedSignedData,
  views: readonly (CertificateView | undefined)[],
  content: readonly Buffer[],
  trust: TrustContext,
): Promise<SignerOutcome> {
  let fields: ReturnType<typeof readSignerInfo>;
  try {
    fields = readSignerInfo(signerInfo);
  } catch (err) {
    return { verdict: verdictOf(err instanceof Malformed ? err.reason : 'malformed', `SignerInfo cannot be read: ${errorMessage(err)}`) };
  }
  const { attributes } = fields;
  const harvest = {
    ...(attributes?.encryptionKeyPreference ? { encryptionKeyPreference: attributes.encryptionKeyPreference } : {}),
    ...(attributes?.smimeCapabilities ? { smimeCapabilities: attributes.smimeCapabilities } : {}),
  };
  const extra = attributes?.signingTime ? { signingTime: attributes.signingTime } : {};
  const digest = DIGESTS[fields.digestOid];
  if (!digest) return { ...harvest, verdict: verdictOf('unsupported-algorithm', `digest algorithm ${fields.digestOid} is not supported`, extra) };
  const family = SIGNATURE_FAMILY[fields.signatureOid];
  if (!family) return { ...harvest, verdict: verdictOf('unsupported-algorithm', `signature algorithm ${fields.signatureOid} is not supported`, extra) };

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
    const hash = createHash(digest.name);
    for (const chunk of content) hash.update(chunk);
    if (!hash.digest().equals(attributes.messageDigest)) return result('digest-mismatch', 'the content does not match the signed message digest (altered in transit?)');
    signedChunks = [attributes.signedBytes];
  } else {
    signedChunks = content;
  }
  let valid: boolean;
  try {
    valid = checkSignature(digest.name, family, fields.signatureParams, signer.x509.publicKey, signedChunks, fields.signature);
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
  return result('valid', `signed by ${oneLine(signer.x509.subject)}, issued under ${oneLine(path.anchor.x509.subject)}`);
}

type SignerId = { readonly kind: 'issuerSerial'; readonly issuer: Buffer; readonly serial: Buffer } | { readonly kind: 'ski'; readonly ski: Buffer };

function readSignerInfo(node: asn1js.Sequence): {
  sid: SignerId;
  digestOid: string;
  attributes?: SignedAttributesView;
  signatureOid: string;
  signatureParams?: asn1js.AsnType;
  signature: Buffer;
} {
  const parts = node.valueBlock.value;
  const [, sid, digestAlgorithm] = parts;
  let index = 3;
  let attributes: SignedAttributesView | undefined;
  const maybeAttrs = parts[3];
  if (maybeAttrs && maybeAttrs.idBlock.tagClass === 3 && maybeAttrs.idBlock.tagNumber === 0) {
    attributes = readSignedAttributes(maybeAttrs);
    index = 4;
  }
  const signatureAlgorithm = parts[index];
  const signature = parts[index + 1];
  if (!(signature instanceof asn1js.OctetString)) throw new Malformed('signature is not an OCTET STRING');
  const [signatureOid, signatureParams] = asnChildren(signatureAlgorithm, 'signatureAlgorithm');
  return {
    sid: readSid(sid),
    digestOid: algorithmOid(digestAlgorithm),
    ...(attributes ? { attributes } : {}),
    signatureOid: signatureOid instanceof asn1js.ObjectIdentifier ? signatureOid.valueBlock.toString() : '',
    ...(signatureParams ? { signatureParams } : {}),
    signature: octets(signature),
  };
}

function algorithmOid(node: asn1js.AsnType | undefined): string {
  const first = asnChildren(node, 'AlgorithmIdentifier')[0];
  if (!(first instanceof asn1js.ObjectIdentifier)) throw new Malformed('AlgorithmIdentifier without OID');
  return first.valueBlock.toString();
}

function readSid(node: asn1js.AsnType | undefined): SignerId {
  if (node instanceof asn1js.Sequence) {
    const [issuer, serial] = node.valueBlock.value;
    if (!(issuer instanceof asn1js.Sequence) || !(serial instanceof asn1js.Integer)) throw new Malformed('issuerAndSerialNumber malformed');
    return { kind: 'issuerSerial', issuer: Buffer.from(issuer.valueBeforeDecodeView), serial: Buffer.from(serial.valueBlock.valueHexView) };
  }
  // subjectKeyIdentifier [0] IMPLICIT OCTET STRING: primitive context tag 0.
  if (node && node.idBlock.tagClass === 3 && node.idBlock.tagNumber === 0 && node instanceof asn1js.Primitive) {
    return { kind: 'ski', ski: Buffer.from(node.valueBlock.valueHexView) };
  }
  throw new Malformed('unknown SignerIdentifier');
}

function identifies(sid: SignerId, view: CertificateView): boolean {
  try {
    if (sid.kind === 'ski') {
      const ext = view.cert.extensions?.find((e) => e.extnID === '2.5.29.14');
      const parsed = ext ? asn1js.fromBER(ext.extnValue.valueBlock.valueHexView) : undefined;
      return parsed?.result instanceof asn1js.OctetString && Buffer.from(parsed.result.valueBlock.valueHexView).equals(sid.ski);
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
    // Some signers re-encode the issuer name (string types, case): let pkijs compare the names.
    const asn = asn1js.fromBER(sid.issuer);
    return asn.offset !== -1 && view.cert.issuer.isEqual(new pkijs.RelativeDistinguishedNames({ schema: asn.result }));
  } catch {
    return false;
  }
}

function checkSignature(
  hash: string,
  family: 'rsa' | 'pss' | 'ecdsa',
  params: asn1js.AsnType | undefined,
  key: KeyObject,
  data: readonly Buffer[],
  signature: Buffer,
): boolean {
  const verifier = createVerify(hash);
  for (const chunk of data) verifier.update(chunk);
  if (family === 'ecdsa') {
    if (key.asymmetricKeyType !== 'ec') return false;
    // RFC 5753 wants Ecdsa-Sig-Value (DER); NSS's cmsutil writes the raw r||s form (IEEE P1363) for some
    // keys, which is the same signature in another encoding, so it is accepted when it has exactly that size.
    let valid = false;
    try {
      valid = verifier.verify({ key, dsaEncoding: 'der' }, signature);
    } catch {
      valid = false; // not DER at all
    }
    if (valid || signature.length !== 2 * ecFieldBytes(key)) return valid;
    const raw = createVerify(hash);
    for (const chunk of data) raw.update(chunk);
    return raw.verify({ key, dsaEncoding: 'ieee-p1363' }, signature);
  }
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') return false;
  if (family === 'rsa') return verifier.verify({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
  const pss = readPssParams(params);
  if (pss.hash !== hash || pss.mgfHash !== hash) throw new Malformed('RSA-PSS with a hash different from the digest algorithm', 'unsupported-algorithm');
  return verifier.verify({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, signature);
}

const EC_FIELD_BYTES: Readonly<Record<string, number>> = { prime256v1: 32, secp384r1: 48, secp521r1: 66, brainpoolP256r1: 32, brainpoolP384r1: 48, brainpoolP512r1: 64 };

function ecFieldBytes(key: KeyObject): number {
  return EC_FIELD_BYTES[key.asymmetricKeyDetails?.namedCurve ?? ''] ?? -1;
}

/** RSASSA-PSS-params (RFC 4055 3.1): [0] hash, [1] MGF, [2] salt length; defaults SHA-1, MGF1-SHA-1, 20. */
function readPssParams(params: asn1js.AsnType | undefined): { hash: string; mgfHash: string; saltLength: number } {
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  if (params instanceof asn1js.Sequence) {
    for (const field of params.valueBlock.value) {
      const inner = asnChildren(field, 'RSASSA-PSS-params field')[0];
      if (field.idBlock.tagNumber === 0) hash = DIGESTS[algorithmOid(inner)]?.name ?? '?';
      else if (field.idBlock.tagNumber === 1) {
        const [, mgfParams] = asnChildren(inner, 'maskGenAlgorithm');
        mgfHash = DIGESTS[algorithmOid(mgfParams)]?.name ?? '?';
      } else if (field.idBlock.tagNumber === 2 && inner instanceof asn1js.Integer) saltLength = inner.valueBlock.valueDec;
    }
  }
  if (!Number.isSafeInteger(saltLength) || saltLength < 0 || saltLength > 1024) throw new Malformed('RSA-PSS salt length out of range');
  return { hash, mgfHash, saltLength };
}

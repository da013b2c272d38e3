/**
 * Only the content and the signed attributes are covered by a CMS signature.
 * Every other part of a real `openssl cms -sign` SignedData is altered here,
 * in place and by re-encoding: the verdict must never be 'pass', and a
 * structure RFC 5652 does not allow must be permerror.
 */
import { BerReader, type BerNode } from '../../src/smime/ber-reader.js';
import { oid, sequence, setOf, tlv, TAG } from '../../src/smime/der.js';
import { OID } from '../../src/smime/oids.js';
import { verifySignedData } from '../../src/smime/verify-signed-data.js';
import { AT, createPki, entity, mailbox, opensslSign, tempDir, writeSigner, type Pki } from './fixtures.js';

let pki: Pki;
let valid: Buffer;
let parts: Parts;
const content = entity();

interface Parts {
  readonly contentType: BerNode;
  readonly fields: readonly BerNode[];
  readonly digestAlgorithm0: BerNode;
  readonly signerInfo: BerNode;
  readonly signerFields: readonly BerNode[];
}

beforeAll(async () => {
  pki = await createPki();
  const dir = tempDir();
  valid = opensslSign(dir, writeSigner(dir, 'alice', await mailbox(pki.ca, { email: 'alice@example.org' }), [pki.ca.certificate]), content);
  const ber = new BerReader(valid);
  const [contentType, wrapped] = ber.children(ber.read(0, valid.length, 0));
  const fields = ber.children(ber.children(wrapped as BerNode)[0] as BerNode);
  const [signerInfo] = ber.children(fields[fields.length - 1] as BerNode);
  parts = {
    contentType: contentType as BerNode,
    fields,
    digestAlgorithm0: ber.children(fields[1] as BerNode)[0] as BerNode,
    signerInfo: signerInfo as BerNode,
    signerFields: ber.children(signerInfo as BerNode),
  };
});

async function verdictOf(signedData: Buffer): Promise<{ result: string; reason: string }> {
  return (await verifySignedData({ signedData, content: [content] }, { anchors: pki.anchors, at: AT })).verdict;
}

const bytesOf = (node: BerNode): Buffer => valid.subarray(node.start, node.end);
const signerField = (index: number): BerNode => parts.signerFields[index] as BerNode;

function changed(offset: number, value: number): Buffer {
  const copy = Buffer.from(valid);
  copy[offset] = value;
  return copy;
}

/** Offset of a NULL parameter inside an AlgorithmIdentifier, if the signer wrote one. */
function nullParams(node: BerNode): number | undefined {
  const at = node.end - 2;
  return valid[at] === 0x05 && valid[at + 1] === 0x00 ? at : undefined;
}

/** The SignedData rebuilt from (possibly altered) SignerInfo fields and SignedData fields. */
function rebuilt(signerFields: readonly Buffer[], options: { extraSignedDataField?: Buffer; extraContentInfoField?: Buffer } = {}): Buffer {
  const fields = parts.fields.slice(0, -1).map(bytesOf);
  const signerInfos = tlv(TAG.SET, sequence(...signerFields));
  const signedData = sequence(...fields, signerInfos, ...(options.extraSignedDataField ? [options.extraSignedDataField] : []));
  return sequence(bytesOf(parts.contentType), tlv(TAG.CONTEXT_0, signedData), ...(options.extraContentInfoField ? [options.extraContentInfoField] : []));
}

const signerBytes = (): Buffer[] => parts.signerFields.map(bytesOf);
const NULL = Buffer.from([0x05, 0x00]);

test('the untouched signature and an identical re-encoding pass', async () => {
  expect(await verdictOf(valid)).toMatchObject({ result: 'pass' });
  expect(await verdictOf(rebuilt(signerBytes()))).toMatchObject({ result: 'pass' });
});

test('the SignerInfo layout is the one this test expects (openssl: v1, issuerAndSerial, signed attributes)', () => {
  expect(parts.signerFields.map((f) => f.tag)).toEqual([0x02, 0x30, 0x30, 0xa0, 0x30, 0x04]);
  expect(valid[parts.fields[0]?.contentStart ?? -1]).toBe(1);
});

test('versions: unknown SignedData and SignerInfo versions are permerror; known ones in the wrong place are tolerated (the signature does not depend on them)', async () => {
  const signedDataVersion = parts.fields[0]?.contentStart ?? -1;
  for (const version of [0, 2, 6, 0x7f]) {
    expect(await verdictOf(changed(signedDataVersion, version))).toMatchObject({ result: 'permerror', reason: 'malformed' });
  }
  for (const version of [3, 4, 5]) expect(await verdictOf(changed(signedDataVersion, version))).toMatchObject({ result: 'pass' });
  for (const version of [0, 2, 4]) {
    expect(await verdictOf(changed(signerField(0).contentStart, version))).toMatchObject({ result: 'permerror', reason: 'malformed' });
  }
  expect(await verdictOf(changed(signerField(0).contentStart, 3))).toMatchObject({ result: 'pass' });
});

test('algorithms: a digest not listed in digestAlgorithms, parameters where none belong, unknown signature OID: permerror', async () => {
  // sha256 (…4.2.1) -> sha384 (…4.2.2): in the SignerInfo the digest no longer matches; in digestAlgorithms it is
  // tolerated, because RFC 5652 5.1 lets that set hold any number of elements, even none.
  const lastOidByte = (algorithm: BerNode): number => algorithm.contentStart + 1 + (valid[algorithm.contentStart + 1] ?? 0);
  const signerDigest = lastOidByte(signerField(2));
  expect(valid[signerDigest]).toBe(0x01);
  expect((await verdictOf(changed(signerDigest, 0x02))).result).not.toBe('pass');
  const listedDigest = lastOidByte(parts.digestAlgorithm0);
  expect(valid[listedDigest]).toBe(0x01);
  expect(await verdictOf(changed(listedDigest, 0x02))).toMatchObject({ result: 'pass' });
  // rsaEncryption (…1.1.1) -> an unknown …1.1.99.
  const signatureOidEnd = lastOidByte(signerField(4));
  expect(await verdictOf(changed(signatureOidEnd, 0x63))).toMatchObject({ result: 'permerror' });
  // NULL parameters turned into an empty OCTET STRING; absent ones gain an extra value by re-encoding.
  for (const [index, algorithm] of [[2, signerField(2)], [4, signerField(4)]] as const) {
    const at = nullParams(algorithm);
    if (at !== undefined) expect(await verdictOf(changed(at, 0x04))).toMatchObject({ result: 'permerror' });
    const fields = signerBytes();
    const [algorithmOid] = new BerReader(valid).children(algorithm);
    fields[index] = sequence(valid.subarray(algorithmOid?.start, algorithmOid?.end), Buffer.from([0x04, 0x00]));
    expect(await verdictOf(rebuilt(fields))).toMatchObject({ result: 'permerror' });
    fields[index] = sequence(valid.subarray(algorithmOid?.start, algorithmOid?.end), NULL, NULL);
    expect(await verdictOf(rebuilt(fields))).toMatchObject({ result: 'permerror' });
  }
});

test('sid of the wrong kind, signature not a primitive OCTET STRING: never pass', async () => {
  expect(await verdictOf(changed(signerField(1).start, 0x31))).toMatchObject({ result: 'permerror' });
  expect(await verdictOf(changed(signerField(1).start, 0xa0))).toMatchObject({ result: 'permerror' });
  expect(await verdictOf(changed(signerField(5).start, 0x24))).toMatchObject({ result: 'permerror' });
  expect(await verdictOf(changed(signerField(5).start, 0x03))).toMatchObject({ result: 'permerror' });
  // A version 3 SignerInfo with the issuerAndSerialNumber re-tagged as a subjectKeyIdentifier names no certificate.
  const fields = signerBytes();
  fields[0] = Buffer.from([0x02, 0x01, 0x03]);
  fields[1] = tlv(0x80, valid.subarray(signerField(1).contentStart, signerField(1).contentEnd));
  expect(await verdictOf(rebuilt(fields))).toMatchObject({ result: 'fail', reason: 'signer-not-found' });
});

test('an issuer Name re-encoded with another DirectoryString type still identifies the signer (RFC 5280 7.1), NumericString does not', async () => {
  const ber = new BerReader(valid);
  const [issuer] = ber.children(signerField(1));
  const [firstRdn] = ber.children(issuer as BerNode);
  const [firstAttribute] = ber.children(firstRdn as BerNode);
  const value = ber.children(firstAttribute as BerNode)[1] as BerNode;
  expect(value.tag).toBe(0x13); // PrintableString "DE"
  expect(await verdictOf(changed(value.start, 0x0c))).toMatchObject({ result: 'pass' });
  expect(await verdictOf(changed(value.start, 0x12))).toMatchObject({ result: 'fail', reason: 'signer-not-found' });
});

test('extra fields anywhere: permerror; a well-formed unsignedAttrs [1] is allowed, a malformed one is not', async () => {
  expect(await verdictOf(rebuilt([...signerBytes(), NULL]))).toMatchObject({ result: 'permerror' });
  const attribute = sequence(oid('1.2.840.113549.1.9.6'), setOf([sequence(NULL)]));
  const unsigned = tlv(0xa1, attribute);
  expect(await verdictOf(rebuilt([...signerBytes(), unsigned]))).toMatchObject({ result: 'pass' });
  expect(await verdictOf(rebuilt([...signerBytes(), unsigned, NULL]))).toMatchObject({ result: 'permerror' });
  for (const bad of [tlv(0xa1), tlv(0xa1, sequence(oid('1.2.840.113549.1.9.6'), tlv(TAG.SET))), tlv(0xa1, sequence(oid('1.2.840.113549.1.9.6'))), tlv(0xa1, NULL)]) {
    expect(await verdictOf(rebuilt([...signerBytes(), bad]))).toMatchObject({ result: 'permerror' });
  }
  // unsignedAttrs before the signature is out of order.
  const fields = signerBytes();
  expect(await verdictOf(rebuilt([...fields.slice(0, 5), unsigned, ...fields.slice(5)]))).toMatchObject({ result: 'permerror' });
  expect(await verdictOf(rebuilt(signerBytes(), { extraSignedDataField: NULL }))).toMatchObject({ result: 'permerror' });
  expect(await verdictOf(rebuilt(signerBytes(), { extraContentInfoField: NULL }))).toMatchObject({ result: 'permerror' });
  const twoValues = sequence(oid(OID.signedData), tlv(TAG.CONTEXT_0, bytesOf(rebuiltSignedData()), NULL));
  expect(await verdictOf(twoValues)).toMatchObject({ result: 'permerror' });
});

function rebuiltSignedData(): BerNode {
  const ber = new BerReader(valid);
  const [, wrapped] = ber.children(ber.read(0, valid.length, 0));
  return ber.children(wrapped as BerNode)[0] as BerNode;
}

test('trailing bytes: zero padding is tolerated, anything else is permerror', async () => {
  expect(await verdictOf(Buffer.concat([valid, Buffer.alloc(16)]))).toMatchObject({ result: 'pass' });
  for (const tail of [[0x01], [0x00, 0x00, 0x30], [0x30, 0x00], [0x0a]]) {
    expect(await verdictOf(Buffer.concat([valid, Buffer.from(tail)]))).toMatchObject({ result: 'permerror' });
  }
});

test('flipping any one bit of the unsigned structure (outside certificates and signature value) never gives pass', async () => {
  const certificates = parts.fields.find((f) => f.tag === 0xa0);
  const signedAttributes = signerField(3);
  const signature = signerField(5);
  // digestAlgorithms may list anything (RFC 5652 5.1): its bytes are not part of this property.
  const digestAlgorithms = parts.fields[1];
  const skipped = (offset: number): boolean =>
    (digestAlgorithms !== undefined && offset >= digestAlgorithms.start && offset < digestAlgorithms.end) ||
    (certificates !== undefined && offset >= certificates.start && offset < certificates.end) ||
    (offset >= signedAttributes.start && offset < signedAttributes.end) ||
    (offset >= signature.contentStart && offset < signature.contentEnd);
  const passed: number[] = [];
  let tried = 0;
  for (let offset = 0; offset < valid.length; offset++) {
    if (skipped(offset)) continue;
    tried++;
    const verdict = await verdictOf(changed(offset, (valid[offset] ?? 0) ^ 0x01));
    if (verdict.result === 'pass') passed.push(offset);
  }
  expect(tried).toBeGreaterThan(100);
  expect(passed).toEqual([]);
});

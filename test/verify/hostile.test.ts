/** Hostile and broken SignedData: bounded time, permerror (or fail), never a throw. */
import * as asn1js from 'asn1js';
import { issueCa } from '../../src/pki/generate.js';
import { oid, octetString, sequence, setOf, tlv, TAG } from '../../src/smime/der.js';
import { OID } from '../../src/smime/oids.js';
import { verifySignedData, type VerifyOutcome } from '../../src/smime/verify-signed-data.js';
import { RESULT_OF } from '../../src/smime/verdict.js';
import { AT, createPki, entity, mailbox, opensslSign, tempDir, writeSigner, type Pki } from './fixtures.js';

let pki: Pki;
let valid: Buffer;
const content = entity();
const trust = (): Parameters<typeof verifySignedData>[1] => ({ anchors: pki.anchors, at: AT });

beforeAll(async () => {
  pki = await createPki();
  const dir = tempDir();
  valid = opensslSign(dir, writeSigner(dir, 'alice', await mailbox(pki.ca, { email: 'alice@example.org' }), [pki.ca.certificate]), content);
});

/** The signerInfos SET of a real signature, to rebuild SignedData around it. */
function signerInfos(signature: Buffer): Buffer {
  const parsed = asn1js.fromBER(signature);
  const signedData = ((parsed.result as asn1js.Sequence).valueBlock.value[1] as asn1js.Constructed).valueBlock.value[0] as asn1js.Sequence;
  const fields = signedData.valueBlock.value;
  return Buffer.from((fields[fields.length - 1] as asn1js.Set).valueBeforeDecodeView);
}

function signedDataWith(certificates: readonly Buffer[], infos: Buffer): Buffer {
  const sha256 = sequence(oid(OID.sha256));
  const body = sequence(Buffer.from([TAG.INTEGER, 1, 1]), setOf([sha256]), sequence(oid(OID.data)), tlv(TAG.CONTEXT_0, ...certificates), infos);
  return sequence(oid(OID.signedData), tlv(TAG.CONTEXT_0, body));
}

async function timed(run: () => Promise<VerifyOutcome>): Promise<{ outcome: VerifyOutcome; ms: number }> {
  const start = performance.now();
  const outcome = await run();
  return { outcome, ms: performance.now() - start };
}

test('10,000 real certificates: permerror too-large, fast', async () => {
  const many = Array.from({ length: 10_000 }, () => pki.ca.certificate);
  const der = signedDataWith(many, signerInfos(valid));
  expect(der.length).toBeGreaterThan(5_000_000);
  const { outcome, ms } = await timed(() => verifySignedData({ signedData: der, content: [content] }, trust()));
  expect(outcome.verdict).toMatchObject({ result: 'permerror', reason: 'too-large' });
  expect(ms).toBeLessThan(3000);
});

test('10,000 tiny fake certificates: permerror too-large, fast', async () => {
  const many = Array.from({ length: 10_000 }, () => Buffer.from([0x30, 0x00]));
  const { outcome, ms } = await timed(() => verifySignedData({ signedData: signedDataWith(many, signerInfos(valid)), content: [content] }, trust()));
  expect(outcome.verdict).toMatchObject({ result: 'permerror', reason: 'too-large' });
  expect(ms).toBeLessThan(2000);
});

test('100 certificates with 40 look-alike issuers: bounded, still finds the real path', async () => {
  // Same subject name as the real issuing CA, different keys: each is an issuer candidate the search must try.
  const decoys = await Promise.all(Array.from({ length: 40 }, () => issueCa(pki.root, { subject: [['C', 'DE'], ['O', 'Freistaat Test'], ['CN', 'Test Root Issuing CA']], keySpec: 'p256' })));
  const dir = tempDir();
  const leaf = await mailbox(pki.ca, { email: 'bob@example.org' });
  const signature = opensslSign(dir, writeSigner(dir, 'bob', leaf, [pki.ca.certificate]), content);
  const certs = [leaf.certificate, ...decoys.map((d) => d.certificate), ...Array.from({ length: 58 }, (_, i) => decoys[i % 40]?.certificate ?? leaf.certificate), pki.ca.certificate];
  const { outcome, ms } = await timed(() => verifySignedData({ signedData: signedDataWith(certs, signerInfos(signature)), content: [content] }, trust()));
  // The real CA is past the 50-candidate bound, so no path: policy, not a hang.
  expect(outcome.verdict).toMatchObject({ result: 'policy', reason: 'no-path' });
  expect(ms).toBeLessThan(3000);
  const reordered = [leaf.certificate, pki.ca.certificate, ...decoys.map((d) => d.certificate)];
  const ok = await verifySignedData({ signedData: signedDataWith(reordered, signerInfos(signature)), content: [content] }, trust());
  expect(ok.verdict.result).toBe('pass');
});

test('deeply nested ASN.1: permerror, no stack overflow', async () => {
  let nested: Buffer = Buffer.from([0x05, 0x00]);
  for (let i = 0; i < 5000; i++) nested = sequence(nested);
  const { outcome, ms } = await timed(() => verifySignedData({ signedData: sequence(oid(OID.signedData), tlv(TAG.CONTEXT_0, nested)), content: [content] }, trust()));
  expect(outcome.verdict.result).toBe('permerror');
  expect(ms).toBeLessThan(2000);
});

test('garbage, empty, truncated, wrong content type, missing content: permerror', async () => {
  const cases: Buffer[] = [
    Buffer.alloc(0),
    Buffer.from('not asn.1 at all'),
    valid.subarray(0, valid.length - 20),
    sequence(oid(OID.data), tlv(TAG.CONTEXT_0, octetString(Buffer.from('x')))),
    sequence(oid(OID.signedData)),
    Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
  ];
  for (const signedData of cases) {
    const out = await verifySignedData({ signedData, content: [content] }, trust());
    expect(out.verdict.result).toBe('permerror');
  }
  expect((await verifySignedData({ signedData: valid }, trust())).verdict).toMatchObject({ result: 'permerror', reason: 'no-content' });
});

test('no SignerInfo: none/unsigned; signer certificate missing: fail/signer-not-found', async () => {
  const empty = signedDataWith([pki.ca.certificate], setOf([]));
  expect((await verifySignedData({ signedData: empty, content: [content] }, trust())).verdict).toMatchObject({ result: 'none', reason: 'unsigned' });
  const noCert = signedDataWith([pki.ca.certificate], signerInfos(valid));
  expect((await verifySignedData({ signedData: noCert, content: [content] }, trust())).verdict).toMatchObject({ result: 'fail', reason: 'signer-not-found' });
});

test('400 random single-byte corruptions never throw and give known reasons', async () => {
  let seed = 42;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const results = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const copy = Buffer.from(valid);
    const at = random(copy.length);
    copy[at] = (copy[at] ?? 0) ^ (1 + random(255));
    const out = await verifySignedData({ signedData: copy, content: [content] }, trust());
    expect(Object.keys(RESULT_OF)).toContain(out.verdict.reason);
    results.add(out.verdict.result);
  }
  expect(results.has('permerror')).toBe(true);
  expect(results.has('fail')).toBe(true);
});

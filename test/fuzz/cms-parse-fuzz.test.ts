/**
 * Fuzzing of CMS parsing (issue 7), straight at the readers rather than
 * through a whole message: the bounded BER reader (ber-reader.ts), the
 * SignedData/SignerInfo/signed-attribute readers behind verifySignedData,
 * the opaque-signature splitter, envelope decryption and certificate
 * parsing, fed with real openssl output (test/fuzz/seeds.ts) damaged at the
 * DER level: tags, length octets, truncation, indefinite lengths, deep
 * nesting, duplicated and swapped nodes. Properties:
 *
 * - verifySignedData never throws and answers within the time bound; the
 *   other readers return or throw their documented error type (BerError,
 *   SiegelError/EnvelopeError), nothing else;
 * - a signature whose signed bytes changed (signer certificate, signed
 *   attributes, signature value, content) never passes, while re-encoding
 *   the unsigned framing as BER (indefinite lengths) keeps the pass, so the
 *   first property is not vacuous.
 *
 * Reproducible: fixed seed (FUZZ_SEED), bounded runs (FUZZ_RUNS).
 */
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { SiegelError } from '../../src/errors.js';
import { parseCertificate } from '../../src/pki/certificate-info.js';
import { readCertificate } from '../../src/pki/path-validation.js';
import { trustStoreFromDer, type TrustAnchor } from '../../src/pki/trust-store.js';
import { BerError, BerReader, type BerNode } from '../../src/smime/ber-reader.js';
import { detachSignedData } from '../../src/smime/detach-signed-data.js';
import { decryptEnvelope } from '../../src/smime/envelope-decrypt.js';
import { EnvelopeError } from '../../src/smime/envelope-errors.js';
import { verifySignedData, type VerifyOutcome } from '../../src/smime/verify-signed-data.js';
import { TIME_BOUND_MS } from './check.js';
import { derEdit, encodeDer, headerOctets, parseDer, type DerNode } from './mutations.js';
import { AT, createSeeds, removeSeeds, SENDER, type Seeds } from './seeds.js';

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const params = { seed: FUZZ_SEED, numRuns: RUNS, endOnFailure: true } as const;

let seeds: Seeds;
let anchors: readonly TrustAnchor[];
const tally: Record<string, number> = {};
const count = (key: string): void => {
  tally[key] = (tally[key] ?? 0) + 1;
};

beforeAll(async () => {
  seeds = await createSeeds();
  anchors = trustStoreFromDer([seeds.root.certificate]).anchors;
}, 120_000);

afterAll(() => {
  console.log(`CMS fuzz (seed ${FUZZ_SEED}, ${RUNS} runs per property): ${JSON.stringify(tally)}`);
  removeSeeds(seeds);
});

const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

/** DER re-encoded with some constructed nodes in indefinite-length form (valid BER, as gpgsm and NSS write). */
function encodeBer(nodes: readonly DerNode[], indefinite: ReadonlySet<DerNode>): Buffer {
  return Buffer.concat(
    nodes.map((node) => {
      if (!node.children) return encodeDer([node]);
      const content = encodeBer(node.children, indefinite);
      return indefinite.has(node) ? Buffer.concat([Buffer.from([node.tag, 0x80]), content, Buffer.from([0, 0])]) : withLength(node.tag, content);
    }),
  );
}

/** Tag, definite length, content. */
function withLength(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) length.unshift(rest % 256);
  return Buffer.concat([Buffer.from(n < 0x80 ? [tag, n] : [tag, 0x80 | length.length, ...length]), content]);
}

function allConstructed(nodes: readonly DerNode[], out: DerNode[] = []): DerNode[] {
  for (const node of nodes) {
    if (!node.children) continue;
    out.push(node);
    allConstructed(node.children, out);
  }
  return out;
}

/** Hostile BER edits beyond derEdit: indefinite lengths anywhere (also on primitives), a missing end-of-contents, deep indefinite nesting, garbage appended. */
const berEdit: fc.Arbitrary<(der: Buffer) => Buffer> = fc.oneof(
  fc.tuple(fc.array(fraction, { minLength: 1, maxLength: 6 })).map(([picks]) => (der: Buffer) => {
    const tree = parseDer(der);
    if (!tree) return der;
    const nodes = allConstructed(tree);
    return encodeBer(tree, new Set(picks.map((f) => nodes[Math.floor(f * nodes.length)] as DerNode)));
  }),
  fc.tuple(fraction, fc.constantFrom(0x80, 0x00, 0x81, 0xff)).map(([f, value]) => (der: Buffer) => {
    // A length octet replaced: 0x80 on a primitive value, or a short/long form that no longer fits.
    const positions = headerOctets(der).filter((_, i) => i % 2 === 1);
    const pos = positions[Math.floor(f * positions.length)];
    if (pos === undefined) return der;
    const out = Buffer.from(der);
    out[pos] = value;
    return out;
  }),
  fc.tuple(fraction, fc.integer({ min: 1, max: 3000 })).map(([f, depth]) => (der: Buffer) => {
    const at = Math.floor(f * der.length);
    return Buffer.concat([der.subarray(0, at), Buffer.alloc(depth * 2, Buffer.from([0x30, 0x80])), der.subarray(at)]);
  }),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((tail) => (der: Buffer) => Buffer.concat([der, Buffer.from(tail)])),
);

const anyEdit = fc.oneof(derEdit, berEdit);
const edits = fc.array(anyEdit, { minLength: 1, maxLength: 3 });
const apply = (der: Buffer, list: ReadonlyArray<(der: Buffer) => Buffer>): Buffer => list.reduce((acc, edit) => edit(acc), der);

async function timed<T>(work: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    expect(performance.now() - t0).toBeLessThan(TIME_BOUND_MS);
  }
}

async function verify(signedData: Buffer, content?: Buffer): Promise<VerifyOutcome> {
  const outcome = await timed(() => verifySignedData({ signedData, ...(content ? { content: [content] } : {}) }, { anchors, at: AT, fromAddresses: [SENDER] }));
  count(`verify:${outcome.verdict.result}`);
  return outcome;
}

/** Walks everything the BER reader can reach, the way the SignedData reader does; only BerError may come out. */
function walk(ber: BerReader, node: BerNode, depth: number): number {
  let nodes = 1;
  if ((node.tag & 0x20) === 0) return nodes;
  for (const child of ber.children(node, 10_000, depth + 1)) nodes += walk(ber, child, depth + 1);
  return nodes;
}

describe('CMS readers under fuzzing', () => {
  it('starts from signatures that pass (detached and opaque)', async () => {
    expect((await verify(seeds.signedDer, seeds.entity)).verdict.result).toBe('pass');
    expect((await verify(seeds.opaqueDer)).verdict.result).toBe('pass');
  });

  it('the BER reader reads or throws BerError, with nodes inside their container, for damaged CMS and random bytes', async () => {
    const input = fc.oneof(
      fc.tuple(fc.constantFrom('signed', 'opaque', 'enveloped', 'authEnveloped'), edits).map(([which, list]) => apply(seedDer(which), list)),
      fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
    );
    await fc.assert(
      fc.property(input, (der) => {
        const ber = new BerReader(der);
        try {
          const top = ber.read(0, der.length, 0);
          expect(top.start).toBe(0);
          expect(top.contentStart).toBeLessThanOrEqual(top.contentEnd);
          expect(top.end).toBeLessThanOrEqual(der.length);
          walk(ber, top, 0);
          count('ber:read');
        } catch (err) {
          if (!(err instanceof BerError)) throw err;
          count(`ber:${err.reason}`);
        }
      }),
      params,
    );
  });

  it('verifySignedData never throws and gives a verdict in bounded time for damaged detached and opaque SignedData', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), edits, async (opaque, list) => {
        const der = apply(opaque ? seeds.opaqueDer : seeds.signedDer, list);
        const outcome = await verify(der, opaque ? undefined : seeds.entity);
        // A pass must be for the genuine signer over the genuine content.
        if (outcome.verdict.result === 'pass') {
          expect(outcome.signerCertificate?.equals(seeds.signer.certificate)).toBe(true);
          if (opaque) expect(outcome.embeddedContent?.equals(seeds.entity)).toBe(true);
        }
      }),
      params,
    );
  });

  it('never passes when the signed bytes changed: signer certificate, signed attributes, signature value or content', async () => {
    const regions = boundRegions(seeds.signedDer);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('certificate', 'attributes', 'signature', 'content'), fraction, fc.integer({ min: 1, max: 255 }), async (where, f, mask) => {
        const target = where === 'content' ? Buffer.from(seeds.entity) : Buffer.from(seeds.signedDer);
        const [from, to] = where === 'content' ? [0, target.length] : (regions[where] as [number, number]);
        const i = from + Math.floor(f * (to - from));
        target[i] = (target[i] as number) ^ mask;
        const outcome = where === 'content' ? await verify(seeds.signedDer, target) : await verify(target, seeds.entity);
        expect(outcome.verdict.result).not.toBe('pass');
      }),
      params,
    );
  });

  it('keeps the pass when only the unsigned framing is re-encoded with indefinite lengths (BER)', async () => {
    const tree = parseDer(seeds.signedDer) as DerNode[];
    const regions = boundRegions(seeds.signedDer);
    // Constructed nodes outside the signed attributes and certificates: their encoding is not signed.
    const framing = allConstructed(tree).filter((node) => {
      const offset = node.content.byteOffset - seeds.signedDer.byteOffset;
      const inside = (r: [number, number] | undefined): boolean => r !== undefined && offset >= r[0] && offset < r[1];
      return !inside(regions.certificate) && !inside(regions.attributes) && !inside(regions.certificates);
    });
    expect(framing.length).toBeGreaterThan(5);
    await fc.assert(
      fc.asyncProperty(fc.subarray(framing, { minLength: 1 }), async (picked) => {
        const ber = encodeBer(tree, new Set(picked));
        expect(ber.equals(seeds.signedDer)).toBe(false);
        expect((await verify(ber, seeds.entity)).verdict.result).toBe('pass');
      }),
      { ...params, numRuns: Math.ceil(RUNS / 4) },
    );
  });

  it('detachSignedData returns or throws a SiegelError for damaged opaque SignedData', async () => {
    await fc.assert(
      fc.asyncProperty(edits, async (list) => {
        const der = apply(seeds.opaqueDer, list);
        try {
          const detached = await timed(() => detachSignedData(der));
          expect(Buffer.isBuffer(detached.content)).toBe(true);
          count('detach:ok');
        } catch (err) {
          if (!(err instanceof SiegelError)) throw err;
          count(`detach:${err.code}`);
        }
      }),
      params,
    );
  });

  it('decryptEnvelope returns or throws an EnvelopeError for damaged EnvelopedData and AuthEnvelopedData', async () => {
    const keys = [{ certificate: seeds.recipient.certificate, privateKey: seeds.recipient.privateKey }];
    await fc.assert(
      fc.asyncProperty(fc.boolean(), edits, async (gcm, list) => {
        const der = apply(gcm ? seeds.authEnvelopedDer : seeds.envelopedDer, list);
        try {
          const opened = await timed(() => decryptEnvelope(der, keys));
          count('decrypt:ok');
          // GCM authenticates: what opens is the sealed content. CBC does not (a damaged last block can still unpad).
          if (gcm) expect(opened.content.equals(seeds.entity)).toBe(true);
        } catch (err) {
          if (!(err instanceof EnvelopeError)) throw err;
          count(`decrypt:${err.reason}`);
        }
      }),
      params,
    );
  });

  it('certificate parsing returns or throws an Error for damaged certificates; a damaged signer certificate passes only where the genuine one is still there', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(seeds.signer.certificate, seeds.root.certificate), edits, async (original, list) => {
        const der = apply(original, list);
        const view = await timed(() => readCertificate(der));
        if (view) {
          expect(view.x509).toBeInstanceOf(X509Certificate);
          try {
            parseCertificate(der);
            count('certificate:parsed');
          } catch (err) {
            // Documented: a plain Error for bytes that are not a certificate (node:crypto accepted them, pkijs did not).
            expect(err).toBeInstanceOf(Error);
            count('certificate:pkijs-refused');
          }
        } else {
          count('certificate:refused');
        }
        if (original !== seeds.signer.certificate || der.equals(original)) return;
        // The damaged certificate in place of the signer's inside the SignedData.
        const signedData = Buffer.from(seeds.signedDer);
        const at = signedData.indexOf(original);
        const swapped = Buffer.concat([signedData.subarray(0, at), der, signedData.subarray(at + original.length)]);
        const outcome = await verify(fixLengths(swapped, seeds.signedDer, der.length - original.length), seeds.entity);
        // A pass is only ever for the genuine certificate: intact (next to the damaged elements) or BER-re-encoded (the same DER once normalised).
        if (outcome.verdict.result === 'pass') {
          expect(firstElementAsDer(outcome.signerCertificate ?? Buffer.alloc(0))?.equals(original)).toBe(true);
          count('certificate:genuine-pass');
        }
      }),
      params,
    );
  });
});

function seedDer(which: string): Buffer {
  switch (which) {
    case 'signed':
      return seeds.signedDer;
    case 'opaque':
      return seeds.opaqueDer;
    case 'enveloped':
      return seeds.envelopedDer;
    default:
      return seeds.authEnvelopedDer;
  }
}

/** DER offsets of what the signature binds in openssl's SignedData: the signer's certificate, the signed attributes, the signature value, and the certificates [0] as a whole. */
function boundRegions(der: Buffer): Record<'certificate' | 'attributes' | 'signature' | 'certificates', [number, number]> {
  const offset = (node: DerNode): [number, number] => [node.content.byteOffset - der.byteOffset, node.content.byteOffset - der.byteOffset + node.content.length];
  const signedData = parseDer(der)?.[0]?.children?.[1]?.children?.[0]?.children ?? [];
  const certificates = signedData.find((n) => n.tag === 0xa0);
  const certificate = certificates?.children?.find((n) => encodeDer([n]).equals(seeds.signer.certificate));
  const signerInfo = signedData[signedData.length - 1]?.children?.[0]?.children ?? [];
  const attributes = signerInfo.find((n) => n.tag === 0xa0);
  const value = signerInfo[signerInfo.length - 1];
  if (!certificates || !certificate || !attributes || value?.tag !== 0x04) throw new Error('unexpected SignedData layout from openssl');
  return { certificate: offset(certificate), attributes: offset(attributes), signature: offset(value), certificates: offset(certificates) };
}

/**
 * After replacing the signer certificate by one of another length, the
 * enclosing definite lengths (ContentInfo, [0], SignedData, certificates)
 * are re-computed by re-parsing the original tree and swapping the node.
 */
function fixLengths(swapped: Buffer, original: Buffer, delta: number): Buffer {
  if (delta === 0) return swapped;
  const tree = parseDer(original);
  const signedData = tree?.[0]?.children?.[1]?.children?.[0]?.children;
  const certificates = signedData?.find((n) => n.tag === 0xa0)?.children;
  const index = certificates?.findIndex((n) => encodeDer([n]).equals(seeds.signer.certificate)) ?? -1;
  if (!tree || !certificates || index < 0) return swapped;
  const start = original.indexOf(seeds.signer.certificate);
  const replacement = swapped.subarray(start, start + seeds.signer.certificate.length + delta);
  // An opaque node: its bytes are written as they are, whatever they are.
  certificates[index] = { tag: -1, content: replacement };
  return encodeRaw(tree);
}

function encodeRaw(nodes: readonly DerNode[]): Buffer {
  return Buffer.concat(nodes.map((node) => (node.tag === -1 ? node.content : node.children ? withLength(node.tag, encodeRaw(node.children)) : encodeDer([node]))));
}

/** The first BER element (definite and indefinite lengths) normalised to DER; undefined for anything that is not BER. */
function firstElementAsDer(ber: Buffer): Buffer | undefined {
  const read = (pos: number, depth: number): { der: Buffer; end: number } | undefined => {
    const tag = ber[pos];
    const first = ber[pos + 1];
    if (tag === undefined || first === undefined || depth > 64) return undefined;
    if (first === 0x80) {
      if ((tag & 0x20) === 0) return undefined;
      const parts: Buffer[] = [];
      let at = pos + 2;
      while (!(ber[at] === 0 && ber[at + 1] === 0)) {
        if (at >= ber.length) return undefined;
        const child = read(at, depth + 1);
        if (!child) return undefined;
        parts.push(child.der);
        at = child.end;
      }
      return { der: withLength(tag, Buffer.concat(parts)), end: at + 2 };
    }
    let length = first;
    let start = pos + 2;
    if (first > 0x80) {
      const n = first & 0x7f;
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + (ber[start + i] ?? 0);
      start += n;
    }
    if (start + length > ber.length) return undefined;
    if ((tag & 0x20) === 0) return { der: withLength(tag, ber.subarray(start, start + length)), end: start + length };
    const parts: Buffer[] = [];
    for (let at = start; at < start + length; ) {
      const child = read(at, depth + 1);
      if (!child || child.end > start + length) return undefined;
      parts.push(child.der);
      at = child.end;
    }
    return { der: withLength(tag, Buffer.concat(parts)), end: start + length };
  };
  return read(0, 0)?.der;
}

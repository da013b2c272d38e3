/**
 * Fuzzing of MIME splitting and of the outbound pipeline that depends on it
 * (issue 7): random hostile MIME trees (boundaries that are prefixes of each
 * other, missing final boundaries, boundary lines in header fields, LF/CRLF/
 * bare CR mixes, huge, empty, duplicate and RFC 2231 parameters, 8-bit
 * bytes) and byte-level damage of them. Properties:
 *
 * - the splitter's output, accounted the way the canonicaliser accounts it
 *   (src/mime/byte-account.ts), covers the input exactly once;
 * - prepareForSigning and findAttachments resolve or reject with a catalog
 *   SiegelError, in bounded time; a resolved entity is canonical, and when
 *   nothing had to change its bytes are exactly the input's;
 * - the real outbound pipeline (keystore identity, sign stage) signs or
 *   refuses with a catalog error; a sample of what it signs is verified by
 *   `openssl cms -verify`, whose output must be the entity we prepared.
 *
 * Reproducible: fixed seed, bounded runs. FUZZ_SEED / FUZZ_RUNS run it
 * longer by hand; fast-check prints the seed and path of a counterexample.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../src/config/load.js';
import { SiegelError, errorCatalog } from '../../src/errors.js';
import type { Keystore } from '../../src/keystore/keystore.js';
import { openKeystore } from '../../src/keystore/open.js';
import { findAttachments } from '../../src/mime/attachment-parts.js';
import { ByteAccount } from '../../src/mime/byte-account.js';
import { splitFields, splitHeaderBody } from '../../src/mime/headers.js';
import { prepareForSigning } from '../../src/mime/prepare-for-signing.js';
import { split, splitAndJoin, splitterOptions } from '../../src/mime/split.js';
import { contiguous, pipelineMessage } from '../../src/pipeline/message.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import { createRootCa, issueCa, issueMailbox } from '../../src/pki/generate.js';
import { canonicalProblems } from '../mime/helpers.js';
import { createPeers, type Peers } from '../peers/verifiers.js';
import { TIME_BOUND_MS } from './check.js';
import { hostileMessage } from './mime-arbitraries.js';
import { byteEdit } from './mutations.js';

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const params = { seed: FUZZ_SEED, numRuns: RUNS, endOnFailure: true } as const;
/** How many signed outputs openssl checks (each costs a process). */
const OPENSSL_SAMPLES = Number(process.env.FUZZ_OPENSSL_SAMPLES ?? 12);

const MAILBOX = 'amt@stadt.example';
const limits = { maxDepth: 50, maxParts: 10_000, maxHeaderSize: 1_048_576 };

/** A hostile message, sometimes damaged further by byte edits. */
const damagedMessage = fc.tuple(hostileMessage, fc.array(byteEdit, { maxLength: 2 })).map(([raw, edits]) => edits.reduce((acc, edit) => edit(acc), raw));

let dir: string;
let keystore: Keystore;
let peers: Peers;
let pipeline: ReturnType<typeof createOutboundPipeline>;
const tally: Record<string, number> = {};
const count = (key: string): void => {
  tally[key] = (tally[key] ?? 0) + 1;
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-mime-fuzz-'));
  writeFileSync(path.join(dir, 'master.key'), 'f'.repeat(44), { mode: 0o600 });
  const config = loadConfig({ values: { dataDir: path.join(dir, 'data'), trustAnchors: dir, masterKeyFile: path.join(dir, 'master.key') }, baseDir: dir, env: {} });
  const root = await createRootCa({ subject: [['CN', 'MIME Fuzz Root']], keySpec: 'p256' });
  const ca = await issueCa(root, { subject: [['CN', 'MIME Fuzz CA']], keySpec: 'p256' });
  const leaf = await issueMailbox(ca, { subject: [['CN', 'Amt']], email: MAILBOX, keySpec: 'p256' });
  keystore = openKeystore(config, {}, () => new Date());
  await keystore.importIdentity({ mailbox: MAILBOX, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [ca.certificate] }, new Date());
  pipeline = createOutboundPipeline({ config, identities: keystore, now: () => new Date() });
  peers = createPeers(root.certificate);
}, 60_000);

afterAll(async () => {
  console.log(`MIME fuzz (seed ${FUZZ_SEED}, ${RUNS} runs per property): ${JSON.stringify(tally)}`);
  await keystore.close();
  peers.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Rejections must be catalog errors; anything else (TypeError, RangeError, a mailsplit Error) is a finding. */
function expectCatalogError(err: unknown, raw: Buffer): SiegelError {
  if (!(err instanceof SiegelError) || !(err.code in errorCatalog)) {
    throw new Error(`not a catalog error: ${String(err)} for input ${JSON.stringify(raw.subarray(0, 400).toString('latin1'))}`, { cause: err });
  }
  return err;
}

async function timed<T>(work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    // Generous: a hang or a quadratic blow-up fails, a slow shared CI machine does not.
    expect(performance.now() - t0).toBeLessThan(TIME_BOUND_MS);
  }
}

/** The splitter's output as the canonicaliser accounts it (canonicalize.ts): headers, gaps, values, rest. */
async function accountedPieces(raw: Buffer): Promise<Buffer[]> {
  const account = new ByteAccount(raw);
  const pieces: Buffer[] = [];
  let pos = 0;
  for await (const item of split([raw], splitterOptions(limits))) {
    if (item.type === 'node') {
      const header = item.getHeaders();
      // The header is a copy; it must be the bytes at this position or the accounting is off.
      expect(raw.subarray(pos, pos + header.length).equals(header)).toBe(true);
      account.header(header);
      pieces.push(header);
      pos += header.length;
      continue;
    }
    const { gap, value } = account.take(item.value);
    for (const piece of gap ? [gap, value] : [value]) {
      pieces.push(piece);
      pos += piece.length;
    }
  }
  const rest = account.rest();
  if (rest) pieces.push(rest);
  return pieces;
}

/** Header fields that start with Content- (the entity's), as prepareForSigning decides it. */
const MESSAGE_LEVEL = new Set(['content-class', 'content-return', 'content-identifier']);
const isEntityField = (name: string): boolean => name.toLowerCase().startsWith('content-') && !MESSAGE_LEVEL.has(name.toLowerCase());

describe('MIME splitting under fuzzing', () => {
  it('covers the input exactly once: every byte in one piece, in order, none added (the byte account closes the splitter gaps)', async () => {
    let rawSplitterLosses = 0;
    await fc.assert(
      fc.asyncProperty(damagedMessage, async (raw) => {
        const pieces = await timed(() => accountedPieces(raw)).catch((err: unknown) => {
          // The splitter's own limits (EMAXLEN) are the only errors it may raise here.
          expect((err as { code?: unknown }).code).toBe('EMAXLEN');
          return undefined;
        });
        if (pieces) expect(Buffer.concat(pieces).equals(raw)).toBe(true);
        // mailsplit alone (split + join) loses or repeats bytes for a header-only part before a boundary (test/mime/split.test.ts).
        if (!(await splitAndJoin(raw, splitterOptions(limits))).equals(raw)) rawSplitterLosses++;
      }),
      params,
    );
    tally['mailsplit-alone-not-identical'] = rawSplitterLosses;
  });

  it('prepareForSigning gives a canonical entity or a catalog error, within the time bound', async () => {
    await fc.assert(
      fc.asyncProperty(damagedMessage, async (raw) => {
        const prepared = await timed(() => prepareForSigning(raw, limits)).catch((err: unknown) => {
          count(`prepare:${expectCatalogError(err, raw).code}`);
          return undefined;
        });
        if (!prepared) return;
        count(prepared.changed ? 'prepare:converted' : 'prepare:unchanged');
        expect(canonicalProblems(prepared.entity)).toEqual([]);
        expect(prepared.entityLength).toBe(prepared.entity.reduce((n, c) => n + c.length, 0));
        expect(prepared.outerHeaders.includes('\r\n\r\n')).toBe(false);
      }),
      params,
    );
  });

  it('keeps the bytes exactly when nothing had to change: outer fields + entity fields + body = the input', async () => {
    const canonical = hostileMessage.map((raw) => Buffer.from(raw.toString('latin1').replace(/\r?\n|\r/g, '\r\n'), 'latin1'));
    let unchanged = 0;
    await fc.assert(
      fc.asyncProperty(canonical, async (raw) => {
        const prepared = await prepareForSigning(raw, limits).catch((err: unknown) => {
          expectCatalogError(err, raw);
          return undefined;
        });
        if (!prepared || prepared.changed) return;
        unchanged++;
        const { header, body } = splitHeaderBody(raw);
        const fields = splitFields(header);
        const outer = Buffer.concat(fields.filter((f) => !isEntityField(f.name)).map((f) => f.raw));
        const entityFields = Buffer.concat(fields.filter((f) => isEntityField(f.name)).map((f) => f.raw));
        expect(prepared.outerHeaders.equals(outer)).toBe(true);
        const emptyLine = raw.subarray(header.length, raw.length - body.length);
        expect(Buffer.concat(prepared.entity).equals(Buffer.concat([entityFields, emptyLine, body]))).toBe(true);
      }),
      params,
    );
    tally['byte-exact-unchanged'] = unchanged;
    // Not vacuous: a good share of the CRLF-normalised trees needs no change.
    expect(unchanged).toBeGreaterThan(RUNS / 20);
  });

  it('findAttachments returns parts inside the message, in order, or a catalog error', async () => {
    await fc.assert(
      fc.asyncProperty(damagedMessage, async (raw) => {
        const parts = await timed(() => findAttachments(raw, limits)).catch((err: unknown) => {
          expectCatalogError(err, raw);
          return [];
        });
        let last = 0;
        for (const part of parts) {
          expect(part.start).toBeGreaterThanOrEqual(last);
          expect(part.start).toBeLessThanOrEqual(part.bodyStart);
          expect(part.bodyStart).toBeLessThanOrEqual(part.end);
          expect(part.end).toBeLessThanOrEqual(raw.length);
          last = part.end;
        }
      }),
      params,
    );
  });
});

describe('outbound signing under fuzzing', () => {
  const fromMailbox = (raw: Buffer): Buffer => Buffer.concat([Buffer.from(`From: Amt <${MAILBOX}>\r\nTo: a@example.org\r\n`, 'latin1'), raw]);

  it('signs (openssl verifies a sample, its output is our entity) or refuses with a catalog error', async () => {
    let verified = 0;
    await fc.assert(
      fc.asyncProperty(damagedMessage, async (body) => {
        // The sender is always the enrolled mailbox, so the sign stage runs; the rest is hostile.
        const raw = fromMailbox(body);
        const result = await timed(() => pipeline(pipelineMessage({ mailFrom: MAILBOX, rcptTo: ['a@example.org'] }, raw), 'FUZZ')).catch((err: unknown) => {
          count(`outbound:${expectCatalogError(err, raw).code}`);
          return undefined;
        });
        if (!result) return;
        const action = result.actions.find((a) => a.stage === 'sign')?.action ?? 'none';
        count(`outbound:${action}`);
        if (action !== 'signed' || verified >= OPENSSL_SAMPLES) return;
        const output = contiguous(result.message);
        const check = peers.openssl(output);
        expect([check.status, check.stderr]).toEqual([0, expect.stringContaining('Verification successful')]);
        const prepared = await prepareForSigning(raw, limits);
        expect(check.output.equals(Buffer.concat(prepared.entity))).toBe(true);
        verified++;
      }),
      params,
    );
    tally['openssl-verified'] = verified;
    expect(verified).toBe(Math.min(OPENSSL_SAMPLES, tally['outbound:signed'] ?? 0));
    expect(verified).toBeGreaterThan(0);
  });
});

/**
 * Mangled input must never crash the layer or yield a non-canonical entity:
 * it either produces a 7-bit CRLF entity or a SiegelError from the catalog.
 */
import { SiegelError } from '../../src/errors.js';
import { prepareForSigning } from '../../src/mime/prepare-for-signing.js';
import { canonicalProblems, fixture, fixtureNames, limits } from './helpers.js';

function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x80000000;
  };
}

const pieces = ['\r\n', '\n', '\r', '--', '--outer-b', '--alt-b--', ': ', 'Content-Type: multipart/mixed; boundary=q\r\n', '\u00ff', '\u0000', 'ä', '=?utf-8?B?'];

function mutate(raw: Buffer, rnd: () => number): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  const edits = 1 + Math.floor(rnd() * 6);
  for (let e = 0; e < edits; e++) {
    const at = pos + Math.floor(rnd() * Math.max(1, (raw.length - pos) / 2));
    parts.push(raw.subarray(pos, at));
    const kind = rnd();
    if (kind < 0.4) parts.push(Buffer.from(pieces[Math.floor(rnd() * pieces.length)] ?? '', 'latin1'));
    else if (kind < 0.7) pos = at + Math.floor(rnd() * 20); // delete
    else parts.push(raw.subarray(Math.floor(rnd() * raw.length), Math.floor(rnd() * raw.length))); // duplicate a slice
    pos = Math.min(Math.max(pos, at), raw.length);
  }
  parts.push(raw.subarray(pos));
  return Buffer.concat(parts);
}

describe('mangled messages', () => {
  it('always give a canonical entity or a catalog error', async () => {
    const rnd = prng(4711);
    const names = fixtureNames();
    let ok = 0;
    for (let i = 0; i < 300; i++) {
      const name = names[i % names.length] as string;
      const input = mutate(fixture(name), rnd);
      try {
        const { entity, outerHeaders } = await prepareForSigning(input, limits);
        const problems = canonicalProblems(entity);
        if (problems.length > 0) throw new Error(`${name} #${i}: ${problems.join(', ')}`);
        expect(outerHeaders.includes('\r\n\r\n')).toBe(false);
        ok++;
      } catch (err) {
        if (!(err instanceof SiegelError)) throw err;
      }
    }
    expect(ok).toBeGreaterThan(290);
  });
});

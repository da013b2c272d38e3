/**
 * How a job's input is posted: shared memory as views (no copy; views that
 * follow each other merged into pieces of at most a piece size), anything
 * else copied into the slots the pool gives, in turn, the bytes in order
 * either way.
 */
import { pieces, totalLength, type SlotFor } from '../../src/crypto/bulk-pieces.js';
import { chunked, cuts, pseudoRandom } from './bulk-data.js';

const PIECE = 64 * 1024;

/** Fresh memory for every copied piece, so pieces can be compared after the fact; records which slots were asked for. */
function freshSlots(asked: number[] = []): SlotFor {
  return (n) => {
    asked.push(n);
    return new Uint8Array(new SharedArrayBuffer(PIECE + 100));
  };
}

describe('pieces', () => {
  const data = pseudoRandom(5 * 1024 * 1024 + 333, 11);

  it.each(['plain', 'shared', 'mixed'] as const)('%s chunks: the pieces hold the bytes in order, none larger than a piece', (backing) => {
    const chunks = chunked(data, cuts(data.length), backing);
    const out = [...pieces(chunks, freshSlots(), PIECE)];
    expect(Buffer.concat(out.map((p) => p.bytes)).equals(data)).toBe(true);
    expect(out.every((p) => p.bytes.byteLength > 0 && p.bytes.byteLength <= PIECE)).toBe(true);
    expect(totalLength(out.map((p) => p.bytes))).toBe(data.length);
  });

  it('shared chunks are posted as views of their memory, not copied', () => {
    const chunks = chunked(data, cuts(data.length), 'shared');
    const sab = chunks[chunks.length - 1]?.buffer;
    const out = [...pieces(chunks, freshSlots(), PIECE)];
    // The only copies are of the chunks too small to be worth a message of their own (a few bytes at the start).
    const copied = out.filter((p) => p.copied);
    expect(totalLength(copied.map((p) => p.bytes))).toBeLessThan(16 * 1024);
    const views = out.filter((p) => !p.copied);
    expect(views.every((p) => p.bytes.buffer === sab)).toBe(true);
    // Consecutive chunks of one SharedArrayBuffer are merged: about one message per piece, not one per chunk.
    expect(views.length).toBeLessThanOrEqual(Math.ceil(data.length / PIECE) + 2);
  });

  it('other chunks are copied into the slots, asked for in turn, each filled up to a piece before the next', () => {
    const chunks = chunked(data, cuts(data.length), 'plain');
    const asked: number[] = [];
    const out = [...pieces(chunks, freshSlots(asked), PIECE)];
    expect(out.every((p) => p.copied && p.bytes.buffer !== chunks[0]?.buffer)).toBe(true);
    expect(asked).toEqual(out.map((_, i) => i));
    expect(out.slice(0, -1).every((p) => p.bytes.byteLength === PIECE)).toBe(true);
  });

  it('a slot reused for every piece (as the pool reuses them after acknowledgement) still gives each piece its bytes when taken', () => {
    const slot = new Uint8Array(new SharedArrayBuffer(PIECE));
    const seen: Buffer[] = [];
    for (const piece of pieces(chunked(data, cuts(data.length), 'mixed'), () => slot, PIECE)) seen.push(Buffer.from(piece.bytes));
    expect(Buffer.concat(seen).equals(data)).toBe(true);
  });

  it('views of different shared buffers, or with a gap between them, are not merged', () => {
    const a = Buffer.from(new SharedArrayBuffer(100_000));
    const b = Buffer.from(new SharedArrayBuffer(100_000));
    a.fill(1);
    b.fill(2);
    const out = [...pieces([a.subarray(0, 40_000), a.subarray(50_000), b], freshSlots(), 1024 * 1024)];
    expect(out.map((p) => [p.bytes.buffer === a.buffer ? 'a' : 'b', p.bytes.byteLength])).toEqual([
      ['a', 40_000],
      ['a', 50_000],
      ['b', 100_000],
    ]);
  });

  it('is lazy: only the pieces taken so far have been copied', () => {
    const own = Buffer.from(data);
    const iterator = pieces([own], freshSlots(), PIECE);
    const first = iterator.next().value;
    own[PIECE] = (own[PIECE] as number) ^ 0xff; // changed after the first piece was taken, before the second
    const second = iterator.next().value;
    expect(second?.bytes[0]).toBe(own[PIECE]);
    expect(second?.bytes[0]).not.toBe(data[PIECE]);
    expect(first?.bytes.byteLength).toBe(PIECE);
  });

  it('an empty input gives no pieces', () => {
    expect([...pieces([], freshSlots())]).toEqual([]);
    expect([...pieces([Buffer.alloc(0), Buffer.from(new SharedArrayBuffer(0))], freshSlots())]).toEqual([]);
  });
});

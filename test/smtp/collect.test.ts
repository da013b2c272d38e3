import { PassThrough } from 'node:stream';
import { collectMessage } from '../../src/smtp/collect.js';

const MB = 1024 * 1024;

function feed(parts: Buffer[]): PassThrough {
  const stream = new PassThrough();
  setImmediate(() => {
    for (const p of parts) stream.write(p);
    stream.end();
  });
  return stream;
}

function chunksOf(total: number, size = 64 * 1024, fill = 0x61): Buffer[] {
  const out: Buffer[] = [];
  for (let done = 0; done < total; done += size) out.push(Buffer.alloc(Math.min(size, total - done), fill));
  return out;
}

describe('collectMessage', () => {
  it('holds an honestly declared message in one buffer of the declared size', async () => {
    const parts = chunksOf(3 * MB);
    const collected = await collectMessage(feed(parts), 50 * MB, 3 * MB);
    expect(collected.raw.equals(Buffer.concat(parts))).toBe(true);
    expect(collected.raw.buffer.byteLength).toBe(3 * MB);
  });

  it('reserves nothing for a declared size the client does not send', async () => {
    const parts = chunksOf(10 * 1024);
    const collected = await collectMessage(feed(parts), 50 * MB, 50 * MB);
    expect(collected.raw.equals(Buffer.concat(parts))).toBe(true);
    expect(collected.raw.buffer.byteLength).toBeLessThan(MB);
  });

  it('keeps every byte when the client sends more than it declared', async () => {
    const parts = chunksOf(3 * MB, 64 * 1024, 0x62);
    const collected = await collectMessage(feed(parts), 50 * MB, 2 * MB);
    expect(collected.size).toBe(3 * MB);
    expect(collected.raw.equals(Buffer.concat(parts))).toBe(true);
  });

  it('reads an oversized message to its end but keeps nothing', async () => {
    const collected = await collectMessage(feed(chunksOf(3 * MB)), 2 * MB, 2 * MB);
    expect(collected.oversized).toBe(true);
    expect(collected.raw.length).toBe(0);
    expect(collected.size).toBe(3 * MB);
  });
});

/**
 * Rule 7 of the design: memory must not grow with message size beyond a
 * small constant factor. A 50 MB message is processed with the input and the
 * output as the only large buffers.
 */
import { prepareForSigning } from '../../src/mime/prepare-for-signing.js';
import { canonicalProblems, limits } from './helpers.js';

const MB = 1024 * 1024;

function used(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function peakDuring<T>(work: () => Promise<T>): Promise<{ result: T; peak: number }> {
  const base = used();
  let peak = 0;
  const sample = (): void => {
    peak = Math.max(peak, used() - base);
  };
  const timer = setInterval(sample, 1);
  try {
    const result = await work();
    sample();
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}

function binaryMessage(size: number): Buffer {
  const head = Buffer.from(
    'From: a@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGroße Datei anbei.\r\n--big\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="big.bin"\r\nContent-Transfer-Encoding: binary\r\n\r\n',
  );
  const tail = Buffer.from('\r\n--big--\r\n');
  const raw = Buffer.allocUnsafe(head.length + size + tail.length);
  head.copy(raw, 0);
  let x = 12345;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    raw[head.length + i] = x >> 16;
  }
  tail.copy(raw, head.length + size);
  return raw;
}

function textMessage(size: number): Buffer {
  const line = 'Zählerstände für März und April, LF-only.\n';
  const head = 'From: a@example.org\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n';
  return Buffer.from(head + line.repeat(Math.ceil(size / Buffer.byteLength(line))));
}

describe('memory for a 50 MB message', () => {
  it('binary attachment: peak about input + output', async () => {
    const { result, peak } = await peakDuring(async () => {
      const raw = binaryMessage(50 * MB);
      const prepared = await prepareForSigning(raw, limits);
      // The entity's chunks are checked as they are: concatenating them here would add a copy to the peak.
      const chunkBytes = prepared.entity.reduce((n, c) => n + c.length, 0);
      return { rawLength: raw.length, entityLength: prepared.entityLength, chunkBytes, problems: canonicalProblems(prepared.entity) };
    });
    expect(result.problems).toEqual([]);
    expect(result.entityLength).toBe(result.chunkBytes);
    expect(result.entityLength).toBeGreaterThan(result.rawLength * 1.3);
    expect(peak).toBeLessThan(200 * MB);
  });

  it('8-bit LF-only text: peak about input + output', async () => {
    const { result, peak } = await peakDuring(async () => {
      const raw = textMessage(50 * MB);
      const prepared = await prepareForSigning(raw, limits);
      return { problems: canonicalProblems(prepared.entity) };
    });
    expect(result.problems).toEqual([]);
    expect(peak).toBeLessThan(200 * MB);
  });
});

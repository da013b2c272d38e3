import { coalesce, contiguous, leadingBytes, pipelineMessage } from '../../src/pipeline/message.js';

const envelope = { mailFrom: 'a@example.org', rcptTo: ['b@example.org'] };

describe('pipeline messages', () => {
  it('merges runs of small chunks and keeps large chunks as views', () => {
    const big = Buffer.alloc(200_000, 0x61);
    const chunks = [Buffer.from('Header: 1\r\n'), Buffer.from('\r\n'), big, Buffer.from('tail'), Buffer.alloc(0), Buffer.from('!')];
    const merged = coalesce(chunks);
    expect(merged).toHaveLength(3);
    expect(merged[1]).toBe(big);
    expect(Buffer.concat(merged).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('counts the size and joins only when asked', () => {
    const message = pipelineMessage(envelope, [Buffer.from('From: a@example.org\r\n'), Buffer.from('\r\nbody\r\n')]);
    expect(message.size).toBe(29);
    expect(contiguous(message).toString()).toBe('From: a@example.org\r\n\r\nbody\r\n');
    const single = pipelineMessage(envelope, Buffer.from('x'));
    expect(contiguous(single)).toBe(single.chunks[0]);
  });

  it('finds the header block even when it spans chunks', () => {
    const header = Buffer.from('From: a@example.org\r\nSubject: x\r\n');
    const rest = Buffer.concat([Buffer.from('\r\n'), Buffer.alloc(100_000, 0x62)]);
    const message = { envelope, chunks: [header.subarray(0, 10), header.subarray(10), rest], size: header.length + rest.length };
    const head = leadingBytes(message, 1024 * 1024);
    expect(head.subarray(0, header.length + 2).toString()).toBe(`${header.toString()}\r\n`);
  });
});

describe('leadingBytes', () => {
  it('stops at the empty line split across chunks and copies no body', () => {
    const chunks = [Buffer.from('From: a@example.org\r\n\r'), Buffer.from('\nbody'), Buffer.alloc(1_000_000, 0x63)];
    const message = { envelope, chunks, size: chunks.reduce((n, c) => n + c.length, 0) };
    expect(leadingBytes(message, 1024 * 1024).toString()).toBe('From: a@example.org\r\n\r\n');
  });

  it('returns at most the limit when no header end is found', () => {
    const chunks = [Buffer.from('X-A: 1\r\n'), Buffer.alloc(5000, 0x61)];
    const message = { envelope, chunks, size: 5008 };
    expect(leadingBytes(message, 100).length).toBe(100);
  });
});

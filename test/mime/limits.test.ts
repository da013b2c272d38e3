import { SiegelError } from '../../src/errors.js';
import { prepareForSigning } from '../../src/mime/prepare-for-signing.js';
import type { MimeLimits } from '../../src/mime/prepare-for-signing.js';
import { canonicalProblems, limits } from './helpers.js';

function nestedMultipart(levels: number): Buffer {
  let open = 'From: a@example.org\r\nMIME-Version: 1.0\r\n';
  let close = '';
  for (let i = 0; i < levels; i++) {
    open += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    close = `\r\n--b${i}--\r\n` + close;
  }
  return Buffer.from(`${open}Content-Type: text/plain\r\n\r\ninnermost\r\n${close}`);
}

function nestedMessages(levels: number, innermost = 'innermost'): Buffer {
  let msg = `Subject: level ${levels}\r\n\r\n${innermost}\r\n`;
  for (let i = levels - 1; i >= 0; i--) {
    msg = `Subject: level ${i}\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n${msg}`;
  }
  return Buffer.from(msg);
}

function manyParts(n: number): Buffer {
  let s = 'Content-Type: multipart/mixed; boundary="x"\r\n\r\n';
  for (let i = 0; i < n; i++) s += `--x\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`;
  return Buffer.from(s + '--x--\r\n');
}

async function limitError(raw: Buffer, l: MimeLimits): Promise<SiegelError> {
  const err: unknown = await prepareForSigning(raw, l).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SiegelError);
  expect((err as SiegelError).code).toBe('MESSAGE_LIMITS_EXCEEDED');
  return err as SiegelError;
}

describe('MIME limits', () => {
  it('counts parts', async () => {
    await expect(prepareForSigning(manyParts(9), { ...limits, maxParts: 10 })).resolves.toBeDefined();
    expect((await limitError(manyParts(10), { ...limits, maxParts: 10 })).message).toMatch(/more than 10 MIME parts/);
  });

  it('limits nesting depth of multiparts (top level is depth 0)', async () => {
    await expect(prepareForSigning(nestedMultipart(4), { ...limits, maxDepth: 4 })).resolves.toBeDefined();
    expect((await limitError(nestedMultipart(5), { ...limits, maxDepth: 4 })).message).toMatch(/nesting deeper than 4/);
  });

  it('counts embedded messages as nesting, also 7-bit attachments', async () => {
    const ok = await prepareForSigning(nestedMessages(4), { ...limits, maxDepth: 4 });
    expect(canonicalProblems(ok.entity)).toEqual([]);
    await limitError(nestedMessages(5), { ...limits, maxDepth: 4 });
  });

  it('limits the header block of the message and of any part', async () => {
    const big = `X-Filler: ${'x'.repeat(2000)}\r\n`;
    await limitError(Buffer.from(`${big}Subject: s\r\n\r\nbody\r\n`), { ...limits, maxHeaderSize: 1024 });
    await limitError(
      Buffer.from(`Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n${big}\r\npart\r\n--x--\r\n`),
      { ...limits, maxHeaderSize: 1024 },
    );
  });

  it('stops a header that never ends (many short lines) with the splitter limit mapped to ours', async () => {
    const raw = Buffer.from('X-A: b\r\n'.repeat(200_000));
    await limitError(raw, { ...limits, maxHeaderSize: 64 * 1024 });
  });

  it('rejects 1,000 nested multiparts quickly', async () => {
    const started = Date.now();
    await limitError(nestedMultipart(1000), limits);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('rejects 1,000 nested 8-bit message/rfc822 quickly', async () => {
    const started = Date.now();
    await limitError(nestedMessages(1000, 'Grüße'), limits);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

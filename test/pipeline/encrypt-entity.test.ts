/**
 * The split for enveloping: top-level non-Content fields outside, Content-*
 * fields and body inside, wherever the chunk boundaries fall, with the body
 * left as views into the message (no copy of a large message).
 */
import { SiegelError } from '../../src/errors.js';
import { pipelineMessage } from '../../src/pipeline/message.js';
import { canonicalEntity, splitSignedMessage } from '../../src/pipeline/stages/encryptable-entity.js';

const HEADER =
  'From: <a@stadt.example>\r\nTo: <b@partner.example>\r\nSubject: folded\r\n  subject line\r\nMIME-Version: 1.0\r\n' +
  'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n micalg=sha-256; boundary="x"\r\nContent-Disposition: inline\r\n';
const BODY = 'This is an S/MIME signed message\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nHallo\r\n--x--\r\n';
const whole = Buffer.from(`${HEADER}\r\n${BODY}`, 'ascii');

/** The message cut into pieces at the given offsets (a fresh, non-pooled buffer per piece). */
function cut(offsets: readonly number[]): Buffer[] {
  const bounds = [0, ...offsets, whole.length];
  return bounds.slice(1).map((end, i) => Buffer.from(whole.subarray(bounds[i], end)));
}

const expectedOuter = 'From: <a@stadt.example>\r\nTo: <b@partner.example>\r\nSubject: folded\r\n  subject line\r\nMIME-Version: 1.0\r\n';
const expectedEntity =
  'Content-Type: multipart/signed; protocol="application/pkcs7-signature";\r\n micalg=sha-256; boundary="x"\r\nContent-Disposition: inline\r\n\r\n' + BODY;

describe('splitting our own signed output', () => {
  const headerEnd = HEADER.length + 2;
  const cases: ReadonlyArray<[string, number[]]> = [
    ['one chunk', []],
    ['header and body in separate chunks', [headerEnd]],
    ['the empty line split across chunks', [headerEnd - 1]],
    ['the body starting inside a chunk', [10, headerEnd + 7]],
    ['one byte per chunk through the header', Array.from({ length: headerEnd + 3 }, (_, i) => i + 1)],
  ];

  it.each(cases)('%s', (_name, offsets) => {
    const chunks = cut(offsets);
    const split = splitSignedMessage({ envelope: { mailFrom: '', rcptTo: [] }, chunks, size: whole.length }, 1024 * 1024);
    expect(split.outerHeaders.toString('latin1')).toBe(expectedOuter);
    expect(Buffer.concat(split.entity).toString('latin1')).toBe(expectedEntity);
    // The last body chunk is a view of the message's chunk, not a copy.
    expect(split.entity.at(-1)?.buffer).toBe(chunks.at(-1)?.buffer);
  });

  it('a message without a header/body separator is our own bug, not the client\'s', () => {
    expect(() => splitSignedMessage(pipelineMessage({ mailFrom: '', rcptTo: [] }, Buffer.from(HEADER)), 1024)).toThrow(
      expect.objectContaining({ code: 'INTERNAL' }) as Error,
    );
  });
});

describe('canonicalising unsigned mail', () => {
  const limits = { maxDepth: 10, maxParts: 100, maxHeaderSize: 64 * 1024 };

  it('moves Content-* inside, converts 8-bit text and LF line ends', async () => {
    const raw = Buffer.from('From: <a@stadt.example>\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße\n', 'utf8');
    const split = await canonicalEntity(pipelineMessage({ mailFrom: '', rcptTo: [] }, raw), limits);
    expect(split.outerHeaders.toString('latin1')).toBe('From: <a@stadt.example>\r\n');
    expect(Buffer.concat(split.entity).toString('latin1')).toBe(
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n',
    );
  });

  it('refuses a header line that is not a field (554 5.6.0), as signing does', async () => {
    const raw = Buffer.from('From x@y Mon Jan  1 00:00:00 2027\r\nFrom: <a@stadt.example>\r\n\r\nHallo\r\n');
    const failure = await canonicalEntity(pipelineMessage({ mailFrom: '', rcptTo: [] }, raw), limits).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SiegelError);
    expect((failure as SiegelError).code).toBe('MESSAGE_MALFORMED');
    expect((failure as SiegelError).message).toBe('header line 1 is not a header field ("Name: value"); cannot encrypt');
  });
});

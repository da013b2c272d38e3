/**
 * The single-part shortcut must give exactly the bytes of the splitter's
 * path: both are run on generated messages, from plain canonical text
 * (shortcut taken) to the near misses that must fall back (8bit labels,
 * bare LF, long lines, multipart, message/rfc822, duplicate Content-Type,
 * comments, folded fields, Content-Class, header-only messages).
 */
import fc from 'fast-check';
import { canonicalSinglePart } from '../../src/mime/canonical-single-part.js';
import { prepareBySplitting, prepareForSigning, type PreparedMessage } from '../../src/mime/prepare-for-signing.js';

const limits = { maxDepth: 20, maxParts: 100, maxHeaderSize: 65536 };

const contentTypes = [
  'text/plain',
  'text/plain; charset=utf-8',
  'text/plain; charset="utf-8"; format=flowed',
  'TEXT/HTML; charset=us-ascii',
  'text/plain (a comment); charset=us-ascii',
  'text/calendar; method=REQUEST;\r\n charset=utf-8',
  'text / plain',
  'application/pdf; name="a.pdf"',
  'message/rfc822',
  'multipart/mixed; boundary="b"',
  'image/png',
];
const encodings = [undefined, '7bit', '8bit', 'binary', 'quoted-printable', 'Base64', ' 7BIT ', 'x-uuencode'];
const extraFields = ['Content-Class: urn:content-classes:message', 'Content-Disposition: inline', 'Content-ID: <c@x>', 'X-Mailer: Test\r\n folded', 'Content-Type: text/html'];

const bodyLine = fc.oneof(
  { weight: 40, arbitrary: fc.stringMatching(/^[ -~]{0,80}$/) },
  { weight: 1, arbitrary: fc.constant('Grüße aus München') },
  { weight: 1, arbitrary: fc.constant('x'.repeat(1000)) },
  { weight: 1, arbitrary: fc.constant('--b') },
  { weight: 1, arbitrary: fc.constant('Content-Type: text/plain') },
);

const message = fc
  .record({
    contentType: fc.option(fc.constantFrom(...contentTypes), { nil: undefined, freq: 10 }),
    encoding: fc.constantFrom(undefined, '7bit', 'quoted-printable', ...encodings),
    extras: fc.oneof(fc.constant([]), fc.subarray(extraFields)),
    lines: fc.array(bodyLine, { maxLength: 30 }),
    bareLf: fc.constantFrom(false, false, false, true),
    separator: fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', ''),
    finalBreak: fc.boolean(),
  })
  .map((m) => {
    const header = [
      'From: Bauamt <bauamt@stadt.example>',
      'To: partner@partner.example',
      'Subject: Test',
      'MIME-Version: 1.0',
      ...(m.contentType ? [`Content-Type: ${m.contentType}`] : []),
      ...(m.encoding ? [`Content-Transfer-Encoding: ${m.encoding}`] : []),
      ...m.extras,
    ].join('\r\n');
    const eol = m.bareLf ? '\n' : '\r\n';
    const body = m.lines.join(eol) + (m.finalBreak ? eol : '');
    return Buffer.from(`${header}\r\n${m.separator}${m.separator === '' ? '' : body}`, 'utf8');
  });

function bytes(prepared: PreparedMessage) {
  return {
    outer: prepared.outerHeaders.toString('latin1'),
    entity: Buffer.concat(prepared.entity).toString('latin1'),
    entityLength: prepared.entityLength,
    changed: prepared.changed,
  };
}

describe('single-part shortcut', () => {
  it('gives the same outer header, entity and change flag as the splitter on 2,000 generated messages', async () => {
    let shortcuts = 0;
    let fallbacks = 0;
    await fc.assert(
      fc.asyncProperty(message, async (raw) => {
        if (canonicalSinglePart(raw, limits)) shortcuts++;
        else fallbacks++;
        const fast = await prepareForSigning(raw, limits).then(bytes, (err: unknown) => ({ error: String(err) }));
        const slow = await prepareBySplitting(raw, limits).then(bytes, (err: unknown) => ({ error: String(err) }));
        expect(fast).toEqual(slow);
      }),
      { seed: 7, numRuns: 2000 },
    );
    // Both paths were exercised: the comparison means something either way.
    expect(shortcuts).toBeGreaterThan(100);
    expect(fallbacks).toBeGreaterThan(200);
  });

  it('takes the shortcut for canonical text and keeps the body as a view', () => {
    const raw = Buffer.from('From: a@stadt.example\r\nContent-Type: text/plain; charset=us-ascii\r\nSubject: x\r\n\r\nHallo\r\n');
    const simple = canonicalSinglePart(raw, limits);
    expect(simple?.outerFields.map((f) => f.name)).toEqual(['From', 'Subject']);
    expect(Buffer.concat(simple?.entity ?? []).toString()).toBe('Content-Type: text/plain; charset=us-ascii\r\n\r\nHallo\r\n');
    expect(simple?.entity.at(-1)?.buffer).toBe(raw.buffer);
  });

  it('leaves a header larger than the limit to the splitter, which refuses it', async () => {
    const raw = Buffer.from(`Subject: ${'x'.repeat(200)}\r\nContent-Type: text/plain\r\n\r\nHallo\r\n`);
    const small = { ...limits, maxHeaderSize: 100 };
    expect(canonicalSinglePart(raw, small)).toBeUndefined();
    await expect(prepareForSigning(raw, small)).rejects.toMatchObject({ code: 'MESSAGE_LIMITS_EXCEEDED' });
  });
});

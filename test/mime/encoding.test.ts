import { base64Length, writeBase64 } from '../../src/mime/base64.js';
import { scanChunks } from '../../src/mime/bytes.js';
import { encodeWords } from '../../src/mime/encoded-words.js';
import { fieldNeedsRebuild, sevenBitField } from '../../src/mime/header-encoding.js';
import { OutputBuilder } from '../../src/mime/output.js';
import { encodeQuotedPrintable } from '../../src/mime/quoted-printable.js';
import { canonicalProblems } from './helpers.js';

/** Minimal QP decoder (RFC 2045 6.7) to check the encoder independently. */
function qpDecode(text: string): Buffer {
  const out: number[] = [];
  const s = text.replace(/=\r\n/g, '');
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=') {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i));
  }
  return Buffer.from(out);
}

describe('quoted-printable', () => {
  const sample = Buffer.concat([
    Buffer.from('Grüße aus München\nFrom here\r\n.\r\ntrailing \t\r\n', 'utf8'),
    Buffer.from('x'.repeat(200) + '= \r\nlone\rCR and NUL \u0000 end '),
  ]);

  it('round-trips text, canonical lines, at most 76 characters', () => {
    const encoded = encodeQuotedPrintable([sample], { text: true });
    expect(canonicalProblems(encoded)).toEqual([]);
    expect(encoded.toString().split('\r\n').every((l) => l.length <= 76)).toBe(true);
    expect(encoded.toString()).not.toMatch(/[ \t]\r\n/);
    expect(encoded.toString()).toContain('=46rom here');
    expect(qpDecode(encoded.toString()).equals(Buffer.from(sample.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1'))).toBe(true);
  });

  it('gives the same result whatever the chunking (CRLF split across chunks)', () => {
    const whole = encodeQuotedPrintable([sample], { text: true });
    const bytes = [...sample].map((b) => Buffer.from([b]));
    expect(encodeQuotedPrintable(bytes, { text: true }).equals(whole)).toBe(true);
  });

  it('binary mode keeps every byte, CR and LF included', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) % 256));
    const encoded = encodeQuotedPrintable([data], { text: false });
    expect(canonicalProblems(encoded)).toEqual([]);
    expect(qpDecode(encoded.toString()).equals(data)).toBe(true);
  });
});

describe('base64 writer', () => {
  it.each([0, 1, 56, 57, 58, 114, 1000, 57 * 1024 + 5])('%i bytes in odd chunks equals Buffer base64 with 76-char lines', (n) => {
    const data = Buffer.from(Array.from({ length: n }, (_, i) => (i * 13) % 256));
    const chunks = [data.subarray(0, 10), data.subarray(10, 11), data.subarray(11, 100), data.subarray(100)];
    for (const finalBreak of [false, true]) {
      const target = Buffer.alloc(base64Length(n, finalBreak));
      expect(writeBase64(chunks, target, 0, finalBreak)).toBe(target.length);
      const lines = data.toString('base64').match(/.{1,76}/g) ?? [];
      expect(target.toString()).toBe(lines.join('\r\n') + (finalBreak && n > 0 ? '\r\n' : ''));
    }
  });
});

describe('output builder', () => {
  it('converts bare LF to CRLF, also across segment borders, and counts them', () => {
    const out = new OutputBuilder();
    out.lines(Buffer.from('a\nb\r'));
    out.lines(Buffer.from('\nc\n'));
    out.exact(Buffer.from('d\n'));
    const { chunks, length, lineEndsFixed } = out.build();
    const buffer = Buffer.concat(chunks);
    expect(buffer.toString()).toBe('a\r\nb\r\nc\r\nd\n');
    expect(length).toBe(buffer.length);
    expect(lineEndsFixed).toBe(2);
  });
});

describe('byte scan', () => {
  it('finds 8-bit, bare CR, long lines and judges UTF-8 across chunks', () => {
    const euro = Buffer.from('€');
    const s = scanChunks([euro.subarray(0, 1), euro.subarray(1)]);
    expect(s).toMatchObject({ eightBit: true, validUtf8: true, bareCr: false });
    expect(scanChunks([Buffer.from([0xe4, 0x0a])]).validUtf8).toBe(false);
    expect(scanChunks([Buffer.from([0xed, 0xa0, 0x80])]).validUtf8).toBe(false); // surrogate
    expect(scanChunks([Buffer.from('a\r'), Buffer.from('\nb')]).bareCr).toBe(false);
    expect(scanChunks([Buffer.from('a\rb')]).bareCr).toBe(true);
    expect(scanChunks([Buffer.alloc(998, 0x61)]).longLine).toBe(false);
    expect(scanChunks([Buffer.alloc(999, 0x61)]).longLine).toBe(true);
    expect(scanChunks([Buffer.alloc(998, 0x61), Buffer.from('\r\n')]).longLine).toBe(false);
  });
});

describe('7-bit header fields', () => {
  const decodeWords = (s: string): string =>
    s.replace(/\r\n /g, ' ').replace(/=\?([^?]+)\?B\?([^?]*)\?=(?:\s+(?==\?))?/g, (_, cs: string, b64: string) =>
      new TextDecoder(cs).decode(Buffer.from(b64, 'base64')),
    );

  it('leaves 7-bit fields alone', () => {
    expect(fieldNeedsRebuild(Buffer.from('Subject: plain\r\n'))).toBe(false);
    expect(fieldNeedsRebuild(Buffer.from('Subject: plain\n'))).toBe(false);
  });

  it('encodes unstructured text with encoded words, keeping ASCII words', () => {
    const out = sevenBitField(Buffer.from('Subject: Grüße an Jürgen Weiß\r\n')).toString();
    expect(canonicalProblems(Buffer.from(out))).toEqual([]);
    expect(out).toMatch(/^Subject: =\?utf-8\?B\?[^?]+\?= an =\?utf-8\?B\?[^?]+\?=\r\n$/);
    expect(decodeWords(out)).toBe('Subject: Grüße an Jürgen Weiß\r\n');
  });

  it('encodes display names in address fields, not the addresses', () => {
    const out = sevenBitField(Buffer.from('From: "Müller, Anna" <anna@x.de>, Jörg Bäcker <j@x.de>\r\n')).toString();
    expect(out).toContain('<anna@x.de>');
    expect(out).toContain('<j@x.de>');
    expect(out).not.toContain('"');
    expect(decodeWords(out)).toBe('From: Müller, Anna <anna@x.de>, Jörg Bäcker <j@x.de>\r\n');
  });

  it('labels non-UTF-8 bytes windows-1252 and keeps them', () => {
    const out = sevenBitField(Buffer.from('Content-Description: Gr\xfc\xdfe\r\n', 'latin1')).toString();
    expect(out).toBe(`Content-Description: =?windows-1252?B?${Buffer.from('Gr\xfc\xdfe', 'latin1').toString('base64')}?=\r\n`);
  });

  it('splits long encoded words at character boundaries, lines stay short', () => {
    const words = encodeWords(Buffer.from('ä'.repeat(100)), 'utf-8');
    expect(words.every((w) => w.length <= 75)).toBe(true);
    expect(words.map((w) => Buffer.from(w.slice(10, -2), 'base64').toString()).join('')).toBe('ä'.repeat(100));
    const field = sevenBitField(Buffer.from(`Subject: ${'Ä'.repeat(100)}\r\n`)).toString();
    // every encoded word on its own line: "Subject: " plus one word, then " " plus one word
    expect(field.split('\r\n').every((l) => l.length <= 'Subject: '.length + 75)).toBe(true);
  });

  it('folds a 7-bit line over 998 octets', () => {
    const long = `X-Long: ${'word '.repeat(300)}end\r\n`;
    const out = sevenBitField(Buffer.from(long)).toString();
    expect(canonicalProblems(Buffer.from(out))).toEqual([]);
    expect(out.replace(/\r\n(?=[ \t])/g, '')).toBe(long);
  });

  it('RFC 2231-encodes 8-bit parameters and keeps the others as written', () => {
    const out = sevenBitField(Buffer.from('Content-Type: text/plain; charset="utf-8"; name="Bericht März.txt"\r\n')).toString();
    expect(out).toBe(`Content-Type: text/plain; charset="utf-8";\r\n name*=utf-8''Bericht%20M%C3%A4rz.txt\r\n`);
  });
});

describe('canonical-form checker (test helper)', () => {
  it('reads chunks exactly as their concatenation, also across chunk borders', () => {
    const samples = [
      Buffer.from('a\r\nb\r\n'),
      Buffer.from('a\rb\r\n'),
      Buffer.from('a\nb\r\n\r'),
      Buffer.from('ok\r\nGr\xfc\xdfe\x00\r\n', 'latin1'),
      Buffer.from(`${'x'.repeat(999)}\r\nshort\r\n${'y'.repeat(999)}`),
    ];
    for (const whole of samples) {
      const expected = canonicalProblems(whole);
      for (let cut = 0; cut <= whole.length; cut++) {
        expect(canonicalProblems([whole.subarray(0, cut), Buffer.alloc(0), whole.subarray(cut)])).toEqual(expected);
      }
      expect(canonicalProblems([...whole].map((b) => Buffer.from([b])))).toEqual(expected);
    }
    expect(canonicalProblems([Buffer.from('a\r'), Buffer.from('\nb')])).toEqual([]);
    expect(canonicalProblems([Buffer.from('a\r'), Buffer.from('b\r\n')])).toEqual(['bare CR at 1']);
    expect(canonicalProblems([Buffer.from('a'), Buffer.from('\nb\r\n')])).toEqual(['bare LF at 1']);
  });
});

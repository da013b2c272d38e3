/**
 * The pieces of offloading that need no storage: finding attachments (and
 * their exact byte ranges) in real mail, decoding them as streams, and the
 * note that replaces them, read back by Python's email package.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodedContent, decodedSize, findAttachments, type AttachmentPart } from '../../src/mime/attachment-parts.js';
import { notePart } from '../../src/transfer/offload-part.js';
import { formatExpiry } from '../../src/transfer/bilingual-note.js';
import { humanSize, noteHtml, noteText } from '../../src/transfer/offload-note.js';
import { tempDir } from '../pki/test-pki.js';
import { mixedMessage, PIXEL_PNG, pythonLeaves, sha256 } from './offload-messages.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtureDir = path.join(here, '..', 'fixtures', 'mail');
const limits = { maxDepth: 50, maxParts: 10_000, maxHeaderSize: 1_048_576 };

async function decoded(input: Buffer, part: AttachmentPart): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of decodedContent(input, part)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('finding attachments', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('siegel-offload-parts-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(readdirSync(fixtureDir).filter((f) => f.endsWith('.eml')))('%s: every attachment found decodes to what Python decodes', async (name) => {
    const input = readFileSync(path.join(fixtureDir, name));
    const found = await findAttachments(input, limits);
    // An attached message is one file to us; Python walks into it. Its content is its bytes as they are.
    const messages = found.filter((p) => p.contentType === 'message/rfc822');
    for (const part of messages) {
      expect((await decoded(input, part)).equals(input.subarray(part.bodyStart, part.end))).toBe(true);
      expect(input.subarray(part.bodyStart, part.end).toString('latin1')).toMatch(/^[\w-]+:/);
    }
    if (name === 'rfc822-attachment.eml') expect(messages.map((p) => p.fileName)).toEqual(['forwarded.eml']);
    const parts = found.filter((p) => p.contentType !== 'message/rfc822');
    const python = pythonLeaves(dir, input).leaves.filter((l) => l.filename !== null);
    // Python names a part by filename/name parameters; so do we (the first body never has one here).
    expect(parts.map((p) => p.fileName)).toEqual(python.map((l) => l.filename));
    for (const [index, part] of parts.entries()) {
      const leaf = python[index];
      // The recorded range starts with the part's header as received.
      expect(input.subarray(part.start, part.bodyStart).toString('latin1')).toMatch(/^Content-/i);
      const content = await decoded(input, part);
      // Python drops CR bytes of binary parts (see outbound-interop.test.ts); compare those with the file.
      const expected = part.encoding === 'binary' ? sha256(readFileSync(path.join(fixtureDir, 'pixel.png'))) : leaf?.sha256;
      expect(sha256(content)).toBe(expected);
      expect(await decodedSize(input, part)).toBe(content.length);
    }
  });

  it('decodes base64, quoted-printable and binary parts and reads RFC 2231, continued and RFC 2047 names', async () => {
    const files = [Buffer.from([0, 1, 2, 13, 10, 13, 255, 61, 32, 13]), Buffer.from('Grüße\r\n= =\t\r\n'.repeat(40), 'utf8'), PIXEL_PNG];
    const input = mixedMessage({
      from: 'a@stadt.example',
      attachments: [
        { name: 'Bauantrag Müller 2026 – Grundriss Erdgeschoss und Obergeschoss.pdf', content: files[0] as Buffer, nameStyle: 'rfc2231-continued' },
        { name: 'Übersicht 北京.txt', content: files[1] as Buffer, encoding: 'quoted-printable', contentType: 'text/plain; charset=utf-8', nameStyle: 'rfc2231' },
        { name: 'Lageplan ÄÖÜ.png', content: files[2] as Buffer, encoding: 'base64', contentType: 'image/png', nameStyle: 'rfc2047', disposition: 'inline', contentId: 'pix' },
      ],
    });
    const parts = await findAttachments(input, limits);
    expect(parts.map((p) => p.fileName)).toEqual(['Bauantrag Müller 2026 – Grundriss Erdgeschoss und Obergeschoss.pdf', 'Übersicht 北京.txt', 'Lageplan ÄÖÜ.png']);
    expect(parts.map((p) => p.contentType)).toEqual(['application/octet-stream', 'text/plain', 'image/png']);
    for (const [index, part] of parts.entries()) {
      expect((await decoded(input, part)).equals(files[index] as Buffer)).toBe(true);
      expect(await decodedSize(input, part)).toBe((files[index] as Buffer).length);
    }
    // Python reads the same names.
    const python = pythonLeaves(tempDirFor(), input).leaves.map((l) => l.filename);
    expect(python).toEqual([null, ...parts.map((p) => p.fileName)]);
  });

  it('never counts the first text body, nor anything inside a multipart/signed, as an attachment', async () => {
    const input = Buffer.from(
      [
        'From: a@stadt.example',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="outer"',
        '',
        '--outer',
        'Content-Type: text/plain; charset=us-ascii; name="body.txt"',
        '',
        'the body, named by a client',
        '--outer',
        'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="sig"',
        '',
        '--sig',
        'Content-Type: application/pdf; name="signed.pdf"',
        'Content-Disposition: attachment; filename="signed.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        'AAAA',
        '--sig',
        'Content-Type: application/pkcs7-signature; name="smime.p7s"',
        'Content-Transfer-Encoding: base64',
        '',
        'AAAA',
        '--sig--',
        '--outer',
        'Content-Type: text/plain; name="second.txt"',
        '',
        'a second text part with a name is a file',
        '--outer--',
        '',
      ].join('\r\n'),
      'latin1',
    );
    const parts = await findAttachments(input, limits);
    expect(parts.map((p) => p.fileName)).toEqual(['second.txt']);
    expect((await decoded(input, parts[0] as AttachmentPart)).toString()).toBe('a second text part with a name is a file');
  });

  let scratch: string | undefined;
  function tempDirFor(): string {
    scratch ??= tempDir('siegel-offload-names-');
    return scratch;
  }
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });
});

describe('the note that replaces an attachment', () => {
  const file = {
    fileName: 'Plan <Nord> & "Süd" 北京.pdf',
    size: 31_457_280,
    sha256: 'ab'.repeat(32),
    expiresAt: new Date('2026-12-07T13:57:00Z'),
    url: 'https://files.stadt.example/d/TOKEN-abc_123?x=1&y=2',
  };

  it('formats sizes and dates per language', () => {
    expect(humanSize(31_457_280, 'de')).toBe('30,0 MB');
    expect(humanSize(31_457_280, 'en')).toBe('30.0 MB');
    expect(humanSize(512, 'en')).toBe('512 bytes');
    expect(formatExpiry(file.expiresAt, 'de')).toBe('07.12.2026, 13:57 UTC');
    expect(formatExpiry(file.expiresAt, 'en')).toBe('2026-12-07 13:57 UTC');
  });

  it('says it in German first, then English, with name, size, SHA-256, expiry and link', () => {
    const text = noteText(file);
    expect(text.indexOf('Der Anhang')).toBeLessThan(text.indexOf('The attachment'));
    for (const needle of [file.fileName, '30,0 MB', '31.457.280 Bytes', '30.0 MB', '31,457,280 bytes', file.sha256, '07.12.2026, 13:57 UTC', '2026-12-07 13:57 UTC', file.url]) {
      expect(text).toContain(needle);
    }
    const html = noteHtml(file);
    expect(html).toContain('Plan &lt;Nord&gt; &amp; &quot;Süd&quot; 北京.pdf');
    expect(html).not.toContain('<Nord>');
    expect(html).toContain('href="https://files.stadt.example/d/TOKEN-abc_123?x=1&amp;y=2"');
    expect(html).toContain('<div lang="de">');
    expect(html).toContain('<div lang="en">');
  });

  it('neutralises control and bidi characters in the shown name', () => {
    const text = noteText({ ...file, fileName: 'rechnung\u202Efdp.exe\r\nBcc: x' });
    expect(text).not.toMatch(/[\u202E\r]/);
    expect(text).toContain('rechnung\uFFFDfdp.exe\uFFFD\uFFFDBcc: x');
  });

  it.each(['\r\n', '\n'] as const)('is a 7-bit multipart/alternative that Python decodes (line ending %j)', (eol) => {
    const dir = tempDir('siegel-offload-note-');
    try {
      const part = notePart(file, { eol });
      expect(part.every((b) => b < 0x80)).toBe(true);
      expect(Math.max(...part.toString('latin1').split(/\r?\n/).map((l) => l.length))).toBeLessThanOrEqual(76);
      if (eol === '\n') expect(part.includes('\r')).toBe(false);
      // As the whole message (root replacement), with the message's own fields kept.
      const header = Buffer.from(`From: a@stadt.example${eol}Subject: x${eol}Content-Type: application/pdf; name="a.pdf"${eol}Content-Transfer-Encoding: base64${eol}${eol}`, 'latin1');
      const message = notePart(file, { eol, rootHeader: header });
      expect(message.toString('latin1')).toMatch(new RegExp(`^From: a@stadt.example${eol}Subject: x${eol}MIME-Version: 1.0${eol}Content-Type: multipart/alternative;`));
      const { leaves } = pythonLeaves(dir, message);
      expect(leaves.map((l) => l.type)).toEqual(['text/plain', 'text/html']);
      expect(leaves[0]?.text).toBe(noteText(file));
      expect(leaves[1]?.text).toBe(noteHtml(file));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { prepareForSigning } from '../../src/mime/prepare-for-signing.js';
import { splitFields, splitHeaderBody } from '../../src/mime/headers.js';
import {
  canonicalProblems,
  decodeWithPython,
  entityOf,
  fixture,
  fixtureDir,
  fixtureNames,
  leaves,
  limits,
  textOf,
} from './helpers.js';
import type { DecodedLeaf } from './helpers.js';

const lf2crlf = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
/** Decoded text bytes with line endings normalised, as latin1 string for exact comparison. */
const normalised = (l: DecodedLeaf): string => l.data.toString('latin1').replace(/\r\n/g, '\n');

function contentFieldsOf(raw: Buffer): { outer: Buffer; content: Buffer; body: Buffer } {
  const { header, body } = splitHeaderBody(raw);
  const fields = splitFields(header);
  const isContent = (n: string): boolean => n.toLowerCase().startsWith('content-');
  return {
    outer: Buffer.concat(fields.filter((f) => !isContent(f.name)).map((f) => f.raw)),
    content: Buffer.concat(fields.filter((f) => isContent(f.name)).map((f) => f.raw)),
    body,
  };
}

/** Prepares `raw`; `entity` is the concatenated entity (checked against entityLength), `chunks` the entity as returned. */
async function prepare(raw: Buffer) {
  const prepared = await prepareForSigning(raw, limits);
  const entity = entityOf(prepared);
  const message = Buffer.concat([prepared.outerHeaders, entity]);
  return { ...prepared, chunks: prepared.entity, entity, message };
}

describe('prepareForSigning: every fixture', () => {
  it.each(fixtureNames())('%s: canonical entity, same content', async (name) => {
    const raw = fixture(name);
    const { outerHeaders, entity, message } = await prepare(raw);

    expect(canonicalProblems(entity)).toEqual([]);
    // the outer header: the non-Content fields as received, CRLF, no empty line
    expect(outerHeaders.equals(lf2crlf(contentFieldsOf(raw).outer))).toBe(true);
    expect(outerHeaders.subarray(-2).toString()).toBe('\r\n');
    expect(outerHeaders.includes('\r\n\r\n')).toBe(false);
    expect(splitFields(outerHeaders).some((f) => /^content-/i.test(f.name))).toBe(false);
    // the entity: only Content-* fields in its header
    const entityFields = splitFields(splitHeaderBody(entity).header);
    expect(entityFields.length).toBeGreaterThan(0);
    expect(entityFields.every((f) => /^content-/i.test(f.name))).toBe(true);

    // an independent decoder sees the same parts, text and bytes
    const before = decodeWithPython(raw);
    const after = decodeWithPython(message);
    expect(after.map((p) => p.kind)).toEqual(before.map((p) => p.kind));
    for (const [i, a] of after.entries()) {
      const b = before[i];
      if (a.kind === 'message' || b?.kind === 'message') {
        expect(a).toEqual(b);
        continue;
      }
      expect(b).toBeDefined();
      if (b === undefined) continue;
      expect(a.type).toBe(b.type);
      expect(a.filename).toBe(b.filename);
      if (a.type.startsWith('text/')) expect(normalised(a)).toBe(normalised(b));
      else expect(a.data.equals(b.data)).toBe(true);
    }
  });
});

describe('prepareForSigning: specific cases', () => {
  it('re-encodes an 8bit UTF-8 body as quoted-printable, keeps the charset and the raw outer header', async () => {
    const raw = fixture('utf8-8bit.eml');
    const { outerHeaders, entity, changed, message } = await prepare(raw);
    expect(changed).toBe(true);
    const head = splitHeaderBody(entity).header.toString();
    expect(head).toBe('Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n');
    // 8-bit outer header fields are not signed and stay as they are
    expect(outerHeaders.toString('utf8')).toContain('Subject: Raw 8-bit outer header: Grüße\r\n');
    const body = splitHeaderBody(entity).body.toString();
    expect(body).toContain('=46rom the desk'); // mbox "From " munging cannot hit the signed bytes
    expect(body).toContain('trailing space=20\r\n');
    expect(body).toContain('=2E\r\n');
    const [leaf] = leaves(decodeWithPython(message));
    expect(leaf && textOf(leaf)).toContain('Grüße aus München – 5,00 €.\nA line with trailing space \nFrom the desk');
  });

  it('converts only the line endings of an LF-only 7-bit message', async () => {
    const raw = fixture('lf-only.eml');
    const { entity, changed } = await prepare(raw);
    const { content, body } = contentFieldsOf(raw);
    expect(entity.equals(lf2crlf(Buffer.concat([content, Buffer.from('\n'), body])))).toBe(true);
    expect(changed).toBe(true);
  });

  it('re-encodes a part with a line over 998 octets as quoted-printable', async () => {
    const raw = fixture('long-line.eml');
    const { entity, message } = await prepare(raw);
    expect(splitHeaderBody(entity).header.toString()).toContain('Content-Transfer-Encoding: quoted-printable\r\n');
    const [leaf] = leaves(decodeWithPython(message));
    expect(leaf && textOf(leaf)).toContain('0123456789'.repeat(150));
  });

  it('nested multipart: binary PNG becomes base64 with identical bytes, untouched parts stay byte-identical', async () => {
    const raw = fixture('nested-multipart.eml');
    const { entity, message, changed } = await prepare(raw);
    expect(changed).toBe(true);
    const text = entity.toString('latin1');
    // preamble, epilogue and the QP html part are kept byte for byte
    expect(text).toContain('\r\nThis is a multi-part message in MIME format.\r\n\r\n--outer-b\r\n');
    expect(text).toContain('\r\n--outer-b--\r\n\r\nEpilogue text.\r\n');
    const html = raw.toString('latin1').match(/--alt-b\r\nContent-Type: text\/html[\s\S]*?(?=\r\n--alt-b--)/)?.[0];
    expect(html).toBeDefined();
    expect(text).toContain(html);
    // the 8-bit filename is RFC 2231-encoded
    expect(text).toContain("filename*=utf-8''%C3%9Cbersicht%20M%C3%A4rz.png");
    expect(text).toContain("name*=utf-8''%C3%9Cbersicht%20M%C3%A4rz.png");
    const parts = leaves(decodeWithPython(message));
    const png = parts.find((p) => p.type === 'image/png');
    expect(png?.cte).toBe('base64');
    expect(png?.filename).toBe('Übersicht März.png');
    expect(png?.data.equals(readFileSync(path.join(fixtureDir, 'pixel.png')))).toBe(true);
    expect(parts.map((p) => p.type)).toEqual(['text/plain', 'text/html', 'image/png']);
  });

  it('keeps RFC 2047 encoded words byte-identical and encodes a raw 8-bit Content-Description', async () => {
    const raw = fixture('encoded-words.eml');
    const { outerHeaders, entity } = await prepare(raw);
    expect(outerHeaders.toString()).toContain(
      'Subject: =?UTF-8?B?w5xiZXJzaWNodCDDvGJlciBkaWUgbMOkbmdlcmVuIFplaWxlbiBkZXIgTmFj?=\r\n =?UTF-8?B?aHJpY2h0?=\r\n',
    );
    expect(outerHeaders.toString()).toContain('From: =?iso-8859-1?Q?J=FCrgen_Wei=DF?= <juergen@example.de>\r\n');
    const description = splitHeaderBody(entity).header.toString().match(/Content-Description: (.*)\r\n/)?.[1];
    expect(description).toMatch(/^Bericht =\?utf-8\?B\?[A-Za-z0-9+/=]+\?=$/);
    const word = description?.match(/\?B\?([^?]+)\?=/)?.[1] ?? '';
    expect(Buffer.from(word, 'base64').toString('utf8')).toBe('für Jürgen');
  });

  it('recurses into an 8-bit message/rfc822 attachment instead of base64-encoding it', async () => {
    const raw = fixture('rfc822-attachment.eml');
    const { entity, message } = await prepare(raw);
    const text = entity.toString('latin1');
    expect(text).toContain('Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="forwarded.eml"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n');
    expect(text).toMatch(/\r\nSubject: =\?utf-8\?B\?[^\r\n]+\r\n/);
    expect(text).toContain('\r\nTo: anna@example.org\r\n');
    const decoded = decodeWithPython(message);
    expect(decoded.find((p) => p.kind === 'message')).toEqual({
      kind: 'message',
      subject: 'Zählerstand für März',
      from: 'Jörg Bäcker <joerg@example.de>',
    });
    const inner = leaves(decoded)[1];
    expect(inner?.cte).toBe('quoted-printable');
    expect(inner && textOf(inner)).toBe('Der Zählerstand beträgt 4711 m³.\n');
  });

  it('gives a message without Content-Type an explicit one', async () => {
    const cases: Array<[string, string, string | undefined]> = [
      ['no-content-type.eml', 'text/plain; charset=us-ascii', undefined],
      ['no-content-type-8bit.eml', 'text/plain; charset=utf-8', 'quoted-printable'],
      ['no-content-type-latin1.eml', 'text/plain; charset=windows-1252', 'quoted-printable'],
    ];
    for (const [name, type, cte] of cases) {
      const raw = fixture(name);
      const { entity, message } = await prepare(raw);
      const head = splitHeaderBody(entity).header.toString();
      expect(head.startsWith(`Content-Type: ${type}\r\n`)).toBe(true);
      if (cte) expect(head).toContain(`Content-Transfer-Encoding: ${cte}\r\n`);
      else expect(splitHeaderBody(entity).body.equals(splitHeaderBody(raw).body)).toBe(true);
      const [leaf] = leaves(decodeWithPython(message));
      expect(leaf && textOf(leaf)).toMatch(/Just text|Grüße ohne|Grüße in ISO/);
    }
  });

  it.each(['preamble-epilogue.eml', 'base64.eml'])('%s: a 7-bit CRLF message is not changed at all', async (name) => {
    const raw = fixture(name);
    const { entity, changed } = await prepare(raw);
    const { content, body } = contentFieldsOf(raw);
    expect(entity.equals(Buffer.concat([content, Buffer.from('\r\n'), body]))).toBe(true);
    expect(changed).toBe(false);
  });

  it('relabels a 7-bit part declared 8bit as 7bit and keeps its body', async () => {
    const raw = Buffer.from('Subject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\nascii only\r\n');
    const { entity, changed } = await prepare(raw);
    expect(entity.toString()).toBe('Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nascii only\r\n');
    expect(changed).toBe(true);
  });

  it('treats bytes that are not a message as a text/plain body', async () => {
    const raw = Buffer.concat([Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x0d]), Buffer.from('not a header\n\n'), Buffer.alloc(3000, 0x41)]);
    const { outerHeaders, entity, message } = await prepare(raw);
    expect(outerHeaders.length).toBe(0);
    expect(canonicalProblems(entity)).toEqual([]);
    expect(splitHeaderBody(entity).header.toString()).toBe(
      'Content-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable\r\n',
    );
    const [leaf] = leaves(decodeWithPython(message));
    expect(leaf && normalised(leaf)).toBe(raw.toString('latin1').replace(/\r\n/g, '\n'));
  });

  it('handles an empty message and a header without body', async () => {
    const empty = await prepare(Buffer.alloc(0));
    expect(empty.entity.toString()).toBe('Content-Type: text/plain; charset=us-ascii\r\n\r\n');
    const headerOnly = await prepare(Buffer.from('Subject: only a header\nContent-Type: text/plain'));
    expect(headerOnly.outerHeaders.toString()).toBe('Subject: only a header\r\n');
    expect(headerOnly.entity.toString()).toBe('Content-Type: text/plain\r\n\r\n');
  });

  it('encodes a top-level binary attachment as base64 and its 8-bit filename per RFC 2231', async () => {
    const png = readFileSync(path.join(fixtureDir, 'pixel.png'));
    const raw = Buffer.concat([
      Buffer.from('From: a@example.org\r\nContent-Type: image/png\r\nContent-Disposition: attachment;\r\n filename="Straßenplan für die Gemeinde Oberschleißheim, Stand März 2026.png"\r\nContent-Transfer-Encoding: binary\r\n\r\n'),
      png,
    ]);
    const { entity, message } = await prepare(raw);
    expect(canonicalProblems(entity)).toEqual([]);
    const head = splitHeaderBody(entity).header.toString();
    expect(head).toContain("filename*0*=utf-8''Stra%C3%9Fenplan");
    expect(head.split('\r\n').every((l) => l.length <= 78)).toBe(true);
    const [leaf] = leaves(decodeWithPython(message));
    expect(leaf?.filename).toBe('Straßenplan für die Gemeinde Oberschleißheim, Stand März 2026.png');
    expect(leaf?.data.equals(png)).toBe(true);
    expect(entity.subarray(-2).toString()).toBe('\r\n');
  });

  it('re-encodes a base64 body with overlong lines, keeping base64', async () => {
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    const raw = Buffer.from(
      `Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${data.toString('base64')}\r\n`,
    );
    const { entity, message } = await prepare(raw);
    expect(canonicalProblems(entity)).toEqual([]);
    const [leaf] = leaves(decodeWithPython(message));
    expect(leaf?.cte).toBe('base64');
    expect(leaf?.data.equals(data)).toBe(true);
  });

  it('leaves a 7-bit message/rfc822 attachment byte-identical', async () => {
    const raw = Buffer.from(
      'Subject: fwd\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n' +
        'Subject: inner\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nhello\r\n\r\n--x--\r\n',
    );
    const { entity, changed } = await prepare(raw);
    const { content, body } = contentFieldsOf(raw);
    expect(entity.equals(Buffer.concat([content, Buffer.from('\r\n'), body]))).toBe(true);
    expect(changed).toBe(false);
  });

  it('re-encodes a quoted-printable part that carries raw 8-bit bytes', async () => {
    const raw = Buffer.from(
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe und Grüße\r\n',
    );
    const { entity, message } = await prepare(raw);
    expect(canonicalProblems(entity)).toEqual([]);
    const [leaf] = leaves(decodeWithPython(message));
    expect(leaf && textOf(leaf)).toBe('Grüße und Grüße\n');
  });

  it('treats a part without Content-Type in multipart/digest as message/rfc822', async () => {
    const raw = Buffer.from(
      'Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: Übersicht\r\n\r\nInhalt ä\r\n--d--\r\n',
    );
    const { entity, message } = await prepare(raw);
    expect(canonicalProblems(entity)).toEqual([]);
    // recursed as a message: its Subject became encoded words and the inner body QP
    expect(entity.toString()).toMatch(/\r\nSubject: =\?utf-8\?B\?/);
    const decoded = decodeWithPython(message);
    expect(decoded.find((p) => p.kind === 'message')).toMatchObject({ subject: 'Übersicht' });
  });

  it('keeps a part that has only a header before a closing boundary (mailsplit duplicates it)', async () => {
    const raw = Buffer.from('Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n--x--\r\n');
    const { entity } = await prepare(raw);
    expect(canonicalProblems(entity)).toEqual([]);
    expect(entity.toString()).toBe('Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n--x--\r\n');
  });

  it('makes 8-bit bytes in a preamble 7-bit without touching the parts', async () => {
    const raw = Buffer.from('Content-Type: multipart/mixed; boundary=x\r\n\r\nVorspann für Leser\r\n--x\r\nContent-Type: text/plain\r\n\r\npart\r\n--x--\r\n');
    const { entity, changed } = await prepare(raw);
    expect(entity.toString()).toContain('\r\n\r\nVorspann f??r Leser\r\n--x\r\nContent-Type: text/plain\r\n\r\npart\r\n--x--\r\n');
    expect(changed).toBe(true);
  });

  it('keeps a part that has only a header before the next boundary (mailsplit drops it)', async () => {
    const body = '--x\r\nContent-Type: text/plain\r\nX-Lost: no\r\n--x\r\nContent-Type: text/plain\r\n\r\nbody\r\n--x--\r\n';
    const raw = Buffer.from(`Content-Type: multipart/mixed; boundary=x\r\n\r\n${body}`);
    const { entity } = await prepare(raw);
    expect(entity.toString()).toBe(`Content-Type: multipart/mixed; boundary=x\r\n\r\n${body}`);
  });

  it('returns the entity of an already-canonical 7-bit CRLF message as views into the input, not as a copy', async () => {
    const body = 'Sehr geehrte Damen und Herren,\r\n\r\n' + 'eine Zeile mit 7-bit Text, wie sie ist.\r\n'.repeat(20_000) + '-- \r\nAmt\r\n';
    const text = `From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${body}`;
    // The input has an ArrayBuffer of its own, so a copy from Node's shared pool cannot pass for a view.
    const input = Buffer.from(new ArrayBuffer(Buffer.byteLength(text)));
    input.write(text, 'latin1');
    const bodyStart = input.indexOf('\r\n\r\n') + 4;

    const { entity, chunks, entityLength, changed } = await prepare(input);
    expect(changed).toBe(false);
    expect(entityLength).toBe(entity.length);
    expect(entityLength).toBe(chunks.reduce((n, c) => n + c.length, 0));
    expect(entity.equals(Buffer.from(`Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${body}`, 'latin1'))).toBe(true);

    // The body chunks follow the header's empty line: each is a view into the
    // input, in order, together covering exactly the body's bytes there.
    const separator = chunks.findIndex((c) => c.equals(Buffer.from('\r\n')));
    expect(separator).toBeGreaterThan(0);
    const bodyChunks = chunks.slice(separator + 1);
    expect(bodyChunks.length).toBeGreaterThan(0);
    let at = input.byteOffset + bodyStart;
    for (const chunk of bodyChunks) {
      expect(chunk.buffer).toBe(input.buffer);
      expect(chunk.byteOffset).toBe(at);
      at += chunk.length;
    }
    expect(at).toBe(input.byteOffset + input.length);
  });
});

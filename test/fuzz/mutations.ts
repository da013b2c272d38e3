/**
 * fast-check arbitraries that damage S/MIME messages: raw byte edits
 * anywhere, edits aimed at the MIME structure, edits of the CMS blob after
 * base64 decoding (then re-encoded), and random MIME trees with S/MIME
 * parts. Positions are fractions of the input length so one arbitrary fits
 * every seed.
 */
import fc from 'fast-check';
import { base64Lines, header, type Seed } from './seeds.js';

type Edit = (raw: Buffer) => Buffer;

const at = (fraction: number, length: number): number => Math.min(length, Math.floor(fraction * (length + 1)));
const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

/** Byte flips, insertions, deletions, truncations and duplicated slices anywhere. */
export const byteEdit: fc.Arbitrary<Edit> = fc.oneof(
  fc.tuple(fraction, fc.integer({ min: 1, max: 255 })).map(([f, mask]): Edit => (raw) => {
    const out = Buffer.from(raw);
    const i = Math.min(raw.length - 1, at(f, raw.length));
    if (i >= 0) out[i] = (out[i] as number) ^ mask;
    return out;
  }),
  fc.tuple(fraction, fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([f, bytes]): Edit => (raw) => {
    const i = at(f, raw.length);
    return Buffer.concat([raw.subarray(0, i), Buffer.from(bytes), raw.subarray(i)]);
  }),
  fc.tuple(fraction, fc.integer({ min: 1, max: 200 })).map(([f, n]): Edit => (raw) => {
    const i = at(f, raw.length);
    return Buffer.concat([raw.subarray(0, i), raw.subarray(i + n)]);
  }),
  fraction.map((f): Edit => (raw) => raw.subarray(0, at(f, raw.length))),
  fc.tuple(fraction, fraction, fraction).map(([a, b, c]): Edit => (raw) => {
    const [from, to] = [at(a, raw.length), at(b, raw.length)].sort((x, y) => x - y) as [number, number];
    const i = at(c, raw.length);
    return Buffer.concat([raw.subarray(0, i), raw.subarray(from, Math.min(to, from + 4096)), raw.subarray(i)]);
  }),
);

/** Offsets of every occurrence of `needle` in `raw`. */
function occurrences(raw: Buffer, needle: string): number[] {
  const found: number[] = [];
  for (let i = raw.indexOf(needle, 0, 'latin1'); i >= 0; i = raw.indexOf(needle, i + 1, 'latin1')) found.push(i);
  return found;
}

function replaceAt(raw: Buffer, start: number, length: number, text: string | Buffer): Buffer {
  return Buffer.concat([raw.subarray(0, start), typeof text === 'string' ? Buffer.from(text, 'latin1') : text, raw.subarray(start + length)]);
}

/** Picks one occurrence of one of the needles and replaces it. */
function replaceOne(needles: readonly string[], replacements: fc.Arbitrary<string>): fc.Arbitrary<Edit> {
  return fc.tuple(fc.constantFrom(...needles), fraction, replacements).map(([needle, f, replacement]): Edit => (raw) => {
    const all = occurrences(raw, needle);
    const pick = all[Math.min(all.length - 1, Math.floor(f * all.length))];
    return pick === undefined ? raw : replaceAt(raw, pick, needle.length, replacement);
  });
}

const headerLines = (raw: Buffer): Array<[number, number]> => {
  const lines: Array<[number, number]> = [];
  let start = 0;
  for (const end of occurrences(raw, '\r\n')) {
    const line = raw.subarray(start, end).toString('latin1');
    if (/^[A-Za-z-]+:/.test(line)) lines.push([start, end + 2]);
    start = end + 2;
  }
  return lines;
};

/** Edits aimed at MIME: boundaries, Content-Type parameters, transfer encodings, folding, duplicate fields, line endings. */
export const mimeEdit: fc.Arbitrary<Edit> = fc.oneof(
  replaceOne(['boundary="', 'boundary='], fc.constantFrom('boundary=', 'boundary="" x="', 'BOUNDARY*0="', 'boundary="--', 'boundary="\r\n ', 'charset="', 'boundary="sig-b0undary"; boundary="')),
  replaceOne(['--sig-b0undary', '--inner-b', '--fwd-b', '--sig-b0undary--', '--fwd-b--'], fc.constantFrom('', '--', '--sig-b0undary--', '--fwd-b', '--sig-b0undar', '\r\n--sig-b0undary', '--sig-b0undary \t', '-- sig-b0undary')),
  replaceOne(['base64', 'quoted-printable'], fc.constantFrom('quoted-printable', '7bit', 'binary', 'x-uuencode', 'BASE64', 'base64 (comment)', '', '"base64"', 'base6')),
  replaceOne(['multipart/signed', 'application/pkcs7-mime', 'application/pkcs7-signature', 'message/rfc822', 'multipart/mixed', 'text/plain'], fc.constantFrom('multipart/mixed', 'multipart/signed', 'application/pkcs7-mime', 'application/x-pkcs7-signature', 'message/rfc822', 'text/plain', 'multipart/', 'application/pkcs7-mime; smime-type=certs-only', '')),
  replaceOne(['smime-type=', 'protocol="', 'micalg='], fc.constantFrom('smime-type=compressed-data; x=', 'smime-type=signed-data; x=', 'protocol="application/pkcs7-mime"; x="', 'micalg=md5; x=', 'smime-type=enveloped-data; x=', '')),
  fc.tuple(fraction, fc.constantFrom('\r\n ', '\r\n\t', '\r\n', '\n ', ' ')).map(([f, fold]): Edit => (raw) => {
    const spaces = occurrences(raw.subarray(0, Math.min(raw.length, 4096)), ' ');
    const pick = spaces[Math.floor(f * spaces.length)];
    return pick === undefined ? raw : replaceAt(raw, pick, 1, fold);
  }),
  fc.tuple(fraction, fraction).map(([f, g]): Edit => (raw) => {
    const lines = headerLines(raw);
    const line = lines[Math.floor(f * lines.length)];
    const target = lines[Math.floor(g * lines.length)];
    if (!line || !target) return raw;
    return replaceAt(raw, target[0], 0, raw.subarray(line[0], line[1]));
  }),
  fc.constant<Edit>((raw) => Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1')),
  fc.constant<Edit>((raw) => Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\r'), 'latin1')),
);

// ---- DER: a tolerant tree of definite-length TLVs, re-encoded with correct lengths after an edit.

export interface DerNode {
  tag: number;
  /** Children of a constructed node; undefined for a primitive one. */
  children?: DerNode[];
  content: Buffer;
}

/** Parses DER into a tree; undefined when it is not plain definite-length single-byte-tag DER. */
export function parseDer(der: Buffer, depth = 0): DerNode[] | undefined {
  const nodes: DerNode[] = [];
  let pos = 0;
  while (pos < der.length) {
    const tag = der[pos] as number;
    if ((tag & 0x1f) === 0x1f || pos + 1 >= der.length) return undefined;
    let length = der[pos + 1] as number;
    let start = pos + 2;
    if (length === 0x80) return undefined;
    if (length > 0x80) {
      const n = length & 0x7f;
      if (n > 4 || start + n > der.length) return undefined;
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + (der[start + i] as number);
      start += n;
    }
    const content = der.subarray(start, start + length);
    if (content.length !== length) return undefined;
    const node: DerNode = { tag, content };
    if (tag & 0x20 && depth < 64) {
      const children = parseDer(content, depth + 1);
      if (!children) return undefined;
      node.children = children;
    }
    nodes.push(node);
    pos = start + length;
  }
  return nodes;
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function encodeDer(nodes: readonly DerNode[]): Buffer {
  return Buffer.concat(
    nodes.map((node) => {
      const content = node.children ? encodeDer(node.children) : node.content;
      return Buffer.concat([Buffer.from([node.tag]), encodeLength(content.length), content]);
    }),
  );
}

/** Every node with its parent list, depth-first. */
function allNodes(nodes: DerNode[], out: Array<{ node: DerNode; siblings: DerNode[] }> = []): Array<{ node: DerNode; siblings: DerNode[] }> {
  for (const node of nodes) {
    out.push({ node, siblings: nodes });
    if (node.children) allNodes(node.children, out);
  }
  return out;
}

/** Positions of tag and length octets in DER, for raw edits that break the encoding on purpose. */
export function headerOctets(der: Buffer): number[] {
  const positions: number[] = [];
  const walk = (from: number, to: number, depth: number): void => {
    let pos = from;
    while (pos + 1 < to) {
      const tag = der[pos] as number;
      let length = der[pos + 1] as number;
      let start = pos + 2;
      positions.push(pos, pos + 1);
      if (length === 0x80) return;
      if (length > 0x80) {
        const n = length & 0x7f;
        if (n > 4) return;
        length = 0;
        for (let i = 0; i < n; i++) {
          positions.push(start + i);
          length = length * 256 + (der[start + i] ?? 0);
        }
        start += n;
      }
      if (tag & 0x20 && depth < 64) walk(start, Math.min(to, start + length), depth + 1);
      pos = start + length;
    }
  };
  walk(0, der.length, 0);
  return positions;
}

type DerEdit = (der: Buffer) => Buffer;

/** Edits of a CMS blob: broken tags/lengths, truncation, and well-formed DER with wrong content (duplicates, deep nesting, swapped or emptied nodes). */
export const derEdit: fc.Arbitrary<DerEdit> = fc.oneof(
  fc.tuple(fraction, fc.integer({ min: 0, max: 255 })).map(([f, value]): DerEdit => (der) => {
    const positions = headerOctets(der);
    const pos = positions[Math.floor(f * positions.length)];
    if (pos === undefined) return der;
    const out = Buffer.from(der);
    out[pos] = value;
    return out;
  }),
  fc.tuple(fraction, fc.constantFrom(Buffer.from([0x84, 0x7f, 0xff, 0xff, 0xff]), Buffer.from([0x80]), Buffer.from([0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0x00]))).map(([f, length]): DerEdit => (der) => {
    const positions = headerOctets(der).filter((p, i, all) => all[i - 1] === p - 1 && i % 2 === 1);
    const pos = positions[Math.floor(f * positions.length)];
    return pos === undefined ? der : replaceAt(der, pos, 1, length);
  }),
  fraction.map((f): DerEdit => (der) => der.subarray(0, at(f, der.length))),
  fc.tuple(fraction, fc.integer({ min: 1, max: 50 }), fc.constantFrom('duplicate', 'delete', 'swap', 'empty', 'nest', 'retag')).map(([f, times, how]): DerEdit => (der) => {
    const tree = parseDer(der);
    if (!tree) return der;
    const nodes = allNodes(tree);
    const picked = nodes[Math.floor(f * nodes.length)];
    if (!picked) return der;
    const { node, siblings } = picked;
    const index = siblings.indexOf(node);
    switch (how) {
      case 'duplicate':
        siblings.splice(index, 0, ...Array.from({ length: times }, () => node));
        break;
      case 'delete':
        siblings.splice(index, 1);
        break;
      case 'swap': {
        const other = siblings[(index + times) % siblings.length] as DerNode;
        siblings[index] = other;
        siblings[siblings.indexOf(other) === index ? (index + times) % siblings.length : index] = node;
        break;
      }
      case 'empty':
        siblings[index] = { tag: node.tag, content: Buffer.alloc(0), ...(node.children ? { children: [] } : {}) };
        break;
      case 'nest': {
        let wrapped: DerNode = node;
        for (let i = 0; i < times * 4; i++) wrapped = { tag: 0x30, children: [wrapped], content: Buffer.alloc(0) };
        siblings[index] = wrapped;
        break;
      }
      case 'retag':
        siblings[index] = { ...node, tag: node.tag ^ (1 << (times % 8)) };
        break;
    }
    return encodeDer(tree);
  }),
);

/** Applies a DER edit to the seed's CMS blob and puts it back, re-encoded as base64. */
export function withDer(seed: Seed, edit: DerEdit): Buffer {
  if (!seed.der) return seed.raw;
  const encoded = base64Lines(seed.der);
  const start = seed.raw.indexOf(encoded, 0, 'latin1');
  if (start < 0) throw new Error(`seed ${seed.name}: CMS blob not found`);
  return replaceAt(seed.raw, start, encoded.length, base64Lines(edit(seed.der)));
}

// ---- Random MIME trees with S/MIME parts from the seeds.

export interface TreeParts {
  /** Whole messages (header + body), used as message/rfc822 content. */
  readonly messages: readonly Buffer[];
  /** Body parts (their own Content-* fields and body): the signed entity, pkcs7 parts. */
  readonly entities: readonly Buffer[];
}

const boundaryText = fc.stringMatching(/^[a-z0-9'()+_,.=?-]{1,12}$/);

/** A random MIME tree rendered to bytes; small boundary alphabet so nested boundaries collide now and then. */
export function mimeTree(parts: TreeParts): fc.Arbitrary<Buffer> {
  const { node } = fc.letrec<{ node: Buffer }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(Buffer.from('Content-Type: text/plain\r\n\r\nText.\r\n', 'latin1'), ...parts.entities),
      fc.constantFrom(...parts.messages).map((m) => Buffer.concat([Buffer.from('Content-Type: message/rfc822\r\n\r\n', 'latin1'), m])),
      fc
        .tuple(fc.constantFrom('mixed', 'alternative', 'signed; protocol="application/pkcs7-signature"', 'related', 'report'), boundaryText, fc.array(tie('node'), { maxLength: 4 }), fc.boolean())
        .map(([subtype, boundary, children, closed]) =>
          Buffer.concat([
            Buffer.from(`Content-Type: multipart/${subtype}; boundary="${boundary}"\r\n\r\n`, 'latin1'),
            ...children.flatMap((child) => [Buffer.from(`--${boundary}\r\n`, 'latin1'), child, Buffer.from('\r\n', 'latin1')]),
            Buffer.from(closed ? `--${boundary}--\r\n` : '', 'latin1'),
          ]),
        ),
      fc.tuple(tie('node'), fc.constantFrom('smime.p7m', 'x')).map(([inner, name]) =>
        Buffer.from(`Content-Type: application/pkcs7-mime; smime-type=signed-data; name=${name}\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(inner)}`, 'latin1'),
      ),
    ),
  }));
  return node.map((body) => Buffer.concat([Buffer.from(header('Tree'), 'latin1'), body]));
}

/**
 * Shared test helpers: the fixtures, a canonical-form checker and an
 * independent MIME decoder (Python's email package, a real peer).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PreparedMessage } from '../../src/mime/prepare-for-signing.js';

export const fixtureDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'mail');

export function fixtureNames(): string[] {
  return readdirSync(fixtureDir)
    .filter((n) => n.endsWith('.eml'))
    .sort();
}

export function fixture(name: string): Buffer {
  return readFileSync(path.join(fixtureDir, name));
}

export const limits = { maxDepth: 32, maxParts: 500, maxHeaderSize: 256 * 1024 };

/** The prepared entity as one Buffer (tests only; the gateway keeps the chunks), checked against `entityLength`. */
export function entityOf(prepared: Pick<PreparedMessage, 'entity' | 'entityLength'>): Buffer {
  const entity = Buffer.concat(prepared.entity);
  if (entity.length !== prepared.entityLength) {
    throw new Error(`entityLength ${prepared.entityLength} != ${entity.length} bytes in the entity chunks`);
  }
  return entity;
}

/**
 * Everything that makes bytes non-canonical: 8-bit, NUL, bare CR/LF, long lines.
 * Takes one Buffer or chunks (read as their concatenation, without copying it).
 */
export function canonicalProblems(bytes: Buffer | readonly Buffer[]): string[] {
  const chunks = (Buffer.isBuffer(bytes) ? [bytes] : bytes).filter((c) => c.length > 0);
  const problems: string[] = [];
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let offset = 0; // position of the current chunk in the whole
  let lineStart = 0;
  let previous = -1;
  scan: for (const [k, buf] of chunks.entries()) {
    const following = chunks[k + 1]?.[0] ?? -1;
    for (let j = 0; j < buf.length; j++) {
      const i = offset + j;
      const b = buf[j] as number;
      const next = j + 1 < buf.length ? (buf[j + 1] as number) : following;
      if (b === 0 || b >= 0x80) problems.push(`byte 0x${b.toString(16)} at ${i}`);
      if (b === 0x0d && next !== 0x0a) problems.push(`bare CR at ${i}`);
      if (b === 0x0a) {
        if (previous !== 0x0d) problems.push(`bare LF at ${i}`);
        const len = i - 1 - lineStart;
        if (len > 998) problems.push(`line of ${len} octets at ${lineStart}`);
        lineStart = i + 1;
      }
      if (problems.length > 5) break scan;
      previous = b;
    }
    offset += buf.length;
  }
  if (total - lineStart > 998) problems.push(`last line of ${total - lineStart} octets`);
  return problems;
}

export interface DecodedLeaf {
  kind: 'leaf';
  type: string;
  charset: string | null;
  filename: string | null;
  cte: string | null;
  data: Buffer;
}
export interface DecodedMessage {
  kind: 'message';
  subject: string;
  from: string;
}
export type DecodedPart = DecodedLeaf | DecodedMessage;

const PY = String.raw`
import sys, json, base64, email
from email import policy
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
out = []
for part in msg.walk():
    ct = part.get_content_type()
    if part.is_multipart():
        if ct == 'message/rfc822':
            inner = part.get_payload(0)
            out.append({'kind': 'message', 'subject': str(inner['subject']), 'from': str(inner['from'])})
        continue
    data = part.get_payload(decode=True) or b''
    out.append({'kind': 'leaf', 'type': ct, 'charset': part.get_content_charset(), 'filename': part.get_filename(),
                'cte': part.get('content-transfer-encoding'), 'data': base64.b64encode(data).decode()})
print(json.dumps(out))
`;

/** Decodes a message with Python's email package: every leaf's decoded bytes, every embedded message's Subject/From. */
export function decodeWithPython(message: Buffer): DecodedPart[] {
  const json = execFileSync('python3', ['-c', PY], { input: message }).toString();
  const parts = JSON.parse(json) as Array<Omit<DecodedLeaf, 'data'> & { data: string } | DecodedMessage>;
  return parts.map((p) => (p.kind === 'leaf' ? { ...p, data: Buffer.from(p.data, 'base64') } : p));
}

/** Text of a decoded leaf with line endings normalised (canonicalisation turns LF into CRLF). */
export function textOf(leaf: DecodedLeaf): string {
  const decoder = new TextDecoder(leaf.charset === null || leaf.charset === 'us-ascii' ? 'utf-8' : leaf.charset);
  return decoder.decode(leaf.data).replace(/\r\n/g, '\n');
}

export function leaves(parts: DecodedPart[]): DecodedLeaf[] {
  return parts.filter((p): p is DecodedLeaf => p.kind === 'leaf');
}

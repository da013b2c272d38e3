/** Test messages with attachments for the offloading tests, built byte by byte. */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

export type NameStyle = 'plain' | 'rfc2231' | 'rfc2231-continued' | 'rfc2047' | 'none';

export interface TestAttachment {
  readonly name: string;
  readonly content: Buffer;
  readonly contentType?: string;
  readonly encoding?: 'base64' | 'quoted-printable' | 'binary';
  readonly disposition?: 'attachment' | 'inline';
  readonly nameStyle?: NameStyle;
  readonly contentId?: string;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Base64 in 76-character lines, CRLF, no line break after the last line. */
export function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function percent(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((b) => (/[A-Za-z0-9.\-_]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** The file name parameters of Content-Type (name) and Content-Disposition (filename). */
function nameParameters(name: string, style: NameStyle): { type: string; disposition: string } {
  switch (style) {
    case 'none':
      return { type: '', disposition: '' };
    case 'plain':
      return { type: `; name="${name}"`, disposition: `; filename="${name}"` };
    case 'rfc2047': {
      const word = `=?utf-8?B?${Buffer.from(name, 'utf8').toString('base64')}?=`;
      return { type: `;\r\n name="${word}"`, disposition: `;\r\n filename="${word}"` };
    }
    case 'rfc2231':
      return { type: '', disposition: `;\r\n filename*=utf-8''${percent(name)}` };
    case 'rfc2231-continued': {
      // whole percent escapes per piece: a continuation never cuts one
      const units = percent(name).match(/%[0-9A-F]{2}|./g) ?? [];
      const pieces: string[] = [];
      for (const unit of units) {
        const last = pieces.length - 1;
        if (last >= 0 && (pieces[last] as string).length + unit.length <= 24) pieces[last] += unit;
        else pieces.push(unit);
      }
      return { type: '', disposition: pieces.map((p, i) => `;\r\n filename*${i}*=${i === 0 ? "utf-8''" : ''}${p}`).join('') };
    }
  }
}

function encodeContent(content: Buffer, encoding: 'base64' | 'quoted-printable' | 'binary'): Buffer {
  if (encoding === 'base64') return Buffer.from(base64Lines(content), 'latin1');
  if (encoding === 'binary') return content;
  // A simple QP for test data: every byte outside printable ASCII escaped, soft breaks every 72 characters.
  let out = '';
  let line = 0;
  for (const b of content) {
    const unit = b >= 0x21 && b <= 0x7e && b !== 0x3d ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (line + unit.length > 72) {
      out += '=\r\n';
      line = 0;
    }
    out += unit;
    line += unit.length;
  }
  return Buffer.from(out, 'latin1');
}

export function attachmentPart(a: TestAttachment): Buffer {
  const encoding = a.encoding ?? 'base64';
  const params = nameParameters(a.name, a.nameStyle ?? 'plain');
  const header = [
    `Content-Type: ${a.contentType ?? 'application/octet-stream'}${params.type}`,
    `Content-Transfer-Encoding: ${encoding}`,
    `Content-Disposition: ${a.disposition ?? 'attachment'}${params.disposition}`,
    ...(a.contentId ? [`Content-ID: <${a.contentId}>`] : []),
  ].join('\r\n');
  return Buffer.concat([Buffer.from(`${header}\r\n\r\n`, 'latin1'), encodeContent(a.content, encoding)]);
}

/** multipart/mixed: a text body, then the attachments; CRLF throughout. */
export function mixedMessage(options: { from: string; to?: string; subject?: string; text?: string; attachments: readonly TestAttachment[]; boundary?: string }): Buffer {
  const boundary = options.boundary ?? 'mixed-boundary-0123456789';
  const parts: Buffer[] = [
    Buffer.from(
      [
        `From: Absender <${options.from}>`,
        `To: ${options.to ?? 'partner@example.org'}`,
        `Subject: ${options.subject ?? 'Pläne'.replace('ä', 'ae')}`,
        'Date: Mon, 23 Nov 2026 10:00:00 +0100',
        'Message-ID: <offload-test@stadt.example>',
        'MIME-Version: 1.0',
        `Content-Type: multipart/mixed; boundary="${boundary}"`,
        '',
        'This is a multi-part message in MIME format.',
        `--${boundary}`,
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 7bit',
        '',
        options.text ?? 'Hello, the plans are attached.',
        '',
      ].join('\r\n'),
      'latin1',
    ),
  ];
  for (const a of options.attachments) {
    parts.push(Buffer.from(`--${boundary}\r\n`, 'latin1'), attachmentPart(a), Buffer.from('\r\n', 'latin1'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(parts);
}

/** A tiny PNG (1x1), as a small inline image that must stay. */
export const PIXEL_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

export interface PythonLeaf {
  readonly type: string;
  readonly filename: string | null;
  readonly sha256: string;
  readonly size: number;
  readonly text: string | null;
}

const leavesScript = `
import email, email.policy, hashlib, json, sys
with open(sys.argv[1], 'rb') as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)
out = []
for part in msg.walk():
    if part.is_multipart():
        continue
    payload = part.get_payload(decode=True) or b''
    ctype = part.get_content_type()
    text = part.get_content() if ctype.startswith('text/') else None
    out.append({'type': ctype, 'filename': part.get_filename(), 'sha256': hashlib.sha256(payload).hexdigest(), 'size': len(payload), 'text': text})
print(json.dumps({'subject': str(msg.get('subject', '')), 'leaves': out}))
`;

/** The leaves of a message as Python's email package (policy default) decodes them. */
export function pythonLeaves(dir: string, message: Buffer): { subject: string; leaves: PythonLeaf[] } {
  const file = path.join(dir, `msg-${sha256(message).slice(0, 16)}.eml`);
  writeFileSync(file, message);
  return JSON.parse(execFileSync('python3', ['-c', leavesScript, file], { maxBuffer: 256 * 1024 * 1024 }).toString('utf8')) as {
    subject: string;
    leaves: PythonLeaf[];
  };
}

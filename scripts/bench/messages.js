// The test messages, built once per size as files the load generator reads
// into one Buffer each. None has a line starting with "." (the load
// generator sends them without dot-stuffing) or a bare CR or LF.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SENDER = 'poststelle@bench.example';
/** No certificate known: the outbound relay signs (or passes) but cannot encrypt. */
export const PLAIN_RECIPIENT = 'empfaenger@example.org';
/** Its certificate is imported into the signing gateway: mail to it leaves signed and encrypted. */
export const ENCRYPT_RECIPIENT = 'partner@partner.example';
/** The body text, found again in the decrypted sample. */
export const BODY_TEXT = 'Sehr geehrte Damen und Herren, dies ist ein Test. ';

function header(to, contentType) {
  return (
    `From: ${SENDER}\r\nTo: ${to}\r\nSubject: Bench\r\nMessage-ID: <${randomBytes(8).toString('hex')}@bench.example>\r\n` +
    `MIME-Version: 1.0\r\nContent-Type: ${contentType}\r\n\r\n`
  );
}

/** `length` bytes of 7-bit text in CRLF lines of 74 octets, ending with CRLF. */
function textBody(length) {
  const line = `${BODY_TEXT}${BODY_TEXT}`.slice(0, 72) + '\r\n';
  const body = Buffer.alloc(length, line, 'latin1');
  if (length >= 2) body.write('\r\n', length - 2, 'latin1');
  // The fill may have cut a line right after its CR: no bare CR before the final CRLF.
  if (length >= 3 && body[length - 3] === 0x0d) body[length - 3] = 0x78;
  return body;
}

/** A plain-text message of exactly `size` bytes (header included) to `to`. */
export function textMessage(size, to) {
  const head = Buffer.from(header(to, 'text/plain; charset=utf-8'), 'latin1');
  if (size < head.length + 2) throw new Error(`a message of ${size} bytes is too small for its header`);
  return Buffer.concat([head, textBody(size - head.length)]);
}

/**
 * A message with an 8-bit attachment of `size` random bytes (no
 * Content-Transfer-Encoding a relay could carry unchanged): signing must
 * re-encode it as base64, so the entity grows by a third. Its bytes avoid
 * CR, LF, NUL and "." so it needs neither BDAT nor dot-stuffing.
 */
export function attachmentMessage(size) {
  const data = randomBytes(size);
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a || data[i] === 0x0d || data[i] === 0x00 || data[i] === 0x2e) data[i] = 0x20;
  const head = Buffer.from(
    header(PLAIN_RECIPIENT, 'multipart/mixed; boundary="b1"') +
      `--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei der Plan.\r\n--b1\r\nContent-Type: application/octet-stream; name="plan.bin"\r\n` +
      `Content-Transfer-Encoding: 8bit\r\nContent-Disposition: attachment; filename="plan.bin"\r\n\r\n`,
    'latin1',
  );
  // 8bit allows no lines over 998 octets: break the data into lines.
  const lines = [];
  for (let i = 0; i < data.length; i += 900) lines.push(data.subarray(i, i + 900), Buffer.from('\r\n'));
  return Buffer.concat([head, ...lines, Buffer.from('--b1--\r\n')]);
}

/**
 * A multipart/signed message as a partner's client sends it: a text entity
 * of `size` bytes signed by `openssl cms` with the signer in `pkiDir`
 * (leaf.pem/leaf.key), detached, SHA-256, the issuing CA included (not the
 * root: that is the gateway's trust anchor). About 3-4 KB larger than `size`.
 */
export function signedMessage(size, pkiDir, workDir) {
  const entityHead = 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n';
  const entity = Buffer.concat([Buffer.from(entityHead, 'latin1'), textBody(Math.max(2, size - entityHead.length))]);
  const input = path.join(workDir, `entity-${size}.txt`);
  const output = path.join(workDir, `entity-${size}.p7s`);
  writeFileSync(input, entity);
  execFileSync('openssl', ['cms', '-sign', '-binary', '-md', 'sha256', '-in', input, '-signer', path.join(pkiDir, 'leaf.pem'), '-inkey', path.join(pkiDir, 'leaf.key'), '-certfile', path.join(pkiDir, 'ca.pem'), '-outform', 'DER', '-out', output]);
  const signature = (readFileSync(output).toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
  return Buffer.concat([
    Buffer.from(header(PLAIN_RECIPIENT, 'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="sig"') + '--sig\r\n', 'latin1'),
    entity,
    Buffer.from(`\r\n--sig\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n\r\n${signature}\r\n--sig--\r\n`, 'latin1'),
  ]);
}

/** Writes `bytes` to `dir/name` and returns the path (the load generator reads it once). */
export function messageFile(dir, name, bytes) {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

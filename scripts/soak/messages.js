// The soak's traffic: a fixed mix of message kinds and sizes, each message
// with a unique Message-ID and X-Soak-Id, made on demand (20,000 messages
// are never held in memory at once) from a seeded generator, so a run can
// be repeated. What the next hop must see for each kind is in EXPECTED.
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ENROLLED, INTERNAL_RECIPIENTS, PARTNERS, UNENROLLED, UNKNOWN_EXTERNAL } from './world.js';

const KB = 1024;
const CRLF = '\r\n';

/**
 * Kinds, their listener and share of the traffic, and what arrives at the
 * next hop: the top-level form (marker), the inbound verdict (smime) and
 * whether the body must arrive byte for byte as sent.
 */
export const KINDS = {
  'out-sign': { listener: 'submission', weight: 26, marker: 'signed', smime: null, sameBody: false, what: 'outbound, signed (recipient certificate unknown)' },
  // One recipient whose certificate is known and one whose is not: the gateway answers the second RCPT 452 4.5.3 and
  // the client sends it in a transaction of its own (DESIGN rule 3); each part is checked as the kind it became.
  'out-split': { listener: 'submission', weight: 4, marker: null, smime: null, sameBody: false, what: 'outbound to a partner and an unknown recipient at once (452 4.5.3 splits it)' },
  'out-encrypt': { listener: 'submission', weight: 15, marker: 'encrypted', smime: null, sameBody: false, what: 'outbound, signed + encrypted (partner certificate known)' },
  'out-plain': { listener: 'submission', weight: 15, marker: 'plain', smime: null, sameBody: true, what: 'outbound pass-through (sender not enrolled)' },
  'in-signed': { listener: 'inbound', weight: 25, marker: 'signed', smime: 'pass', sameBody: true, what: 'inbound, signed by a trusted partner' },
  'in-plain': { listener: 'inbound', weight: 15, marker: 'plain', smime: 'none', sameBody: true, what: 'inbound, unsigned' },
};

/** A transaction is one message to one set of recipients: a split message has two. */
export function transactionKey(id, recipients) {
  return `${id} ${recipients.map((r) => r.toLowerCase()).sort().join(',')}`;
}

/** The kind whose expectations a transaction must meet: a split message's parts are encrypted or signed by their recipients. */
export function expectedKind(kind, recipients) {
  if (kind !== 'out-split') return kind;
  return recipients.every((r) => PARTNERS.some((p) => p.address === r.toLowerCase())) ? 'out-encrypt' : 'out-sign';
}

/** Every LARGE_EVERY-th message is LARGE bytes; the others 2-50 KB, log-uniform (more small than large, as in real mail). */
const LARGE_EVERY = 200;
const LARGE = 1024 * KB;
const MIN = 2 * KB;
const MAX = 50 * KB;

/** mulberry32: a small seeded PRNG (reproducible mix, not cryptography). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const pick = (random, list) => list[Math.floor(random() * list.length)];

/** Lines of 7-bit German-ish text (no line starts with "."), reused by every message. */
function textCorpus() {
  const words = 'Sehr geehrte Damen und Herren anbei erhalten Sie den Bescheid zur Baugenehmigung fuer das Grundstueck Flurnummer mit freundlichen Gruessen Ihre Stadtverwaltung Sitzung des Stadtrats Tagesordnung Haushalt Antrag Frist Stellungnahme'.split(' ');
  const random = prng(42);
  const lines = [];
  for (let i = 0; i < 4000; i++) {
    let line = '';
    while (line.length < 60) line += `${pick(random, words)} `;
    lines.push(`${line.trimEnd()} ${i}`);
  }
  return lines;
}

/** Base64 lines (76 columns) of 1.5 MB of random bytes: attachment content. */
function base64Corpus() {
  return randomBytes(1536 * KB).toString('base64').match(/.{1,76}/g);
}

/** `count` lines of `lines`, starting at `start` (cyclic), joined with CRLF. */
function slice(lines, start, bytes) {
  const out = [];
  let size = 0;
  for (let i = start; size < bytes; i++) {
    const line = lines[i % lines.length];
    out.push(line);
    size += line.length + 2;
  }
  return out.join(CRLF) + CRLF;
}

/** A MIME entity of about `size` bytes: plain text, or text with a base64 attachment (every large one, a third of the others). */
function entity(corpus, n, size, withAttachment) {
  if (!withAttachment) {
    return `Content-Type: text/plain; charset=utf-8${CRLF}Content-Transfer-Encoding: 7bit${CRLF}${CRLF}${slice(corpus.text, n * 31, size)}`;
  }
  const boundary = `soak-mixed-${n}`;
  const text = slice(corpus.text, n * 31, Math.min(2 * KB, size / 4));
  const attachment = slice(corpus.base64, n * 17, size - text.length);
  return (
    `Content-Type: multipart/mixed; boundary="${boundary}"${CRLF}${CRLF}--${boundary}${CRLF}` +
    `Content-Type: text/plain; charset=utf-8${CRLF}Content-Transfer-Encoding: 7bit${CRLF}${CRLF}${text}--${boundary}${CRLF}` +
    `Content-Type: application/pdf; name="anlage-${n}.pdf"${CRLF}Content-Transfer-Encoding: base64${CRLF}` +
    `Content-Disposition: attachment; filename="anlage-${n}.pdf"${CRLF}${CRLF}${attachment}--${boundary}--${CRLF}`
  );
}

/** Template sizes of the pre-signed inbound messages (one set per partner). */
const TEMPLATE_SIZES = [2 * KB, 4 * KB, 8 * KB, 16 * KB, 32 * KB, 50 * KB, LARGE];

/**
 * Inbound signed mail is signed up front by `openssl cms` with each
 * partner's key (detached, the partner CA included, not the root): the
 * signature covers the entity only, so each message gets its own top-level
 * headers (Message-ID, X-Soak-Id) around the same signed body.
 */
export function signInboundTemplates(dir, partners, partnerCa) {
  const corpus = { text: textCorpus(), base64: base64Corpus() };
  const templates = [];
  for (const [p, partner] of partners.entries()) {
    for (const [s, size] of TEMPLATE_SIZES.entries()) {
      const n = p * 100 + s;
      const content = Buffer.from(entity(corpus, n, size, size >= 16 * KB), 'latin1');
      const input = path.join(dir, `template-${n}.txt`);
      const output = path.join(dir, `template-${n}.p7s`);
      writeFileSync(input, content);
      execFileSync('openssl', ['cms', '-sign', '-binary', '-md', 'sha256', '-in', input, '-signer', partner.cert, '-inkey', partner.key, '-certfile', partnerCa, '-outform', 'DER', '-out', output]);
      const signature = readFileSync(output).toString('base64').match(/.{1,76}/g).join(CRLF);
      const boundary = `soak-signed-${n}`;
      const body = Buffer.concat([
        Buffer.from(`This is an S/MIME signed message${CRLF}${CRLF}--${boundary}${CRLF}`, 'latin1'),
        content,
        Buffer.from(
          `${CRLF}--${boundary}${CRLF}Content-Type: application/pkcs7-signature; name="smime.p7s"${CRLF}Content-Transfer-Encoding: base64${CRLF}` +
            `Content-Disposition: attachment; filename="smime.p7s"${CRLF}${CRLF}${signature}${CRLF}--${boundary}--${CRLF}`,
          'latin1',
        ),
      ]);
      templates.push({
        from: partner.address,
        size,
        contentType: `multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="${boundary}"`,
        body,
        bodyHash: sha256(body),
      });
    }
  }
  return { templates, corpus };
}

/**
 * The message source: message(n) is the n-th message of the run (same
 * seed, same sequence). Returns its kind, listener, envelope, bytes and,
 * where the body must arrive unchanged, the SHA-256 of the body.
 */
export function messageSource({ seed, runId, templates, corpus }) {
  const kinds = Object.entries(KINDS);
  const total = kinds.reduce((sum, [, k]) => sum + k.weight, 0);
  return (n) => {
    // One generator per message: the n-th message does not depend on how far the others got.
    const random = prng(seed * 1_000_003 + n);
    let roll = random() * total;
    // The run opens with a tour: every kind once small and once large (all in flight together), so the warm-up
    // has made the gateway do each kind of work, up to its worker pool for large messages.
    const tour = n < 2 * kinds.length;
    const [kind, spec] = tour ? kinds[n % kinds.length] : (kinds.find(([, k]) => (roll -= k.weight) < 0) ?? kinds[0]);
    const large = tour ? n >= kinds.length : n % LARGE_EVERY === LARGE_EVERY - 1;
    const size = large ? LARGE : Math.round(MIN * Math.pow(MAX / MIN, random()));
    const id = `${runId}-${n}`;
    const two = random() < 0.15;
    let mailFrom;
    let rcptTo;
    switch (kind) {
      case 'out-sign':
        mailFrom = pick(random, ENROLLED).address;
        rcptTo = two ? UNKNOWN_EXTERNAL.slice(0, 2) : [pick(random, UNKNOWN_EXTERNAL)];
        break;
      case 'out-encrypt':
        mailFrom = pick(random, ENROLLED).address;
        rcptTo = two ? PARTNERS.map((p) => p.address) : [pick(random, PARTNERS).address];
        break;
      case 'out-split': {
        mailFrom = pick(random, ENROLLED).address;
        const both = [pick(random, PARTNERS).address, pick(random, UNKNOWN_EXTERNAL)];
        rcptTo = random() < 0.5 ? both : both.reverse();
        break;
      }
      case 'out-plain':
        mailFrom = pick(random, UNENROLLED);
        rcptTo = [pick(random, UNKNOWN_EXTERNAL)];
        break;
      case 'in-signed':
      case 'in-plain':
        rcptTo = two ? INTERNAL_RECIPIENTS.slice(0, 2) : [pick(random, INTERNAL_RECIPIENTS)];
        mailFrom = kind === 'in-plain' ? 'newsletter@news.example' : '';
        break;
    }
    let contentType;
    let body;
    let bodyHash;
    if (kind === 'in-signed') {
      const partner = pick(random, PARTNERS).address;
      // The largest template not above the wanted size (the smallest for tiny ones).
      const fitting = templates.filter((t) => t.from === partner && t.size <= size);
      const template = fitting.at(-1) ?? templates.find((t) => t.from === partner);
      mailFrom = partner;
      contentType = template.contentType;
      body = template.body;
      bodyHash = template.bodyHash;
    } else {
      const text = entity(corpus, n, size, large || random() < 0.33);
      const split = text.indexOf(CRLF + CRLF);
      contentType = text.slice('Content-Type: '.length, text.indexOf(CRLF));
      const partHeaders = text.slice(text.indexOf(CRLF) + 2, split + 2);
      body = Buffer.from(text.slice(split + 4), 'latin1');
      bodyHash = sha256(body);
      // The other entity headers (transfer encoding) move to the top level with the Content-Type.
      if (partHeaders !== '') contentType += CRLF + partHeaders.trimEnd();
    }
    const head =
      `From: <${mailFrom}>${CRLF}To: ${rcptTo.map((r) => `<${r}>`).join(', ')}${CRLF}Subject: Soak ${kind} ${n}${CRLF}` +
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}${CRLF}Message-ID: <${id}@soak.example>${CRLF}X-Soak-Id: ${id}${CRLF}` +
      `MIME-Version: 1.0${CRLF}Content-Type: ${contentType}${CRLF}${CRLF}`;
    const raw = Buffer.concat([Buffer.from(head, 'latin1'), body]);
    return { id, n, kind, listener: spec.listener, mailFrom, rcptTo, raw, bodyHash: spec.sameBody ? bodyHash : null };
  };
}

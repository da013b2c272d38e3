/**
 * onMissingCertificate: link through a real `siegel serve` (its submission
 * relay and its web listener): a rule requires encryption, the recipient
 * has no certificate, so the client gets 250, the next hop gets a signed
 * notice with the link instead of the message, the sender's password mail
 * goes out through the same submission next hop, and a browser-like client
 * opens the link on the gateway's web listener: the password form, the
 * password posted with the form's CSRF token, then the download of the
 * stored signed message with the original text.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openssl } from '../pipeline/encrypt-fixtures.js';
import { startTestGateway, type TestGateway } from '../serve/test-gateway.js';
import { sendMail, startFakeNextHop, type FakeNextHop } from '../smtp/helpers.js';
import { cookieHeader, cookiesFrom } from '../web/helpers.js';
import { headerBlock } from './outbound-fixtures.js';
import { lines, policyDir } from './policy-dir.js';

const SENDER = 'vertraulich@stadt.example';
const CITIZEN = 'buerger@example.org';
const RULE = 'confidential mail never in clear';
const ORIGINAL = 'Die Baugenehmigung 2026-117 ist erteilt, Auflagen siehe Anlage.';

let dir: string;
let policies: string;
let hop: FakeNextHop;
let gateway: TestGateway;

function message(): Buffer {
  return Buffer.from(
    `From: <${SENDER}>\r\nTo: <${CITIZEN}>\r\nSubject: Baugenehmigung\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <link-serve@stadt.example>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSehr geehrte Damen und Herren,\r\n\r\n${ORIGINAL}\r\n`,
    'latin1',
  );
}

/** Quoted-printable (RFC 2045) as the gateway writes it: soft breaks and =XX escapes. */
function decodeQuotedPrintable(encoded: string): string {
  const text = encoded.replace(/=\r?\n/g, '');
  return Buffer.from(text.replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
}

/** The text/plain part of the notice (inside the signature), decoded. */
function noticeText(notice: Buffer): string {
  const text = notice.toString('latin1');
  const at = text.indexOf('Content-Type: text/plain; charset=utf-8');
  expect(at).toBeGreaterThan(0);
  const body = text.indexOf('\r\n\r\n', at) + 4;
  const end = text.indexOf('\r\n--=_siegel-link-', body);
  return decodeQuotedPrintable(text.slice(body, end));
}

async function formOf(url: string, jar: Map<string, string>): Promise<{ status: number; body: string; csrf: string }> {
  const response = await fetch(url, { headers: { Cookie: cookieHeader(jar) }, redirect: 'manual' });
  for (const [name, value] of cookiesFrom(response)) jar.set(name, value);
  const body = await response.text();
  return { status: response.status, body, csrf: /name="csrf" value="([^"]+)"/.exec(body)?.[1] ?? '' };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-link-serve-'));
  policies = policyDir({
    '10-link.yaml': lines(
      'rules:',
      `  - name: ${RULE}`,
      `    match: { direction: outbound, from: [${SENDER}] }`,
      '    encrypt: required',
      '    onMissingCertificate: link',
    ),
  });
  hop = await startFakeNextHop();
  gateway = await startTestGateway({
    configTail: () =>
      `policies: ${policies}\ninternalDomains: [stadt.example]\nsmtp:\n  submission:\n    listen: 127.0.0.1:0\n    relay: ${hop.url}\nweb:\n  publicUrl: https://dateien.stadt.example\n`,
    mailboxes: [SENDER],
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await hop?.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(policies, { recursive: true, force: true });
});

describe('onMissingCertificate: link over SMTP and the web listener', () => {
  it('relays a signed notice, mails the password, and the link opens the stored signed message', async () => {
    const before = hop.received.length;
    const outcome = await sendMail(gateway.server.ports.submission, { from: SENDER, to: [CITIZEN], raw: message() });
    expect(outcome.ok).toBe(true);
    expect(outcome.response).toMatch(/^250 /);

    // Two deliveries through the submission next hop: the password to the sender, the notice to the recipient.
    const delivered = hop.received.slice(before);
    expect(delivered.map((m) => m.rcptTo)).toEqual(expect.arrayContaining([[SENDER], [CITIZEN]]));
    expect(delivered).toHaveLength(2);
    const notice = delivered.find((m) => m.rcptTo[0] === CITIZEN)?.raw ?? Buffer.alloc(0);
    const passwordMail = delivered.find((m) => m.rcptTo[0] === SENDER)?.raw ?? Buffer.alloc(0);

    // The notice: signed, prefixed subject, the link, not the original text.
    expect(headerBlock(notice)).toMatch(/^Content-Type: multipart\/signed;/im);
    expect(headerBlock(notice)).toMatch(/^Subject: \[Sichere Nachricht\] Baugenehmigung$/m);
    const text = noticeText(notice);
    const link = /https:\/\/dateien\.stadt\.example(\/d\/[A-Za-z0-9_-]+)/.exec(text);
    expect(link).not.toBeNull();
    expect(text).toContain(`${SENDER} sent you a confidential message`);
    expect(decodeQuotedPrintable(notice.toString('latin1'))).not.toContain('Baugenehmigung 2026-117');

    // The password mail: to the sender, with the password, without the link.
    expect(headerBlock(passwordMail)).toMatch(new RegExp(`^To: ${SENDER}$`, 'm'));
    const passwordText = decodeQuotedPrintable(passwordMail.toString('latin1').slice(passwordMail.indexOf('\r\n\r\n') + 4));
    expect(passwordText).toContain(`an ${CITIZEN} wurde als sicherer Link zugestellt`);
    const password = /^ {4}([A-Za-z0-9]{20})$/m.exec(passwordText)?.[1] ?? '';
    expect(password).toMatch(/^[A-HJ-NP-Za-km-z2-9]{20}$/);
    const linkPath = link?.[1] ?? '';
    expect(passwordText).not.toContain(linkPath);

    // The link on the gateway's own web listener.
    const base = `http://127.0.0.1:${gateway.server.ports.web}`;
    const jar = new Map<string, string>();
    const form = await formOf(base + linkPath, jar);
    expect(form.status).toBe(200);
    expect(form.body).toContain('<label for="password">Passwort</label>');
    expect(form.body).not.toContain('Nachricht.eml');
    expect(form.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Before the password: no download.
    const early = await fetch(`${base}${linkPath}/download`, { redirect: 'manual' });
    expect(early.status).toBe(303);

    const answer = await fetch(base + linkPath, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookieHeader(jar) },
      body: new URLSearchParams({ csrf: form.csrf, password }).toString(),
      redirect: 'manual',
    });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe(linkPath);
    for (const [name, value] of cookiesFrom(answer)) jar.set(name, value);

    const download = await fetch(`${base}${linkPath}/download`, { headers: { Cookie: cookieHeader(jar) }, redirect: 'manual' });
    expect(download.status).toBe(200);
    const stored = Buffer.from(await download.arrayBuffer());
    // The stored message is the original, signed by the sender: OpenSSL verifies the signature and finds the text.
    expect(headerBlock(stored)).toMatch(/^Content-Type: multipart\/signed;/im);
    expect(headerBlock(stored)).toMatch(/^Message-ID: <link-serve@stadt\.example>$/m);
    const signerFile = path.join(dir, 'signer.pem');
    const verified = openssl(dir, ['cms', '-verify', '-noverify', '-signer', signerFile], stored);
    expect(verified.stderr).toContain('Verification successful');
    expect(new X509Certificate(readFileSync(signerFile)).subjectAltName).toBe(`email:${SENDER}`);
    expect(decodeQuotedPrintable(verified.stdout.toString('latin1'))).toContain(ORIGINAL);
  }, 60_000);
});

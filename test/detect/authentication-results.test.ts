/**
 * Authentication-Results (RFC 8601) with the smime method (RFC 7281): the
 * formatted field is parsed back by Python's email package (a real header
 * parser, policy.default), checked against the RFC 8601 grammar, and the
 * removal of forged fields is checked byte by byte.
 */
import { spawnSync } from 'node:child_process';
import {
  authservIdOf,
  formatAuthenticationResults,
  prependHeaderField,
  removeForeignAuthenticationResults,
  type SmimeResultInfo,
} from '../../src/mime/authentication-results.js';

const PARSE = `
import sys, json, email, email.policy
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
values = msg.get_all('Authentication-Results') or []
print(json.dumps({'values': [str(v) for v in values], 'defects': [str(d) for v in values for d in v.defects] + [str(d) for d in msg.defects], 'body': msg.get_content()}))
`;

function pythonParse(message: Buffer): { values: string[]; defects: string[]; body: string } {
  const r = spawnSync('python3', ['-c', PARSE], { input: message });
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return JSON.parse(r.stdout.toString()) as { values: string[]; defects: string[]; body: string };
}

/** RFC 8601 section 2.2 grammar for what we write (no CFWS beyond single spaces and comments). */
const TOKEN = "[!#$%&'*+\\-.0-9A-Z^_`a-z{|}~]+";
const QUOTED = '"(?:[^"\\\\]|\\\\.)*"';
const VALUE = `(?:${TOKEN}|${QUOTED}|(?:${TOKEN})?@${TOKEN})`;
const RESINFO = `smime=(?:pass|fail|policy|neutral|none|temperror|permerror)(?: \\((?:[^()\\\\]|\\\\.)*\\))?(?: reason=${QUOTED})?(?: body\\.smime-(?:identifier|part|serial|issuer)=${VALUE})*`;
const AUTHRES = new RegExp(`^${TOKEN};(?: none| ${RESINFO}(?:; ${RESINFO})*)$`);

function roundTrip(field: Buffer): string {
  const parsed = pythonParse(Buffer.concat([field, Buffer.from('Subject: t\r\n\r\nbody\r\n')]));
  expect(parsed.defects).toEqual([]);
  expect(parsed.body.replace(/\r\n/g, '\n')).toBe('body\n');
  expect(parsed.values).toHaveLength(1);
  return parsed.values[0] as string;
}

function expectWellFormed(field: Buffer): void {
  expect(field.every((b) => b < 0x80)).toBe(true);
  const text = field.toString('latin1');
  expect(text.endsWith('\r\n')).toBe(true);
  const lines = text.slice(0, -2).split('\r\n');
  for (const line of lines) expect(line.length).toBeLessThanOrEqual(998);
  lines.slice(1).forEach((line) => expect(line).toMatch(/^[ \t]\S/));
}

describe('formatAuthenticationResults', () => {
  test('RFC 7281 pass with all four properties, parsed back by Python email', () => {
    const field = formatAuthenticationResults('mx.example.org', [
      {
        result: 'pass',
        properties: {
          'body.smime-identifier': 'alice@example.org',
          'body.smime-part': '1',
          'body.smime-serial': '3A0F12',
          'body.smime-issuer': 'CN=Test Behoerden-CA,O=Freistaat Test,C=DE',
        },
      },
    ]);
    expectWellFormed(field);
    const text = field.toString('latin1');
    expect(text.replace(/\r\n /g, ' ').startsWith('Authentication-Results: mx.example.org; smime=pass body.smime-identifier=alice@example.org ')).toBe(true);
    for (const line of text.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    const value = roundTrip(field);
    expect(value).toBe(
      'mx.example.org; smime=pass body.smime-identifier=alice@example.org body.smime-part=1 body.smime-serial=3A0F12 body.smime-issuer="CN=Test Behoerden-CA,O=Freistaat Test,C=DE"',
    );
    expect(value).toMatch(AUTHRES);
  });

  test('fail with a reason that needs escaping, a comment, and non-ASCII text made 7-bit', () => {
    const results: SmimeResultInfo[] = [
      { result: 'fail', reason: 'message digest "mismatch" \\ altered', comment: 'Signatur ungültig (verändert)', properties: { 'body.smime-identifier': 'bob@example.org' } },
      { result: 'temperror', reason: 'OCSP responder unreachable' },
    ];
    const field = formatAuthenticationResults('mx.example.org', results);
    expectWellFormed(field);
    const value = roundTrip(field);
    expect(value).toBe(
      'mx.example.org; smime=fail (Signatur ungultig \\(verandert\\)) reason="message digest \\"mismatch\\" \\\\ altered" body.smime-identifier=bob@example.org; smime=temperror reason="OCSP responder unreachable"',
    );
    expect(value).toMatch(AUTHRES);
  });

  test('every result keyword, the no-result form, and values that must be quoted', () => {
    for (const result of ['pass', 'fail', 'policy', 'neutral', 'none', 'temperror', 'permerror'] as const) {
      expect(roundTrip(formatAuthenticationResults('gw.example', [{ result }]))).toBe(`gw.example; smime=${result}`);
    }
    expect(roundTrip(formatAuthenticationResults('gw.example', []))).toBe('gw.example; none');
    const odd = roundTrip(formatAuthenticationResults('gw.example', [{ result: 'pass', properties: { 'body.smime-identifier': '"odd local"@example.org', 'body.smime-part': '2.1' } }]));
    expect(odd).toBe('gw.example; smime=pass body.smime-identifier="\\"odd local\\"@example.org" body.smime-part=2.1');
    expect(odd).toMatch(AUTHRES);
  });

  test('long content folds at white space and keeps lines under 998 octets', () => {
    const long = 'x'.repeat(5000);
    const field = formatAuthenticationResults('mx.example.org', [
      { result: 'permerror', reason: long, properties: { 'body.smime-issuer': `CN=${long}` } },
      { result: 'pass', properties: { 'body.smime-identifier': 'a@example.org' } },
    ]);
    expectWellFormed(field);
    expect(field.toString('latin1').split('\r\n').length).toBeGreaterThan(2);
    expect(roundTrip(field)).toMatch(AUTHRES);
  });

  test('an authserv-id that is not a token is a configuration error', () => {
    expect(() => formatAuthenticationResults('mx example', [])).toThrow(RangeError);
    expect(() => formatAuthenticationResults('mx.exämple.org', [])).toThrow(RangeError);
  });
});

describe('removeForeignAuthenticationResults', () => {
  const keep1 = 'Received: from mx.example.net by mx.example.org; Mon, 23 Nov 2026 10:00:00 +0000\r\n';
  const ours = [
    'Authentication-Results: mx.example.org; smime=pass\r\n',
    'authentication-results:MX.Example.ORG;\r\n\tsmime=pass body.smime-identifier=ceo@example.org\r\n',
    'Authentication-Results: (forged by someone)\r\n  mx.example.org 1; smime=pass\r\n',
    'Authentication-Results: "mx.example.org"; none\r\n',
    'Authentication-Results : mx.example.org (comment); smime=pass\r\n',
  ];
  const others = [
    'Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.net\r\n',
    'Authentication-Results: mx.example.org.evil.test; smime=pass\r\n',
    'X-Authentication-Results: mx.example.org; smime=pass\r\n',
    'ARC-Authentication-Results: i=1; mx.example.org; smime=pass\r\n',
  ];

  test('removes ours in every form, keeps all other bytes exactly', () => {
    const header = Buffer.from(keep1 + ours[0] + others[0] + ours[1] + others[1] + ours[2] + others[2] + ours[3] + others[3] + ours[4] + 'Subject: x\r\n', 'latin1');
    const { header: out, removed } = removeForeignAuthenticationResults(header, 'mx.example.org');
    expect(removed).toBe(ours.length);
    expect(out.toString('latin1')).toBe(keep1 + others.join('') + 'Subject: x\r\n');
  });

  test('LF-only header with the body attached: the body and the rest are untouched', () => {
    const message = Buffer.from('From: a@example.org\nAuthentication-Results: mx.example.org;\n smime=pass\nSubject: y\n\nAuthentication-Results: mx.example.org; body text\n', 'latin1');
    const { header, removed } = removeForeignAuthenticationResults(message, 'MX.EXAMPLE.ORG');
    expect(removed).toBe(1);
    expect(header.toString('latin1')).toBe('From: a@example.org\nSubject: y\n\nAuthentication-Results: mx.example.org; body text\n');
  });

  test('nothing to remove returns the same bytes', () => {
    const header = Buffer.from(keep1 + others.join(''), 'latin1');
    const r = removeForeignAuthenticationResults(header, 'mx.example.org');
    expect(r.removed).toBe(0);
    expect(r.header.equals(header)).toBe(true);
  });

  test('authservIdOf reads tokens, quoted strings and skips comments', () => {
    expect(authservIdOf(' (a (nested) comment)\r\n\tmx.example.org 1; none')).toBe('mx.example.org');
    expect(authservIdOf(' "quoted\\"id"; none')).toBe('quoted"id');
    expect(authservIdOf(' ; none')).toBeUndefined();
    expect(authservIdOf(' (unterminated')).toBeUndefined();
  });
});

describe('prependHeaderField', () => {
  test('CRLF message: field + original bytes; our removal then finds it again', () => {
    const message = Buffer.from('From: a@example.org\r\nSubject: z\r\n\r\nbody\r\n', 'latin1');
    const field = formatAuthenticationResults('mx.example.org', [{ result: 'none' }]);
    const out = prependHeaderField(message, field);
    expect(out.equals(Buffer.concat([field, message]))).toBe(true);
    expect(pythonParse(out).values).toEqual(['mx.example.org; smime=none']);
    expect(removeForeignAuthenticationResults(out, 'mx.example.org').header.equals(message)).toBe(true);
  });

  test('LF-only message gets an LF-only field', () => {
    const message = Buffer.from('From: a@example.org\nSubject: z\n\nbody\n', 'latin1');
    const field = formatAuthenticationResults('mx.example.org', [{ result: 'pass', properties: { 'body.smime-issuer': 'CN=' + 'y'.repeat(100) } }]);
    const out = prependHeaderField(message, field);
    expect(out.includes('\r')).toBe(false);
    expect(out.subarray(out.length - message.length).equals(message)).toBe(true);
    expect(pythonParse(out).values[0]).toMatch(AUTHRES);
  });
});

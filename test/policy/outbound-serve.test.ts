/**
 * Outbound policy through a real `siegel serve` (config `policies: DIR`):
 * recipients under different decisions never share a transaction (452
 * 4.5.3 at RCPT time), so one message to a partner with a certificate, a
 * partner without one, a citizen and a partner that reads no S/MIME leaves
 * as separate deliveries with different results: encrypted, refused with
 * 550 5.7.1, signed, signed but not encrypted.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { CAP, correspondent, decryptWith, harvestFrom, openssl, partnerPki, type Correspondent } from '../pipeline/encrypt-fixtures.js';
import { startTestGateway, type TestGateway } from '../serve/test-gateway.js';
import { sendMail, startFakeNextHop, type FakeNextHop, type SendOutcome } from '../smtp/helpers.js';
import {
  CITIZEN, CLEAR_WITH_CERT, CLERK, ENROLLED, headerBlock, mail, NEWSLETTER, outboundPolicyDir, PARTNER_WITH_CERT, PARTNER_WITHOUT_CERT, POSTSTELLE, RULES, STAFF,
} from './outbound-fixtures.js';

let dir: string;
let policies: string;
let hop: FakeNextHop;
let gateway: TestGateway;
let rat: Correspondent;

async function send(from: string, to: string[], raw = mail(from, to[0] ?? CITIZEN)): Promise<SendOutcome> {
  return sendMail(gateway.server.ports.submission, { from, to, raw });
}

function signerOf(signed: Buffer | undefined): string {
  const certFile = path.join(dir, `signer-${Math.random().toString(36).slice(2)}.pem`);
  const verified = openssl(dir, ['cms', '-verify', '-noverify', '-signer', certFile], signed ?? Buffer.alloc(0));
  expect(verified.stderr).toContain('Verification successful');
  return new X509Certificate(readFileSync(certFile)).subjectAltName ?? '';
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-serve-'));
  policies = outboundPolicyDir();
  hop = await startFakeNextHop();
  gateway = await startTestGateway({
    configTail: () => `policies: ${policies}\nsmtp:\n  submission:\n    listen: 127.0.0.1:0\n    relay: ${hop.url}\n`,
    mailboxes: ENROLLED,
  });
  const partner = await partnerPki();
  let clear: Correspondent;
  [rat, clear] = await Promise.all([correspondent(partner, dir, PARTNER_WITH_CERT, 'rsa2048'), correspondent(partner, dir, CLEAR_WITH_CERT, 'p256')]);
  // The store the running gateway reads (SQLite WAL: both open at once).
  const store = SqliteHarvestedStore.open(path.join(gateway.dir, 'data'));
  await harvestFrom(store, partner, rat, [CAP.gcm], new Date());
  await harvestFrom(store, partner, clear, [CAP.gcm], new Date());
  await store.close();
}, 60_000);

afterAll(async () => {
  await gateway.stop();
  await hop.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(policies, { recursive: true, force: true });
});

describe('outbound policy over SMTP', () => {
  it('mixed recipients go in separate transactions, each with its own decision', async () => {
    const before = hop.received.length;
    const others = [PARTNER_WITHOUT_CERT, CITIZEN, CLEAR_WITH_CERT];

    // 1. The partner with a certificate (rule "partner authorities", required): encrypted; the rest get 452 4.5.3.
    const first = await send(STAFF, [PARTNER_WITH_CERT, ...others]);
    expect(first.ok).toBe(true);
    expect(first.accepted).toEqual([PARTNER_WITH_CERT]);
    expect(first.rejected).toEqual(others);
    expect(first.rejectedReplies).toEqual(others.map(() => expect.stringMatching(/^452 4\.5\.3 /)));
    expect(hop.received).toHaveLength(before + 1);
    const encrypted = hop.received[before];
    expect(encrypted?.rcptTo).toEqual([PARTNER_WITH_CERT]);
    expect(headerBlock(encrypted?.raw)).toMatch(/^Content-Type: application\/pkcs7-mime; smime-type=authEnveloped-data/im);
    expect(signerOf(decryptWith(dir, rat, encrypted?.raw ?? Buffer.alloc(0)))).toBe(`email:${STAFF}`);

    // 2. The partner without a certificate (same rule, required): 550 5.7.1 at DATA, nothing delivered.
    const second = await send(STAFF, others);
    expect(second.ok).toBe(false);
    expect(second.response).toBe(`550 5.7.1 Policy requires encryption, no certificate for ${PARTNER_WITHOUT_CERT} (rule ${RULES.partner})`);
    expect(hop.received).toHaveLength(before + 1);

    // 3. The citizen (default policy): signed, plain; the partner reading no S/MIME waits for its own transaction.
    const third = await send(STAFF, [CITIZEN, CLEAR_WITH_CERT]);
    expect(third.ok).toBe(true);
    expect(third.accepted).toEqual([CITIZEN]);
    expect(third.rejectedReplies).toEqual([expect.stringMatching(/^452 4\.5\.3 /)]);
    expect(hop.received).toHaveLength(before + 2);
    expect(hop.received[before + 1]?.rcptTo).toEqual([CITIZEN]);
    expect(headerBlock(hop.received[before + 1]?.raw)).toMatch(/^Content-Type: multipart\/signed;/im);
    expect(signerOf(hop.received[before + 1]?.raw)).toBe(`email:${STAFF}`);

    // 4. encrypt: never: signed, not encrypted, although its certificate is known.
    const fourth = await send(STAFF, [CLEAR_WITH_CERT]);
    expect(fourth.ok).toBe(true);
    expect(hop.received).toHaveLength(before + 3);
    expect(hop.received[before + 2]?.rcptTo).toEqual([CLEAR_WITH_CERT]);
    expect(headerBlock(hop.received[before + 2]?.raw)).toMatch(/^Content-Type: multipart\/signed;/im);
    expect(signerOf(hop.received[before + 2]?.raw)).toBe(`email:${STAFF}`);
  });

  it('sign: never leaves the newsletter unchanged; signAs signs the clerk\'s mail as the Poststelle', async () => {
    const before = hop.received.length;
    const newsletter = mail(NEWSLETTER, CITIZEN);
    expect((await send(NEWSLETTER, [CITIZEN], newsletter)).ok).toBe(true);
    // Not signed: the client's text/plain as it was (the relay may add trace fields above it).
    const delivered = hop.received[before]?.raw ?? Buffer.alloc(0);
    expect(headerBlock(delivered)).toMatch(/^Content-Type: text\/plain; charset=utf-8$/im);
    expect(delivered.toString('utf8')).toContain(newsletter.toString('utf8').split('\r\n\r\n')[1]);

    expect((await send(CLERK, [CITIZEN])).ok).toBe(true);
    expect(signerOf(hop.received[before + 1]?.raw)).toBe(`email:${POSTSTELLE}`);
  });
});

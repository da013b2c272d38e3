/**
 * Reply encryption through a real `siegel serve`: recipients with and
 * without a harvested certificate cannot share one DATA (DESIGN rule 3), so
 * the ones that do not fit the first get 452 4.5.3 at RCPT time and the
 * client sends them in a second transaction. Each delivery is answered 250
 * only once the next hop took it; what arrives encrypted opens with OpenSSL
 * and holds the gateway's signature.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { getHeader, splitHeaderBody } from '../../src/mime/headers.js';
import { algorithms, CAP, correspondent, decryptWith, harvestFrom, openssl, partnerPki, printCms, type Correspondent, type PartnerPki } from '../pipeline/encrypt-fixtures.js';
import { sendMail, startFakeNextHop, type FakeNextHop, type SendOutcome } from '../smtp/helpers.js';
import { startTestGateway, type TestGateway } from './test-gateway.js';

const mailbox = 'amt@stadt.example';
let hop: FakeNextHop;
let gateway: TestGateway;
let store: SqliteHarvestedStore;
let dir: string;
let partner: PartnerPki;
let rat: Correspondent;
let ec: Correspondent;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-serve-encrypt-'));
  hop = await startFakeNextHop();
  gateway = await startTestGateway({
    configTail: () => `smtp:\n  submission:\n    listen: 127.0.0.1:0\n    relay: ${hop.url}\n`,
    mailboxes: [mailbox],
  });
  // The store the running gateway reads; filled the way inbound verification fills it (SQLite WAL: both open at once).
  store = SqliteHarvestedStore.open(path.join(gateway.dir, 'data'));
  partner = await partnerPki();
  [rat, ec] = await Promise.all([correspondent(partner, dir, 'rat@partner.example', 'rsa2048'), correspondent(partner, dir, 'ec@partner.example', 'p256')]);
  await harvestFrom(store, partner, rat, [CAP.gcm, CAP.cbc], new Date());
  await harvestFrom(store, partner, ec, [CAP.gcm], new Date());
});

afterAll(async () => {
  await store.close();
  await gateway.stop();
  await hop.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** nodemailer as a mail client: it sends the accepted recipients and reports the refused ones with their replies. */
async function send(to: string[]): Promise<SendOutcome> {
  return sendMail(gateway.server.ports.submission, { from: mailbox, to });
}

function contentType(raw: Buffer | undefined): string {
  return (getHeader(splitHeaderBody(raw ?? Buffer.alloc(0)).header, 'content-type') ?? '').replace(/\s+/g, ' ');
}

/** The gateway's signature over the decrypted message checks out (its throw-away root is not exposed: -noverify skips only the chain). */
function expectSignedSample(signed: Buffer): void {
  const result = openssl(dir, ['cms', '-verify', '-noverify'], signed);
  expect(result.stderr).toContain('Verification successful');
  expect(result.status).toBe(0);
  const entity = result.stdout.toString('latin1');
  expect(entity).toContain('Content-Type: text/plain; charset=utf-8');
  expect(entity).toContain('Sehr geehrte Damen und Herren,');
  expect(entity).toContain('Gr=C3=BC=C3=9Fe');
}

describe('recipients with and without certificates over SMTP', () => {
  it('the ones with certificates go first, encrypted to all of them; the other gets 452 4.5.3 and a plain signed delivery', async () => {
    const before = hop.received.length;
    const first = await send([rat.address, 'buerger@elsewhere.example', ec.address]);
    expect(first.ok).toBe(true);
    expect(first.accepted).toEqual([rat.address, ec.address]);
    expect(first.rejected).toEqual(['buerger@elsewhere.example']);
    expect(first.rejectedReplies).toEqual([expect.stringMatching(/^452 4\.5\.3 Recipient needs a separate transaction/)]);
    expect(first.response).toMatch(/^250 2\.0\.0 Ok: queued as /);
    // Answered only after the next hop took it: it is there when the 250 arrives.
    expect(hop.received).toHaveLength(before + 1);
    const encrypted = hop.received[before];
    expect(encrypted?.rcptTo).toEqual([rat.address, ec.address]);
    expect(contentType(encrypted?.raw)).toBe('application/pkcs7-mime; smime-type=authEnveloped-data; name="smime.p7m"');
    const raw = encrypted?.raw ?? Buffer.alloc(0);
    expect(algorithms(printCms(dir, raw))).toEqual({ content: 'aes-256-gcm', keyManagement: ['rsaEncryption', 'dhSinglePass-stdDH-sha256kdf-scheme'] });
    for (const who of [rat, ec]) {
      const decrypted = decryptWith(dir, who, raw);
      expect(contentType(decrypted)).toMatch(/^multipart\/signed;/);
      expectSignedSample(decrypted);
    }

    const second = await send(first.rejected);
    expect(second.ok).toBe(true);
    expect(second.rejected).toEqual([]);
    expect(hop.received).toHaveLength(before + 2);
    const plain = hop.received[before + 1];
    expect(plain?.rcptTo).toEqual(['buerger@elsewhere.example']);
    expect(contentType(plain?.raw)).toMatch(/^multipart\/signed;/);
    expectSignedSample(plain?.raw ?? Buffer.alloc(0));
  });

  it('a first recipient without a certificate keeps the transaction plain; the one with a certificate comes next, encrypted', async () => {
    const before = hop.received.length;
    const first = await send(['buerger@elsewhere.example', rat.address]);
    expect(first.accepted).toEqual(['buerger@elsewhere.example']);
    expect(first.rejectedReplies).toEqual([expect.stringMatching(/^452 4\.5\.3 /)]);
    expect(contentType(hop.received[before]?.raw)).toMatch(/^multipart\/signed;/);

    const second = await send(first.rejected);
    expect(second.ok).toBe(true);
    expect(hop.received[before + 1]?.rcptTo).toEqual([rat.address]);
    expectSignedSample(decryptWith(dir, rat, hop.received[before + 1]?.raw ?? Buffer.alloc(0)));
  });

  it('a next hop that defers the encrypted delivery: the client gets its 451 and nothing counts as delivered', async () => {
    const before = hop.received.length;
    hop.mode = 'tempfail';
    try {
      const deferred = await send([rat.address]);
      expect(deferred.ok).toBe(false);
      expect(deferred.response).toMatch(/^451 4\.7\.1 /);
      expect(hop.received).toHaveLength(before);
    } finally {
      hop.mode = 'accept';
    }
    const retried = await send([rat.address]);
    expect(retried.response).toMatch(/^250 /);
    expect(hop.received).toHaveLength(before + 1);
  });

  it('a certificate that cannot be encrypted to: 451 4.7.0, the client keeps the message, nothing reaches the next hop', async () => {
    const signOnly = await correspondent(partner, dir, 'kaputt@partner.example', 'rsa2048', { usage: 'sign' });
    // Harvesting never keeps a sign-only certificate; a damaged or hand-edited store might.
    const record = (await store.forAddress(rat.address))[0];
    if (!record) throw new Error('no record for rat');
    await store.put({ ...record, address: signOnly.address, certificate: signOnly.issued.certificate, fingerprint: 'a'.repeat(64) });
    const started = hop.dataStarted;
    const refused = await send([signOnly.address]);
    expect(refused.ok).toBe(false);
    expect(refused.response).toMatch(/^451 4\.7\.0 Message could not be encrypted/);
    expect(hop.dataStarted).toBe(started);
  });
});

/**
 * Harvesting through `siegel inbound` (real sqlite store, fixed clock):
 * a sender's certificate is learned only from a message whose own
 * signature passed, never from policy or fail, never from a forwarded
 * attachment, never when switched off; a spoofed certificate for a known
 * address from another CA never replaces the genuine one, as
 * `siegel certs list --harvested` shows; a sign-only signer's separate
 * encryption certificate is the one kept.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { certsListHarvested, type HarvestedListing } from '../../src/commands/certs-harvested.js';
import { silentLogger } from '../../src/log.js';
import { issueMailbox } from '../../src/pki/generate.js';
import { writeSigner } from '../verify/fixtures.js';
import {
  addressing,
  AT,
  bodyEntity,
  createGateway,
  inboundFixtures,
  opensslEncrypted,
  opensslSigned,
  PARTNER,
  removeInboundFixtures,
  verdictOf,
  type Gateway,
  type InboundFixtures,
  type Party,
} from './fixtures.js';

let f: InboundFixtures;
const gateways: Gateway[] = [];

beforeAll(async () => {
  f = await inboundFixtures();
}, 60_000);

afterAll(async () => {
  for (const g of gateways) g.remove();
  await removeInboundFixtures();
});

async function gateway(configTail = ''): Promise<Gateway> {
  const g = await createGateway(f, configTail);
  gateways.push(g);
  return g;
}

function sha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

async function deliver(g: Gateway, message: Buffer, expected: string): Promise<void> {
  const { status, out } = await g.inbound(message);
  expect(status).toBe(0);
  expect(verdictOf(out).result).toBe(expected);
}

function signed(party: Party, from = party.email): Buffer {
  return opensslSigned(f, party, bodyEntity(), { to: addressing(from) });
}

async function listHarvested(g: Gateway): Promise<HarvestedListing[]> {
  let text = '';
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('utf8');
      callback();
    },
  });
  const status = await certsListHarvested({ config: g.config, stdin: new PassThrough(), stdout, stderr: new PassThrough(), env: {}, logger: silentLogger(), now: () => AT }, { json: true });
  expect(status).toBe(0);
  return JSON.parse(text) as HarvestedListing[];
}

test('a pass harvests the signer certificate, anchored at the configured root', async () => {
  const g = await gateway();
  await deliver(g, signed(f.signers.rsa2048), 'pass');
  const records = await g.harvested();
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ address: PARTNER, source: 'signer', state: 'active', fingerprint: sha256(f.signers.rsa2048.issued.certificate), anchorFingerprint: sha256(f.trusted.root.certificate) });
  expect(records[0]?.capabilities.length).toBeGreaterThan(0);
});

test('policy and fail never harvest', async () => {
  const g = await gateway();
  await deliver(g, signed(f.signers.expired), 'policy');
  await deliver(g, signed(f.signers.rsa2048, 'chef@partner.example'), 'policy');
  await deliver(g, signed(f.signers.stranger), 'policy');
  await deliver(g, signed(f.signers.rsa1024), 'policy');
  await deliver(g, opensslSigned(f, f.signers.rsa2048, bodyEntity(), { to: addressing(PARTNER), md: 'sha1' }), 'policy');
  const good = signed(f.signers.p256).toString('latin1');
  const tampered = good.replace(/(Sehr geehrte)/, 'Liebe');
  expect(tampered).not.toBe(good);
  await deliver(g, Buffer.from(tampered, 'latin1'), 'fail');
  expect(await g.harvested()).toEqual([]);
});

test('a spoofed certificate for a known address from another CA never replaces the genuine one', async () => {
  const g = await gateway();
  await deliver(g, signed(f.signers.spoof), 'policy');
  await deliver(g, signed(f.signers.rsa2048), 'pass');
  await deliver(g, signed(f.signers.spoof), 'policy');
  const listed = await listHarvested(g);
  expect(listed.map((r) => [r.address, r.fingerprint, r.state])).toEqual([[PARTNER, sha256(f.signers.rsa2048.issued.certificate), 'active']]);
  expect(listed.some((r) => r.fingerprint === sha256(f.signers.spoof.issued.certificate))).toBe(false);
});

test('a forwarded signed message (message/rfc822 attachment) is not harvested even when it passes', async () => {
  const g = await gateway();
  const inner = signed(f.signers.p256);
  const forward = Buffer.concat([
    Buffer.from(`From: ${PARTNER}\r\nTo: poststelle@stadt.example\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nweitergeleitet\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\n`, 'latin1'),
    inner,
    Buffer.from('\r\n--b1--\r\n', 'latin1'),
  ]);
  const { out } = await g.inbound(forward);
  expect(out.toString('latin1')).toMatch(/smime=pass[^;]*body\.smime-part=2/);
  expect(await g.harvested()).toEqual([]);
});

test('signed then encrypted: harvested after decryption and pass', async () => {
  const g = await gateway();
  const inner = opensslSigned(f, f.signers.p256, bodyEntity());
  await deliver(g, opensslEncrypted(f, f.mailboxes.rsa, inner, addressing(f.signers.p256.email), { oaep: true, gcm: true }), 'pass');
  expect((await g.harvested()).map((r) => [r.address, r.fingerprint])).toEqual([[f.signers.p256.email, sha256(f.signers.p256.issued.certificate)]]);
});

test('inbound.harvest: false harvests nothing', async () => {
  const g = await gateway('inbound:\n  harvest: false');
  await deliver(g, signed(f.signers.rsa2048), 'pass');
  expect(await g.harvested()).toEqual([]);
});

test('a sign-only signer: its encryption certificate from the message is kept, never the sign-only one', async () => {
  const email = 'zwei@partner.example';
  const validity = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2029-01-01T00:00:00Z') };
  const [signOnly, encryptOnly] = await Promise.all([
    issueMailbox(f.trusted.ca, { subject: [['CN', `${email} sign`]], email, keySpec: 'rsa2048', usage: 'sign', ...validity }),
    issueMailbox(f.trusted.ca, { subject: [['CN', `${email} encrypt`]], email, keySpec: 'rsa2048', usage: 'encrypt', ...validity }),
  ]);
  // The encryption certificate rides along in the SignedData, as Behörden-PKI clients send it.
  const files = writeSigner(f.dir, 'zwei', signOnly, [encryptOnly.certificate, f.trusted.ca.certificate]);
  const g = await gateway();
  await deliver(g, opensslSigned(f, { email, issued: signOnly, files }, bodyEntity(), { to: addressing(email) }), 'pass');
  const records = await g.harvested();
  expect(records.map((r) => [r.address, r.fingerprint, r.source])).toEqual([[email, sha256(encryptOnly.certificate), 'same-address']]);
});

/**
 * CRLs made by `openssl ca -gencrl` and served by a node HTTP server on
 * 127.0.0.1: good and revoked certificates, a CRL of 100,000 entries
 * (an index.txt with that many revoked lines, generated here), a wrong
 * signature, another CA's CRL, a CRL too large (announced and streamed),
 * a stale CRL at a shifted clock, the cache until nextUpdate, PEM, and a
 * server that never answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DefaultRevocationChecker } from '../../src/pki/revocation/checker.js';
import { CrlCache } from '../../src/pki/revocation/crl-cache.js';
import { parseCrl } from '../../src/pki/revocation/crl-parse.js';
import { toPem } from '../../src/pki/pem.js';
import { OpensslCa, TestHttpServer, type IssuedFiles } from './openssl-pki.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const HISTORY = 100_000;
const SETTINGS = { timeout: 5_000, ocspMaxAge: 7 * DAY, maxCrlSize: 10 * 1024 * 1024 };

let dir: string;
let ca: OpensslCa;
let other: OpensslCa;
let big: OpensslCa;
let http: TestHttpServer;
let NOW: Date;
let crl: Buffer;
let bigCrl: Buffer;
const certs: Record<string, IssuedFiles> = {};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-crl-'));
  http = new TestHttpServer();
  await http.start();
  ca = OpensslCa.root(path.join(dir, 'ca'), 'CRL Test CA');
  other = OpensslCa.root(path.join(dir, 'other'), 'Other CA');
  big = OpensslCa.root(path.join(dir, 'big'), 'Big CA');
  const at = (name: string): { email: string; crl: string } => ({ email: `${name}@partner.example`, crl: http.url(`/${name}.crl`) });
  certs.good = ca.issue('Alice Good', at('ca'));
  certs.revoked = ca.issue('Bob Revoked', at('ca'));
  certs.badSignature = ca.issue('Carol Bad Signature', at('tampered'));
  certs.otherCa = ca.issue('Dave Other CA', at('other'));
  certs.pem = ca.issue('Erin PEM', at('pem'));
  certs.stream = ca.issue('Frank Streamed', at('endless'));
  certs.silent = ca.issue('Grace Silent', at('silent'));
  certs.cached = ca.issue('Heidi Cached', at('counted'));
  certs.bigRevoked = big.issue('Ivan Revoked', at('big'));
  certs.bigGood = big.issue('Judy Good', at('big'));
  ca.revoke(certs.revoked as IssuedFiles, 'superseded');
  big.revoke(certs.bigRevoked as IssuedFiles, 'affiliationChanged');
  big.addRevokedHistory(HISTORY);
  crl = ca.crl(24);
  bigCrl = big.crl(24);
  const tampered = Buffer.from(crl);
  tampered[tampered.length - 10] = (tampered[tampered.length - 10] ?? 0) ^ 0x01; // inside the signature value
  const otherCrl = other.crl(24);
  http.serve('/ca.crl', () => crl);
  http.serve('/tampered.crl', () => tampered);
  http.serve('/other.crl', () => otherCrl);
  http.serve('/pem.crl', () => Buffer.from(toPem('X509 CRL', crl)), 'application/x-pem-file');
  http.serve('/big.crl', () => bigCrl);
  http.serve('/counted.crl', () => crl);
  // No Content-Length: chunks until the client gives up.
  http.routes.set('/endless.crl', (_request, _body, response) => {
    response.writeHead(200, { 'content-type': 'application/pkix-crl' });
    const timer = setInterval(() => (response.destroyed ? clearInterval(timer) : response.write(Buffer.alloc(16_384))), 5);
    response.on('close', () => clearInterval(timer));
  });
  http.routes.set('/silent.crl', () => undefined);
  NOW = new Date();
}, 60_000);

afterAll(async () => {
  await http.stop();
  rmSync(dir, { recursive: true, force: true });
});

const check = (name: string, issuer: Buffer = ca.der, at: Date = NOW, checker = new DefaultRevocationChecker(SETTINGS)) => checker.check((certs[name] as IssuedFiles).der, issuer, at);

test('good: not on the CRL of its issuer', async () => {
  const status = await check('good');
  expect(status).toMatchObject({ status: 'good', source: 'crl' });
  expect(status.status === 'good' && status.detail).toContain('(1 entries');
});

test('revoked: the date and reason of the CRL entry', async () => {
  const status = await check('revoked');
  expect(status).toMatchObject({ status: 'revoked', source: 'crl', reasonCode: 4 });
  if (status.status !== 'revoked') throw new Error('not revoked');
  expect(Math.abs(status.revokedAt.getTime() - NOW.getTime())).toBeLessThan(10 * 60_000);
  expect(status.detail).toContain('(superseded)');
});

test(`a CRL of ${HISTORY + 1} entries made by openssl ca -gencrl: read by streaming over the entries`, async () => {
  const parsed = parseCrl(bigCrl);
  expect(bigCrl.length).toBeGreaterThan(3_000_000);
  expect(parsed.entryCount).toBe(HISTORY + 1);
  expect(parsed.lookup((0x10000000 + 54_321).toString(16))).toEqual({ revokedAt: new Date('2025-01-01T00:00:00Z'), reasonCode: 1 });
  expect(parsed.lookup('7fffffff')).toBeUndefined();
  const revoked = await check('bigRevoked', big.der);
  expect(revoked).toMatchObject({ status: 'revoked', source: 'crl', reasonCode: 3 });
  const good = await check('bigGood', big.der);
  expect(good).toMatchObject({ status: 'good', source: 'crl' });
  expect(good.status === 'good' && good.detail).toContain(`(${HISTORY + 1} entries`);
});

test('a CRL whose signature was altered is not used', async () => {
  const status = await check('badSignature');
  expect(status).toMatchObject({ status: 'unavailable', source: 'crl' });
  expect(status.status === 'unavailable' && status.why).toContain('the CRL signature does not verify with the issuer key');
});

test("another CA's CRL does not speak for this issuer", async () => {
  const status = await check('otherCa');
  expect(status.status === 'unavailable' && status.why).toContain('issued under another name');
});

test('too large: refused from its Content-Length, or while streaming without one', async () => {
  const small = new DefaultRevocationChecker({ ...SETTINGS, maxCrlSize: 100_000 });
  const announced = await check('bigGood', big.der, NOW, small);
  expect(announced.status === 'unavailable' && announced.why).toMatch(/the CRL is too large: .*announces \d+ bytes, more than the limit of 100000/);
  const streamed = await check('stream', ca.der, NOW, small);
  expect(streamed.status === 'unavailable' && streamed.why).toMatch(/the CRL is too large: .*exceeds the limit of 100000 bytes/);
});

test('a server that never answers costs the timeout, not more', async () => {
  const quick = new DefaultRevocationChecker({ ...SETTINGS, timeout: 300 });
  const status = await check('silent', ca.der, NOW, quick);
  expect(status.status === 'unavailable' && status.why).toContain('within the timeout');
});

test('a CRL published as PEM is read too', async () => {
  expect(await check('pem')).toMatchObject({ status: 'good', source: 'crl' });
});

test('stale after nextUpdate (24 hours), at a shifted clock', async () => {
  const status = await check('good', ca.der, new Date(NOW.getTime() + 2 * DAY));
  expect(status.status === 'unavailable' && status.why).toContain('the CRL is stale (nextUpdate');
});

test('cached per URL until nextUpdate: one download for many checks, a new one after', async () => {
  const cache = new CrlCache({ timeout: 5_000, maxCrlSize: SETTINGS.maxCrlSize, maxAge: SETTINGS.ocspMaxAge });
  const checker = new DefaultRevocationChecker(SETTINGS, cache);
  const downloads = (): number => http.requests.filter((url) => url === '/counted.crl').length;
  await Promise.all([check('cached', ca.der, NOW, checker), check('cached', ca.der, new Date(NOW.getTime() + HOUR), checker)]);
  expect(await check('cached', ca.der, new Date(NOW.getTime() + 20 * HOUR), checker)).toMatchObject({ status: 'good', source: 'crl' });
  expect(downloads()).toBe(1);
  const later = await check('cached', ca.der, new Date(NOW.getTime() + 2 * DAY), checker);
  expect(downloads()).toBe(2);
  expect(later.status === 'unavailable' && later.why).toContain('stale');
});

test('hostile bytes: a truncated or foreign CRL is refused with a reason, never a crash', () => {
  expect(() => parseCrl(bigCrl.subarray(0, 100_000))).toThrow(/runs past its container|truncated/);
  expect(() => parseCrl(ca.der)).toThrow();
  expect(() => parseCrl(Buffer.from('not a crl'))).toThrow();
});

/**
 * OCSP against real `openssl ocsp` responders on 127.0.0.1 for a CA run by
 * `openssl ca`: a delegated responder (OCSPSigning certificate) with
 * nextUpdate, a CA-signed responder without nextUpdate, and a responder
 * whose certificate may not sign OCSP responses. Clocks are fixed relative
 * to the set-up (openssl dates its answers with the real time) and shifted
 * to make answers stale.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DefaultRevocationChecker } from '../../src/pki/revocation/checker.js';
import { fetchBytes } from '../../src/pki/http-fetch.js';
import { buildOcspRequest } from '../../src/pki/revocation/ocsp-request.js';
import { checkOcspResponse } from '../../src/pki/revocation/ocsp-verify.js';
import { freePort, OpensslCa, startOcspResponder, TestHttpServer, type IssuedFiles, type Running } from './openssl-pki.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SETTINGS = { timeout: 5_000, ocspMaxAge: 7 * DAY, maxCrlSize: 10 * 1024 * 1024 };

let dir: string;
let ca: OpensslCa;
let http: TestHttpServer;
let NOW: Date;
const responders: Running[] = [];
const certs: Record<string, IssuedFiles> = {};
let counted = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-ocsp-'));
  http = new TestHttpServer();
  await http.start();
  const ports = { delegated: await freePort(), caSigned: await freePort(), wrongSigner: await freePort(), down: await freePort() };
  const url = (port: number): string => `http://127.0.0.1:${port}/`;
  ca = OpensslCa.root(path.join(dir, 'ca'), 'OCSP Test CA');
  const responderCert = ca.issue('OCSP Responder', { ocspSigning: true });
  certs.good = ca.issue('Alice Good', { email: 'alice@partner.example', ocsp: url(ports.delegated) });
  certs.revoked = ca.issue('Bob Revoked', { email: 'bob@partner.example', ocsp: url(ports.delegated) });
  certs.cached = ca.issue('Grace Cached', { email: 'grace@partner.example', ocsp: http.url('/counted') });
  certs.unknown = ca.issueUnrecorded('Mallory Unrecorded', { email: 'mallory@partner.example', ocsp: url(ports.delegated) });
  certs.caSigned = ca.issue('Carol CA-signed', { email: 'carol@partner.example', ocsp: url(ports.caSigned) });
  certs.wrongSigner = ca.issue('Dave Wrong Signer', { email: 'dave@partner.example', ocsp: url(ports.wrongSigner) });
  certs.down = ca.issue('Erin Down', { email: 'erin@partner.example', ocsp: url(ports.down) });
  certs.downWithCrl = ca.issue('Frank Down CRL', { email: 'frank@partner.example', ocsp: url(ports.down), crl: http.url('/ca.crl') });
  certs.replayed = ca.issue('Heidi Replayed', { email: 'heidi@partner.example', ocsp: http.url('/replay') });
  certs.none = ca.issue('Ivan Nothing', { email: 'ivan@partner.example' });
  ca.revoke(certs.revoked as IssuedFiles, 'keyCompromise');
  const crl = ca.crl(24);
  http.serve('/ca.crl', () => crl);
  responders.push(await startOcspResponder(ca, responderCert, { port: ports.delegated, ndays: 1 }));
  responders.push(await startOcspResponder(ca, { certPath: ca.caPath, keyPath: ca.keyPath }, { port: ports.caSigned }));
  // Alice's own (emailProtection) certificate: issued by the CA, but not for OCSP signing.
  responders.push(await startOcspResponder(ca, certs.good as IssuedFiles, { port: ports.wrongSigner, ndays: 1 }));
  // Grace's responder: the delegated one, through a pass-through that counts the requests.
  http.routes.set('/counted', (_request, body, response) => {
    counted++;
    void fetchBytes(url(ports.delegated), { timeout: 5_000, maxSize: 65_536, body, contentType: 'application/ocsp-request' }).then((answer) => response.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(answer));
  });
  NOW = new Date();
}, 60_000);

afterAll(async () => {
  for (const responder of responders) await responder.stop();
  await http.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cert = (name: string): Buffer => (certs[name] as IssuedFiles).der;
const check = (name: string, at: Date = NOW, checker = new DefaultRevocationChecker(SETTINGS)) => checker.check(cert(name), ca.der, at);

describe('answers of a delegated responder (OCSPSigning certificate issued by the CA)', () => {
  test('good: a signed, fresh answer with our nonce', async () => {
    const status = await check('good');
    expect(status).toMatchObject({ status: 'good', source: 'ocsp' });
    expect(status.status === 'good' && status.detail).toContain('signed by the responder "O=Revocation Test, CN=OCSP Responder"');
    expect(status.status === 'good' && status.detail).not.toContain('without nonce');
  });

  test('revoked: the revocation time and reason the CA recorded', async () => {
    const status = await check('revoked');
    expect(status).toMatchObject({ status: 'revoked', source: 'ocsp', reasonCode: 1 });
    if (status.status !== 'revoked') throw new Error('not revoked');
    expect(Math.abs(status.revokedAt.getTime() - NOW.getTime())).toBeLessThan(10 * 60_000);
    expect(status.detail).toContain('keyCompromise');
  });

  test('unknown: a certificate the CA key signed but its database does not hold', async () => {
    expect(await check('unknown')).toMatchObject({ status: 'unknown', source: 'ocsp' });
  });

  test('stale: the same answer at a clock past its nextUpdate (one day) is not relied on', async () => {
    const status = await check('good', new Date(NOW.getTime() + 2 * DAY));
    expect(status).toMatchObject({ status: 'unavailable', source: 'ocsp' });
    expect(status.status === 'unavailable' && status.why).toContain('stale (nextUpdate');
  });

  test('the delegated responder certificate must be valid at the check time', async () => {
    // openssl ca dated it from the set-up on: an hour earlier it was not valid yet.
    const status = await check('good', new Date(NOW.getTime() - HOUR));
    expect(status.status === 'unavailable' && status.why).toMatch(/the responder "O=Revocation Test, CN=OCSP Responder" certificate is not valid at/);
  });

  test('cached until nextUpdate: a check after nextUpdate asks again and finds the answer stale', async () => {
    const checker = new DefaultRevocationChecker(SETTINGS);
    expect(await check('cached', NOW, checker)).toMatchObject({ status: 'good' });
    expect(counted).toBe(1);
    // Within the validity of the answer: from the cache, the responder is not asked.
    expect(await check('cached', new Date(NOW.getTime() + 20 * HOUR), checker)).toMatchObject({ status: 'good' });
    expect(counted).toBe(1);
    // After nextUpdate the cache no longer answers; the responder's new answer is stale at that clock.
    const later = await check('cached', new Date(NOW.getTime() + 2 * DAY), checker);
    expect(counted).toBe(2);
    expect(later.status === 'unavailable' && later.why).toContain('stale');
  });
});

describe('a CA-signed responder without nextUpdate', () => {
  test('good, signed by the issuer itself', async () => {
    const status = await check('caSigned');
    expect(status).toMatchObject({ status: 'good', source: 'ocsp' });
    expect(status.status === 'good' && status.detail).toContain('signed by the issuer');
  });

  test('dated in the future: a clock an hour behind the responder (beyond the 5 minutes of skew)', async () => {
    const status = await check('caSigned', new Date(NOW.getTime() - HOUR));
    expect(status.status === 'unavailable' && status.why).toContain('dated in the future');
  });

  test('stale once older than ocspMaxAge (7 days), fine just before', async () => {
    expect(await check('caSigned', new Date(NOW.getTime() + 6 * DAY))).toMatchObject({ status: 'good' });
    const status = await check('caSigned', new Date(NOW.getTime() + 8 * DAY));
    expect(status.status === 'unavailable' && status.why).toContain('no nextUpdate');
  });
});

describe('answers that are not relied on', () => {
  test('a responder certificate without id-kp-OCSPSigning cannot vouch for the CA', async () => {
    const status = await check('wrongSigner');
    expect(status).toMatchObject({ status: 'unavailable', source: 'ocsp' });
    expect(status.status === 'unavailable' && status.why).toContain('not authorised to sign OCSP responses');
  });

  test('unreachable responder and no CRL: unavailable, saying why', async () => {
    const status = await check('down');
    expect(status).toMatchObject({ status: 'unavailable', source: 'ocsp' });
    expect(status.status === 'unavailable' && status.why).toMatch(/cannot be reached.*ECONNREFUSED/);
  });

  test('unreachable responder with a CRL: the CRL answers', async () => {
    const status = await check('downWithCrl');
    expect(status).toMatchObject({ status: 'good', source: 'crl' });
  });

  test('a certificate naming neither OCSP nor CRL: nothing to check', async () => {
    expect(await check('none')).toEqual({ status: 'good', source: 'none', detail: 'no revocation information' });
  });

  test('nonce mismatch: a replayed answer of the real responder is refused', async () => {
    // A real, validly signed answer for Heidi, fetched once from the openssl responder with its own nonce...
    const request = buildOcspRequest(cert('replayed'), ca.der);
    const delegatedUrl = (responders[0] as Running).url;
    const captured = await fetchBytes(delegatedUrl, { timeout: 5_000, maxSize: 65_536, body: request.der, contentType: 'application/ocsp-request' });
    expect(checkOcspResponse(captured, request, ca.der, { at: NOW, ocspMaxAge: 7 * DAY })).toMatchObject({ ok: true, status: 'good', nonce: 'matched' });
    // ...served again by a stand-in: no responder replays old answers on purpose, an attacker
    // in the path does, so a tiny fake plays that part while the answer itself stays genuine.
    http.routes.set('/replay', (_request, _body, response) => response.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(captured));
    const status = await check('replayed');
    expect(status).toMatchObject({ status: 'unavailable', source: 'ocsp' });
    expect(status.status === 'unavailable' && status.why).toContain('another nonce');
  });

  test('a response for another certificate does not answer for ours', async () => {
    const forAlice = buildOcspRequest(cert('good'), ca.der);
    const delegatedUrl = (responders[0] as Running).url;
    const body = await fetchBytes(delegatedUrl, { timeout: 5_000, maxSize: 65_536, body: forAlice.der, contentType: 'application/ocsp-request' });
    const forBob = { ...buildOcspRequest(cert('revoked'), ca.der), nonceValue: forAlice.nonceValue };
    expect(checkOcspResponse(body, forBob, ca.der, { at: NOW, ocspMaxAge: 7 * DAY })).toEqual({ ok: false, why: 'the response does not answer for the requested certificate' });
  });
});

test('hostile bytes: garbage, truncated and error answers give a reason, never a throw', async () => {
  const request = buildOcspRequest(cert('good'), ca.der);
  const options = { at: NOW, ocspMaxAge: 7 * DAY };
  const body = await fetchBytes((responders[0] as Running).url, { timeout: 5_000, maxSize: 65_536, body: request.der, contentType: 'application/ocsp-request' });
  expect(checkOcspResponse(Buffer.from('<html>busy</html>'), request, ca.der, options)).toMatchObject({ ok: false, why: expect.stringContaining('unreadable OCSP response') });
  expect(checkOcspResponse(body.subarray(0, body.length - 20), request, ca.der, options)).toMatchObject({ ok: false });
  // OCSPResponse { responseStatus } without responseBytes: what a busy or unwilling responder sends.
  expect(checkOcspResponse(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x03]), request, ca.der, options)).toEqual({ ok: false, why: 'the responder answered tryLater' });
  expect(checkOcspResponse(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x06]), request, ca.der, options)).toEqual({ ok: false, why: 'the responder answered unauthorized' });
});

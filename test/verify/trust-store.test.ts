/** Trust anchors from a directory: PEM (one or many), DER; non-anchors and unreadable files reported. */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { toPem } from '../../src/pki/pem.js';
import { loadTrustStore } from '../../src/pki/trust-store.js';
import { validatePath } from '../../src/pki/path-validation.js';
import { AT, createPki, mailbox, tempDir, type Pki } from './fixtures.js';

let a: Pki;
let b: Pki;
let dir: string;
let leafDer: Buffer;

beforeAll(async () => {
  [a, b] = await Promise.all([createPki('Root A'), createPki('Root B')]);
  leafDer = (await mailbox(a.ca, { email: 'x@example.org' })).certificate;
  dir = path.join(tempDir(), 'trust');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'bundle.pem'), `comment line\n${toPem('CERTIFICATE', a.root.certificate)}${toPem('CERTIFICATE', b.root.certificate)}`);
  writeFileSync(path.join(dir, 'root-b.der'), b.root.certificate); // duplicate of a bundle entry
  writeFileSync(path.join(dir, 'issuing-a.crt'), toPem('CERTIFICATE', a.ca.certificate));
  writeFileSync(path.join(dir, 'leaf.cer'), leafDer);
  writeFileSync(path.join(dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  writeFileSync(path.join(dir, 'empty.crt'), 'nothing here');
  mkdirSync(path.join(dir, 'folder.pem'));
  writeFileSync(path.join(dir, 'README.txt'), 'ignored: not a certificate extension');
});

test('self-signed CA certificates become anchors, each once; the rest is reported', () => {
  const store = loadTrustStore(dir);
  expect(store.anchors.map((x) => x.x509.subject).sort()).toEqual([a.root.certificate, b.root.certificate].map((d) => new X509Certificate(d).subject).sort());
  const reasons = Object.fromEntries(store.skipped.map((s) => [s.file, s.reason]));
  expect(reasons['issuing-a.crt']).toMatch(/not self-signed/);
  expect(reasons['leaf.cer']).toMatch(/not a CA/);
  expect(reasons['broken.pem']).toMatch(/not a certificate/);
  expect(reasons['empty.crt']).toMatch(/not a certificate/);
  expect(reasons['folder.pem']).toMatch(/unreadable/);
  expect(Object.keys(reasons)).not.toContain('README.txt');
  expect(store.anchors[0]?.source).toContain(dir);
});

test('an explicitly listed intermediate becomes an anchor, and paths may end at it', () => {
  const store = loadTrustStore(dir, { explicitFiles: ['issuing-a.crt'] });
  expect(store.anchors).toHaveLength(3);
  const onlyIntermediate = store.anchors.filter((x) => x.der.equals(a.ca.certificate));
  const result = validatePath(leafDer, [], onlyIntermediate, { at: AT, minRsaBits: 2048 });
  expect(result.ok).toBe(true);
});

test('a missing directory throws (configuration error, not input)', () => {
  expect(() => loadTrustStore(path.join(dir, 'missing'))).toThrow();
});


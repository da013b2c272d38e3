/** validatePath on generated and openssl-made hierarchies at fixed dates. */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { issueCa } from '../../src/pki/generate.js';
import { readPemBlocks, toPem } from '../../src/pki/pem.js';
import { MAX_CANDIDATES, validatePath } from '../../src/pki/path-validation.js';
import { trustStoreFromDer } from '../../src/pki/trust-store.js';
import { AT, createPki, mailbox, tempDir, type Pki } from './fixtures.js';

let pki: Pki;
let dir: string;
const options = { at: AT, minRsaBits: 2048 };

beforeAll(async () => {
  pki = await createPki();
  dir = tempDir();
});

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: 'pipe' });
}

function derOf(file: string): Buffer {
  const block = readPemBlocks(readFileSync(file, 'latin1'))[0];
  if (!block) throw new Error(`no PEM in ${file}`);
  return block.der;
}

/** `openssl x509 -req`: a leaf for a new key, signed by the given CA files with digest `md`. */
function opensslLeaf(name: string, caCert: string, caKey: string, md: string, extensions: string): Buffer {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(['genrsa', '-out', key, '2048']);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr]);
  openssl(['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', '77', '-days', '3650', `-${md}`, '-extfile', ext, '-out', cert]);
  return derOf(cert);
}

function writeCa(name: string, issued: { certificate: Buffer; privateKey: import('node:crypto').KeyObject }): { cert: string; key: string } {
  const files = { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
  writeFileSync(files.cert, toPem('CERTIFICATE', issued.certificate));
  writeFileSync(files.key, issued.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return files;
}

const LEAF_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\nsubjectAltName=email:leaf@example.org\n';

test('leaf -> intermediate (from the message) -> anchor', async () => {
  const leaf = await mailbox(pki.ca, { email: 'a@example.org' });
  const result = validatePath(leaf.certificate, [pki.ca.certificate, pki.root.certificate], pki.anchors, options);
  expect(result.ok).toBe(true);
  if (result.ok) expect(result.path.map((c) => c.length)).toEqual([leaf.certificate.length, pki.ca.certificate.length, pki.root.certificate.length]);
});

test('pathLen 0 on the issuing CA forbids a sub-CA below it', async () => {
  const sub = await issueCa(pki.ca, { subject: [['CN', 'Sub CA']], keySpec: 'p256', notBefore: new Date('2025-06-01T00:00:00Z'), notAfter: new Date('2032-01-01T00:00:00Z') });
  const leaf = await mailbox(sub, { email: 'deep@example.org' });
  const result = validatePath(leaf.certificate, [sub.certificate, pki.ca.certificate], pki.anchors, options);
  expect(result).toMatchObject({ ok: false, reason: 'path-length-exceeded' });
});

test('an expired intermediate is named', async () => {
  const old = await issueCa(pki.root, { subject: [['CN', 'Old CA']], keySpec: 'p256', notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2026-06-01T00:00:00Z') });
  const leaf = await mailbox(old, { email: 'b@example.org', notBefore: new Date('2025-02-01T00:00:00Z') });
  const result = validatePath(leaf.certificate, [old.certificate], pki.anchors, options);
  expect(result).toMatchObject({ ok: false, reason: 'expired', certificate: 'CN=Old CA' });
});

test('SHA-1 signature on the leaf is weak-digest; on a self-signed anchor it is accepted', () => {
  const ca = writeCa('issuing', pki.ca);
  const sha1Leaf = opensslLeaf('sha1leaf', ca.cert, ca.key, 'sha1', LEAF_EXT);
  expect(validatePath(sha1Leaf, [pki.ca.certificate], pki.anchors, { at: new Date() })).toMatchObject({ ok: false, reason: 'weak-digest' });
  const md5Leaf = opensslLeaf('md5leaf', ca.cert, ca.key, 'md5', LEAF_EXT);
  expect(validatePath(md5Leaf, [pki.ca.certificate], pki.anchors, { at: new Date() })).toMatchObject({ ok: false, reason: 'weak-digest' });

  const rootKey = path.join(dir, 'sha1root.key');
  const rootCert = path.join(dir, 'sha1root.pem');
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', rootKey, '-out', rootCert, '-subj', '/CN=Old SHA-1 Root', '-days', '3650', '-sha1', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const anchors = trustStoreFromDer([derOf(rootCert)]).anchors;
  expect(anchors).toHaveLength(1);
  const leaf = opensslLeaf('under-sha1-root', rootCert, rootKey, 'sha256', LEAF_EXT);
  expect(validatePath(leaf, [], anchors, { at: new Date() }).ok).toBe(true);
});

test('RSA keys below minRsaBits anywhere in the path are weak-key', async () => {
  const leaf = await mailbox(pki.ca, { email: 'c@example.org' });
  expect(validatePath(leaf.certificate, [pki.ca.certificate], pki.anchors, { at: AT, minRsaBits: 3072 })).toMatchObject({ ok: false, reason: 'weak-key' });
});

test('an end-entity certificate cannot act as issuer', async () => {
  const notCa = await mailbox(pki.ca, { email: 'notca@example.org' });
  const files = writeCa('notca', notCa);
  const leaf = opensslLeaf('under-notca', files.cert, files.key, 'sha256', LEAF_EXT);
  const result = validatePath(leaf, [notCa.certificate, pki.ca.certificate], pki.anchors, { at: new Date() });
  expect(result.ok).toBe(false);
  // OpenSSL's issuer match already refuses an issuer whose keyUsage lacks keyCertSign.
  expect(result).toMatchObject({ ok: false, reason: 'no-path' });
  // Without keyUsage the match succeeds, and basicConstraints cA=FALSE is what refuses it.
  const ca = writeCa('issuing2', pki.ca);
  const bare = opensslLeaf('bare-issuer', ca.cert, ca.key, 'sha256', 'basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\n');
  const bareKey = path.join(dir, 'bare-issuer.key');
  const under = opensslLeaf('under-bare', path.join(dir, 'bare-issuer.pem'), bareKey, 'sha256', LEAF_EXT);
  expect(validatePath(under, [bare, pki.ca.certificate], pki.anchors, { at: new Date() })).toMatchObject({ ok: false, reason: 'not-a-ca', certificate: 'CN=bare-issuer' });
});

test(`only the first ${MAX_CANDIDATES} candidates count, and 5,000 candidates stay fast`, async () => {
  const leaf = await mailbox(pki.ca, { email: 'd@example.org' });
  const junk = Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? leaf.certificate : Buffer.from([0x30, 0x03, 0x02, 0x01, i % 100])));
  const start = performance.now();
  const late = validatePath(leaf.certificate, [...junk, pki.ca.certificate], pki.anchors, options);
  expect(performance.now() - start).toBeLessThan(1000);
  expect(late).toMatchObject({ ok: false, reason: 'no-path' });
  expect(validatePath(leaf.certificate, [pki.ca.certificate, ...junk], pki.anchors, options).ok).toBe(true);
});

test('garbage leaf is malformed, never a throw', () => {
  expect(validatePath(Buffer.from('junk'), [], pki.anchors, options)).toMatchObject({ ok: false, reason: 'malformed' });
});

/**
 * The pool never keeps a command alive: `siegel outbound` (the shipped
 * bin/siegel.js on the build in dist/) signs a 2.6 MB message, hashing it
 * on a worker thread of the pool, writes it and exits by itself. A preload
 * reports each worker thread started, so the test knows the pool was used.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRootCa, issueCa, issueMailbox } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';
import { runSiegel } from '../cli/run-siegel.js';
import { pseudoRandom } from './bulk-data.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const node = path.join(root, 'node_modules', '.bin', 'node');
const MAILBOX = 'poststelle@stadt.example';
const DAY = 86_400_000;
/** Written to stderr by the child for every worker thread it starts (process 'worker' event). */
const WORKER_MARK = 'worker-thread-started';
const PRELOAD = `data:text/javascript,process.on('worker',()=>process.stderr.write('${WORKER_MARK}\\n'))`;

let dir: string;

/** Newest .ts under src/ against its build in dist/: rebuild only when stale (`npm test` builds first). */
function distIsStale(): boolean {
  const src = path.join(root, 'src');
  const walk = (folder: string): string[] =>
    readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(folder, entry.name);
      return entry.isDirectory() ? walk(full) : entry.name.endsWith('.ts') ? [full] : [];
    });
  return walk(src).some((file) => {
    try {
      return statSync(path.join(root, 'dist', path.relative(src, file).replace(/\.ts$/, '.js'))).mtimeMs < statSync(file).mtimeMs;
    } catch {
      return true;
    }
  });
}

beforeAll(async () => {
  if (distIsStale()) {
    const build = spawnSync(node, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root });
    if (build.status !== 0) throw new Error(`build failed:\n${build.stdout.toString()}${build.stderr.toString()}`);
  }
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-bulk-cli-'));
  const notBefore = new Date(Date.now() - DAY);
  const notAfter = new Date(Date.now() + 365 * DAY);
  const rootCa = await createRootCa({ subject: [['CN', 'Bulk CLI Root']], keySpec: 'p256', notBefore, notAfter });
  const ca = await issueCa(rootCa, { subject: [['CN', 'Bulk CLI CA']], keySpec: 'p256', notBefore, notAfter });
  const leaf = await issueMailbox(ca, { subject: [['CN', 'Poststelle']], email: MAILBOX, keySpec: 'p256', notBefore, notAfter });
  mkdirSync(path.join(dir, 'anchors'));
  writeFileSync(path.join(dir, 'anchors', 'root.pem'), toPem('CERTIFICATE', rootCa.certificate));
  writeFileSync(path.join(dir, 'master.key'), 'Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo=', { mode: 0o600 });
  writeFileSync(path.join(dir, 'mailbox.crt'), toPem('CERTIFICATE', leaf.certificate));
  writeFileSync(path.join(dir, 'mailbox.key'), leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(path.join(dir, 'chain.pem'), toPem('CERTIFICATE', ca.certificate));
  writeFileSync(path.join(dir, 'siegel.yaml'), 'dataDir: data\ntrustAnchors: anchors\nmasterKeyFile: master.key\n');
  const enrolled = await runSiegel(['enroll', 'import', '--config', path.join(dir, 'siegel.yaml'), '--mailbox', MAILBOX, '--cert', path.join(dir, 'mailbox.crt'), '--key', path.join(dir, 'mailbox.key'), '--chain', path.join(dir, 'chain.pem')]);
  expect(enrolled.code).toBe(0);
}, 180_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

it('siegel outbound on a 2.6 MB message signs it on a worker thread and exits by itself', () => {
  const attachment = pseudoRandom(1_900_000, 41).toString('base64').replace(/.{76}/g, '$&\r\n');
  const input = Buffer.from(
    `From: <${MAILBOX}>\r\nTo: <buerger@example.org>\r\nSubject: Bescheid\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: application/pdf; name="bescheid.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${attachment}\r\n`,
  );
  const child = spawnSync(node, ['--import', PRELOAD, path.join(root, 'bin', 'siegel.js'), 'outbound', '--config', path.join(dir, 'siegel.yaml')], {
    input,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    // Far above what signing takes; a process kept alive by an idle worker would run into it (status null, SIGTERM).
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const stderr = child.stderr.toString();
  expect(child.signal).toBeNull();
  expect(child.status).toBe(0);
  expect(stderr.split('\n').filter((line) => line === WORKER_MARK)).toHaveLength(1);
  const output = child.stdout;
  expect(output.toString('latin1')).toMatch(/^Content-Type: multipart\/signed; protocol="application\/pkcs7-signature";\r\n micalg=sha-256;/m);
  expect(output.includes(Buffer.from(attachment.slice(0, 10_000)))).toBe(true);
  const verified = spawnSync('openssl', ['cms', '-verify', '-CAfile', path.join(dir, 'anchors', 'root.pem'), '-purpose', 'smimesign'], { input: output, maxBuffer: 64 * 1024 * 1024 });
  expect(verified.stderr.toString()).toContain('Verification successful');
});

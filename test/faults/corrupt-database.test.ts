/**
 * Fault: siegel.db (identities, harvested certificates, large-file shares,
 * staff records: the one database in dataDir) is damaged when the gateway
 * starts: overwritten with garbage, truncated behind a valid header, or
 * with one table's page destroyed (the header and size still right, so
 * only reading the pages finds it). `siegel serve` as a process must stop
 * at once with one clear line naming the file and saying to restore it
 * from a backup, and leave the file byte for byte as it was (no repair, no
 * new empty database over it). The admin commands say the same. After
 * the backup is put back, the gateway starts and has its identity.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { startTestGateway } from '../serve/test-gateway.js';
import { MAILBOX, gatewayConfig } from './fault-gateway.js';
import { ensureBuilt, runSiegel, spawnSiegel } from './siegel-process.js';

let dir: string;
let dbFile: string;
let original: Buffer;

beforeAll(async () => {
  ensureBuilt();
  const gateway = await startTestGateway({
    configTail: () => ['smtp:', '  submission: { listen: 127.0.0.1:0 }', '  inbound: { listen: 127.0.0.1:0 }', 'web:', '  listen: 127.0.0.1:0', ''].join('\n'),
    mailboxes: [MAILBOX],
  });
  // Stopped, not removed: its data dir is what the tests damage.
  await gateway.server.stop();
  dir = gateway.dir;
  dbFile = path.join(gatewayConfig(gateway).dataDir, 'siegel.db');
  // A cleanly stopped gateway leaves everything in the main file (the WAL is checkpointed and removed).
  expect(existsSync(`${dbFile}-wal`)).toBe(false);
  original = readFileSync(dbFile);
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The original file with the root page of `table` overwritten by random bytes. */
function withDestroyedPage(table: string): Buffer {
  const copy = path.join(dir, 'inspect.db');
  writeFileSync(copy, original);
  const inspect = new DatabaseSync(copy, { readOnly: true });
  const row = inspect.prepare('SELECT rootpage FROM sqlite_master WHERE name = ?').get(table);
  inspect.close();
  rmSync(copy);
  const rootPage = Number(row?.rootpage);
  const pageSize = original.readUInt16BE(16) === 1 ? 65_536 : original.readUInt16BE(16);
  expect(rootPage).toBeGreaterThan(1);
  const damaged = Buffer.from(original);
  randomBytes(pageSize).copy(damaged, (rootPage - 1) * pageSize);
  return damaged;
}

/** The lines of stderr that are not JSON log lines. */
function plainLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('{'));
}

const variants: [string, () => Buffer][] = [
  ['garbage over the whole file', () => randomBytes(original.length)],
  ['truncated to half behind a valid header', () => original.subarray(0, Math.floor(original.length / 2))],
  ['the identities table page destroyed (header and size intact)', () => withDestroyedPage('identities')],
];

describe('a damaged siegel.db at start-up', () => {
  it.each(variants)('%s: serve exits at once with one line naming the file and the remedy, the file unchanged', async (_name, damage) => {
    const damaged = damage();
    writeFileSync(dbFile, damaged);
    const before = sha256(damaged);

    const [serve, certs, health] = await Promise.all([
      runSiegel(['serve', '--config', 'siegel.yaml'], dir),
      runSiegel(['certs', 'list', '--config', 'siegel.yaml'], dir),
      runSiegel(['health', '--config', 'siegel.yaml'], dir),
    ]);
    expect(serve.timedOut).toBe(false);
    expect(serve.status).not.toBe(0);
    expect(serve.status).not.toBeNull();
    const lines = plainLines(serve.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(dbFile);
    expect(lines[0]).toMatch(/^siegel: database .* is damaged \(.+\): stop Siegel and restore the file from a backup; Siegel has left it unchanged$/);
    // Never started: nothing was listening.
    expect(serve.stderr).not.toContain('"msg":"listening"');

    // The admin commands that read the database say the same; health reports the gateway not answering.
    if (certs.status !== 0) expect(plainLines(certs.stderr).join('\n')).toMatch(/is damaged .*restore the file from a backup/);
    else throw new Error(`certs list succeeded on a damaged database:\n${certs.stdout}`);
    expect(health.status).not.toBe(0);

    // Byte for byte what it was: nothing repaired, replaced or deleted.
    expect(existsSync(dbFile)).toBe(true);
    expect(sha256(readFileSync(dbFile))).toBe(before);
  }, 30_000);

  it('after the backup is restored, serve starts again with its identity', async () => {
    writeFileSync(dbFile, original);
    for (const suffix of ['-wal', '-shm']) rmSync(`${dbFile}${suffix}`, { force: true });
    const certs = await runSiegel(['certs', 'list', '--config', 'siegel.yaml'], dir);
    expect(certs.status).toBe(0);
    expect(certs.stdout).toContain(MAILBOX);

    const child = spawnSiegel(['serve', '--config', 'siegel.yaml'], dir);
    let stderr = '';
    const listening = new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if ((stderr.match(/"msg":"listening"/g) ?? []).length === 3) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await Promise.race([listening, exited]);
    child.kill('SIGTERM');
    expect([await exited, stderr]).toEqual([0, stderr]);
    expect((stderr.match(/"msg":"listening"/g) ?? []).length).toBe(3);
  }, 30_000);
});

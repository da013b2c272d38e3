/**
 * `siegel files share|list|audit|revoke` through main() (src/cli.ts), as an
 * administrator types them, on a config file in a temporary directory. The
 * downloads go through the same TransferService the web edge uses.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { openTransferService } from '../../src/transfer/open.js';
import type { TransferService } from '../../src/transfer/types.js';
import { tempDir } from '../pki/test-pki.js';
import { readAll } from './blob-test-helpers.js';

const NOW = new Date('2026-11-23T09:00:00.000Z');
const OWNER = 'bauamt@stadt.example';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function collect(stream: PassThrough): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => stream.once('end', () => resolve(Buffer.concat(chunks).toString('utf8'))));
}

async function siegel(argv: readonly string[]): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const code = await main(argv, { stdin: new PassThrough(), stdout, stderr, env: {}, now: () => NOW });
  stdout.end();
  stderr.end();
  return { code, stdout: await out, stderr: await err };
}

function setUp(extra = ''): { dir: string; config: string; service: () => TransferService } {
  const dir = tempDir('siegel-files-cli-');
  const config = path.join(dir, 'siegel.yaml');
  writeFileSync(
    config,
    `dataDir: ${path.join(dir, 'data')}\ntrustAnchors: ${path.join(dir, 'anchors')}\nweb:\n  publicUrl: https://dateien.stadt.example\nlargeFiles:\n  minFreeSpace: 1MB\n${extra}`,
  );
  return {
    dir,
    config,
    service: () => openTransferService(loadConfig({ file: config, env: {} }), { logger: silentLogger(), now: () => NOW }),
  };
}

describe('siegel files', () => {
  it('shares a file with password and limit, lists, audits and revokes it', async () => {
    const { dir, config, service } = setUp();
    const file = path.join(dir, 'Bauantrag Müller.pdf');
    const data = randomBytes(150_000);
    writeFileSync(file, data);
    writeFileSync(path.join(dir, 'pw'), 'Geheim 42\n');

    const shared = await siegel(['files', 'share', '--config', config, '--owner', 'BauAmt@stadt.example', file, '--expires', '2d', '--password-file', path.join(dir, 'pw'), '--max-downloads', '1', '--json']);
    expect(shared.stderr).toBe('');
    expect(shared.code).toBe(0);
    const created = JSON.parse(shared.stdout) as { id: string; token: string; url: string; fileName: string; size: number; sha256: string; expiresAt: string };
    expect(created).toMatchObject({ fileName: 'Bauantrag Müller.pdf', size: data.length, sha256: createHash('sha256').update(data).digest('hex'), expiresAt: '2026-11-25T09:00:00.000Z' });
    expect(created.url).toBe(`https://dateien.stadt.example/d/${created.token}`);

    const transfer = service();
    try {
      expect(await transfer.download(created.token, {})).toEqual({ status: 'password-required' });
      const result = await transfer.download(created.token, { password: 'Geheim 42', clientIp: '198.51.100.4' });
      if (result.status !== 'ok') throw new Error(result.status);
      expect((await readAll(result.stream)).equals(data)).toBe(true);
      expect(await transfer.download(created.token, { password: 'Geheim 42' })).toEqual({ status: 'gone' });
    } finally {
      await transfer.close();
    }

    const active = await siegel(['files', 'list', '--config', config]);
    expect(active).toMatchObject({ code: 0, stdout: 'No active shares (--all shows expired, revoked and exhausted ones).\n' });
    const all = await siegel(['files', 'list', '--config', config, '--all', '--json']);
    expect(JSON.parse(all.stdout)).toEqual([
      expect.objectContaining({ id: created.id, owner: OWNER, state: 'exhausted', downloads: 1, maxDownloads: 1, passwordRequired: true, origin: 'cli' }),
    ]);
    const table = await siegel(['files', 'list', '--config', config, '--all', '--audit']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^ID +STATE +OWNER .*\\n${created.id} +exhausted +${OWNER} +146 KB +1/1 +2026-11-23 09:00 +2026-11-25 09:00 +yes +cli +Bauantrag Müller.pdf\\n`));
    expect(table.stdout).toContain('\nAudit log:\nTIME (UTC)');
    expect(table.stdout).toMatch(/2026-11-23 09:00:00 +download +\w+ +- +150000 +198\.51\.100\.4 +Bauantrag Müller\.pdf/);

    const audit = await siegel(['files', 'audit', '--config', config, '--share', created.id, '--since', '1h', '--json']);
    expect(JSON.parse(audit.stdout)).toEqual([
      { at: NOW.toISOString(), event: 'share', shareId: created.id, actor: OWNER, fileName: 'Bauantrag Müller.pdf', size: data.length, detail: 'origin=cli' },
      { at: NOW.toISOString(), event: 'download', shareId: created.id, fileName: 'Bauantrag Müller.pdf', size: data.length, clientIp: '198.51.100.4' },
    ]);
    expect((await siegel(['files', 'audit', '--config', config, '--since', '2026-11-24'])).stdout).toBe('No audit entries.\n');

    expect(await siegel(['files', 'revoke', '--config', config, created.id])).toEqual({ code: 0, stdout: `Share ${created.id} revoked; its file is deleted.\n`, stderr: '' });
    const again = await siegel(['files', 'revoke', '--config', config, created.id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no active share ${created.id}`);
  });

  it('prints the link with name, size, SHA-256 and expiry for people', async () => {
    const { dir, config } = setUp();
    const file = path.join(dir, 'notiz.txt');
    writeFileSync(file, 'Hallo\n');
    const run = await siegel(['files', 'share', '--config', config, '--owner', OWNER, file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^Link: +https:\/\/dateien\.stadt\.example\/d\/[A-Za-z0-9_-]{43}\nFile: +notiz\.txt\nSize: +6 bytes \(6 B\)\nSHA-256: +[0-9a-f]{64}\nExpires: +2026-12-07T09:00:00\.000Z \(in 14d\)\nShare ID: +[0-9a-f]{32}\n/,
    );
  });

  it('answers usage mistakes with exit code 2 and failures with 1, each with a clear message', async () => {
    const { dir, config } = setUp('  ownerQuota: 10KB\n');
    const file = path.join(dir, 'a.bin');
    writeFileSync(file, randomBytes(20_000));
    const share = (...args: string[]) => siegel(['files', 'share', '--config', config, ...args]);
    const cases: [Promise<Run>, number, RegExp][] = [
      [share('--owner', OWNER, file, '--expires', '200d'), 2, /--expires: 200d is beyond largeFiles.maxExpiry \(90d\)/],
      [share('--owner', OWNER, file, '--expires', 'soon'), 2, /--expires: "soon" is not a duration/],
      [share('--owner', OWNER, file, '--max-downloads', '0'), 2, /--max-downloads: "0" is not a whole number/],
      [share('--owner', 'nobody', file), 2, /owner "nobody" is not a mail address/],
      [share(file), 2, /required option '--owner <addr>' not specified/],
      [share('--owner', OWNER, path.join(dir, 'missing.bin')), 1, /ENOENT/],
      [share('--owner', OWNER, file), 1, /would exceed the quota of 10240 bytes/],
      [siegel(['files', 'audit', '--config', config, '--since', 'gestern']), 2, /--since: "gestern" is neither a duration/],
      [siegel(['files', 'revoke', '--config', config, 'no-such-id']), 1, /no active share no-such-id/],
    ];
    for (const [running, code, message] of cases) {
      const run = await running;
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code, stderr: expect.stringMatching(message) });
    }
  });

  it('shares a 200 MB file and downloads it with memory flat (streamed, not buffered)', async () => {
    const { dir, config, service } = setUp();
    const file = path.join(dir, 'plans.tar');
    const size = 200 * 1024 * 1024;
    const block = randomBytes(1024 * 1024);
    const expected = createHash('sha256');
    // One buffer rewritten in place (each write finished before the next): making the file must not raise the baseline.
    const handle = await open(file, 'w');
    try {
      for (let i = 0; i < size / block.length; i += 1) {
        // Every megabyte differs, so a mix-up of records would change the hash.
        block.writeUInt32BE(i, 0);
        expected.update(block);
        await handle.write(block);
      }
    } finally {
      await handle.close();
    }
    const sha256 = expected.digest('hex');

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    try {
      const shared = await siegel(['files', 'share', '--config', config, '--owner', OWNER, file, '--json']);
      expect(shared.stderr).toBe('');
      const created = JSON.parse(shared.stdout) as { token: string; size: number; sha256: string };
      expect(created).toMatchObject({ size, sha256 });

      const transfer = service();
      try {
        const result = await transfer.download(created.token, {});
        if (result.status !== 'ok') throw new Error(result.status);
        const hash = createHash('sha256');
        let received = 0;
        for await (const chunk of result.stream) {
          hash.update(chunk as Buffer);
          received += (chunk as Buffer).length;
        }
        expect(received).toBe(size);
        expect(hash.digest('hex')).toBe(sha256);
      } finally {
        await transfer.close();
      }
      // Generous bound: garbage collection of freed buffers is lazy, and 75-110 MB above the
      // baseline were seen on a loaded machine. Buffering the file anywhere needs its 200 MB or more.
      const limit = 180 * 1024 * 1024;
      expect(peak - baseline).toBeLessThan(limit);
      process.stdout.write(`200 MB share+download: rss baseline ${Math.round(baseline / 1048576)} MB, peak +${Math.round((peak - baseline) / 1048576)} MB\n`);
    } finally {
      clearInterval(sampler);
    }
  }, 300_000);
});

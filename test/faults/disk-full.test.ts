/**
 * Fault: the disk of the large-file store (largeFiles.directory) fills up
 * while a file is being written. The store is a 2 MB tmpfs in a user+mount
 * namespace of the process under test (`unshare -rm`, no root needed), so
 * the writes end in a real ENOSPC — after the free-space check at the start
 * passed: once because the file is larger than what is free above the
 * reserve, once because another writer fills the disk in between.
 *
 * Outbound offload through `siegel serve` (a process, so its namespace has
 * the tmpfs): the client gets 451 4.3.1 and keeps the message, nothing goes
 * to the next hop, no part of the file stays on the disk, no link is left
 * and the owner's quota is not used up (a later file that fits only if the
 * failed one does not count is accepted). `siegel files share`: a clear
 * error, a non-zero exit, nothing left on the disk, no share. A resumable
 * web upload (tus PATCH): 507, the upload's offset stays at what was
 * durably written, the bytes past it are cut off the disk, and once there
 * is space the same upload resumes and completes.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bothListenersYaml, startTestGateway, type TestGateway } from '../serve/test-gateway.js';
import { closedPort, sendMail } from '../smtp/helpers.js';
import { CookieJar, call, signIn, type StaffTest } from '../web/staff-helpers.js';
import { MAILBOX, acceptedCopies, filesBelow, messageWithAttachment, sharesOf } from './fault-gateway.js';
import { startFaultHop, type FaultHop } from './fault-hop.js';
import { LEFT_MARK, ensureBuilt, runSiegel, startServeProcess, tinyDisk, type ServeProcess } from './siegel-process.js';

const DISK = '2m';
const KB = 1024;
const OWNER = 'bauamt@stadt.example';

let hop: FaultHop;
let gateway: TestGateway;
let filesDir: string;
let webPort: number;

beforeAll(async () => {
  ensureBuilt();
  hop = await startFaultHop();
  webPort = await closedPort();
  gateway = await startTestGateway({
    configTail: (dir) => {
      filesDir = path.join(dir, 'files');
      return [
        'internalDomains: [stadt.example]',
        ...bothListenersYaml(hop.url),
        'web:',
        // A fixed port: the sign-in link mailed to staff must lead back to the gateway process.
        `  listen: 127.0.0.1:${webPort}`,
        `  publicUrl: http://127.0.0.1:${webPort}`,
        'largeFiles:',
        `  directory: ${filesDir}`,
        '  threshold: 20KB',
        // The start check passes on the 2 MB disk; the writes themselves run out of space.
        '  minFreeSpace: 256KB',
        // 3 MB (failed) + 1 MB would exceed it: the later file is accepted only if the failed one did not count.
        '  ownerQuota: 3500KB',
        '',
      ].join('\n');
    },
    mailboxes: [MAILBOX],
  });
  await gateway.server.stop();
  // The mount point; the tmpfs is mounted on it inside each process's own namespace.
  mkdirSync(filesDir, { recursive: true, mode: 0o700 });
}, 180_000);

afterAll(async () => {
  await hop?.stop();
  if (gateway) rmSync(gateway.dir, { recursive: true, force: true });
});

/** The tiny disk as the gateway process sees it. */
function onTheDisk(serve: ServeProcess): string[] {
  return filesBelow(`/proc/${serve.child.pid}/root${filesDir}`);
}

async function stopped(serve: ServeProcess): Promise<void> {
  serve.child.kill('SIGTERM');
  expect((await serve.exited).code).toBe(0);
}

describe('the large-file disk full while storing an offloaded attachment', () => {
  it('451 4.3.1, nothing relayed, nothing left on the disk, no link, quota untouched; then a file that fits is offloaded', async () => {
    const serve = await startServeProcess(gateway.dir, { wrapper: tinyDisk(filesDir, DISK) });
    try {
      const dataBefore = hop.dataStarted;

      // 1. A file larger than the disk: the start check sees 2 MB free (above the 256 KB reserve), the writes hit ENOSPC.
      const tooLarge = messageWithAttachment(3 * 1024 * KB);
      const refused = await sendMail(serve.ports.submission, { from: tooLarge.from, to: tooLarge.to, raw: tooLarge.raw });
      expect(refused.ok).toBe(false);
      expect(refused.response).toMatch(/^451 4\.3\.1 /);
      expect(onTheDisk(serve)).toEqual([]);

      // 2. Another writer fills the disk after the check: 1.5 MB of someone else's data, then a 1 MB file.
      const filler = `/proc/${serve.child.pid}/root${filesDir}/other-writer.bin`;
      writeFileSync(filler, randomBytes(1536 * KB));
      const squeezed = messageWithAttachment(1024 * KB);
      const refusedToo = await sendMail(serve.ports.submission, { from: squeezed.from, to: squeezed.to, raw: squeezed.raw });
      expect(refusedToo.response).toMatch(/^451 4\.3\.1 /);
      expect(onTheDisk(serve)).toEqual(['other-writer.bin']);
      rmSync(filler);

      // Nothing went to the next hop, no link or share is left, nothing counts against the quota.
      expect(hop.dataStarted).toBe(dataBefore);
      expect(await sharesOf(gateway, MAILBOX)).toEqual([]);

      // 3. Space again: the same 1 MB file is offloaded (3 MB + 1 MB would be over the 3500 KB quota had the first counted).
      const fits = messageWithAttachment(1024 * KB);
      const delivered = await sendMail(serve.ports.submission, { from: fits.from, to: fits.to, raw: fits.raw });
      expect(delivered.response).toMatch(/^250 /);
      expect(acceptedCopies(hop, fits.mark)).toBe(1);
      const shares = await sharesOf(gateway, MAILBOX);
      expect(shares.map((s) => [s.state, s.size])).toEqual([['active', 1024 * KB]]);
      expect(onTheDisk(serve)).toHaveLength(1);
    } finally {
      await stopped(serve);
    }
  }, 40_000);
});

describe('the large-file disk full during `siegel files share`', () => {
  it('a clear error and a non-zero exit, the partial file removed, no share', async () => {
    const big = path.join(gateway.dir, 'plan-3mb.bin');
    writeFileSync(big, randomBytes(3 * 1024 * KB));
    // An owner of its own: the quota used by the other test does not come into it.
    const result = await runSiegel(['files', 'share', big, '--owner', OWNER, '--config', 'siegel.yaml'], gateway.dir, 30_000, tinyDisk(filesDir, DISK, { listAfter: true }));
    expect(result.timedOut).toBe(false);
    expect(result.status).not.toBe(0);
    expect(result.status).not.toBe(97);
    const [output, left] = result.stdout.split(LEFT_MARK);
    expect(output).not.toMatch(/https:\/\//);
    expect(left?.trim()).toBe('');
    expect(result.stderr).toBe('siegel files share: no space left on the disk of the large-file store (largeFiles.directory): free space there\n');
    expect(await sharesOf(gateway, OWNER)).toEqual([]);
  }, 40_000);
});

describe('the large-file disk full during a web upload (tus PATCH)', () => {
  function tus(jar: CookieJar, url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('Tus-Resumable', '1.0.0');
    return call(jar, url, { ...init, headers });
  }

  it('507, the offset stays at what was written durably, no partial bytes kept; after space is freed the upload resumes and completes', async () => {
    const serve = await startServeProcess(gateway.dir, { wrapper: tinyDisk(filesDir, DISK) });
    try {
      const base = `http://127.0.0.1:${serve.ports.web}`;
      const mails = () => hop.accepted.map((m) => m.raw.toString('latin1'));
      const jar = await signIn({ base, mails } as unknown as StaffTest, MAILBOX);
      const page = await (await call(jar, `${base}/staff/upload`)).text();
      const csrf = /data-csrf="([^"]+)"/.exec(page)?.[1] ?? '';
      const file = randomBytes(1024 * KB);
      // The free-space check at creation passes: 2 MB free for 1 MB above the 256 KB reserve.
      const created = await tus(jar, `${base}/staff/tus`, {
        method: 'POST',
        headers: { 'Upload-Length': String(file.length), 'Upload-Metadata': `filename ${Buffer.from('plan.bin').toString('base64')}`, 'Siegel-Csrf': csrf },
      });
      expect(created.status).toBe(201);
      const upload = new URL(created.headers.get('location') ?? '', base).toString();

      // Someone else fills the disk; the PATCH then runs into ENOSPC.
      const filler = `/proc/${serve.child.pid}/root${filesDir}/other-writer.bin`;
      writeFileSync(filler, randomBytes(1536 * KB));
      const patched = await tus(jar, upload, { method: 'PATCH', headers: { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: new Uint8Array(file) });
      expect(patched.status).toBe(507);
      const offset = Number((await tus(jar, upload, { method: 'HEAD' })).headers.get('upload-offset'));
      expect(offset).toBe(0);
      // Only the staging blob's header and tail stay (a few dozen bytes), none of the file's content.
      const staged = onTheDisk(serve).filter((f) => f !== 'other-writer.bin');
      const bytes = staged.reduce((sum, f) => sum + statSync(`/proc/${serve.child.pid}/root${filesDir}/${f}`).size, 0);
      expect(bytes).toBeLessThan(4 * KB);

      // Space again: the upload resumes from its offset and completes into a share.
      rmSync(filler);
      const resumed = await tus(jar, upload, { method: 'PATCH', headers: { 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' }, body: new Uint8Array(file.subarray(offset)) });
      expect(resumed.status).toBe(204);
      expect(resumed.headers.get('upload-offset')).toBe(String(file.length));
    } finally {
      await stopped(serve);
    }
  }, 40_000);
});

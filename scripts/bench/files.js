// --mode files: the large-file exchange with one big file (1 GiB by
// default) against a plain copy of the same file on the same disk.
//
// - plain copy: a read stream piped into a write stream, fsync at the end
//   (what a network upload has to do too: read, write, make durable);
//   fs.copyFile is shown for reference only (it may use copy_file_range or
//   reflinks, which no upload can).
// - upload: as a staff member in the browser does it. Sign-in with the
//   one-time link the gateway mails (Maildir next hop), the upload page's
//   CSRF token, then tus-js-client against /staff/tus with the page's chunk
//   size (64 MiB), timed from the first request until the share link is
//   shown on /staff/uploads/<token> (so the server's work after the last
//   byte counts).
// - download: GET /d/<token>/download streamed into a file on the same
//   disk by curl (node:http when curl is missing), fsync at the end; its
//   SHA-256 is checked afterwards (outside the timing, as the plain copy
//   does not hash either).
// - the gateway's peak resident memory during each, from /proc (VmRSS
//   sampled every 50 ms, and VmHWM reset before each phase).
import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, createReadStream, createWriteStream, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Upload } from 'tus-js-client';
import { MiB, parseSize } from './sizes.js';
import { cpuTime, freePort, resetPeakMemory, residentMemory, sampleMemory, startGateway, stopGateway } from './gateway.js';

const staff = 'bauamt@bench.example';

export { parseSize };

/** Writes `size` bytes of varying content (fresh random bytes per MiB) and returns their SHA-256. */
function createTestFile(file, size) {
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  try {
    for (let written = 0; written < size; ) {
      const chunk = randomBytes(Math.min(MiB, size - written));
      hash.update(chunk);
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
      written += chunk.length;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

async function sha256Of(file) {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: MiB }), hash);
  return hash.digest('hex');
}

/** Pipes `source` into `target` and fsyncs it; resolves when the bytes are durable. */
async function streamToFile(source, target) {
  const fd = openSync(target, 'w');
  try {
    await pipeline(source, createWriteStream(null, { fd, autoClose: false }));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function plainCopy(source, dir) {
  const target = path.join(dir, 'copy.bin');
  let t0 = performance.now();
  await streamToFile(createReadStream(source), target);
  const streamed = (performance.now() - t0) / 1000;
  rmSync(target);
  t0 = performance.now();
  copyFileSync(source, target);
  const fd = openSync(target, 'r+');
  fsyncSync(fd);
  closeSync(fd);
  const copyFile = (performance.now() - t0) / 1000;
  rmSync(target);
  return { streamed, copyFile };
}

function writeConfig(dir, { web, submission, inbound, maildir, size }) {
  const file = path.join(dir, 'files.yaml');
  // Room for the upload's staging file and the share made from it, plus the download.
  const maxFileSize = Math.max(5 * 1024 * MiB, 2 * size);
  writeFileSync(
    file,
    `dataDir: data\ntrustAnchors: trust\nmasterKeyFile: master.key\nlog: { level: warn }\ninternalDomains: [bench.example]\n` +
      `smtp:\n  submission:\n    listen: 127.0.0.1:${submission}\n    relay: maildir:${maildir}\n` +
      `  inbound:\n    listen: 127.0.0.1:${inbound}\n    relay: maildir:${maildir}\n` +
      `signing:\n  enabled: false\ninbound:\n  recipientDomains: [example.org]\n` +
      `web:\n  listen: 127.0.0.1:${web}\n  publicUrl: http://127.0.0.1:${web}\n` +
      `largeFiles:\n  maxFileSize: ${maxFileSize}\n  ownerQuota: ${maxFileSize * 8}\n  notifyOnFirstDownload: false\n`,
  );
  return file;
}

/** A small cookie jar around fetch (no redirects followed). */
function browser(base) {
  const cookies = new Map();
  const call = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    if (cookies.size > 0) headers.set('cookie', cookieHeader());
    const response = await fetch(new URL(url, base), { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      if (pair.slice(eq + 1) === '' || /max-age=0/i.test(line)) cookies.delete(pair.slice(0, eq));
      else cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return response;
  };
  const cookieHeader = () => [...cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  const post = (url, fields) => call(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  return { base, call, post, cookieHeader };
}

function csrfOf(page, action) {
  const form = page.split('<form').slice(1).find((f) => action === undefined || f.includes(`action="${action}"`));
  const match = /name="csrf" value="([^"]+)"/.exec(form ?? '');
  if (!match) throw new Error(`no CSRF token for ${action ?? 'the first form'}`);
  return match[1];
}

/** The body of a quoted-printable mail, decoded. */
function mailText(raw) {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4).replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(body, 'latin1').toString('utf8');
}

async function signInLink(maildir) {
  for (let i = 0; i < 300; i++) {
    let names = [];
    try {
      names = readdirSync(path.join(maildir, 'new'));
    } catch {
      // Not created yet.
    }
    for (const name of names) {
      const match = /https?:\/\/\S*?\/staff\/sign-in\/[A-Za-z0-9_-]{43}/.exec(mailText(readFileSync(path.join(maildir, 'new', name), 'latin1')));
      if (match) return match[0];
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no sign-in mail arrived');
}

/** Signs in as a staff member does: the form, the mailed link, its confirmation button. */
async function signIn(base, maildir) {
  const b = browser(base);
  const form = await (await b.call('/staff/sign-in')).text();
  const sent = await b.post('/staff/sign-in', { csrf: csrfOf(form, '/staff/sign-in'), address: staff });
  if (sent.status !== 200) throw new Error(`sign-in answered ${sent.status}`);
  const link = await signInLink(maildir);
  const confirm = await (await b.call(link)).text();
  const done = await b.post(link, { csrf: csrfOf(confirm) });
  if (done.status !== 303) throw new Error(`sign-in confirmation answered ${done.status}`);
  return b;
}

/** tus-js-client as the upload page uses it; resolves with the share link from /staff/uploads/<token>. */
async function upload(b, file, size) {
  const page = await (await b.call('/staff/upload')).text();
  const csrf = /data-csrf="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error('no CSRF token on the upload page');
  const url = await new Promise((resolve, reject) => {
    const up = new Upload(createReadStream(file), {
      endpoint: new URL('/staff/tus', b.base).href,
      chunkSize: Number(process.env.BENCH_CHUNK_MIB ?? 64) * MiB,
      uploadSize: size,
      metadata: { filename: 'plan-1gb.bin', filetype: 'application/octet-stream' },
      headers: { cookie: b.cookieHeader(), 'Siegel-Csrf': csrf },
      onError: reject,
      onSuccess: () => resolve(up.url),
    });
    up.start();
  });
  const token = url.slice(url.lastIndexOf('/') + 1);
  const shown = await b.call(`/staff/uploads/${token}`);
  if (shown.status !== 200) throw new Error(`upload result page answered ${shown.status}`);
  const link = /https?:\/\/[^\s"<>]*?\/d\/[A-Za-z0-9_-]{43}/.exec(await shown.text())?.[0];
  if (!link) throw new Error('no share link on the upload result page');
  return link;
}

/**
 * curl when installed (a lean client leaves the shared cores to the
 * gateway), node:http otherwise; either way fsync'd before the clock stops.
 */
async function download(link, target) {
  if (hasCurl) {
    await new Promise((resolve, reject) => {
      execFile('curl', ['--silent', '--show-error', '--fail', '--output', target, `${link}/download`], (err) => (err ? reject(err) : resolve()));
    });
    const fd = openSync(target, 'r+');
    fsyncSync(fd);
    closeSync(fd);
    return 'curl';
  }
  await nodeDownload(link, target);
  return 'node:http';
}

const hasCurl = (() => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function nodeDownload(link, target) {
  return new Promise((resolve, reject) => {
    http
      .get(`${link}/download`, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`download answered ${res.statusCode}`));
        }
        streamToFile(res, target).then(resolve, reject);
      })
      .on('error', reject);
  });
}

async function measured(pid, work) {
  resetPeakMemory(pid);
  const memory = sampleMemory(pid);
  const cpu = cpuTime(pid);
  const client = process.cpuUsage();
  const t0 = performance.now();
  try {
    const value = await work();
    const seconds = (performance.now() - t0) / 1000;
    const clientCpu = process.cpuUsage(client);
    return { value, seconds, peak: memory.stop().peak, cpu: (cpuTime(pid) - cpu) / 1000, clientCpu: (clientCpu.user + clientCpu.system) / 1e6 };
  } finally {
    memory.stop();
  }
}

const mbps = (bytes, seconds) => bytes / MiB / seconds;
const mb = (n) => (n / MiB).toFixed(0);

/**
 * Runs the large-file exchange `runs` times in `dir` and returns one row per
 * run (seconds, peaks, CPU); prints the table unless `print` is false (the
 * matrix prints its own).
 */
export async function filesBench(dir, { size, runs, print = true }) {
  for (const d of ['trust', 'data']) mkdirSync(path.join(dir, d), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dir, 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
  const source = path.join(dir, 'source.bin');
  process.stdout.write(`creating a ${mb(size)} MiB test file in ${dir} ... `);
  const sha256 = createTestFile(source, size);
  console.log('done');

  const ports = { web: await freePort(), submission: await freePort(), inbound: await freePort() };
  const maildir = path.join(dir, 'maildir');
  const config = writeConfig(dir, { ...ports, maildir, size });
  const child = await startGateway(config, ports.web);
  const rows = [];
  try {
    const b = await signIn(`http://127.0.0.1:${ports.web}`, maildir);
    const idle = residentMemory(child.pid);
    for (let run = 1; run <= runs; run++) {
      const copy = await plainCopy(source, dir);
      const up = await measured(child.pid, () => upload(b, source, size));
      const target = path.join(dir, 'download.bin');
      const down = await measured(child.pid, () => download(up.value, target));
      const ok = (await sha256Of(target)) === sha256;
      rmSync(target);
      if (!ok) throw new Error('the downloaded file differs from the uploaded one');
      rows.push({ run, copy, up, down, idle, client: down.value });
      const copyRate = mbps(size, copy.streamed);
      console.log(
        `run ${run}: plain copy ${copyRate.toFixed(0)} MB/s (copyFile ${mbps(size, copy.copyFile).toFixed(0)}), ` +
          `upload ${mbps(size, up.seconds).toFixed(0)} MB/s (${((mbps(size, up.seconds) / copyRate) * 100).toFixed(0)}%), ` +
          `download ${mbps(size, down.seconds).toFixed(0)} MB/s (${((mbps(size, down.seconds) / copyRate) * 100).toFixed(0)}%), ` +
          `peak RSS ${mb(up.peak)} / ${mb(down.peak)} MiB, gateway CPU ${up.cpu.toFixed(1)} / ${down.cpu.toFixed(1)} s, ` +
          `client CPU ${up.clientCpu.toFixed(1)} / ${down.clientCpu.toFixed(1)} s, SHA-256 ${ok ? 'ok' : 'WRONG'}`,
      );
    }
  } finally {
    await stopGateway(child);
  }
  if (print) printTable(rows, size);
  return rows.map((r) => summarise(r, size));
}

/** One run as plain figures (MiB/s, ratios against the streamed copy, MiB). */
function summarise({ run, copy, up, down, idle, client }, size) {
  const copyRate = mbps(size, copy.streamed);
  const upRate = mbps(size, up.seconds);
  const downRate = mbps(size, down.seconds);
  return {
    run,
    sizeBytes: size,
    copyMBps: copyRate,
    copyFileMBps: mbps(size, copy.copyFile),
    uploadMBps: upRate,
    uploadRatio: upRate / copyRate,
    downloadMBps: downRate,
    downloadRatio: downRate / copyRate,
    peakUploadBytes: up.peak,
    peakDownloadBytes: down.peak,
    idleBytes: idle,
    gatewayCpuSeconds: { upload: up.cpu, download: down.cpu },
    clientCpuSeconds: { upload: up.clientCpu, download: down.clientCpu },
    downloadClient: client,
  };
}

function printTable(rows, size) {
  console.log(`\nOne ${mb(size)} MiB file (random bytes), MB/s = MiB/s; ratios against the streamed plain copy of the same run; download client ${rows[0]?.client ?? '-'}:\n`);
  console.log('| run | plain copy MB/s | copyFile MB/s | upload MB/s | upload / copy | download MB/s | download / copy | peak RSS upload | peak RSS download | idle RSS | gateway CPU s upload / download |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { run, copy, up, down, idle } of rows) {
    const c = mbps(size, copy.streamed);
    const u = mbps(size, up.seconds);
    const d = mbps(size, down.seconds);
    console.log(
      `| ${run} | ${c.toFixed(0)} | ${mbps(size, copy.copyFile).toFixed(0)} | ${u.toFixed(0)} | ${((u / c) * 100).toFixed(0)}% | ${d.toFixed(0)} | ${((d / c) * 100).toFixed(0)}% | ${mb(up.peak)} MB | ${mb(down.peak)} MB | ${mb(idle)} MB | ${up.cpu.toFixed(1)} / ${down.cpu.toFixed(1)} |`,
    );
  }
  const peak = Math.max(...rows.map((r) => Math.max(r.up.peak, r.down.peak)));
  const upRatio = Math.max(...rows.map((r) => r.copy.streamed / r.up.seconds));
  const downRatio = Math.max(...rows.map((r) => r.copy.streamed / r.down.seconds));
  console.log(`\nbest upload / plain copy: ${(upRatio * 100).toFixed(0)}%, best download / plain copy: ${(downRatio * 100).toFixed(0)}% (target >= 50%); peak RSS ${mb(peak)} MB (target < 150 MB)\n`);
}

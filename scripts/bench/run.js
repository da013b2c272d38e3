#!/usr/bin/env node
// Relay benchmark: messages per second through `siegel serve` for 10 KB
// messages with signing on and off (same plumbing, same next hop), and the
// peak memory (VmHWM) of the gateway process while it signs one 50 MB
// message. The gateway runs in its own process; the client and the counting
// next hop run here. Usage: npm run bench [-- --messages 2000 --concurrency 16]
//
// --mode verify: inbound verification instead. 10 KB multipart/signed
// messages (signed once up front by openssl cms with the --key identity,
// whose root is the gateway's trust anchor) go to the gateway's inbound
// listener, against the fair baseline on the same listener of the same
// gateway: an unsigned message of exactly the same size (same plumbing, no
// crypto). Prints msg/s, latency, CPU, the verify / pass-through ratio and
// how many delivered messages carried smime=pass.
//
// --mode files: the large-file exchange (issue 4): a 1 GiB file uploaded
// with tus as a staff member does and downloaded through its link, against
// a plain copy on the same disk, with the gateway's peak memory (files.js).
//
// Options: --mode relay|verify|files (default relay), --key rsa3072|rsa2048|p256
// (default rsa3072), --messages N (default 2000), --concurrency N (default 16),
// --file-size SIZE (files mode, default 1GB), --runs N (files mode, default 1).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { createRootCa, issueCa, issueMailbox } from '../../dist/pki/generate.js';
import { toPem } from '../../dist/pki/pem.js';
import { filesBench, parseSize } from './files.js';
import { cpuTime, freePort, peakMemory, root, startGateway, stopGateway } from './gateway.js';
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const MESSAGES = Number(args.messages ?? 2000);
const CONCURRENCY = Number(args.concurrency ?? 16);
const KEY = args.key ?? 'rsa3072';
const MODE = args.mode ?? 'relay';
if ('help' in args || !['relay', 'verify', 'files'].includes(MODE)) {
  console.log('usage: npm run bench -- [--mode relay|verify] [--key rsa3072|rsa2048|p256] [--messages 2000] [--concurrency 16]');
  console.log('       npm run bench -- --mode files [--file-size 1GB] [--runs 1]');
  process.exit('help' in args ? 0 : 64);
}
const sender = 'poststelle@bench.example';

/**
 * The counting next hop: a minimal SMTP responder. Not smtp-server, whose
 * fixed 100 ms early-talker pause on every new connection would dominate
 * the figures; a real next hop (Postfix) answers at once.
 */
function startSink() {
  let received = 0;
  let passed = 0;
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let inData = false;
    let pending = '';
    let tail = '';
    // The first bytes of each message: the header, where the gateway puts Authentication-Results.
    let head = '';
    socket.write('220 sink ESMTP\r\n');
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      if (inData) {
        if (head.length < 4096) head += chunk.toString('latin1', 0, 4096);
        const text = tail + chunk.toString('latin1');
        const end = text.indexOf('\r\n.\r\n');
        if (end < 0) {
          tail = text.slice(-4);
          return;
        }
        inData = false;
        tail = '';
        received++;
        if (/^Authentication-Results: [^;]+; smime=pass/m.test(head.split('\r\n\r\n')[0] ?? '')) passed++;
        head = '';
        socket.write('250 2.0.0 queued\r\n');
        chunk = Buffer.from(text.slice(end + 5), 'latin1');
      }
      pending += chunk.toString('latin1');
      let nl;
      while (!inData && (nl = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, nl).toUpperCase();
        pending = pending.slice(nl + 2);
        if (line.startsWith('EHLO')) socket.write('250-sink\r\n250-8BITMIME\r\n250 SIZE 209715200\r\n');
        else if (line.startsWith('DATA')) {
          inData = true;
          socket.write('354 go ahead\r\n');
          if (pending.length > 0) {
            const rest = Buffer.from(pending, 'latin1');
            pending = '';
            socket.emit('data', rest);
          }
        } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, count: () => received, passed: () => passed, close: () => new Promise((r) => server.close(r)) }));
  });
}

async function setup(dir) {
  const rootCa = await createRootCa({ subject: [['C', 'DE'], ['CN', 'Bench Root']], keySpec: 'rsa3072' });
  const ca = await issueCa(rootCa, { subject: [['C', 'DE'], ['CN', 'Bench CA']], keySpec: 'rsa3072' });
  const leaf = await issueMailbox(ca, { subject: [['C', 'DE'], ['CN', 'Poststelle']], email: sender, keySpec: KEY });
  for (const d of ['trust', 'data']) execFileSync('mkdir', ['-p', path.join(dir, d)]);
  writeFileSync(path.join(dir, 'trust', 'root.pem'), toPem('CERTIFICATE', rootCa.certificate));
  writeFileSync(path.join(dir, 'ca.pem'), toPem('CERTIFICATE', ca.certificate));
  writeFileSync(path.join(dir, 'leaf.pem'), toPem('CERTIFICATE', leaf.certificate));
  writeFileSync(path.join(dir, 'leaf.key'), leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(path.join(dir, 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
}

/** The inbound listener gets its own free port (never the default 10025 another gateway may hold) and the same next hop. */
async function writeConfig(dir, name, { port, relay, signing, inboundPort }) {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `dataDir: data\ntrustAnchors: trust\nmasterKeyFile: master.key\nlog: { level: warn }\n` +
      `smtp:\n  submission:\n    listen: 127.0.0.1:${port}\n    relay: ${relay}\n    maxMessageSize: 100MB\n    maxConnections: 200\n` +
      `  inbound:\n    listen: 127.0.0.1:${inboundPort ?? (await freePort())}\n    relay: ${relay}\n    maxMessageSize: 100MB\n    maxConnections: 200\n` +
      `signing:\n  enabled: ${signing}\ninbound:\n  recipientDomains: [example.org]\n`,
  );
  return file;
}

function siegel(argv, options = {}) {
  return execFileSync(process.execPath, [path.join(root, 'bin/siegel.js'), ...argv], { encoding: 'utf8', ...options });
}

/**
 * A message with a binary attachment (no Content-Transfer-Encoding a relay
 * could carry unchanged): signing must re-encode it as base64, so the entity
 * grows by a third. SMTP carries it with BDAT/BINARYMIME only, so the
 * benchmark sends it with 8-bit bytes but no bare CR/LF and no NULs.
 */
function attachmentMessage(size) {
  const data = randomBytes(size);
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a || data[i] === 0x0d || data[i] === 0x00) data[i] = 0x20;
  const head = Buffer.from(
    `From: ${sender}\r\nTo: empfaenger@example.org\r\nSubject: Plan\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n` +
      `--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei der Plan.\r\n--b1\r\nContent-Type: application/octet-stream; name="plan.bin"\r\n` +
      `Content-Transfer-Encoding: 8bit\r\nContent-Disposition: attachment; filename="plan.bin"\r\n\r\n`,
  );
  // 8bit allows no lines over 998 octets: break the data into lines.
  const lines = [];
  for (let i = 0; i < data.length; i += 900) lines.push(data.subarray(i, i + 900), Buffer.from('\r\n'));
  return Buffer.concat([head, ...lines, Buffer.from('--b1--\r\n')]);
}

function message(size) {
  const body = Buffer.alloc(size, 'Sehr geehrte Damen und Herren, dies ist ein Test. ').toString('latin1').replace(/(.{72})/g, '$1\r\n');
  return `From: ${sender}\r\nTo: empfaenger@example.org\r\nSubject: Bench\r\nMessage-ID: <${randomBytes(8).toString('hex')}@bench.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`;
}

/**
 * A lean SMTP client for the load: one persistent connection per worker,
 * TCP_NODELAY, one transaction after the other. (nodemailer leaves Nagle's
 * algorithm on, which caps each connection at one message per ~40 ms
 * delayed-ACK round and hides the gateway's own cost.)
 */
function smtpSession(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let buffer = '';
    let waiting = null;
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      // A reply is complete at a line "ddd text" (no dash after the code).
      const m = /(^|\r\n)(\d{3}) [^\r\n]*\r\n$/.exec(buffer);
      if (m && waiting) {
        const w = waiting;
        waiting = null;
        const code = Number(m[2]);
        buffer = '';
        w(code);
      }
    });
    socket.on('error', reject);
    const command = (line) =>
      new Promise((res) => {
        waiting = res;
        if (line !== null) socket.write(line);
      });
    const expect = async (line, ok) => {
      const code = await command(line);
      if (!ok.includes(code)) throw new Error(`unexpected ${code} after ${line ? line.trim().slice(0, 20) : 'greeting'}`);
    };
    (async () => {
      await expect(null, [220]);
      await expect('EHLO bench.example\r\n', [250]);
      resolve({
        async send(raw) {
          await expect(`MAIL FROM:<${sender}> SIZE=${raw.length}\r\n`, [250]);
          await expect('RCPT TO:<empfaenger@example.org>\r\n', [250]);
          await expect('DATA\r\n', [354]);
          // The test messages have no lines starting with "." (no dot-stuffing needed).
          await expect(Buffer.concat([raw, Buffer.from('.\r\n')]), [250]);
        },
        close: () => socket.end('QUIT\r\n'),
      });
    })().catch(reject);
  });
}

async function throughput(port, raw = Buffer.from(message(10 * 1024))) {
  const sessions = await Promise.all(Array.from({ length: CONCURRENCY }, () => smtpSession(port)));
  const latencies = [];
  let next = 0;
  const warmup = Math.min(100, MESSAGES / 10);
  const worker = async (session, count) => {
    while (next < count) {
      next++;
      const t0 = performance.now();
      await session.send(raw);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(sessions.map((s) => worker(s, warmup)));
  latencies.length = 0;
  next = 0;
  const start = performance.now();
  await Promise.all(sessions.map((s) => worker(s, MESSAGES)));
  const seconds = (performance.now() - start) / 1000;
  for (const s of sessions) s.close();
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { rate: MESSAGES / seconds, p50: pct(50), p99: pct(99) };
}

async function largeMessage(dir, signing, kind = 'text') {
  const port = await freePort();
  const maildir = path.join(dir, `large-${signing}-${kind}`);
  const config = await writeConfig(dir, `large-${signing}-${kind}`, { port, relay: `maildir:${maildir}`, signing });
  const child = await startGateway(config, port);
  const before = peakMemory(child.pid);
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true });
  const raw = kind === 'text' ? Buffer.from(message(50 * 1024 * 1024)) : attachmentMessage(50 * 1024 * 1024);
  const t0 = performance.now();
  // Mail clients declare the size in MAIL FROM (RFC 1870 SIZE=); so does this one.
  await transport.sendMail({ envelope: { from: sender, to: ['empfaenger@example.org'], size: raw.length }, raw });
  const ms = performance.now() - t0;
  const peak = peakMemory(child.pid);
  transport.close();
  await stopGateway(child);
  const delivered = readdirSync(path.join(maildir, 'new')).length;
  return { peak, idle: before, ms, delivered };
}

const mb = (n) => `${(n / 1024 / 1024).toFixed(0)} MB`;

/** Throughput and latency of one run, with the CPU time the gateway and this load generator spent per message (warm-up included). */
async function measure(child, port, raw) {
  const sent = MESSAGES + Math.min(100, MESSAGES / 10);
  const cpuBefore = cpuTime(child.pid);
  const clientBefore = process.cpuUsage();
  const r = await throughput(port, raw);
  const clientCpu = process.cpuUsage(clientBefore);
  r.clientCpu = (clientCpu.user + clientCpu.system) / 1000 / sent;
  r.cpu = (cpuTime(child.pid) - cpuBefore) / sent;
  return r;
}

/**
 * A multipart/signed message as a partner's client sends it: the entity
 * (10 KB of text, CRLF, 7-bit) signed once by `openssl cms` with the
 * bench identity, detached, its chain included (not the root: that is the
 * gateway's trust anchor).
 */
function signedMessage(dir) {
  const entity = Buffer.from(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${message(10 * 1024).split('\r\n\r\n').slice(1).join('\r\n\r\n')}`, 'latin1');
  const input = path.join(dir, 'entity.txt');
  const output = path.join(dir, 'entity.p7s');
  writeFileSync(input, entity);
  execFileSync('openssl', ['cms', '-sign', '-binary', '-md', 'sha256', '-in', input, '-signer', path.join(dir, 'leaf.pem'), '-inkey', path.join(dir, 'leaf.key'), '-certfile', path.join(dir, 'ca.pem'), '-outform', 'DER', '-out', output]);
  const signature = (readFileSync(output).toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
  return Buffer.concat([
    Buffer.from(
      `From: ${sender}\r\nTo: empfaenger@example.org\r\nSubject: Bench\r\nMessage-ID: <${randomBytes(8).toString('hex')}@bench.example>\r\nMIME-Version: 1.0\r\n` +
        'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="sig"\r\n\r\n--sig\r\n',
      'latin1',
    ),
    entity,
    Buffer.from(`\r\n--sig\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n\r\n${signature}\r\n--sig--\r\n`, 'latin1'),
  ]);
}

/** An unsigned text message of exactly `size` bytes: the baseline's same bytes without the crypto. */
function unsignedMessage(size) {
  const head = `From: ${sender}\r\nTo: empfaenger@example.org\r\nSubject: Bench\r\nMessage-ID: <${randomBytes(8).toString('hex')}@bench.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
  const line = 'Sehr geehrte Damen und Herren, dies ist ein Test ohne Signatur, gleich gross.\r\n';
  let body = '';
  while (head.length + body.length + line.length + 2 <= size) body += line;
  // The last line fills up to the exact size (shorter than one line of text).
  body += 'x'.repeat(size - head.length - body.length - 2) + '\r\n';
  return Buffer.from(head + body, 'latin1');
}

/**
 * --mode verify: one gateway, its inbound listener; the unsigned baseline
 * first, then the signed messages, both the same size. A verified message
 * is delivered with `Authentication-Results: ...; smime=pass`, counted by
 * the next hop.
 */
async function verifyBench(dir, sink) {
  const port = await freePort();
  const inboundPort = await freePort();
  const config = await writeConfig(dir, 'verify', { port, inboundPort, relay: `smtp://127.0.0.1:${sink.port}`, signing: false });
  const signed = signedMessage(dir);
  const unsigned = unsignedMessage(signed.length);
  const child = await startGateway(config, inboundPort);
  const runs = [];
  for (const [mode, raw] of [
    ['pass-through (unsigned)', unsigned],
    [`verify (${KEY})`, signed],
  ]) {
    const before = { delivered: sink.count(), passed: sink.passed() };
    const r = await measure(child, inboundPort, raw);
    runs.push({ mode, size: raw.length, delivered: sink.count() - before.delivered, passed: sink.passed() - before.passed, ...r });
  }
  await stopGateway(child);
  const [pass, verify] = runs;
  console.log(`\nInbound, ${(signed.length / 1024).toFixed(1)} KB messages (10 KB text + signature; the baseline the same size unsigned), ${CONCURRENCY} connections, ${MESSAGES} messages per run (after warm-up):\n`);
  console.log('| mode | size B | msg/s | p50 ms | p99 ms | gateway CPU ms/msg | load generator CPU ms/msg | delivered | smime=pass |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of runs) console.log(`| ${r.mode} | ${r.size} | ${r.rate.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.cpu.toFixed(2)} | ${r.clientCpu.toFixed(2)} | ${r.delivered} | ${r.passed} |`);
  console.log(`\nverify / pass-through throughput: ${((verify.rate / pass.rate) * 100).toFixed(0)}%; verification costs ${(verify.cpu - pass.cpu).toFixed(2)} ms of gateway CPU per message\n`);
  if (verify.passed !== verify.delivered) throw new Error(`only ${verify.passed} of ${verify.delivered} signed messages were delivered with smime=pass`);
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-bench-'));
  try {
    if (MODE === 'files') {
      await filesBench(dir, { size: parseSize(args['file-size'] ?? '1GB'), runs: Number(args.runs ?? 1) });
      return;
    }
    await setup(dir);
    const sink = await startSink();
    if (MODE === 'verify') {
      await verifyBench(dir, sink);
      await sink.close();
      return;
    }
    const rows = [];
    const results = {};
    for (const signing of [false, true]) {
      const port = await freePort();
      const config = await writeConfig(dir, `relay-${signing}`, { port, relay: `smtp://127.0.0.1:${sink.port}`, signing });
      if (signing) siegel(['enroll', 'import', '--config', config, '--mailbox', sender, '--cert', path.join(dir, 'leaf.pem'), '--key', path.join(dir, 'leaf.key'), '--chain', path.join(dir, 'ca.pem')]);
      const child = await startGateway(config, port);
      const before = sink.count();
      const r = await measure(child, port);
      await stopGateway(child);
      results[signing ? 'sign' : 'pass'] = r;
      rows.push([signing ? `sign (${KEY})` : 'pass-through', r.rate.toFixed(0), r.p50.toFixed(1), r.p99.toFixed(1), r.cpu.toFixed(2), r.clientCpu.toFixed(2), String(sink.count() - before)]);
    }
    await sink.close();
    const ratio = results.sign.rate / results.pass.rate;
    const pass50 = await largeMessage(dir, false);
    const sign50 = await largeMessage(dir, true);
    const sign50attachment = await largeMessage(dir, true, 'attachment');
    console.log(`\nRelay, 10 KB messages, ${CONCURRENCY} connections, ${MESSAGES} messages per run (after warm-up):\n`);
    console.log('| mode | msg/s | p50 ms | p99 ms | gateway CPU ms/msg | load generator CPU ms/msg | delivered |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const row of rows) console.log(`| ${row.join(' | ')} |`);
    console.log(`\nsign / pass-through throughput: ${(ratio * 100).toFixed(0)}% (target >= 70%)\n`);
    console.log('One 50 MB message through the relay (maildir next hop), gateway process peak RSS (VmHWM):\n');
    console.log('| mode | peak RSS | idle RSS | time ms | delivered |');
    console.log('| --- | ---: | ---: | ---: | ---: |');
    console.log(`| pass-through | ${mb(pass50.peak)} | ${mb(pass50.idle)} | ${pass50.ms.toFixed(0)} | ${pass50.delivered} |`);
    console.log(`| sign (${KEY}) | ${mb(sign50.peak)} | ${mb(sign50.idle)} | ${sign50.ms.toFixed(0)} | ${sign50.delivered} |`);
    console.log(`| sign (${KEY}), 50 MB 8-bit attachment re-encoded as base64 | ${mb(sign50attachment.peak)} | ${mb(sign50attachment.idle)} | ${sign50attachment.ms.toFixed(0)} | ${sign50attachment.delivered} |`);
    console.log(`\npeak memory signing 50 MB: ${mb(sign50.peak)} (target < 200 MB)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

#!/usr/bin/env node
// Soak test: `siegel serve` as its own process, both listeners, a counting
// next hop behind each, and 20,000 mixed messages from 32 persistent SMTP
// clients. Every message is accounted for (delivered exactly once after a
// 250, or refused with 4xx/5xx and not delivered, or lost with its
// connection and not delivered), and the gateway's memory and file
// descriptors must stay flat. docs/soak.md explains the run and its figures.
//
// Usage: node_modules/.bin/node scripts/soak/run.js [--messages 20000] [--clients 32]
//        [--seed 1] [--json] [--keep] [--warmup 0.1] [--rss-bound-mb 30] [--rss-bound-pct 20]
//        [--fd-slack 5]
// Needs the built dist/ (npm run build). Exit 0 when every check passed, 1 otherwise.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startGateway, stopGateway } from '../bench/gateway.js';
import { account, FAILURES } from './accounting.js';
import { ConnectionLost, openSession } from './client.js';
import { messageSource, signInboundTemplates, transactionKey } from './messages.js';
import { fdCount, fdGrowth, fdTargets, flatness, residentBytes, startMonitor } from './monitor.js';
import { startCountingHop } from './next-hop.js';
import { printReport } from './report.js';
import { setupWorld } from './setup.js';
import { AUTHSERV_ID } from './world.js';
import { spotCheck } from './spot-checks.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const flags = new Set(['json', 'keep', 'help']);
const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const name = process.argv[i].replace(/^--/, '');
  if (flags.has(name)) args[name] = true;
  else args[name] = process.argv[++i];
}
if (args.help) {
  console.log('usage: node scripts/soak/run.js [--messages 20000] [--clients 32] [--seed 1] [--json] [--keep] [--warmup 0.1] [--rss-bound-mb 30] [--rss-bound-pct 20] [--fd-slack 5]');
  process.exit(0);
}
const MESSAGES = Number(args.messages ?? 20_000);
const CLIENTS = Number(args.clients ?? 32);
const SEED = Number(args.seed ?? 1);
const WARMUP = Number(args.warmup ?? 0.1);
const BOUND_MB = Number(args['rss-bound-mb'] ?? 30);
const BOUND_PCT = Number(args['rss-bound-pct'] ?? 20);
const FD_SLACK = Number(args['fd-slack'] ?? 5);
/** How many signed and encrypted deliveries are kept for the openssl spot checks. */
const SPOT_CHECKS = 3;

const log = (line) => process.stderr.write(`soak: ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`port ${port} does not accept connections`);
}

async function distinctPorts(count) {
  const ports = new Set();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/**
 * The load: CLIENTS workers take the next message number until all are
 * sent. Each worker is one sending mail server with a persistent
 * connection per listener (opened on first use, reopened after a loss), so
 * at most CLIENTS transactions are in flight.
 */
async function runLoad({ from, to, ports, make, sent, progress, gatewayGone }) {
  let next = from;
  const worker = async () => {
    const sessions = {};
    while (next < to && !gatewayGone()) {
      const message = make(next++);
      // Recipients the gateway defers with 452 4.5.3 go in the next transaction, as a mail server sends them.
      let pending = message.rcptTo;
      while (pending.length > 0) {
        const recipients = { accepted: [], deferred: [] };
        let outcome;
        try {
          if (!sessions[message.listener]?.alive) sessions[message.listener] = await openSession(ports[message.listener]);
          outcome = await sessions[message.listener].send({ ...message, rcptTo: pending }, recipients);
        } catch (err) {
          if (!(err instanceof ConnectionLost)) throw err;
          outcome = { lost: err.message };
          sessions[message.listener] = undefined;
        }
        // A transaction is accounted for by the recipients it carried (all of them when it ended before RCPT was done).
        const carried = recipients.accepted.length > 0 && outcome.stage !== 'RCPT' ? recipients.accepted : pending;
        sent.set(transactionKey(message.id, carried), { id: message.id, kind: message.kind, rcptTo: carried, bodyHash: message.bodyHash, outcome });
        pending = outcome.stage === 'RCPT' ? [] : recipients.deferred;
      }
      progress.done++;
    }
    await Promise.all(Object.values(sessions).map((s) => s?.close()));
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
}

/**
 * Once the clients have closed their connections: gives the gateway up to
 * 10 s to close what the last transactions opened (sockets in their closing
 * handshake), until the next hops' connections are closed and its
 * descriptor count is at `target` (or, without a target, the same three
 * readings in a row); returns the count then.
 */
async function quiesce(pid, hops, target) {
  const readings = [fdCount(pid)];
  const settled = () =>
    !hops.some((h) => h.stats.open > 0) && (target !== undefined ? readings.at(-1) <= target : readings.length >= 3 && readings.slice(-3).every((n) => n === readings.at(-1)));
  for (let i = 0; i < 40 && !settled(); i++) {
    await sleep(250);
    readings.push(fdCount(pid));
  }
  return readings.at(-1);
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-soak-'));
  const started = Date.now();
  let child;
  try {
    const runId = `soak${SEED}x${Date.now().toString(36)}`;
    // Keep the first few signed and encrypted deliveries for the openssl spot checks.
    const kept = { signed: 0, encrypted: 0 };
    const keepSample = (info) => (info.marker === 'signed' || info.marker === 'encrypted') && kept[info.marker]++ < SPOT_CHECKS;
    const hops = await Promise.all([
      startCountingHop({ name: 'submission', seed: SEED * 7 + 1, authservId: AUTHSERV_ID, keepSample }),
      startCountingHop({ name: 'inbound', seed: SEED * 7 + 2, authservId: AUTHSERV_ID }),
    ]);
    const [submissionPort, inboundPort, webPort] = await distinctPorts(3);
    log(`generating the PKIs and enrolling mailboxes in ${dir}`);
    const { config, files } = await setupWorld(dir, { submissionPort, inboundPort, webPort, submissionHop: hops[0].port, inboundHop: hops[1].port });
    const { templates, corpus } = signInboundTemplates(dir, files.partners, files.partnerCa);
    const make = messageSource({ seed: SEED, runId, templates, corpus });

    // The heap probe rides along with the gateway's usual V8 flags.
    const heapFile = path.join(dir, 'heap.json');
    process.env.SOAK_HEAP_PROBE = heapFile;
    process.env.GATEWAY_NODE_FLAGS = `${process.env.GATEWAY_NODE_FLAGS ?? '--max-semi-space-size=1 --expose-gc'} --import=${path.join(here, 'heap-probe.js')}`;
    child = await startGateway(config, submissionPort);
    await waitForPort(inboundPort);
    let gatewayExit = null;
    child.on('exit', (code, signal) => (gatewayExit = { code, signal }));
    const pid = child.pid;
    await sleep(1500);
    const fdAtStart = fdCount(pid);
    const idleRss = residentBytes(pid);
    log(`gateway pid ${pid} up: ${fdAtStart} file descriptors, ${(idleRss / 1048576).toFixed(0)} MB RSS; sending ${MESSAGES} messages from ${CLIENTS} clients`);

    const progress = { done: 0 };
    const monitor = startMonitor(pid, { heapFile, progress: () => progress.done });
    const ticker = setInterval(() => {
      const last = monitor.samples.at(-1);
      if (last) log(`${progress.done}/${MESSAGES} messages, RSS ${(last.rss / 1048576).toFixed(0)} MB, ${last.fds} fds`);
    }, 10_000);
    const sent = new Map();
    const loadStart = Date.now();
    const load = { ports: { submission: submissionPort, inbound: inboundPort }, make, sent, progress, gatewayGone: () => gatewayExit !== null };
    // Warm-up, then a pause: the descriptor baseline is the idle gateway after it has done every kind of work once,
    // so what it opens once and keeps (a worker pool, database handles) is not taken for a leak; what grows with
    // the number of messages after that is.
    const warm = Math.ceil(MESSAGES * WARMUP);
    await runLoad({ ...load, from: 0, to: warm });
    const fdBaseline = gatewayExit ? null : await quiesce(pid, hops);
    const fdBaselineTargets = gatewayExit ? {} : fdTargets(pid);
    log(`warm-up done (${warm} messages): ${fdBaseline} file descriptors idle`);
    await runLoad({ ...load, from: warm, to: MESSAGES });
    const loadSeconds = (Date.now() - loadStart) / 1000;
    clearInterval(ticker);
    const samples = monitor.stop();
    const fdPeak = Math.max(...samples.map((s) => s.fds));
    const rssPeak = Math.max(...samples.map((s) => s.rss));
    const fdAfter = gatewayExit ? null : await quiesce(pid, hops, fdBaseline);
    // What is open beyond the baseline, by target (sockets, files): the first clue when descriptors do not come back.
    const fdExtra = gatewayExit ? {} : fdGrowth(fdBaselineTargets, fdTargets(pid));
    const spot = spotCheck(dir, [...hops[0].samples], files);
    const exitedDuringRun = gatewayExit;
    const stopped = exitedDuringRun ?? { code: await stopGateway(child), signal: null, stoppedBy: 'SIGTERM' };
    child = undefined;
    await Promise.all(hops.map((h) => h.close()));

    const accounting = account(sent, hops);
    const options = { totalMessages: MESSAGES, warmup: WARMUP, boundMb: BOUND_MB, boundPct: BOUND_PCT };
    const summary = {
      messages: MESSAGES,
      clients: CLIENTS,
      seed: SEED,
      sent: accounting.messagesAccounted,
      loadSeconds,
      totalSeconds: (Date.now() - started) / 1000,
      messagesPerSecond: Math.round(accounting.messagesAccounted / loadSeconds),
      ...accounting,
      hops: Object.fromEntries(hops.map((h) => [h.name, { ...h.stats, delivered: h.deliveries.size }])),
      memory: {
        idleRssMb: Math.round(idleRss / 1048576),
        peakRssMb: Math.round(rssPeak / 1048576),
        rss: flatness(samples, 'rss', options),
        heapUsed: flatness(samples, 'heapUsed', options),
        samples: samples.length,
        // One row a second: seconds since the load began, messages done, RSS MB, V8 heap used MB, descriptors.
        series: samples.map((x) => [Math.round(x.t), x.done, Math.round(x.rss / 1048576), x.heapUsed === null ? null : Math.round(x.heapUsed / 1048576), x.fds]),
      },
      fds: { atStart: fdAtStart, baseline: fdBaseline, peak: fdPeak, after: fdAfter, extraAfter: fdExtra, slack: FD_SLACK, backToBaseline: fdAfter !== null && Math.abs(fdAfter - fdBaseline) <= FD_SLACK },
      spotChecks: spot,
      gateway: { exitedDuringRun: exitedDuringRun !== null, exit: stopped },
      failures: [],
    };
    const f = summary.failures;
    for (const cls of FAILURES) if (accounting.classes[cls] > 0) f.push(`${accounting.classes[cls]} ${cls}`);
    if (accounting.messagesAccounted !== MESSAGES) f.push(`${accounting.messagesAccounted} of ${MESSAGES} messages accounted for`);
    if (accounting.accounted !== accounting.transactions) f.push(`${accounting.accounted} of ${accounting.transactions} transactions classified`);
    if (accounting.unknownDeliveries > 0) f.push(`${accounting.unknownDeliveries} deliveries of messages never sent`);
    for (const h of hops) if (h.stats.withoutId > 0 || h.stats.protocolErrors > 0) f.push(`${h.name} next hop: ${h.stats.withoutId} messages without X-Soak-Id, ${h.stats.protocolErrors} unknown commands`);
    if (exitedDuringRun) f.push(`gateway exited during the run (${JSON.stringify(exitedDuringRun)})`);
    // SIGTERM is a graceful stop: anything but exit code 0 means it did not finish cleanly.
    else if (stopped.code !== 0) f.push(`gateway exited with ${stopped.code} on SIGTERM`);
    for (const field of ['rss', 'heapUsed']) if (summary.memory[field].verdict === 'growing') f.push(`${field} grew ${summary.memory[field].growthMb} MB (bound ${summary.memory[field].boundMb} MB)`);
    if (!summary.fds.backToBaseline) f.push(`file descriptors ${fdAfter} after the run, baseline ${fdBaseline} (slack ${FD_SLACK})`);
    if (hops.some((h) => h.stats.open > 0)) f.push('next-hop connections still open after the run');
    f.push(...spot.problems);
    summary.ok = f.length === 0;
    if (args.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else printReport(summary);
    process.exitCode = summary.ok ? 0 : 1;
  } finally {
    if (child) await stopGateway(child);
    if (args.keep) log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});

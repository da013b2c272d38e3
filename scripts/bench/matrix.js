// The relay matrix: every size x connection count x mode, each cell next
// to its baseline from the same run. Two gateway processes with the same
// Node flags and the same next hop serve all cells and stay up across
// sizes and connection counts:
//   plain    signing off: outbound pass-through; its inbound listener takes
//            the verify cells and their baseline (unsigned, same size)
//   signing  signing on, the sender's identity enrolled, the recipient's
//            certificate imported: sign and sign+encrypt
// The cells of one size and connection count run interleaved, in two
// rounds of half the messages each, the second in reverse order (pass,
// sign, sign+encrypt, inbound pass, verify, then back), so a mode and its
// baseline share the machine's load of those minutes.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { cellCounts } from './options.js';
import { checkCell } from './checks.js';
import { cpuTime, gatewayThreads, startGateway, stopGateway, threadsDelta } from './gateway.js';
import { ENCRYPT_RECIPIENT, PLAIN_RECIPIENT, SENDER, messageFile, signedMessage, textMessage } from './messages.js';
import { gatewayConfig } from './setup.js';
import { MiB } from './sizes.js';

/**
 * Parts per cell, alternating the order of the modes (see runGroup): on a
 * shared or virtual machine whose speed drifts by 10-15% over minutes, four
 * interleaved parts (A B B A A B B A) keep a mode and its baseline on the
 * same footing better than two.
 */
const ROUNDS = 4;

/** The baseline each mode is compared with (same size, same connections, same run). */
export const BASELINE = { sign: 'pass', 'sign+encrypt': 'pass', verify: 'inbound pass' };

/** The cell modes in run order: the requested ones plus the baselines they need. */
export function cellModes(modes) {
  const wanted = new Set(modes);
  const order = ['pass', 'sign', 'sign+encrypt', 'inbound pass', 'verify'];
  return order.filter((m) => wanted.has(m) || (m === 'pass' && (wanted.has('sign') || wanted.has('sign+encrypt'))) || (m === 'inbound pass' && wanted.has('verify')));
}

/** The message files of one size: outbound plain and to the known recipient, inbound signed and its unsigned twin. */
function messagesFor(size, modes, dir, pkiDir) {
  const files = {};
  const name = (kind) => `${kind}-${size.bytes}.eml`;
  if (modes.includes('pass') || modes.includes('sign')) files.plain = messageFile(dir, name('out-plain'), textMessage(size.bytes, PLAIN_RECIPIENT));
  if (modes.includes('sign+encrypt')) files.encrypt = messageFile(dir, name('out-encrypt'), textMessage(size.bytes, ENCRYPT_RECIPIENT));
  if (modes.includes('verify')) {
    const signed = signedMessage(size.bytes, pkiDir, dir);
    files.signed = messageFile(dir, name('in-signed'), signed);
    files.unsigned = messageFile(dir, name('in-unsigned'), textMessage(signed.length, PLAIN_RECIPIENT));
  }
  return files;
}

/** Which gateway, listener, message and recipient a cell uses. */
function route(mode, gateways, files) {
  switch (mode) {
    case 'pass':
      return { gateway: gateways.plain, port: gateways.plain.config.submission, file: files.plain, to: PLAIN_RECIPIENT };
    case 'sign':
      return { gateway: gateways.signing, port: gateways.signing.config.submission, file: files.plain, to: PLAIN_RECIPIENT };
    case 'sign+encrypt':
      return { gateway: gateways.signing, port: gateways.signing.config.submission, file: files.encrypt, to: ENCRYPT_RECIPIENT };
    case 'inbound pass':
      return { gateway: gateways.plain, port: gateways.plain.config.inbound, file: files.unsigned, to: PLAIN_RECIPIENT };
    case 'verify':
      return { gateway: gateways.plain, port: gateways.plain.config.inbound, file: files.signed, to: PLAIN_RECIPIENT };
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

/** One part of a cell: `warmup` + `count` messages, with every process's account of them. */
async function runPart({ mode, gateways, files, nextHop, loadgen, concurrency, warmup, count }) {
  const { gateway, port, file, to } = route(mode, gateways, files);
  const hopBefore = await nextHop.stats();
  const gatewayBefore = cpuTime(gateway.child.pid);
  const threadsBefore = await gatewayThreads(gateway.child);
  const r = await loadgen.run({ port, file, from: SENDER, to, concurrency, warmup, count, withProbe: true });
  const threads = threadsDelta(threadsBefore, await gatewayThreads(gateway.child));
  const gatewayMs = cpuTime(gateway.child.pid) - gatewayBefore;
  const hopAfter = await nextHop.stats();
  const check = checkCell(mode, warmup + count - r.errors, hopBefore, hopAfter);
  return { ...r, total: warmup + count, warmup, gatewayMs, threads, nextHopMs: hopAfter.cpuMs - hopBefore.cpuMs, check };
}

function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return { n: 0, p50: 0, p99: 0, max: 0 };
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { n: sorted.length, p50: pct(50), p99: pct(99), max: sorted[sorted.length - 1] };
}

/** A cell from its parts: rates over the summed time, percentiles over all latencies, CPU over all messages sent. */
function combine({ size, concurrency, mode }, parts) {
  const sum = (f) => parts.reduce((n, p) => n + f(p), 0);
  const sent = sum((p) => p.sent);
  const seconds = sum((p) => p.seconds);
  const total = sum((p) => p.total);
  const bytes = parts[0].bytes;
  const latency = percentiles(parts.flatMap((p) => p.latencies));
  const withThreads = parts.every((p) => p.threads);
  const errors = sum((p) => p.errors);
  const problems = [...new Set(parts.filter((p) => !p.check.ok).map((p) => p.check.text))];
  if (errors > 0) problems.unshift(`${errors} refused (${[...new Set(parts.flatMap((p) => p.firstErrors))].slice(0, 3).join(' | ')})`);
  return {
    size: size.label,
    sizeBytes: size.bytes,
    messageBytes: bytes,
    concurrency,
    mode,
    rounds: parts.length,
    warmup: sum((p) => p.warmup),
    messages: sent,
    seconds,
    rate: sent / seconds,
    mbps: (sent * bytes) / MiB / seconds,
    p50: latency.p50,
    p99: latency.p99,
    max: latency.max,
    probe: percentiles(parts.flatMap((p) => p.probe ?? [])),
    // CPU per message over everything the cell sent (warm-up included): the counters cannot tell them apart.
    cpuMsPerMessage: {
      gateway: sum((p) => p.gatewayMs) / total,
      // The event loop's share: the rest ran on libuv's thread pool, the crypto workers, V8's helpers.
      gatewayMainThread: withThreads ? sum((p) => p.threads.mainThreadMs) / total : null,
      loadgen: sum((p) => p.cpuMs) / total,
      nextHop: sum((p) => p.nextHopMs) / total,
    },
    eventLoopUtilization: withThreads ? sum((p) => p.threads.active) / sum((p) => p.threads.active + p.threads.idle) : null,
    errors,
    ok: problems.length === 0,
    check: problems.length === 0 ? 'ok' : problems.join('; '),
  };
}

/**
 * The cells of one size and connection count. Each runs in ROUNDS parts,
 * the modes in order and then in reverse (pass, sign, ..., verify, verify,
 * ..., pass), so a change in the machine's load during the group weighs on
 * a mode and its baseline alike. The first part of each has the full
 * warm-up; later parts warm each new connection once.
 */
async function runGroup({ size, concurrency, modes, plan, ...context }) {
  const { count, warmup } = cellCounts(size.bytes, concurrency, plan);
  const rounds = Math.min(ROUNDS, count);
  const parts = new Map(modes.map((m) => [m, []]));
  for (let round = 0; round < rounds; round++) {
    const share = Math.floor(count / rounds) + (round < count % rounds ? 1 : 0);
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      parts.get(mode).push(await runPart({ ...context, mode, concurrency, count: share, warmup: round === 0 ? warmup : Math.min(warmup, concurrency) }));
    }
  }
  return modes.map((mode) => combine({ size, concurrency, mode }, parts.get(mode)));
}

/** Starts the gateways the modes need; the caller stops them with stopGateways. */
export async function startGateways(modes, dir, nextHop) {
  const relay = `smtp://127.0.0.1:${nextHop.port}`;
  const gateways = {};
  if (modes.some((m) => m === 'pass' || m === 'inbound pass' || m === 'verify')) gateways.plain = { config: await gatewayConfig(dir, 'plain', { relay, signing: false }) };
  if (modes.some((m) => m === 'sign' || m === 'sign+encrypt')) gateways.signing = { config: await gatewayConfig(dir, 'signing', { relay, signing: true }) };
  try {
    for (const g of Object.values(gateways)) g.child = await startGateway(g.config.file, g.config.submission);
  } catch (err) {
    await stopGateways(gateways);
    throw err;
  }
  return gateways;
}

export async function stopGateways(gateways) {
  for (const g of Object.values(gateways)) if (g.child) await stopGateway(g.child);
}

/** Runs every cell; `progress` gets each finished cell. Returns the cells in run order. */
export async function runMatrix(plan, { dir, nextHop, loadgen, progress }) {
  const modes = cellModes(plan.modes);
  const messageDir = path.join(dir, 'messages');
  mkdirSync(messageDir, { recursive: true });
  const gateways = await startGateways(modes, dir, nextHop);
  const cells = [];
  try {
    for (const size of plan.sizes) {
      const files = messagesFor(size, modes, messageDir, dir);
      for (const concurrency of plan.concurrency) {
        const group = await runGroup({ size, concurrency, modes, plan, gateways, files, nextHop, loadgen });
        for (const cell of group) {
          const baseline = group.find((c) => c.mode === BASELINE[cell.mode]);
          if (baseline) cell.ratio = cell.rate / baseline.rate;
          cells.push(cell);
          progress(cell);
        }
      }
      // The load generator keeps one Buffer per message file: free this size's before the next.
      await loadgen.forget();
    }
  } finally {
    await stopGateways(gateways);
  }
  return cells;
}

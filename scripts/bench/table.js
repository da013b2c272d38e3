// The report: markdown tables of the matrix, the memory peaks and the
// large-file runs, and the issue's targets checked against them.
import { BASELINE } from './matrix.js';
import { mib } from './sizes.js';

const rate = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const ms = (n) => (n === undefined ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1));
const cpu = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const pct = (r) => (r === undefined ? '' : `${(r * 100).toFixed(0)}%`);
const row = (cells) => `| ${cells.join(' | ')} |`;
const head = (names, align) => [row(names), row(align.split('').map((a) => (a === 'r' ? '---:' : '---')))];

const LABEL = { pass: 'pass-through', sign: 'sign', 'sign+encrypt': 'sign+encrypt', 'inbound pass': 'inbound pass-through', verify: 'verify' };

/** One line per size and connection count: each mode's msg/s and its ratio to the baseline. */
function summary(cells) {
  const modes = ['pass', 'sign', 'sign+encrypt', 'inbound pass', 'verify'].filter((m) => cells.some((c) => c.mode === m));
  const names = ['size', 'conns'];
  for (const m of modes) names.push(`${LABEL[m]} msg/s`, ...(BASELINE[m] ? [`${m} / ${BASELINE[m] === 'pass' ? 'pass' : 'inbound pass'}`] : []));
  const lines = head(names, 'lr' + names.slice(2).map(() => 'r').join(''));
  const keys = [...new Set(cells.map((c) => `${c.size}\t${c.concurrency}`))];
  for (const key of keys) {
    const [size, conns] = key.split('\t');
    const line = [size, conns];
    for (const m of modes) {
      const c = cells.find((x) => x.size === size && String(x.concurrency) === conns && x.mode === m);
      line.push(c ? `${rate(c.rate)}${c.ok ? '' : ' (!)'}` : '-');
      if (BASELINE[m]) line.push(c ? `**${pct(c.ratio)}**` : '-');
    }
    lines.push(row(line));
  }
  return lines;
}

function details(cells) {
  const lines = head(
    ['size', 'conns', 'mode', 'msgs', 'msg/s', 'MB/s', 'vs baseline', 'p50 ms', 'p99 ms', 'probe p99 / max ms', 'gateway CPU ms/msg (event loop)', 'event loop busy', 'load gen CPU ms/msg', 'next hop CPU ms/msg', 'check'],
    'lrlrrrrrrrrrrrl',
  );
  for (const c of cells) {
    lines.push(
      row([
        c.size,
        c.concurrency,
        LABEL[c.mode],
        c.messages,
        rate(c.rate),
        c.mbps.toFixed(1),
        pct(c.ratio),
        ms(c.p50),
        ms(c.p99),
        c.probe?.n > 0 ? `${ms(c.probe.p99)} / ${ms(c.probe.max)}` : '-',
        `${cpu(c.cpuMsPerMessage.gateway)}${c.cpuMsPerMessage.gatewayMainThread === null ? '' : ` (${cpu(c.cpuMsPerMessage.gatewayMainThread)})`}`,
        c.eventLoopUtilization === null ? '-' : pct(c.eventLoopUtilization),
        cpu(c.cpuMsPerMessage.loadgen),
        cpu(c.cpuMsPerMessage.nextHop),
        c.check,
      ]),
    );
  }
  return lines;
}

function memory(rows) {
  const lines = head(['mode', 'peak RSS (VmHWM)', 'idle RSS', 'time s', 'check'], 'lrrrl');
  for (const r of rows) lines.push(row([r.label, `${mib(r.peak)} MB`, `${mib(r.idle)} MB`, r.seconds.toFixed(1), r.check]));
  return lines;
}

function files(runs) {
  const lines = head(['run', 'plain copy MB/s', 'upload MB/s', 'upload / copy', 'download MB/s', 'download / copy', 'peak RSS upload / download', 'idle RSS', 'gateway CPU s upload / download'], 'rrrrrrrrr');
  for (const r of runs) {
    lines.push(
      row([
        r.run,
        r.copyMBps.toFixed(0),
        r.uploadMBps.toFixed(0),
        `**${pct(r.uploadRatio)}**`,
        r.downloadMBps.toFixed(0),
        `**${pct(r.downloadRatio)}**`,
        `${mib(r.peakUploadBytes)} / ${mib(r.peakDownloadBytes)} MB`,
        `${mib(r.idleBytes)} MB`,
        `${r.gatewayCpuSeconds.upload.toFixed(1)} / ${r.gatewayCpuSeconds.download.toFixed(1)}`,
      ]),
    );
  }
  return lines;
}

/** The issue's targets, where this run measured what they speak of. */
function targets(result) {
  const lines = [];
  const at = (mode) => result.cells.find((c) => c.sizeBytes === 10 * 1024 && c.concurrency === 16 && c.mode === mode);
  const verdict = (ok) => (ok ? 'met' : 'NOT met');
  for (const mode of ['sign', 'verify']) {
    const c = at(mode);
    if (c) lines.push(`- ${mode} / ${BASELINE[mode]}, 10 KB at 16 connections: ${pct(c.ratio)} (target >= 70%): ${verdict(c.ratio >= 0.7)}`);
  }
  const p99 = ['pass', 'sign', 'sign+encrypt', 'verify'].map(at).filter(Boolean);
  if (p99.length > 0) {
    const worst = p99.reduce((a, b) => (b.p99 > a.p99 ? b : a));
    lines.push(`- p99 latency, 10 KB at 16 connections: at most ${ms(worst.p99)} ms (${LABEL[worst.mode]}; target < 100 ms): ${verdict(worst.p99 < 100)}`);
  }
  for (const r of result.memory ?? []) if (r.mode !== 'pass' && !r.label.includes('attachment')) lines.push(`- peak memory, 50 MB message, ${r.label}: ${mib(r.peak)} MB (target < 200 MB): ${verdict(r.peak < 200 * 1024 * 1024)}`);
  for (const r of result.files ?? []) lines.push(`- large file run ${r.run}: upload ${pct(r.uploadRatio)}, download ${pct(r.downloadRatio)} of a plain copy (target >= 50%): ${verdict(r.uploadRatio >= 0.5 && r.downloadRatio >= 0.5)}`);
  return lines;
}

/** The whole report as markdown lines. */
export function report(result) {
  const { meta } = result;
  const out = [];
  out.push(
    `Siegel benchmark, ${meta.date}, Node ${meta.node}, ${meta.cpus} cores, load average ${meta.loadStart} at the start and ${meta.loadEnd} at the end; ` +
      `gateway flags ${meta.gatewayFlags}; signer ${meta.key}, recipient ${meta.recipientKey}.`,
    '',
  );
  if (result.cells.length > 0) {
    out.push(`Relay throughput (messages per connection count after warm-up: ${meta.counts}); ratios against the baseline of the same size and connections from this run:`, '');
    out.push(...summary(result.cells), '', 'Every cell:', '', ...details(result.cells), '');
    out.push(
      'probe: NOOP reply time on one more connection while the cell ran (what any other client waits for the event loop). ' +
        'gateway CPU: the whole process, in brackets its main thread (the event loop); the rest ran on the thread pool and the crypto workers. ' +
        'event loop busy: its utilisation (ELU) during the cell. ' +
        'CPU per message includes the warm-up messages; each process has its own account. ' +
        'check: every delivered message was of the kind its mode must produce (plain, multipart/signed, pkcs7-mime enveloped, smime=pass).',
      '',
    );
  }
  if (result.samples?.length > 0) out.push(...result.samples.map((s) => `- ${s}`), '');
  if (result.memory?.length > 0) out.push('One 50 MB message (7-bit text unless said), a freshly started gateway for each row, peak resident memory of the gateway process:', '', ...memory(result.memory), '');
  if (result.files?.length > 0) {
    const f = result.files[0];
    out.push(`Large files: one ${mib(f.sizeBytes)} MiB file of random bytes (MB/s = MiB/s), uploaded with tus as the upload page does and downloaded by ${f.downloadClient}, against a plain streamed copy on the same disk in the same run:`, '', ...files(result.files), '');
  }
  const t = targets(result);
  if (t.length > 0) out.push('Targets (issue 7):', '', ...t, '');
  if (result.failures.length > 0) out.push('FAILED CHECKS:', '', ...result.failures.map((f) => `- ${f}`), '');
  return out;
}

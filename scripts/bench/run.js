#!/usr/bin/env node
// `npm run bench`: the benchmark of issue 7 in one command. With no options
// the full matrix: relay throughput and latency for 10 KB, 1 MB and 25 MB
// messages at 1, 16 and 64 connections for pass-through, sign,
// sign+encrypt and verify, each next to its baseline from the same run;
// the peak memory for one 50 MB message; a 256 MiB file uploaded and
// downloaded against a plain copy. Prints markdown (and --json FILE).
// `npm run bench -- --help` lists the options; --mode relay|verify|files
// run the older single benchmarks.
//
// Processes: each gateway (`siegel serve`), the load generator
// (loadgen.js) and the counting next hop (next-hop.js) run in processes of
// their own; this one only coordinates and reads /proc.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkSamples } from './checks.js';
import { startLoadgen, startNextHop } from './children.js';
import { filesBench } from './files.js';
import { runMatrix, BASELINE } from './matrix.js';
import { memoryPeaks } from './memory.js';
import { cellCounts, parseOptions, usage } from './options.js';
import { createPki } from './setup.js';
import { report } from './table.js';

function describeCounts(plan) {
  return plan.sizes
    .map((s) => {
      const counts = [...new Set(plan.concurrency.map((c) => cellCounts(s.bytes, c, plan).count))];
      return `${s.label} ${counts.join('/')}`;
    })
    .join(', ');
}

const load = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(' ');

function progressLine(c) {
  const ratio = c.ratio === undefined ? '' : ` (${(c.ratio * 100).toFixed(0)}% of ${BASELINE[c.mode]})`;
  return (
    `${c.size} x${c.concurrency} ${c.mode}: ${c.rate.toFixed(c.rate < 10 ? 2 : 0)} msg/s${ratio}, p50 ${c.p50.toFixed(1)} ms, p99 ${c.p99.toFixed(1)} ms, ` +
    `probe max ${c.probe?.n > 0 ? c.probe.max.toFixed(1) : '-'} ms, gateway ${c.cpuMsPerMessage.gateway.toFixed(2)} ms/msg (event loop ${c.cpuMsPerMessage.gatewayMainThread?.toFixed(2) ?? '-'}, ` +
    `busy ${c.eventLoopUtilization === null ? '-' : (c.eventLoopUtilization * 100).toFixed(0)}%), ${c.messages} msgs in ${c.seconds.toFixed(1)} s, check ${c.check}`
  );
}

async function relayAndMemory(plan, dir, result) {
  await createPki(dir, plan);
  const sampleDir = path.join(dir, 'samples');
  mkdirSync(sampleDir);
  const nextHop = await startNextHop(sampleDir);
  const loadgen = await startLoadgen();
  try {
    if (plan.sizes.length > 0 && plan.concurrency.length > 0 && plan.modes.length > 0) {
      result.cells = await runMatrix(plan, { dir, nextHop, loadgen, progress: (c) => console.log(progressLine(c)) });
      for (const c of result.cells) if (!c.ok) result.failures.push(`${c.size} x${c.concurrency} ${c.mode}: ${c.check}`);
      try {
        result.samples = checkSamples((await nextHop.stats()).samples, dir, dir);
      } catch (err) {
        result.failures.push(`openssl check of a delivered sample: ${err.message.split('\n')[0]}`);
      }
    }
    if (plan.memory) {
      result.memory = await memoryPeaks({ dir, nextHop, loadgen, key: plan.key });
      for (const r of result.memory) {
        console.log(`50 MB ${r.label}: peak ${(r.peak / 1048576).toFixed(0)} MB, idle ${(r.idle / 1048576).toFixed(0)} MB, ${r.seconds.toFixed(1)} s, check ${r.check}`);
        if (!r.ok) result.failures.push(`50 MB ${r.label}: ${r.check}`);
      }
    }
  } finally {
    await loadgen.stop();
    await nextHop.stop();
  }
}

async function main() {
  let plan;
  try {
    plan = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${err.message}\n\n${usage}`);
    process.exit(64);
  }
  if (plan.help) {
    console.log(usage);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'siegel-bench-'));
  const result = {
    meta: {
      date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      node: process.version,
      cpus: os.cpus().length,
      loadStart: load(),
      loadEnd: '',
      gatewayFlags: process.env.GATEWAY_NODE_FLAGS ?? '--max-semi-space-size=1 --expose-gc',
      key: plan.key,
      recipientKey: plan.recipientKey,
      counts: describeCounts(plan),
      plan: { ...plan, sizes: plan.sizes.map((s) => s.label) },
    },
    cells: [],
    samples: [],
    memory: [],
    files: [],
    failures: [],
  };
  try {
    if (plan.mode !== 'files') await relayAndMemory(plan, dir, result);
    if (plan.files) {
      const filesDir = path.join(dir, 'files');
      mkdirSync(filesDir);
      // --mode files prints its own table as before; the matrix puts the runs into its report.
      result.files = await filesBench(filesDir, { size: plan.fileSize, runs: plan.runs, print: plan.mode === 'files' });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  result.meta.loadEnd = load();
  if (plan.mode !== 'files') console.log(`\n${report(result).join('\n')}`);
  if (plan.json) writeFileSync(plan.json, `${JSON.stringify(result, null, 2)}\n`);
  if (result.failures.length > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

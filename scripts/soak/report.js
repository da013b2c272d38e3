// The soak's summary as Markdown tables (the --json output has the same figures).
import { CLASSES } from './accounting.js';
import { KINDS } from './messages.js';

const row = (cells) => console.log(`| ${cells.join(' | ')} |`);

function memoryRow(name, m) {
  if (m.verdict === 'too-short') return row([name, `too few samples (${m.samples}) for a verdict`, '', '', '', '']);
  row([name, `${m.secondQuarterMedianMb} MB`, `${m.lastQuarterMedianMb} MB`, `${m.growthMb} MB (bound ${m.boundMb} MB)`, `${m.slopeMbPer10kMessages} MB`, m.verdict]);
}

export function printReport(s) {
  console.log(`\nSoak: ${s.sent} of ${s.messages} messages sent from ${s.clients} clients in ${s.loadSeconds.toFixed(1)} s (${s.messagesPerSecond} msg/s), seed ${s.seed}\n`);
  console.log(`Transactions (a message split by 452 4.5.3 is two): ${s.transactions}, of them ${s.splits} second parts\n`);
  row(['kind', 'transactions', ...CLASSES]);
  row(['---', ...Array(CLASSES.length + 1).fill('---:')]);
  for (const [kind, spec] of Object.entries(KINDS)) {
    const counts = s.byKind[kind] ?? {};
    const sent = CLASSES.reduce((sum, c) => sum + (counts[c] ?? 0), 0);
    row([`${kind} (${spec.what})`, sent, ...CLASSES.map((c) => counts[c] ?? 0)]);
  }
  row(['**all**', s.accounted, ...CLASSES.map((c) => s.classes[c])]);
  console.log(`\nFaults the next hops injected: ${Object.entries(s.injected).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`Refusals the clients got (stage, reply): ${Object.entries(s.replies).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}`);
  console.log(`Refusals no injected fault explains: ${s.unexplainedRefusals}; deliveries of unknown messages: ${s.unknownDeliveries}`);
  console.log(`Next hops: ${Object.entries(s.hops).map(([k, h]) => `${k} ${h.connections} connections, ${h.transactions} transactions, ${h.delivered} delivered`).join('; ')}\n`);
  row(['gateway memory (after warm-up)', 'median 2nd quarter', 'median last quarter', 'growth', 'slope per 10k msgs', 'verdict']);
  row(['---', '---:', '---:', '---:', '---:', '---']);
  memoryRow('RSS', s.memory.rss);
  memoryRow('V8 heap used', s.memory.heapUsed);
  console.log(`\nRSS idle before the run ${s.memory.idleRssMb} MB, peak ${s.memory.peakRssMb} MB (${s.memory.samples} samples, one a second)`);
  console.log(`File descriptors: ${s.fds.atStart} at start, baseline (idle after warm-up) ${s.fds.baseline}, peak ${s.fds.peak}, after the run ${s.fds.after} (${s.fds.backToBaseline ? 'back to baseline' : 'NOT back'} within ±${s.fds.slack})` +
      (Object.keys(s.fds.extraAfter ?? {}).length > 0 ? `; open beyond the baseline: ${Object.entries(s.fds.extraAfter).map(([t, n]) => `${t} ×${n}`).join(', ')}` : ''),
  );
  console.log(`Spot checks (openssl cms): signed ${s.spotChecks.signed.verified}/${s.spotChecks.signed.checked} verify, encrypted ${s.spotChecks.encrypted.decryptedAndVerified}/${s.spotChecks.encrypted.checked} decrypt and verify`);
  console.log(`Gateway: ${s.gateway.exitedDuringRun ? 'EXITED during the run' : 'ran through'}, exit ${JSON.stringify(s.gateway.exit)}\n`);
  for (const e of s.examples) console.log(`  ${e.class}: ${e.id} (${e.kind}) outcome ${JSON.stringify(e.outcome)} delivered ${e.delivered}${e.detail ? `: ${e.detail}` : ''}`);
  console.log(s.ok ? 'PASS: every message accounted for, nothing lost or doubled, memory and file descriptors flat' : `FAIL: ${s.failures.join('; ')}`);
}

// Peak memory for one 50 MB message: a freshly started gateway per row (so
// the peak is this message's, not left over from the matrix's 64 x 25 MB
// cells), one message over one connection to the counting next hop, the
// gateway's VmHWM from /proc before (idle) and after.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { checkCell } from './checks.js';
import { peakMemory, startGateway, stopGateway } from './gateway.js';
import { ENCRYPT_RECIPIENT, PLAIN_RECIPIENT, SENDER, attachmentMessage, messageFile, textMessage } from './messages.js';
import { gatewayConfig } from './setup.js';
import { MiB } from './sizes.js';

const SIZE = 50 * MiB;

/** Runs the rows; returns { label, mode, peak, idle, seconds, ok, check } for each. */
export async function memoryPeaks({ dir, nextHop, loadgen, key }) {
  const messageDir = path.join(dir, 'messages-50mb');
  mkdirSync(messageDir, { recursive: true });
  const relay = `smtp://127.0.0.1:${nextHop.port}`;
  const plain = await gatewayConfig(dir, 'memory-plain', { relay, signing: false });
  const signing = await gatewayConfig(dir, 'memory-signing', { relay, signing: true });
  const text = messageFile(messageDir, 'text-plain.eml', textMessage(SIZE, PLAIN_RECIPIENT));
  const rows = [
    { label: 'pass-through', mode: 'pass', config: plain, file: text, to: PLAIN_RECIPIENT },
    { label: `sign (${key})`, mode: 'sign', config: signing, file: text, to: PLAIN_RECIPIENT },
    { label: `sign+encrypt (${key})`, mode: 'sign+encrypt', config: signing, file: messageFile(messageDir, 'text-encrypt.eml', textMessage(SIZE, ENCRYPT_RECIPIENT)), to: ENCRYPT_RECIPIENT },
    { label: `sign (${key}), the 50 MB as an 8-bit attachment re-encoded as base64`, mode: 'sign', config: signing, file: messageFile(messageDir, 'attachment.eml', attachmentMessage(SIZE)), to: PLAIN_RECIPIENT },
  ];
  const results = [];
  for (const row of rows) {
    const child = await startGateway(row.config.file, row.config.submission);
    try {
      const idle = peakMemory(child.pid);
      const before = await nextHop.stats();
      const r = await loadgen.run({ port: row.config.submission, file: row.file, from: SENDER, to: row.to, concurrency: 1, warmup: 0, count: 1, withProbe: false });
      const peak = peakMemory(child.pid);
      const check = checkCell(row.mode, 1 - r.errors, before, await nextHop.stats());
      results.push({ label: row.label, mode: row.mode, messageBytes: r.bytes, peak, idle, seconds: r.seconds, ok: check.ok && r.errors === 0, check: r.errors > 0 ? r.firstErrors.join(' | ') : check.text });
    } finally {
      await stopGateway(child);
    }
  }
  await loadgen.forget();
  return results;
}

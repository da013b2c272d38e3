/**
 * What the hostile-input tests through SMTP share: an in-process gateway
 * (test/serve/test-gateway.ts) whose submission and inbound listeners both
 * relay to one counting next hop, hostile message builders, and a sampler
 * of the process's peak memory while a transaction runs.
 */
import { bothListenersYaml, startTestGateway, type TestGateway } from '../serve/test-gateway.js';
import { startFakeNextHop, type FakeNextHop } from '../smtp/helpers.js';

export const MAILBOX = 'amt@stadt.example';
export const PARTNER = 'partner@partner.example';

export interface HostileGateway {
  readonly gateway: TestGateway;
  readonly hop: FakeNextHop;
  readonly submission: number;
  readonly inbound: number;
  stop(): Promise<void>;
}

/** `listenerExtra` is YAML added to both listeners (4-space indented keys, e.g. "    socketTimeout: 1s\n"). */
export async function startHostileGateway(listenerExtra = ''): Promise<HostileGateway> {
  const hop = await startFakeNextHop();
  const gateway = await startTestGateway({
    configTail: () =>
      [
        'internalDomains: [stadt.example]',
        'authservId: mx.stadt.example',
        ...bothListenersYaml(hop.url, [listenerExtra.trimEnd()]),
        '',
      ]
        .filter((line) => line !== '')
        .join('\n') + '\n',
    mailboxes: [MAILBOX],
  });
  return {
    gateway,
    hop,
    submission: gateway.server.ports.submission,
    inbound: gateway.server.ports.inbound,
    async stop() {
      await gateway.stop();
      await hop.stop();
    },
  };
}

/** Header fields of a message from `from` to `to`. */
export function top(from: string, to: string, subject: string): string {
  return `From: ${from}\r\nTo: ${to}\r\nSubject: ${subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <${subject.replace(/\W/g, '')}@hostile.example>\r\nMIME-Version: 1.0\r\n`;
}

/** multipart/mixed nested `depth` levels around one text part. */
export function nestedMultipart(head: string, depth: number): Buffer {
  const open = Array.from({ length: depth }, (_, i) => `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`).join('');
  const close = Array.from({ length: depth }, (_, i) => `\r\n--n${depth - 1 - i}--\r\n`).join('');
  return Buffer.from(`${head}${open}Content-Type: text/plain\r\n\r\ninnermost\r\n${close}`, 'latin1');
}

/** One multipart/mixed with `count` tiny text parts (no header of their own). */
export function manyParts(head: string, count: number): Buffer {
  return Buffer.concat([Buffer.from(`${head}Content-Type: multipart/mixed; boundary="p"\r\n\r\n`, 'latin1'), Buffer.alloc(count * 10, '--p\r\n\r\nx\r\n'), Buffer.from('--p--\r\n', 'latin1')]);
}

/** One header field of about `bytes`, folded into 78-octet lines (folded: true) or one line. */
export function hugeField(head: string, bytes: number, folded: boolean): Buffer {
  const line = folded ? `${'a'.repeat(76)}\r\n ` : 'a'.repeat(80);
  const value = Buffer.alloc(bytes, line);
  return Buffer.concat([Buffer.from(`${head}X-Huge: `, 'latin1'), value, Buffer.from('\r\nContent-Type: text/plain\r\n\r\nBody.\r\n', 'latin1')]);
}

/** About `bytes` of short header fields. */
export function manyFields(head: string, bytes: number): Buffer {
  return Buffer.concat([Buffer.from(head, 'latin1'), Buffer.alloc(bytes, 'X-Filler: 0123456789abcdefghijklmnopqrstuvwxyz0123456789\r\n'), Buffer.from('Content-Type: text/plain\r\n\r\nBody.\r\n', 'latin1')]);
}

/**
 * Runs `work` while sampling the process's resident set size; returns its
 * result and the peak growth over the RSS at the start (bytes). Sampling
 * every 20 ms misses short spikes, which is fine for a generous bound.
 */
export async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakGrowth: number }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, peakGrowth: peak - base };
  } finally {
    clearInterval(timer);
  }
}

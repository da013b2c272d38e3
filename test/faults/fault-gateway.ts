/**
 * What the in-process fault tests share: a real `siegel serve` (test/serve
 * test-gateway.ts) whose submission and inbound listeners both relay to a
 * fault hop with a short next-hop timeout, messages that carry a unique
 * mark, and the mail-safety check: a 250 the client got must match a
 * message the next hop accepted; a refusal must be a catalog-style reply
 * (code and enhanced status of the same class).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import { openTransferService } from '../../src/transfer/open.js';
import type { ShareInfo } from '../../src/transfer/types.js';
import { bothListenersYaml, startTestGateway, type TestGateway } from '../serve/test-gateway.js';
import { sendMail, type SendOutcome } from '../smtp/helpers.js';
import { startFaultHop, type FaultHop, type HopScript } from './fault-hop.js';

export const MAILBOX = 'poststelle@stadt.example';
export const CITIZEN = 'buerger@example.org';
/** Next-hop timeout of the test gateways: short, but far above what a delivery takes on a loaded machine. */
export const NEXT_HOP_TIMEOUT_MS = 2_000;

export type Direction = 'submission' | 'inbound';
export const DIRECTIONS: readonly Direction[] = ['submission', 'inbound'];

/** `extra`: YAML appended to the config; `nextHopTimeout`: both listeners' next-hop timeout (default NEXT_HOP_TIMEOUT_MS). */
export async function startFaultGateway(hop: FaultHop, extra = '', nextHopTimeout = `${NEXT_HOP_TIMEOUT_MS}ms`): Promise<TestGateway> {
  return startTestGateway({
    configTail: () =>
      [
        'internalDomains: [stadt.example]',
        ...bothListenersYaml(hop.url, [`    nextHop: { timeout: ${nextHopTimeout} }`]),
        extra,
      ].join('\n'),
    mailboxes: [MAILBOX],
  });
}

export interface Marked {
  readonly mark: string;
  readonly raw: Buffer;
  readonly from: string;
  readonly to: string[];
}

/** A plain message for `direction` (staff to a citizen, or a citizen to the city) carrying a unique mark in its body. */
export function markedMessage(direction: Direction, bodyBytes = 0): Marked {
  const mark = `mark-${randomUUID()}`;
  const [from, to] = direction === 'submission' ? [MAILBOX, CITIZEN] : [CITIZEN, MAILBOX];
  const filler = bodyBytes > 0 ? `${'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n'.repeat(Math.ceil(bodyBytes / 74))}` : '';
  const raw = Buffer.from(
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: Fault test\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <${mark}@stadt.example>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n${mark}\r\n${filler}${mark}-end\r\n`,
    'latin1',
  );
  return { mark, raw, from, to: [to] };
}

export function portOf(gateway: TestGateway, direction: Direction): number {
  return gateway.server.ports[direction];
}

export async function send(gateway: TestGateway, direction: Direction, message: Marked): Promise<SendOutcome> {
  return sendMail(portOf(gateway, direction), { from: message.from, to: message.to, raw: message.raw });
}

/** How many messages the hop accepted that carry the mark (whole: start and end mark). */
export function acceptedCopies(hop: FaultHop, mark: string): number {
  return hop.accepted.filter((m) => {
    const text = m.raw.toString('latin1');
    return text.includes(`${mark}\r\n`) && text.includes(`${mark}-end`);
  }).length;
}

/**
 * The mail-safety property for one message: a 250 only for a message the
 * next hop accepted; otherwise a 4xx/5xx reply with an enhanced status of
 * the same class (the sender keeps the message and retries or bounces it).
 */
export function expectMailSafe(outcome: SendOutcome, hop: FaultHop, message: Marked): void {
  if (outcome.ok) {
    expect(acceptedCopies(hop, message.mark)).toBeGreaterThanOrEqual(1);
    return;
  }
  expect(outcome.response).toMatch(/^[45]\d\d [45]\.\d{1,3}\.\d{1,3} /);
  const [code, enhanced] = outcome.response.split(' ');
  expect(enhanced?.[0]).toBe(code?.[0]);
}

/** The reply code and enhanced status of a refusal, e.g. "451 4.4.2". */
export function status(outcome: SendOutcome): string {
  return outcome.response.split(' ').slice(0, 2).join(' ');
}

/** A staff message with one base64 attachment of `attachmentBytes` (decoded) random bytes, for the large-file offload. */
export function messageWithAttachment(attachmentBytes: number): Marked & { readonly attachment: Buffer } {
  const mark = `mark-${randomUUID()}`;
  const attachment = randomBytes(attachmentBytes);
  const base64 = attachment.toString('base64').replace(/.{76}/g, '$&\r\n');
  const boundary = `=_fault_${mark}`;
  const raw = Buffer.from(
    `From: <${MAILBOX}>\r\nTo: <${CITIZEN}>\r\nSubject: Anlage\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <${mark}@stadt.example>\r\n` +
      `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n` +
      `--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${mark}\r\nDie Pläne anbei.\r\n${mark}-end\r\n` +
      `--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="plan.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
      `${base64}\r\n--${boundary}--\r\n`,
    'latin1',
  );
  return { mark, raw, from: MAILBOX, to: [CITIZEN], attachment };
}

/** The gateway's configuration as `siegel serve` loaded it (for opening its stores from the test). */
export function gatewayConfig(gateway: TestGateway): Config {
  return loadConfig({ file: path.join(gateway.dir, 'siegel.yaml'), env: {} });
}

/** The shares of `owner` in the gateway's transfer store, revoked and expired ones included. */
export async function sharesOf(gateway: TestGateway, owner: string): Promise<ShareInfo[]> {
  const transfer = openTransferService(gatewayConfig(gateway), { logger: silentLogger(), now: () => new Date() });
  try {
    return await transfer.list({ owner, includeInactive: true });
  } finally {
    await transfer.close();
  }
}

/** Every file below `dir` (recursively), as paths relative to it. */
export function filesBelow(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

/** One marked message through each listener at once while the hop follows `script` (reset afterwards); `elapsed` in ms. */
/** The gateway still relays: one message through each listener gets 250, and the hop has exactly one copy of each. */
export async function expectStillServing(hop: FaultHop, gateway: TestGateway): Promise<void> {
  for (const { message, outcome } of await throughBoth(hop, gateway, {})) {
    expect(outcome.response).toMatch(/^250 /);
    expect(acceptedCopies(hop, message.mark)).toBe(1);
  }
}

export async function throughBoth(hop: FaultHop, gateway: TestGateway, script: HopScript): Promise<{ message: Marked; outcome: SendOutcome; elapsed: number }[]> {
  hop.script = script;
  try {
    return await Promise.all(
      DIRECTIONS.map(async (direction) => {
        const message = markedMessage(direction);
        const started = Date.now();
        const outcome = await send(gateway, direction, message);
        return { message, outcome, elapsed: Date.now() - started };
      }),
    );
  } finally {
    hop.script = {};
  }
}

/**
 * A fault hop and an in-process gateway relaying to it, for all tests of a
 * file: started before them (handed to `use`), stopped after them.
 */
export function withFaultGateway(extra: string, use: (hop: FaultHop, gateway: TestGateway) => void): void {
  let hop: FaultHop | undefined;
  let gateway: TestGateway | undefined;
  beforeAll(async () => {
    hop = await startFaultHop();
    gateway = await startFaultGateway(hop, extra);
    use(hop, gateway);
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    await hop?.stop();
  });
}

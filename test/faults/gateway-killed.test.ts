/**
 * Fault: the gateway process dies (SIGKILL: no shutdown code runs) in the
 * middle of transactions. `siegel serve` runs as a child process relaying
 * to a fault hop; we kill it while (a) the next hop has the whole message
 * but holds its answer to the end of data, on both listeners, and (b) a
 * client is still sending the body. The client must never hold a 250: it
 * sees the connection drop and keeps the message (in (a) the next hop has
 * a copy too: the retry makes a duplicate, which is the safe side; loss is
 * not). Then the gateway starts again on the same data dir (no stale lock,
 * the database sound) and relays through both listeners.
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import type { TestGateway } from '../serve/test-gateway.js';
import { sendMail } from '../smtp/helpers.js';
import { CITIZEN, DIRECTIONS, MAILBOX, acceptedCopies, markedMessage, startFaultGateway } from './fault-gateway.js';
import { startFaultHop, type FaultHop } from './fault-hop.js';
import { ensureBuilt, runSiegel, startServeProcess, type ServeProcess } from './siegel-process.js';

let hop: FaultHop;
let gateway: TestGateway;

beforeAll(async () => {
  ensureBuilt();
  hop = await startFaultHop();
  // The hop may hold its answer for as long as the test needs: the kill, not a timeout, must end the transaction.
  gateway = await startFaultGateway(hop, 'web:\n  listen: 127.0.0.1:0\n', '60s');
  // Only its data dir (keystore with the mailbox) and config are used: the gateway under test is a process.
  await gateway.server.stop();
}, 180_000);

afterAll(async () => {
  await hop?.stop();
  if (gateway) rmSync(gateway.dir, { recursive: true, force: true });
});

async function killed(serve: ServeProcess): Promise<void> {
  serve.child.kill('SIGKILL');
  expect(await serve.exited).toEqual({ code: null, signal: 'SIGKILL' });
}

/** A client that stops in the middle of the body: returns what the server said after DATA, and whether the connection closed. */
function sendHalf(port: number, from: string, to: string, half: Buffer): { sentHalf: Promise<void>; closed: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  let step = 0;
  const script = [`EHLO client.test\r\n`, `MAIL FROM:<${from}>\r\n`, `RCPT TO:<${to}>\r\n`, 'DATA\r\n'];
  let onHalf: () => void = () => undefined;
  const sentHalf = new Promise<void>((resolve) => (onHalf = resolve));
  socket.on('data', (d: Buffer) => {
    received += d.toString('latin1');
    // One complete reply per step (the last line of a multi-line reply has a space after the code).
    const replies = received.split('\r\n').filter((line) => /^\d{3} /.test(line));
    while (step < replies.length) {
      if (step < script.length) socket.write(script[step] ?? '');
      else if (step === script.length) {
        socket.write(half, () => onHalf());
      }
      step += 1;
    }
  });
  socket.on('error', () => undefined);
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  return { sentHalf, closed };
}

describe('the gateway killed during a transaction', () => {
  it('while the next hop holds its answer to the end of data: no 250 to the client; then it starts again and relays', async () => {
    let serve = await startServeProcess(gateway.dir);
    hop.script = { endOfData: { kind: 'hang' } };
    const messages = DIRECTIONS.map((direction) => markedMessage(direction));
    const receivedBefore = hop.received.length;
    const outcomes = Promise.all(messages.map((m, i) => sendMail(serve.ports[DIRECTIONS[i] ?? 'submission'], { from: m.from, to: m.to, raw: m.raw })));
    // Both messages are at the next hop, whose 250 has not come: now the gateway dies.
    await hop.receivedCount(receivedBefore + messages.length);
    await killed(serve);
    hop.script = {};
    const results = await outcomes;
    results.forEach((outcome, i) => {
      const message = messages[i];
      if (!message) throw new Error('message missing');
      // The client sees the connection drop (no reply at all), so it keeps the message.
      expect(outcome.ok).toBe(false);
      expect(outcome.response).toMatch(/^ECONNECTION .*closed/i);
      // The next hop has it (the sender's retry will duplicate it, never lose it), but never answered 250.
      expect(hop.received.some((m) => m.raw.includes(message.mark))).toBe(true);
      expect(acceptedCopies(hop, message.mark)).toBe(0);
    });

    // Restarted on the same data dir: no lock, no damage, relays both ways.
    serve = await startServeProcess(gateway.dir);
    try {
      for (const direction of DIRECTIONS) {
        const retry = markedMessage(direction);
        const outcome = await sendMail(serve.ports[direction], { from: retry.from, to: retry.to, raw: retry.raw });
        expect(outcome.response).toMatch(/^250 /);
        expect(acceptedCopies(hop, retry.mark)).toBe(1);
      }
    } finally {
      await killed(serve);
    }
  }, 40_000);

  it('while the client is in the middle of the body: no 250, nothing reaches the next hop; the restarted gateway relays and its database is sound', async () => {
    let serve = await startServeProcess(gateway.dir);
    const message = markedMessage('submission', 300_000);
    const dataBefore = hop.dataStarted;
    const client = sendHalf(serve.ports.submission, MAILBOX, CITIZEN, message.raw.subarray(0, 100_000));
    await client.sentHalf;
    await killed(serve);
    const transcript = await client.closed;
    // The client got the 354 and nothing after it: no 250.
    expect(transcript).toMatch(/^354 /m);
    expect(transcript.slice(transcript.indexOf('354 '))).not.toMatch(/^250 /m);
    expect(hop.dataStarted).toBe(dataBefore);
    expect(acceptedCopies(hop, message.mark)).toBe(0);

    serve = await startServeProcess(gateway.dir);
    try {
      const again = markedMessage('submission', 300_000);
      const outcome = await sendMail(serve.ports.submission, { from: again.from, to: again.to, raw: again.raw });
      expect(outcome.response).toMatch(/^250 /);
      expect(acceptedCopies(hop, again.mark)).toBe(1);
      // The CLI reads the same database next to the running gateway: the identity survived the kills.
      const certs = await runSiegel(['certs', 'list', '--config', 'siegel.yaml'], gateway.dir);
      expect(certs.status).toBe(0);
      expect(certs.stdout).toContain(MAILBOX);
    } finally {
      await killed(serve);
    }
  }, 40_000);
});

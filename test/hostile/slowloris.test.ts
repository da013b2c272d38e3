/**
 * Slow SMTP clients against the real listeners of an in-process gateway
 * (issue 7), with short timeouts configured: socketTimeout 1s (idle),
 * sessionTimeout 4s (whole connection), maxConnections 6.
 *
 * - A client that never sends MAIL or DATA, or stops in the middle of
 *   DATA, is idle: 421 and closed after socketTimeout; nothing is relayed.
 * - A client that trickles one byte every 300 ms is never idle, in the
 *   command phase or inside DATA: 421 4.4.2 and closed after sessionTimeout.
 * - While slow clients hold connections, an ordinary client still gets its
 *   message through, and connections beyond maxConnections get 421.
 *
 * No timing is asserted: each wait has a generous ceiling and the test
 * checks what the client was told and that the connection was closed.
 */
import { sampleMessage, sendMail } from '../smtp/helpers.js';
import { MAILBOX, startHostileGateway, type HostileGateway } from './hostile-gateway.js';
import { RawSmtpClient } from './raw-smtp.js';

const MAX_CONNECTIONS = 6;
let g: HostileGateway;
const clients: RawSmtpClient[] = [];

beforeAll(async () => {
  g = await startHostileGateway(`    socketTimeout: 1s\n    sessionTimeout: 4s\n    maxConnections: ${MAX_CONNECTIONS}\n`);
}, 60_000);

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
});

afterAll(async () => {
  await g.stop();
});

async function connect(port = g.submission): Promise<RawSmtpClient> {
  const client = await RawSmtpClient.connect(port);
  clients.push(client);
  await client.reply(/^220 /);
  return client;
}

/** Greeted, with a transaction open up to DATA's 354. */
async function inData(port: number, from: string, to: string): Promise<RawSmtpClient> {
  const client = await connect(port);
  await client.command('EHLO slow.example', /^250 /);
  await client.command(`MAIL FROM:<${from}>`, /^250 /);
  await client.command(`RCPT TO:<${to}>`, /^250 /);
  await client.command('DATA', /^354 /);
  return client;
}

/** Waits until the server closed the connection (generous ceiling; the point is that it does). */
async function closedByServer(client: RawSmtpClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ceiling = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not closed; got ${JSON.stringify(client.lines)}`)), 30_000);
  });
  await Promise.race([client.closed, ceiling]).finally(() => clearTimeout(timer));
  expect(client.isClosed).toBe(true);
}

describe('slow clients are cut off', () => {
  it('a client that greets and then never sends MAIL or DATA: 421 and closed (idle timeout)', async () => {
    const client = await connect();
    await client.command('EHLO idle.example', /^250 /);
    await closedByServer(client);
    expect(client.lines.at(-1)).toMatch(/^421 /);
  });

  it.each([
    ['submission', () => g.submission, MAILBOX, 'buerger@example.org'],
    ['inbound', () => g.inbound, 'partner@partner.example', MAILBOX],
  ])('a client that stops in the middle of DATA (%s): 421, closed, nothing relayed', async (_name, port, from, to) => {
    const before = g.hop.received.length;
    const client = await inData(port(), from, to);
    client.write(`From: ${from}\r\nTo: ${to}\r\nSubject: half\r\n\r\nThe first half and then nothing`);
    await closedByServer(client);
    expect(client.lines.at(-1)).toMatch(/^421 /);
    expect(g.hop.received).toHaveLength(before);
  });

  it('a client that trickles a command line one byte every 300 ms: 421 4.4.2 at the session limit', async () => {
    const client = await connect();
    await client.command('EHLO slow.example', /^250 /);
    // Never idle for a second, and the line never ends.
    void client.trickle(`NOOP ${'x'.repeat(1000)}`, 300);
    await closedByServer(client);
    expect(client.lines.at(-1)).toMatch(/^421 4\.4\.2 /);
  });

  it('a client that trickles its message one byte every 300 ms: 421 4.4.2 at the session limit, nothing relayed', async () => {
    const before = g.hop.received.length;
    const client = await inData(g.submission, MAILBOX, 'buerger@example.org');
    void client.trickle(`From: ${MAILBOX}\r\nSubject: slow\r\n\r\n${'y'.repeat(1000)}`, 300);
    await closedByServer(client);
    expect(client.lines.at(-1)).toMatch(/^421 4\.4\.2 /);
    expect(g.hop.received).toHaveLength(before);
  });
});

describe('slow clients do not lock out the others', () => {
  it('an ordinary client gets through while slow ones hold connections; beyond maxConnections: 421', async () => {
    // MAX_CONNECTIONS - 1 tricklers: one slot stays free for the ordinary client.
    const slow = await Promise.all(Array.from({ length: MAX_CONNECTIONS - 1 }, () => connect()));
    for (const client of slow) void client.trickle(`NOOP ${'z'.repeat(1000)}`, 300);
    const before = g.hop.received.length;
    const ordinary = await sendMail(g.submission, { raw: sampleMessage() });
    expect(ordinary.response).toMatch(/^250 /);
    expect(g.hop.received).toHaveLength(before + 1);
    expect(g.hop.received[before]?.raw.toString('latin1')).toContain('application/pkcs7-signature');
    expect(slow.every((client) => !client.isClosed)).toBe(true);

    // The slots are full now: one more connection gets 421 and is closed.
    const refused = await RawSmtpClient.connect(g.submission);
    clients.push(refused);
    await refused.reply(/^421 /);
    expect(refused.lines.some((line) => line.startsWith('220 '))).toBe(false);
    await closedByServer(refused);

    // The tricklers end at the session limit, and the listener serves again.
    await Promise.all(slow.map((client) => closedByServer(client)));
    const after = await sendMail(g.submission, { raw: sampleMessage() });
    expect(after.response).toMatch(/^250 /);
  });
});

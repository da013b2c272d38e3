import net from 'node:net';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { pipelineMessage } from '../../src/pipeline/message.js';
import type { PipelineMessage, PipelineResult } from '../../src/pipeline/types.js';
import type { ListenerConfig } from '../../src/config/schema.js';
import { hashPassword } from '../../src/smtp/credentials.js';
import { createSmtpListener } from '../../src/smtp/listener.js';
import { createNextHop } from '../../src/smtp/next-hop.js';
import {
  captureLogger,
  closedPort,
  listenerConfig,
  sampleMessage,
  sendMail,
  startFakeNextHop,
  tempDir,
  tlsFiles,
  type FakeNextHop,
  splitTrace,
} from './helpers.js';

const identity = async (message: PipelineMessage): Promise<PipelineResult> => ({ message, actions: [{ stage: 'identity', action: 'unchanged' }] });

interface Running {
  readonly port: number;
  stop(): Promise<void>;
}

const running: Running[] = [];
const hops: FakeNextHop[] = [];

async function listen(
  config: ListenerConfig,
  options: { logger?: Logger; process?: (m: PipelineMessage, q: string) => Promise<PipelineResult> } = {},
): Promise<Running> {
  const logger = options.logger ?? silentLogger();
  const nextHop = createNextHop(config.relay, config.nextHop, logger, { hostname: 'siegel.test' });
  const listener = createSmtpListener({ name: 'submission', config, hostname: 'siegel.test', logger, process: options.process ?? identity, nextHop });
  const { port } = await listener.start();
  const handle = {
    port,
    async stop() {
      await listener.stop();
      await nextHop.close();
    },
  };
  running.push(handle);
  return handle;
}

async function fakeHop(options?: Parameters<typeof startFakeNextHop>[0]): Promise<FakeNextHop> {
  const hop = await startFakeNextHop(options);
  hops.push(hop);
  return hop;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
  await Promise.all(hops.splice(0).map((h) => h.stop()));
});

describe('SMTP listener relaying to a real next hop', () => {
  it('relays the exact bytes with the envelope and answers 250 with the queue id after the next hop accepted', async () => {
    const hop = await fakeHop();
    const capture = captureLogger();
    const { port } = await listen(listenerConfig({ relay: hop.url }), { logger: capture.logger });
    const raw = sampleMessage();
    const outcome = await sendMail(port, { from: 'amt@stadt.example', to: ['a@example.org', 'b@example.net'], raw });
    expect(outcome.ok).toBe(true);
    expect(outcome.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]{12}$/);
    expect(hop.received).toHaveLength(1);
    const got = hop.received[0]!;
    const { received, rest } = splitTrace(got.raw);
    expect(rest.equals(raw)).toBe(true);
    expect(received).toMatch(/^Received: from [^\r\n]+ \(\[127\.0\.0\.1\]\)\r\n\tby [^ ]+ \(Siegel\) with ESMTP id [0-9A-F]+;\r\n\t\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n$/);
    expect(got.mailFrom).toBe('amt@stadt.example');
    expect(got.rcptTo).toEqual(['a@example.org', 'b@example.net']);

    const queueId = outcome.response.split(' ').pop();
    const line = capture.lines().find((l) => l.msg === 'message relayed');
    expect(line).toMatchObject({
      level: 'info',
      listener: 'submission',
      queueId,
      client: '127.0.0.1',
      sender: 'amt@stadt.example',
      recipientCount: 2,
      recipients: ['a@example.org', 'b@example.net'],
      size: raw.length,
      actions: ['identity:unchanged'],
      response: '250 Ok: queued as NEXT1',
    });
    expect(typeof line?.durationMs).toBe('number');
    expect(JSON.stringify(capture.lines())).not.toContain('Sehr geehrte');
  });

  it('relays the null sender', async () => {
    const hop = await fakeHop();
    const { port } = await listen(listenerConfig({ relay: hop.url }));
    const outcome = await sendMail(port, { from: '' });
    expect(outcome.ok).toBe(true);
    expect(hop.received[0]?.mailFrom).toBe('');
  });

  it('answers 451 4.4.1 when the next hop is down, and 250 never', async () => {
    const { port } = await listen(listenerConfig({ relay: `smtp://127.0.0.1:${await closedPort()}` }));
    const outcome = await sendMail(port);
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toBe('451 4.4.1 Next hop not reachable, try again later');
  });

  it('mirrors a 4xx of the next hop', async () => {
    const hop = await fakeHop();
    hop.mode = 'tempfail';
    const { port } = await listen(listenerConfig({ relay: hop.url }));
    const outcome = await sendMail(port);
    expect(outcome.response).toBe('451 4.7.1 Greylisted, try again later');
    expect(hop.received).toHaveLength(0);
  });

  it('mirrors a 5xx of the next hop, adding 5.0.0 when it gave no enhanced code', async () => {
    const hop = await fakeHop();
    const { port } = await listen(listenerConfig({ relay: hop.url }));
    hop.mode = 'permfail';
    expect((await sendMail(port)).response).toBe('554 5.7.1 Message refused by policy');
    hop.mode = 'permfail-bare';
    expect((await sendMail(port)).response).toBe('550 5.0.0 No thanks');
    expect(hop.received).toHaveLength(0);
  });

  it('answers 451 when the next hop drops the connection during DATA, and nothing is delivered', async () => {
    const hop = await fakeHop();
    hop.mode = 'drop';
    const { port } = await listen(listenerConfig({ relay: hop.url }));
    const outcome = await sendMail(port, { raw: sampleMessage('x'.repeat(200_000)) });
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toMatch(/^451 4\.4\.1 /);
    expect(hop.dataStarted).toBe(1);
    expect(hop.received).toHaveLength(0);
  });

  it('answers 451 4.4.2 when the next hop stalls beyond nextHop.timeout', async () => {
    const hop = await fakeHop();
    hop.mode = 'stall';
    const { port } = await listen(listenerConfig({ relay: hop.url, nextHop: { timeout: 500 } }));
    const started = Date.now();
    const outcome = await sendMail(port);
    expect(outcome.response).toBe('451 4.4.2 Next hop timed out, try again later');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('answers 451 4.3.0 when the pipeline throws, and delivers nothing', async () => {
    const hop = await fakeHop();
    const capture = captureLogger();
    const { port } = await listen(listenerConfig({ relay: hop.url }), {
      logger: capture.logger,
      process: async () => {
        throw new TypeError('boom');
      },
    });
    const outcome = await sendMail(port);
    expect(outcome.response).toBe('451 4.3.0 Local error in processing, try again later');
    expect(hop.dataStarted).toBe(0);
    const line = capture.lines().find((l) => l.msg === 'message deferred');
    expect(line).toMatchObject({ level: 'error', reply: '451 4.3.0 Local error in processing, try again later', error: 'boom' });
  });

  it('processes nothing when the client disconnects during DATA, and keeps serving', async () => {
    const hop = await fakeHop();
    const capture = captureLogger();
    let processed = 0;
    const { port } = await listen(listenerConfig({ relay: hop.url }), {
      logger: capture.logger,
      process: async (message) => {
        processed++;
        return { message, actions: [] };
      },
    });
    const transcript = await rawSession(port, ['EHLO c.test', 'MAIL FROM:<a@stadt.example>', 'RCPT TO:<b@example.org>', 'DATA'], 'Subject: half\r\n\r\nonly the first ha');
    expect(transcript).toMatch(/^354 /m);
    await sleep(100);
    expect(processed).toBe(0);
    expect(hop.dataStarted).toBe(0);
    expect(capture.lines().find((l) => l.msg === 'message aborted')).toMatchObject({ outcome: 'aborted', recipients: ['b@example.org'] });
    expect((await sendMail(port)).ok).toBe(true);
    expect(processed).toBe(1);
  });

  it('hands the pipeline result, not the input, to the next hop', async () => {
    const hop = await fakeHop();
    const { port } = await listen(listenerConfig({ relay: hop.url }), {
      process: async (message) => ({
        message: pipelineMessage(message.envelope, [Buffer.from('X-Processed: yes\r\n'), ...message.chunks]),
        actions: [{ stage: 'tag', action: 'added' }],
      }),
    });
    expect((await sendMail(port)).ok).toBe(true);
    expect(splitTrace(hop.received[0]!.raw).rest.toString('utf8').startsWith('X-Processed: yes\r\nFrom: ')).toBe(true);
  });
});

describe('next hop refusing recipients', () => {
  it('delivers nothing and mirrors the refusal when one of two recipients is refused', async () => {
    const hop = await fakeHop();
    hop.refuse.set('nobody@example.org', { code: 550, text: '5.1.1 Mailbox unknown' });
    const { port } = await listen(listenerConfig({ relay: hop.url }));
    const outcome = await sendMail(port, { to: ['a@example.org', 'nobody@example.org'] });
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toBe('550 5.1.1 <nobody@example.org>: Mailbox unknown');
    // The next hop got DATA but the transaction was abandoned before the final dot.
    expect(hop.received).toHaveLength(0);
    // The next hop is not left with a half transaction: the next message goes through whole.
    const second = await sendMail(port, { to: ['a@example.org'] });
    expect(second.ok).toBe(true);
    expect(hop.received).toHaveLength(1);
    expect(hop.received[0]?.rcptTo).toEqual(['a@example.org']);
  });

  it('answers 4xx when the only refusal is temporary, so the client retries the whole message', async () => {
    const hop = await fakeHop();
    hop.refuse.set('full@example.org', { code: 452, text: '4.2.2 Mailbox full' });
    const { port } = await listen(listenerConfig({ relay: hop.url }));
    const outcome = await sendMail(port, { to: ['a@example.org', 'full@example.org'] });
    expect(outcome.response).toBe('452 4.2.2 <full@example.org>: Mailbox full');
    expect(hop.received).toHaveLength(0);
  });

  it('prefers the permanent refusal when temporary and permanent ones are mixed', async () => {
    const hop = await fakeHop();
    hop.refuse.set('full@example.org', { code: 452, text: '4.2.2 Mailbox full' });
    hop.refuse.set('nobody@example.org', { code: 550, text: '5.1.1 Mailbox unknown' });
    const { port } = await listen(listenerConfig({ relay: hop.url }));
    const outcome = await sendMail(port, { to: ['full@example.org', 'ok@example.org', 'nobody@example.org'] });
    expect(outcome.response).toBe('550 5.1.1 <nobody@example.org>: Mailbox unknown');
    expect(hop.received).toHaveLength(0);
  });

  it('mirrors the refusal when all recipients are refused', async () => {
    const hop = await fakeHop();
    hop.refuse.set('nobody@example.org', { code: 550, text: '5.1.1 Mailbox unknown' });
    const { port } = await listen(listenerConfig({ relay: hop.url }));
    const outcome = await sendMail(port, { to: ['nobody@example.org'] });
    expect(outcome.response).toBe('550 5.1.1 <nobody@example.org>: Mailbox unknown');
    expect(hop.dataStarted).toBe(0);
  });
});

describe('listener limits', () => {
  it('enforces the size limit it advertises: 552 5.3.4 for a client that ignores SIZE', async () => {
    const hop = await fakeHop();
    const { port } = await listen(listenerConfig({ relay: hop.url, maxMessageSize: 1000 }));
    const connection = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true, logger: false });
    const ehlo = await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => resolve());
    });
    expect(ehlo).toBeUndefined();
    const error = await new Promise<SMTPConnection.SMTPError | null>((resolve) => {
      // No envelope size: nodemailer does not check SIZE itself and sends it all.
      connection.send({ from: 'a@stadt.example', to: ['b@example.org'] }, sampleMessage('y'.repeat(5000)), (err) => resolve(err));
    });
    connection.close();
    expect(error?.response).toBe('552 5.3.4 Message size exceeds fixed maximum message size');
    expect(hop.dataStarted).toBe(0);
  });

  it('advertises the size limit in EHLO', async () => {
    const hop = await fakeHop();
    const { port } = await listen(listenerConfig({ relay: hop.url, maxMessageSize: 1000 }));
    const transcript = await rawSession(port, ['EHLO client.test', 'QUIT']);
    expect(transcript).toMatch(/^220 siegel\.test ESMTP Siegel/);
    expect(transcript).toMatch(/^250[- ]SIZE 1000\r$/m);
  });

  it('answers 452 4.5.3 for recipients beyond maxRecipients and relays the accepted ones', async () => {
    const hop = await fakeHop();
    const { port } = await listen(listenerConfig({ relay: hop.url, maxRecipients: 2 }));
    const outcome = await sendMail(port, { to: ['a@example.org', 'b@example.org', 'c@example.org'] });
    expect(outcome.ok).toBe(true);
    expect(outcome.rejected).toEqual(['c@example.org']);
    expect(hop.received[0]?.rcptTo).toEqual(['a@example.org', 'b@example.org']);
    const transcript = await rawSession(port, ['EHLO c.test', 'MAIL FROM:<a@stadt.example>', 'RCPT TO:<a@x.example>', 'RCPT TO:<b@x.example>', 'RCPT TO:<c@x.example>', 'QUIT']);
    expect(transcript).toContain('452 4.5.3 Too many recipients');
  });

  it('refuses more than maxConnections clients at once', async () => {
    const hop = await fakeHop();
    const { port } = await listen(listenerConfig({ relay: hop.url, maxConnections: 1 }));
    const first = await openRaw(port);
    const second = await rawSession(port, []);
    expect(second).toMatch(/^421 /);
    first.destroy();
  });
});

describe('client access', () => {
  it('refuses clients outside clientNetworks at connect with 554 5.7.1', async () => {
    const hop = await fakeHop();
    const { port } = await listen(listenerConfig({ relay: hop.url, clientNetworks: ['10.0.0.0/8'] }));
    const outcome = await sendMail(port);
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toBe('554 5.7.1 Client host not allowed to use this service');
    expect(hop.dataStarted).toBe(0);
  });

  it('lets clients outside clientNetworks relay once authenticated', async () => {
    const hop = await fakeHop();
    const dir = tempDir();
    const credentialsFile = path.join(dir, 'users');
    writeFileSync(credentialsFile, `poststelle:${await hashPassword('richtig')}\n`);
    const { port } = await listen(listenerConfig({ relay: hop.url, clientNetworks: ['10.0.0.0/8'], auth: { credentialsFile } }));
    expect((await sendMail(port)).response).toBe('530 5.7.0 Authentication required');
    expect((await sendMail(port, { auth: { user: 'poststelle', pass: 'richtig' } })).ok).toBe(true);
    expect(hop.received).toHaveLength(1);
  });

  it('with auth.required: correct credentials relay, wrong ones get 535 5.7.8, none 530 5.7.0', async () => {
    const hop = await fakeHop();
    const dir = tempDir();
    const credentialsFile = path.join(dir, 'users');
    writeFileSync(credentialsFile, `# users\npoststelle:${await hashPassword('richtig')}\n`);
    const capture = captureLogger();
    const { port } = await listen(listenerConfig({ relay: hop.url, auth: { credentialsFile, required: true } }), { logger: capture.logger });
    expect((await sendMail(port)).response).toBe('530 5.7.0 Authentication required');
    expect((await sendMail(port, { auth: { user: 'poststelle', pass: 'falsch' } })).response).toBe('535 5.7.8 Authentication credentials invalid');
    expect((await sendMail(port, { auth: { user: 'niemand', pass: 'richtig' } })).response).toBe('535 5.7.8 Authentication credentials invalid');
    const ok = await sendMail(port, { auth: { user: 'poststelle', pass: 'richtig' } });
    expect(ok.ok).toBe(true);
    expect(hop.received).toHaveLength(1);
    expect(capture.lines().find((l) => l.msg === 'message relayed')).toMatchObject({ user: 'poststelle' });
    const text = JSON.stringify(capture.lines());
    expect(text).not.toContain('richtig');
    expect(text).not.toContain('falsch');
  });

  it('picks up users added to the credentials file while running', async () => {
    const hop = await fakeHop();
    const dir = tempDir();
    const credentialsFile = path.join(dir, 'users');
    writeFileSync(credentialsFile, `alt:${await hashPassword('eins')}\n`);
    const { port } = await listen(listenerConfig({ relay: hop.url, auth: { credentialsFile, required: true } }));
    expect((await sendMail(port, { auth: { user: 'neu', pass: 'zwei' } })).response).toBe('535 5.7.8 Authentication credentials invalid');
    writeFileSync(credentialsFile, `neu:${await hashPassword('zwei')}\n`);
    expect((await sendMail(port, { auth: { user: 'neu', pass: 'zwei' } })).ok).toBe(true);
    expect((await sendMail(port, { auth: { user: 'alt', pass: 'eins' } })).response).toBe('535 5.7.8 Authentication credentials invalid');
  });

  it('does not offer AUTH when no credentials file is configured', async () => {
    const hop = await fakeHop();
    const { port } = await listen(listenerConfig({ relay: hop.url }));
    const transcript = await rawSession(port, ['EHLO c.test', 'QUIT']);
    expect(transcript).not.toContain('AUTH');
    expect(transcript).not.toContain('STARTTLS');
  });
});

describe('STARTTLS', () => {
  it('with requireTls refuses MAIL before STARTTLS and relays after it', async () => {
    const hop = await fakeHop();
    const tls = await tlsFiles();
    const capture = captureLogger();
    const { port } = await listen(listenerConfig({ relay: hop.url, tls: { cert: tls.cert, key: tls.key }, requireTls: true }), { logger: capture.logger });
    const plain = await sendMail(port);
    expect(plain.response).toBe('530 5.7.0 Must issue a STARTTLS command first');
    const secured = await sendMail(port, { ca: tls.certPem, requireTls: true });
    expect(secured.ok).toBe(true);
    expect(hop.received).toHaveLength(1);
    expect(capture.lines().find((l) => l.msg === 'message relayed')).toMatchObject({ tls: true });
  });

  it('offers AUTH on loopback in clear, but not with requireTls before STARTTLS', async () => {
    const hop = await fakeHop();
    const tls = await tlsFiles();
    const dir = tempDir();
    const credentialsFile = path.join(dir, 'users');
    writeFileSync(credentialsFile, `u:${await hashPassword('p')}\n`);
    const open = await listen(listenerConfig({ relay: hop.url, tls: { cert: tls.cert, key: tls.key }, auth: { credentialsFile } }));
    const openTranscript = await rawSession(open.port, ['EHLO c.test', 'QUIT']);
    expect(openTranscript).toContain('250-STARTTLS');
    expect(openTranscript).toMatch(/AUTH PLAIN LOGIN/);
    const strict = await listen(listenerConfig({ relay: hop.url, tls: { cert: tls.cert, key: tls.key }, auth: { credentialsFile }, requireTls: true }));
    const strictTranscript = await rawSession(strict.port, ['EHLO c.test', 'AUTH PLAIN AHUAcA==', 'QUIT']);
    expect(strictTranscript).toContain('250-STARTTLS');
    expect(strictTranscript).not.toMatch(/250[- ]AUTH/);
    expect(strictTranscript).not.toMatch(/^235/m);
  });

  it('swaks: STARTTLS + AUTH PLAIN, the next hop gets the exact bytes', async () => {
    const hop = await fakeHop();
    const tls = await tlsFiles();
    const dir = tempDir();
    const credentialsFile = path.join(dir, 'users');
    writeFileSync(credentialsFile, `poststelle:${await hashPassword('geheim 123')}\n`);
    const { port } = await listen(listenerConfig({ relay: hop.url, tls: { cert: tls.cert, key: tls.key }, requireTls: true, auth: { credentialsFile, required: true } }));
    const raw = sampleMessage();
    const file = path.join(dir, 'message.eml');
    // swaks always ends DATA with "\r\n.\r\n" itself, so the file leaves out the final CRLF.
    writeFileSync(file, raw.subarray(0, raw.length - 2));
    const { execFile } = await import('node:child_process');
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        '/usr/bin/swaks',
        ['--server', '127.0.0.1', '--port', String(port), '--tls', '--auth', 'PLAIN', '--auth-user', 'poststelle', '--auth-password', 'geheim 123',
          '--from', 'amt@stadt.example', '--to', 'buerger@example.org', '--data', file, '--timeout', '10'],
        { timeout: 20_000 },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
    expect(result.out).toMatch(/<~ +250 2\.0\.0 Ok: queued as [0-9A-F]{12}/);
    expect(result.code).toBe(0);
    expect(hop.received).toHaveLength(1);
    const trace = splitTrace(hop.received[0]!.raw);
    expect(trace.rest.equals(raw)).toBe(true);
    // RFC 3848: STARTTLS and AUTH show in the protocol; a single recipient is named.
    expect(trace.received).toMatch(/ with ESMTPSA id [0-9A-F]+\r\n\tfor <buerger@example\.org>;/);
    expect(hop.received[0]?.rcptTo).toEqual(['buerger@example.org']);
  });
});

describe('maildir next hop', () => {
  it('writes exactly the bytes into new/', async () => {
    const dir = tempDir();
    const maildir = path.join(dir, 'mail', 'outbound');
    const { port } = await listen(listenerConfig({ relay: `maildir:${maildir}` }));
    const raw = sampleMessage();
    const outcome = await sendMail(port);
    expect(outcome.ok).toBe(true);
    const files = readdirSync(path.join(maildir, 'new'));
    expect(files).toHaveLength(1);
    expect(splitTrace(readFileSync(path.join(maildir, 'new', files[0]!))).rest.equals(raw)).toBe(true);
    expect(readdirSync(path.join(maildir, 'tmp'))).toEqual([]);
    expect(readdirSync(path.join(maildir, 'cur'))).toEqual([]);
  });

  it('writes a message given as chunks, more than one writev can take (IOV_MAX 1024), in order', async () => {
    const maildir = path.join(tempDir(), 'mail');
    const nextHop = createNextHop(`maildir:${maildir}`, listenerConfig({}).nextHop, silentLogger(), { hostname: 'siegel.test' });
    const raw = sampleMessage('0123456789abcdef'.repeat(300));
    const chunks = Array.from({ length: Math.ceil(raw.length / 2) }, (_, i) => raw.subarray(2 * i, 2 * i + 2));
    expect(chunks.length).toBeGreaterThan(2048);
    await nextHop.deliver(pipelineMessage({ mailFrom: 'amt@stadt.example', rcptTo: ['buerger@example.org'] }, chunks), 'Q1');
    await nextHop.close();
    const files = readdirSync(path.join(maildir, 'new'));
    expect(files).toHaveLength(1);
    expect(readFileSync(path.join(maildir, 'new', files[0]!)).equals(raw)).toBe(true);
  });

  it('answers 451 4.3.1 when the maildir cannot be written', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'file'), 'not a directory');
    const { port } = await listen(listenerConfig({ relay: `maildir:${path.join(dir, 'file', 'maildir')}` }));
    expect((await sendMail(port)).response).toBe('451 4.3.1 Insufficient system storage, try again later');
  });
});

describe('stopping', () => {
  it('lets a transaction past DATA finish and sends 421 to idle sessions', async () => {
    const hop = await fakeHop();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inPipeline = new Promise<void>((resolve) => (entered = resolve));
    const config = listenerConfig({ relay: hop.url });
    const logger = silentLogger();
    const nextHop = createNextHop(config.relay, config.nextHop, logger);
    const listener = createSmtpListener({
      name: 'inbound',
      config,
      hostname: 'siegel.test',
      logger,
      nextHop,
      process: async (message) => {
        entered();
        await gate;
        return { message, actions: [] };
      },
    });
    const { port } = await listener.start();
    const idle = await openRaw(port);
    const idleText = collect(idle);
    const sending = sendMail(port);
    await inPipeline;
    const stopping = listener.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    const outcome = await sending;
    await stopping;
    await nextHop.close();
    expect(outcome.ok).toBe(true);
    expect(hop.received).toHaveLength(1);
    expect(await idleText).toMatch(/421 4\.3\.2 Service shutting down, try again later/);
  });
});


function openRaw(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function collect(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (data: Buffer) => (text += data.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
  });
}

/** A wait that does not keep the test worker alive. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Sends commands one by one, each after the previous reply, and returns the transcript. */
async function rawSession(port: number, commands: readonly string[], thenDrop?: string): Promise<string> {
  const socket = await openRaw(port);
  let text = '';
  let waiting: (() => void) | undefined;
  socket.on('data', (data: Buffer) => {
    text += data.toString('latin1');
    // A complete reply ends with a line "NNN text".
    if (/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(text)) waiting?.();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  const nextReply = () => new Promise<void>((resolve) => (waiting = resolve));
  await Promise.race([nextReply(), closed]);
  for (const command of commands) {
    if (socket.destroyed) break;
    const reply = nextReply();
    socket.write(`${command}\r\n`);
    await Promise.race([reply, closed, sleep(2000)]);
  }
  if (thenDrop !== undefined) {
    // Part of a message, then the connection goes away without the final dot.
    socket.write(thenDrop);
    await sleep(50);
    socket.destroy();
    return text;
  }
  socket.end();
  await Promise.race([closed, sleep(1000)]);
  socket.destroy();
  return text;
}

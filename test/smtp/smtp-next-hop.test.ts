import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SiegelError, smtpReplyFor } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { contiguous, pipelineMessage } from '../../src/pipeline/message.js';
import { createNextHop } from '../../src/smtp/next-hop.js';
import { closedPort, listenerConfig, sampleMessage, startFakeNextHop, tempDir, tlsFiles, type FakeNextHop } from './helpers.js';

const hops: FakeNextHop[] = [];
afterEach(async () => {
  await Promise.all(hops.splice(0).map((h) => h.stop()));
});

const message = pipelineMessage({ mailFrom: 'amt@stadt.example', rcptTo: ['buerger@example.org'] }, sampleMessage());

function nextHopConfig(values: Parameters<typeof listenerConfig>[0]['nextHop'] = {}) {
  return listenerConfig({ nextHop: values }).nextHop;
}

async function failure(promise: Promise<unknown>): Promise<SiegelError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SiegelError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

describe('SMTP next hop', () => {
  it('uses STARTTLS with the configured CA when required, and logs in with the password file', async () => {
    const tls = await tlsFiles();
    const hop = await startFakeNextHop({ tls: { key: tls.keyPem, cert: tls.certPem }, login: { user: 'relay', pass: 'pw with spaces' } });
    hops.push(hop);
    const dir = tempDir();
    const passwordFile = path.join(dir, 'password');
    writeFileSync(passwordFile, 'pw with spaces\n');
    const nextHop = createNextHop(`smtp://localhost:${hop.port}`, nextHopConfig({ requireTls: true, caFile: tls.cert, user: 'relay', passwordFile }), silentLogger());
    const result = await nextHop.deliver(message, 'Q1');
    expect(result.response).toBe('250 Ok: queued as NEXT1');
    expect(hop.received[0]).toMatchObject({ secure: true, user: 'relay', rcptTo: ['buerger@example.org'] });
    expect(hop.received[0]?.raw.equals(contiguous(message))).toBe(true);
  });

  it('sends a message given as many chunks byte for byte, 8-bit bytes in a later chunk included', async () => {
    const hop = await startFakeNextHop();
    hops.push(hop);
    const raw = sampleMessage('x'.repeat(100_000));
    const at = [0, 1, 17, 200, raw.indexOf('Grüße'), raw.indexOf('Grüße') + 3, 5000, 70_000, raw.length];
    const chunks = at.slice(1).map((end, i) => raw.subarray(at[i], end));
    // Built by hand: pipelineMessage() would merge these small chunks.
    const chunked = { envelope: message.envelope, chunks, size: raw.length };
    expect(chunked.chunks.length).toBeGreaterThan(5);
    expect(chunked.chunks[0]?.some((b) => b >= 0x80)).toBe(false);
    const nextHop = createNextHop(hop.url, nextHopConfig(), silentLogger());
    await nextHop.deliver(chunked, 'Q10');
    await nextHop.close();
    expect(hop.received).toHaveLength(1);
    expect(hop.received[0]?.raw.equals(raw)).toBe(true);
    // the 8-bit bytes in later chunks are seen: the body is declared 8BITMIME
    expect(hop.received[0]?.mailFromArgs).toMatchObject({ BODY: '8BITMIME' });
  });

  it('refuses an unverifiable next hop certificate (451 4.4.1) unless verification is off', async () => {
    const tls = await tlsFiles();
    const hop = await startFakeNextHop({ tls: { key: tls.keyPem, cert: tls.certPem } });
    hops.push(hop);
    const strict = createNextHop(`smtp://localhost:${hop.port}`, nextHopConfig(), silentLogger());
    const err = await failure(strict.deliver(message, 'Q2'));
    expect(err.code).toBe('NEXT_HOP_UNREACHABLE');
    expect(smtpReplyFor(err)).toMatchObject({ code: 451, enhanced: '4.4.1' });
    expect(hop.received).toHaveLength(0);
    const lax = createNextHop(`smtp://localhost:${hop.port}`, nextHopConfig({ verifyCertificate: false }), silentLogger());
    await lax.deliver(message, 'Q3');
    expect(hop.received[0]?.secure).toBe(true);
  });

  it('fails with requireTls when the next hop offers no STARTTLS', async () => {
    const hop = await startFakeNextHop();
    hops.push(hop);
    const nextHop = createNextHop(hop.url, nextHopConfig({ requireTls: true }), silentLogger());
    const err = await failure(nextHop.deliver(message, 'Q4'));
    expect(smtpReplyFor(err).code).toBe(451);
    expect(hop.dataStarted).toBe(0);
  });

  it('treats a refused login at the next hop as our configuration problem (451 4.3.5), never as the client’s', async () => {
    const tls = await tlsFiles();
    const hop = await startFakeNextHop({ tls: { key: tls.keyPem, cert: tls.certPem }, login: { user: 'relay', pass: 'right' } });
    hops.push(hop);
    const dir = tempDir();
    const passwordFile = path.join(dir, 'password');
    writeFileSync(passwordFile, 'wrong');
    const nextHop = createNextHop(`smtp://localhost:${hop.port}`, nextHopConfig({ caFile: tls.cert, user: 'relay', passwordFile }), silentLogger());
    const err = await failure(nextHop.deliver(message, 'Q5'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(smtpReplyFor(err)).toMatchObject({ code: 451, enhanced: '4.3.5' });
  });

  it('never sends the next-hop password over a connection without TLS', async () => {
    const hop = await startFakeNextHop({ login: { user: 'relay', pass: 'secret' } });
    hops.push(hop);
    const dir = tempDir();
    const passwordFile = path.join(dir, 'password');
    writeFileSync(passwordFile, 'secret');
    // requireTls is off, but a login is configured and the next hop offers no STARTTLS.
    const nextHop = createNextHop(hop.url, nextHopConfig({ user: 'relay', passwordFile }), silentLogger());
    const err = await failure(nextHop.deliver(message, 'Q5b'));
    expect(smtpReplyFor(err).code).toBe(451);
    expect(hop.logins).toBe(0);
    expect(hop.received).toHaveLength(0);
  });

  it('maps a closed port to NEXT_HOP_UNREACHABLE and a garbage greeting to NEXT_HOP_PROTOCOL', async () => {
    const down = createNextHop(`smtp://127.0.0.1:${await closedPort()}`, nextHopConfig(), silentLogger());
    expect((await failure(down.deliver(message, 'Q6'))).code).toBe('NEXT_HOP_UNREACHABLE');

    const net = await import('node:net');
    const garbage = net.createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', () => resolve()));
    const port = (garbage.address() as import('node:net').AddressInfo).port;
    const confused = createNextHop(`smtp://127.0.0.1:${port}`, nextHopConfig(), silentLogger());
    const err = await failure(confused.deliver(message, 'Q7'));
    garbage.close();
    expect(err.code).toBe('NEXT_HOP_PROTOCOL');
    expect(smtpReplyFor(err)).toMatchObject({ code: 451, enhanced: '4.5.0' });
  });

  it('close() aborts a delivery in flight', async () => {
    const hop = await startFakeNextHop();
    hops.push(hop);
    hop.mode = 'stall';
    const nextHop = createNextHop(hop.url, nextHopConfig({ timeout: 10_000 }), silentLogger());
    const pending = failure(nextHop.deliver(message, 'Q8'));
    while (hop.dataStarted === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await nextHop.close();
    expect((await pending).code).toBe('SHUTTING_DOWN');
    expect((await failure(nextHop.deliver(message, 'Q9'))).code).toBe('SHUTTING_DOWN');
  });

  it('rejects relay strings it cannot use', () => {
    expect(() => createNextHop('http://example.org', nextHopConfig(), silentLogger())).toThrow(SiegelError);
  });
});

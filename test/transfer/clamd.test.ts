/**
 * The virus-scan hook against a fake clamd that speaks the real INSTREAM
 * protocol on a Unix socket (see fake-clamd.ts for why it is a fake), and
 * the parsing of clamd addresses and replies.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { SiegelError } from '../../src/errors.js';
import { createClamdScanner, parseClamdAddress, parseClamdReply } from '../../src/transfer/clamd.js';
import { readAll, sha256 } from './blob-test-helpers.js';
import { EICAR, startFakeClamd, type FakeClamd } from './fake-clamd.js';
import { serviceFixture, type ServiceFixture } from './service-fixture.js';
import { tempDir } from '../pki/test-pki.js';

const OWNER = 'bauamt@stadt.example';

describe('clamd virus-scan hook', () => {
  let fx: ServiceFixture;
  let clamd: FakeClamd;

  beforeEach(async () => {
    clamd = await startFakeClamd(tempDir('siegel-clamd-'));
    fx = serviceFixture({ scanner: createClamdScanner(clamd.socketPath, 5000) });
  });

  afterEach(async () => {
    await fx.service.close();
    await clamd.close();
  });

  it('scans the decrypted plaintext and makes a clean file downloadable', async () => {
    const data = randomBytes(700_000);
    const created = await fx.service.share(Readable.from([data.subarray(0, 300_000), data.subarray(300_000)]), { owner: OWNER, fileName: 'plan.dwg', origin: 'web' });
    expect(clamd.received).toEqual([{ sha256: sha256(data), size: data.length }]);
    const result = await fx.service.download(created.token, {});
    if (result.status !== 'ok') throw new Error(result.status);
    expect((await readAll(result.stream)).equals(data)).toBe(true);
  });

  it('refuses an infected file, even with the signature across chunk borders, and keeps nothing', async () => {
    const data = Buffer.concat([randomBytes(65_536 - 20), Buffer.from(EICAR, 'latin1'), randomBytes(5000)]);
    const error = await fx.service.share(Readable.from([data]), { owner: OWNER, fileName: 'rechnung.pdf.exe', origin: 'web' }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SiegelError);
    expect((error as SiegelError).code).toBe('FILE_INFECTED');
    expect((error as SiegelError).message).toContain('Eicar-Test-Signature');
    expect(clamd.received).toHaveLength(1);
    expect(fx.blobFiles()).toEqual([]);
    expect(await fx.service.list({ includeInactive: true })).toEqual([]);
    expect(await fx.service.audit()).toEqual([]);
  });

  it('fails closed when clamd reports an error, times out or is not there', async () => {
    const share = () => fx.service.share(Readable.from([randomBytes(1000)]), { owner: OWNER, fileName: 'a.bin', origin: 'cli' });
    clamd.mode = 'size-limit';
    await expect(share()).rejects.toMatchObject({ code: 'VIRUS_SCAN_FAILED', message: expect.stringContaining('size limit exceeded') });
    await fx.service.close();

    clamd.mode = 'silent';
    fx = serviceFixture({ scanner: createClamdScanner(clamd.socketPath, 300) });
    await expect(share()).rejects.toMatchObject({ code: 'VIRUS_SCAN_FAILED', message: expect.stringContaining('did not answer within 300 ms') });
    expect(fx.blobFiles()).toEqual([]);
    await fx.service.close();

    fx = serviceFixture({ scanner: createClamdScanner(path.join(fx.dir, 'no-such.sock'), 5000) });
    await expect(share()).rejects.toMatchObject({ code: 'VIRUS_SCAN_FAILED', message: expect.stringContaining('no-such.sock') });
    expect(fx.blobFiles()).toEqual([]);
  });

  it('speaks to clamd over TCP as host:port', async () => {
    const server = net.createServer((socket) => {
      let seen = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        seen = Buffer.concat([seen, chunk]);
        if (seen.subarray(-4).equals(Buffer.alloc(4)) && seen.length > 14) socket.end('stream: OK\0');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const scanner = createClamdScanner(`127.0.0.1:${port}`, 5000);
      expect(await scanner.scan(Readable.from([Buffer.from('harmless')]))).toEqual({ status: 'clean' });
    } finally {
      server.close();
    }
  });
});

describe('clamd addresses and replies', () => {
  it('parses socket paths and host:port forms', () => {
    expect(parseClamdAddress('/run/clamav/clamd.ctl')).toEqual({ path: '/run/clamav/clamd.ctl' });
    expect(parseClamdAddress('unix:/var/run/clamd.sock')).toEqual({ path: '/var/run/clamd.sock' });
    expect(parseClamdAddress('clamav.stadt.example:3310')).toEqual({ host: 'clamav.stadt.example', port: 3310 });
    expect(parseClamdAddress('tcp://127.0.0.1:3310')).toEqual({ host: '127.0.0.1', port: 3310 });
    expect(parseClamdAddress('[::1]:3310')).toEqual({ host: '::1', port: 3310 });
    for (const bad of ['clamd', 'host:0', 'host:70000', '']) expect(() => parseClamdAddress(bad)).toThrow(/largeFiles.virusScan.clamd/);
  });

  it('reads clamd verdicts', () => {
    expect(parseClamdReply('stream: OK\0')).toEqual({ status: 'clean' });
    expect(parseClamdReply('stream: Win.Test.EICAR_HDB-1 FOUND\n')).toEqual({ status: 'infected', signature: 'Win.Test.EICAR_HDB-1' });
    expect(() => parseClamdReply('INSTREAM size limit exceeded. ERROR')).toThrow(/size limit exceeded/);
    expect(() => parseClamdReply('')).toThrow(/nothing/);
  });
});

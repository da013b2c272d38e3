/**
 * `siegel serve` runs the web edge: a share made through the same data dir
 * (as `siegel files share` would, while the gateway runs) is reachable at
 * ports.web; a web port that is taken fails the start cleanly.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startServer } from '../../src/commands/serve.js';
import { silentLogger } from '../../src/log.js';
import { openTransferService } from '../../src/transfer/open.js';
import { startTestGateway } from '../serve/test-gateway.js';
import { tempDir } from '../smtp/helpers.js';
import { patternBytes } from './helpers.js';

function context(config: Config) {
  return { config, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, logger: silentLogger(), now: () => new Date() };
}

function loopback(config: Config, webPort: number): Config {
  return {
    ...config,
    smtp: { ...config.smtp, submission: { ...config.smtp.submission, listen: { host: '127.0.0.1', port: 0 } }, inbound: { ...config.smtp.inbound, listen: { host: '127.0.0.1', port: 0 } } },
    web: { ...config.web, listen: { host: '127.0.0.1', port: webPort } },
  };
}

test('the gateway serves download links from its data dir', async () => {
  const gateway = await startTestGateway({ configTail: () => 'internalDomains: [stadt.example]\n', mailboxes: [] });
  try {
    expect(gateway.server.ports.web).toBeGreaterThan(0);
    const config = loadConfig({ file: path.join(gateway.dir, 'siegel.yaml'), env: {} });
    const cli = openTransferService(config, { logger: silentLogger(), now: () => new Date() });
    const content = patternBytes(70_000);
    const share = await cli.share(Readable.from([content]), { owner: 'amt@stadt.example', fileName: 'Plan.pdf', origin: 'cli' });
    await cli.close();
    const base = `http://127.0.0.1:${gateway.server.ports.web}`;
    const page = await fetch(`${base}/d/${share.token}`, { headers: { 'Accept-Language': 'en' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Plan.pdf');
    const download = await fetch(`${base}/d/${share.token}/download`);
    expect(Buffer.from(await download.arrayBuffer()).equals(content)).toBe(true);
  } finally {
    await gateway.stop();
  }
});

test('a taken web port fails the start; a second start on the same data dir then works', async () => {
  const dir = tempDir('siegel-web-serve-');
  const blocker = net.createServer();
  try {
    mkdirSync(path.join(dir, 'trust'));
    writeFileSync(path.join(dir, 'siegel.yaml'), 'dataDir: data\ntrustAnchors: trust\n');
    const config = loadConfig({ file: path.join(dir, 'siegel.yaml'), env: {} });
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    await expect(startServer(context(loopback(config, taken)))).rejects.toThrow(/EADDRINUSE/);
    // The failed start closed its databases and listeners: a second start on the same data dir works.
    const server = await startServer(context(loopback(config, 0)));
    expect(server.ports.web).not.toBe(taken);
    await server.stop();
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

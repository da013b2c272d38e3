/**
 * A web edge for tests: the real TransferService in a temp dir, the express
 * app on 127.0.0.1 (ephemeral port), a clock the test moves, and the log
 * lines captured so tests can check what is (not) logged.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import type { ShareOptions, TransferService, CreatedShare } from '../../src/transfer/types.js';
import { openTransferService } from '../../src/transfer/open.js';
import { createWebApp } from '../../src/web/app.js';
import { startWebServer, type WebServer, type WebServerOptions } from '../../src/web/server.js';

export interface WebTest {
  readonly dir: string;
  readonly config: Config;
  readonly base: string;
  readonly transfer: TransferService;
  readonly server: WebServer;
  /** Every log line written so far. */
  logs(): string;
  /** Moves the clock forward. */
  advance(ms: number): void;
  share(content: Buffer, options?: Partial<ShareOptions>): Promise<CreatedShare>;
  shareStream(content: Iterable<Buffer> | AsyncIterable<Buffer>, options?: Partial<ShareOptions>): Promise<CreatedShare>;
  stop(): Promise<void>;
}

export const startTime = new Date('2026-11-23T09:30:00Z');

export async function startWebTest(options: { values?: Record<string, unknown>; server?: WebServerOptions } = {}): Promise<WebTest> {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-web-'));
  mkdirSync(path.join(dir, 'trust'));
  const config = loadConfig({
    values: {
      dataDir: path.join(dir, 'data'),
      trustAnchors: path.join(dir, 'trust'),
      internalDomains: ['stadt.example'],
      ...options.values,
      web: { listen: '127.0.0.1:0', ...(options.values?.['web'] as Record<string, unknown> | undefined) },
    },
    baseDir: dir,
    env: {},
  });
  let clock = startTime.getTime();
  const now = () => new Date(clock);
  let logText = '';
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => {
    logText += chunk.toString('utf8');
  });
  const logger = createLogger('debug', logStream);
  const transfer = openTransferService(config, { logger, now });
  const app = createWebApp({ config, transfer, logger, now });
  const server = await startWebServer(app, config.web.listen, options.server);
  return {
    dir,
    config,
    base: `http://127.0.0.1:${server.port}`,
    transfer,
    server,
    logs: () => logText,
    advance(ms) {
      clock += ms;
    },
    share(content, shareOptions = {}) {
      return transfer.share(Readable.from([content]), { owner: 'amt@stadt.example', fileName: 'plan.pdf', origin: 'cli', ...shareOptions });
    },
    shareStream(content, shareOptions = {}) {
      return transfer.share(Readable.from(content), { owner: 'amt@stadt.example', fileName: 'plan.pdf', origin: 'cli', ...shareOptions });
    },
    async stop() {
      await server.close();
      await transfer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The path of a share's link page. */
export function linkPathOf(share: CreatedShare): string {
  return new URL(share.url).pathname;
}

/** Deterministic bytes that differ at every offset (so a wrong range is noticed). */
export function patternBytes(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i += 1) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Cookies from Set-Cookie headers as "name=value" pairs for a Cookie header. */
export function cookiesFrom(response: Response): Map<string, string> {
  const jar = new Map<string, string>();
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
  }
  return jar;
}

export function cookieHeader(jar: ReadonlyMap<string, string>): string {
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
}

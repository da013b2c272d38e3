/**
 * A staff-area test server: the real TransferService, LocalBlobStore and
 * staff store in a temp data dir, the real mail notifier (outbound
 * pipeline + Maildir next hop) for sign-in and upload-request mail, the
 * express app on 127.0.0.1 with web.publicUrl pointing at it, and a clock
 * the test moves. restart() stops the HTTP server and opens everything
 * afresh on the same data dir (uploads must survive that).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { createOutboundPipeline } from '../../src/pipeline/outbound.js';
import { createNextHop, type NextHop } from '../../src/smtp/next-hop.js';
import { LocalBlobStore } from '../../src/transfer/local-blob-store.js';
import { createMailNotifier } from '../../src/transfer/mail-notifier.js';
import { blobDirectory, openTransferService } from '../../src/transfer/open.js';
import { SqliteStaffStore } from '../../src/transfer/sqlite-staff-store.js';
import type { TransferService } from '../../src/transfer/types.js';
import { createWebApp } from '../../src/web/app.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';

export const staffStart = new Date('2026-11-23T09:30:00Z');

export interface StaffTest {
  readonly dir: string;
  readonly maildir: string;
  readonly base: string;
  config: Config;
  transfer: TransferService;
  logs(): string;
  advance(ms: number): void;
  /** Mails delivered so far (raw). */
  mails(): string[];
  restart(): Promise<void>;
  stop(): Promise<void>;
}

interface Running {
  server: WebServer;
  transfer: TransferService;
  store: SqliteStaffStore;
  hop: NextHop;
}

export interface StaffTestOptions {
  /** Free space as the staging blob store sees it (bytes); the real file system's when absent. */
  readonly freeSpace?: () => number;
}

export async function startStaffTest(values: Record<string, unknown> = {}, options: StaffTestOptions = {}): Promise<StaffTest> {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-staff-'));
  mkdirSync(path.join(dir, 'trust'));
  const maildir = path.join(dir, 'maildir');
  let clock = staffStart.getTime();
  const now = () => new Date(clock);
  let logText = '';
  const logStream = new PassThrough();
  logStream.on('data', (chunk: Buffer) => {
    logText += chunk.toString('utf8');
  });
  const logger = createLogger('debug', logStream);

  // The app is built once the port (and so web.publicUrl) is known.
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const listener = (req: IncomingMessage, res: ServerResponse) => handler?.(req, res);
  let port = 0;
  let config!: Config;
  let running!: Running;

  async function open(): Promise<void> {
    const server = await startWebServer(listener, { host: '127.0.0.1', port });
    port = server.port;
    const web = values['web'] as Record<string, unknown> | undefined;
    config = loadConfig({
      values: {
        dataDir: path.join(dir, 'data'),
        trustAnchors: path.join(dir, 'trust'),
        internalDomains: ['stadt.example'],
        smtp: { submission: { relay: `maildir:${maildir}` } },
        ...values,
        web: { listen: `127.0.0.1:${port}`, publicUrl: `http://127.0.0.1:${port}`, ...web },
      },
      baseDir: dir,
      env: {},
    });
    const hop = createNextHop(config.smtp.submission.relay, config.smtp.submission.nextHop, logger);
    const outbound = createOutboundPipeline({ config, identities: { signingIdentity: () => Promise.resolve(undefined) }, now });
    const notifier = createMailNotifier({ config, outbound, nextHop: hop, logger, now });
    const transfer = openTransferService(config, { logger, now, notifier });
    const store = SqliteStaffStore.open(config.dataDir);
    const freeSpace = options.freeSpace;
    const blobs = new LocalBlobStore({
      directory: blobDirectory(config),
      minFreeSpace: config.largeFiles.minFreeSpace,
      ...(freeSpace ? { statfs: () => Promise.resolve({ bavail: freeSpace(), bsize: 1 }), spaceCheckInterval: 64 * 1024 } : {}),
    });
    const app = createWebApp({ config, transfer, logger, now, staff: { store, blobs, notifier } });
    handler = app;
    running = { server, transfer, store, hop };
  }

  async function close(): Promise<void> {
    await running.server.close();
    await running.transfer.close();
    running.store.close();
    await running.hop.close();
  }

  await open();
  const seen: string[] = [];
  const test: StaffTest = {
    dir,
    maildir,
    base: `http://127.0.0.1:${port}`,
    get config() {
      return config;
    },
    get transfer() {
      return running.transfer;
    },
    logs: () => logText,
    advance(ms) {
      clock += ms;
    },
    mails() {
      // In the order they were first seen (Maildir names do not sort by time); new ones by mtime.
      const dirNew = path.join(maildir, 'new');
      let files: string[] = [];
      try {
        files = readdirSync(dirNew);
      } catch {
        return [];
      }
      const fresh = files.filter((file) => !seen.includes(file));
      fresh.sort((a, b) => statSync(path.join(dirNew, a)).mtimeMs - statSync(path.join(dirNew, b)).mtimeMs);
      seen.push(...fresh);
      return seen.map((file) => readFileSync(path.join(dirNew, file), 'latin1'));
    },
    async restart() {
      await close();
      await open();
    },
    async stop() {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  } as StaffTest;
  return test;
}

/** Files of staging blobs (unfinished or not yet removed uploads) in the blob directory. */
export function stagingFiles(test: StaffTest): string[] {
  const root = blobDirectory(test.config);
  try {
    return readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((name) => path.basename(name).startsWith('upload-'));
  } catch {
    return [];
  }
}

/** The text of a quoted-printable body, soft line breaks joined. */
export function mailText(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  const bytes = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** Waits until `count` mails arrived (they are sent in the background). */
export async function waitForMails(test: StaffTest, count: number, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = test.mails();
    if (mails.length >= count) return mails;
    if (Date.now() > deadline) throw new Error(`expected ${count} mails, have ${mails.length}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The first mail from index `from` on that `matches`. */
export async function waitForMail(test: StaffTest, from: number, matches: (raw: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = test.mails().slice(from).find(matches);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching mail among the ${test.mails().length - from} since #${from}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function headerOf(raw: string, name: string): string | undefined {
  const header = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name}: (.*)$`, 'im').exec(header);
  return match?.[1];
}

/** A tiny cookie jar for fetch. */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /max-age=0|expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** fetch with the jar's cookies, no redirects followed, cookies taken from the answer. */
export async function call(jar: CookieJar, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (jar.cookies.size > 0) headers.set('cookie', jar.header());
  let response: Response;
  try {
    response = await fetch(url, { ...init, headers, redirect: 'manual' });
  } catch (err) {
    // A pooled keep-alive connection the (restarted) server already closed: retry once, as browsers do, for safe methods only.
    const method = (init.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') throw err;
    response = await fetch(url, { ...init, headers, redirect: 'manual' });
  }
  jar.take(response);
  return response;
}

/** The value of a hidden input in a page's form with this action. */
export function csrfFrom(page: string, action?: string): string {
  const forms = page.split('<form').slice(1);
  const form = action ? forms.find((f) => f.includes(`action="${action}"`)) : forms[0];
  const match = /name="csrf" value="([^"]+)"/.exec(form ?? '');
  if (!match?.[1]) throw new Error(`no CSRF token for ${action ?? 'the first form'}`);
  return match[1];
}

export function postForm(jar: CookieJar, url: string, fields: Record<string, string>): Promise<Response> {
  return call(jar, url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
}

/** Signs in through the mailed link; returns the jar with the session cookie. */
export async function signIn(test: StaffTest, address: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const form = await (await call(jar, `${test.base}/staff/sign-in`)).text();
  const before = test.mails().length;
  const sent = await postForm(jar, `${test.base}/staff/sign-in`, { csrf: csrfFrom(form, '/staff/sign-in'), address });
  if (sent.status !== 200) throw new Error(`sign-in request answered ${sent.status}`);
  // Other mail may arrive meanwhile (e.g. the first-download notice of an earlier test): take the sign-in mail.
  const mail = await waitForMail(test, before, (raw) => headerOf(raw, 'To') === address && mailText(raw).includes('/staff/sign-in/'));
  const link = linkIn(mailText(mail), '/staff/sign-in/');
  const confirm = await (await call(jar, link)).text();
  const done = await postForm(jar, link, { csrf: csrfFrom(confirm) });
  if (done.status !== 303) throw new Error(`sign-in confirmation answered ${done.status}`);
  return jar;
}

export function linkIn(text: string, pathPart: string): string {
  const match = new RegExp(`https?://[^\\s"<>]*?${pathPart.replace(/\//g, '\\/')}[A-Za-z0-9_-]+`).exec(text);
  if (!match) throw new Error(`no ${pathPart} link in: ${text}`);
  return match[0];
}

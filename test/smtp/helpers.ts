/**
 * Real peers for the SMTP tests: a next hop (smtp-server) that records what
 * it receives and answers as told, listener configs with the schema's
 * defaults, a capturing logger and a nodemailer client.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import nodemailer from 'nodemailer';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { configSchema, type ConfigInput, type ListenerConfig } from '../../src/config/schema.js';
import { createLogger, type Logger } from '../../src/log.js';
import { createTlsCertificate } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';

export type Mode = 'accept' | 'tempfail' | 'permfail' | 'permfail-bare' | 'drop' | 'stall';

export interface Received {
  readonly mailFrom: string;
  readonly rcptTo: string[];
  readonly raw: Buffer;
  readonly secure: boolean;
  readonly user: string | undefined;
  /** The MAIL FROM parameters (e.g. BODY=8BITMIME), upper-case names. */
  readonly mailFromArgs: Record<string, string | true>;
}

export interface FakeNextHop {
  readonly port: number;
  readonly url: string;
  readonly received: Received[];
  /** Sessions that reached DATA (delivered or not). */
  dataStarted: number;
  /** AUTH attempts received (successful or not). */
  readonly logins: number;
  mode: Mode;
  /** Recipient -> reply for RCPT TO (e.g. '550 5.1.1 ...'). */
  readonly refuse: Map<string, { code: number; text: string }>;
  stop(): Promise<void>;
}

export interface FakeNextHopOptions {
  readonly tls?: { key: string; cert: string };
  /** Accepts exactly this login when set. */
  readonly login?: { user: string; pass: string };
}

export async function startFakeNextHop(options: FakeNextHopOptions = {}): Promise<FakeNextHop> {
  const received: Received[] = [];
  const state = { mode: 'accept' as Mode, dataStarted: 0, logins: 0 };
  const refuse = new Map<string, { code: number; text: string }>();
  const server: SMTPServer = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    closeTimeout: 200,
    authOptional: !options.login,
    disabledCommands: [...(options.tls ? [] : ['STARTTLS']), ...(options.login ? [] : ['AUTH'])],
    ...(options.tls ?? {}),
    onAuth(auth, _session, callback) {
      state.logins++;
      const ok = options.login && auth.username === options.login.user && auth.password === options.login.pass;
      callback(null, ok ? { user: auth.username } : { message: 'Authentication failed', responseCode: 535 });
    },
    onRcptTo(address, _session, callback) {
      const refusal = refuse.get(address.address);
      if (refusal) return callback(Object.assign(new Error(refusal.text), { responseCode: refusal.code }));
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      state.dataStarted++;
      const mode = state.mode;
      const chunks: Buffer[] = [];
      if (mode === 'drop') {
        stream.once('data', () => {
          for (const connection of server.connections) if (connection.id === session.id) connection._socket.destroy();
        });
      }
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', () => undefined);
      stream.on('end', () => {
        switch (mode) {
          case 'accept':
            received.push({
              mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              rcptTo: session.envelope.rcptTo.map((r) => r.address),
              raw: Buffer.concat(chunks),
              secure: session.secure,
              user: typeof session.user === 'string' ? session.user : undefined,
              mailFromArgs: session.envelope.mailFrom ? { ...(session.envelope.mailFrom.args || {}) } : {},
            });
            return callback(null, 'Ok: queued as NEXT1');
          case 'tempfail':
            return callback(Object.assign(new Error('4.7.1 Greylisted, try again later'), { responseCode: 451 }));
          case 'permfail':
            return callback(Object.assign(new Error('5.7.1 Message refused by policy'), { responseCode: 554 }));
          case 'permfail-bare':
            return callback(Object.assign(new Error('No thanks'), { responseCode: 550 }));
          case 'stall':
          case 'drop':
            return;
        }
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    refuse,
    get dataStarted() {
      return state.dataStarted;
    },
    get logins() {
      return state.logins;
    },
    set dataStarted(value: number) {
      state.dataStarted = value;
    },
    get mode() {
      return state.mode;
    },
    set mode(value: Mode) {
      state.mode = value;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port on which nothing listens. */
export async function closedPort(): Promise<number> {
  const server = new SMTPServer({ logger: false });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type ListenerInput = NonNullable<NonNullable<ConfigInput['smtp']>['submission']>;

/** A listener config with the schema's defaults, on an ephemeral loopback port. */
export function listenerConfig(values: ListenerInput): ListenerConfig {
  const config = configSchema.parse({
    dataDir: '/nonexistent',
    trustAnchors: '/nonexistent',
    smtp: { submission: { listen: '127.0.0.1:0', socketTimeout: 5000, ...values, nextHop: { timeout: 3000, ...values.nextHop } } },
  });
  return config.smtp.submission;
}

export function tempDir(prefix = 'siegel-smtp-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface TlsFiles {
  readonly key: string;
  readonly cert: string;
  readonly keyPem: string;
  readonly certPem: string;
}

/** A self-signed certificate for 127.0.0.1/localhost, written to files. */
export async function tlsFiles(): Promise<TlsFiles> {
  const issued = await createTlsCertificate(['localhost', '127.0.0.1']);
  const dir = tempDir('siegel-tls-');
  const certPem = toPem('CERTIFICATE', issued.certificate);
  const keyPem = issued.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  writeFileSync(cert, certPem);
  writeFileSync(key, keyPem, { mode: 0o600 });
  return { key, cert, keyPem, certPem };
}

/** A logger whose JSON lines can be inspected. */
export function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.push(chunk.toString('utf8'));
      callback();
    },
  });
  return {
    logger: createLogger('debug', sink),
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** A message with a leading-dot line (dot-stuffing) and 8-bit bytes. */
export function sampleMessage(extraBody = ''): Buffer {
  return Buffer.from(
    [
      'From: Amt <amt@stadt.example>',
      'To: Bürger <buerger@example.org>',
      'Subject: Bescheid',
      'Message-ID: <1@stadt.example>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Sehr geehrte Damen und Herren,',
      '.eine Zeile mit Punkt am Anfang',
      '..',
      'Grüße',
      extraBody,
      '',
    ].join('\r\n'),
    'utf8',
  );
}

export interface SendOptions {
  readonly from?: string;
  readonly to?: string[];
  readonly raw?: Buffer;
  readonly auth?: { user: string; pass: string };
  /** CA for STARTTLS; without it TLS is not attempted. */
  readonly ca?: string;
  readonly requireTls?: boolean;
}

export interface SendOutcome {
  readonly ok: boolean;
  /** The final server answer (250 ... or the failing reply). */
  readonly response: string;
  readonly accepted: string[];
  readonly rejected: string[];
  /** The server's replies to the refused recipients (e.g. "452 4.5.3 ..."). */
  readonly rejectedReplies: string[];
}

/** Sends through the listener with nodemailer, as a mail client would. */
export async function sendMail(port: number, options: SendOptions = {}): Promise<SendOutcome> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: options.ca === undefined,
    requireTLS: options.requireTls ?? false,
    tls: options.ca ? { ca: options.ca, servername: 'localhost' } : undefined,
    auth: options.auth,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 20000,
  });
  try {
    const info = (await transport.sendMail({
      envelope: { from: options.from ?? 'amt@stadt.example', to: options.to ?? ['buerger@example.org'] },
      raw: options.raw ?? sampleMessage(),
    })) as unknown as SMTPConnection.SentMessageInfo;
    return {
      ok: true,
      response: info.response,
      accepted: info.accepted.map(String),
      rejected: info.rejected.map(String),
      rejectedReplies: (info.rejectedErrors ?? []).map((e) => e.response ?? ''),
    };
  } catch (err) {
    const e = err as SMTPConnection.SMTPError;
    return { ok: false, response: e.response ?? `${e.code ?? ''} ${e.message}`, accepted: [], rejected: [], rejectedReplies: [] };
  } finally {
    transport.close();
  }
}

/** The Received trace field the listener puts on top (RFC 5321 4.4), split from the bytes the pipeline produced. */
export function splitTrace(delivered: Buffer): { received: string; rest: Buffer } {
  const match = /^Received: [^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n/.exec(delivered.toString('latin1'));
  if (!match) throw new Error('the delivered message does not start with a Received field');
  return { received: match[0], rest: delivered.subarray(match[0].length) };
}

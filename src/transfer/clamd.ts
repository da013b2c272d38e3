/**
 * The optional virus-scan hook: clamd's INSTREAM command over a Unix socket
 * or TCP (largeFiles.virusScan.clamd). The plaintext is streamed to clamd in
 * chunks ("zINSTREAM\0", then <u32 length><bytes>..., then a zero length)
 * and clamd answers one line: "stream: OK", "stream: <name> FOUND", or
 * "... ERROR". A share becomes downloadable only after an OK.
 */
import net from 'node:net';
import { SiegelError } from '../errors.js';

export type ScanResult = { readonly status: 'clean' } | { readonly status: 'infected'; readonly signature: string };

export interface VirusScanner {
  /** Reads the whole content; throws VIRUS_SCAN_FAILED when no verdict could be had (clamd down, timeout, clamd error). */
  scan(content: AsyncIterable<Buffer | Uint8Array>): Promise<ScanResult>;
}

/** Below clamd's default StreamMaxLength chunking expectations; one chunk in flight keeps memory flat. */
const CHUNK_SIZE = 64 * 1024;
/** A clamd reply is one short line; anything longer is not clamd. */
const MAX_REPLY = 4096;

export type ClamdAddress = { readonly path: string } | { readonly host: string; readonly port: number };

/** `/run/clamav/clamd.ctl`, `unix:/path`, `host:port`, `[::1]:3310` or `tcp://host:port`. */
export function parseClamdAddress(value: string): ClamdAddress {
  const text = value.trim();
  if (text.startsWith('unix:')) return { path: text.slice('unix:'.length) };
  if (text.startsWith('/') || text.startsWith('.')) return { path: text };
  const match = /^(?:tcp:\/\/)?(?:\[([^\]]+)\]|([^:/[\]]+)):(\d{1,5})\/?$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new SiegelError('CONFIG_INVALID', `largeFiles.virusScan.clamd: expected a socket path or host:port, got "${value}"`);
  }
  return { host: match[1] ?? match[2] ?? '', port };
}

/** Interprets clamd's reply line (without the terminating NUL or newline). */
export function parseClamdReply(reply: string): ScanResult {
  const line = reply.replace(/[\0\r\n]+$/, '').trim();
  if (/^(?:stream|\d+: stream): OK$/.test(line)) return { status: 'clean' };
  const found = /^(?:stream|\d+: stream): (.+) FOUND$/.exec(line);
  if (found) return { status: 'infected', signature: (found[1] ?? '').slice(0, 200) };
  throw new SiegelError('VIRUS_SCAN_FAILED', `clamd answered: ${line.slice(0, 200) || '(nothing)'}`);
}

export function createClamdScanner(address: string, timeoutMs: number): VirusScanner {
  const target = parseClamdAddress(address);
  return { scan: (content) => scanWithClamd(target, content, timeoutMs) };
}

async function scanWithClamd(target: ClamdAddress, content: AsyncIterable<Buffer | Uint8Array>, timeoutMs: number): Promise<ScanResult> {
  const where = 'path' in target ? target.path : `${target.host}:${target.port}`;
  const socket = 'path' in target ? net.createConnection({ path: target.path }) : net.createConnection({ host: target.host, port: target.port });
  let reply = Buffer.alloc(0);
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    socket.destroy();
  };
  const timer = setTimeout(() => fail(new SiegelError('VIRUS_SCAN_FAILED', `clamd at ${where} did not answer within ${timeoutMs} ms`)), timeoutMs);
  const answered = new Promise<string>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      const end = reply.indexOf(0);
      if (end >= 0) {
        // The z-prefixed command's reply ends with NUL: the verdict is complete.
        resolve(reply.subarray(0, end).toString('utf8'));
        socket.destroy();
      } else if (reply.length > MAX_REPLY) {
        fail(new SiegelError('VIRUS_SCAN_FAILED', `clamd at ${where} sent an oversized reply`));
      }
    });
    socket.on('error', (error) => {
      // EPIPE/ECONNRESET while sending: clamd may have answered (size limit) and closed; the reply tells.
      failure ??= reply.length > 0 ? undefined : new SiegelError('VIRUS_SCAN_FAILED', `clamd at ${where}: ${error.message}`, { cause: error });
    });
    socket.on('close', () => {
      if (failure) reject(failure);
      else if (reply.length === 0) reject(new SiegelError('VIRUS_SCAN_FAILED', `clamd at ${where} closed the connection without a verdict`));
      else resolve(reply.toString('utf8'));
    });
  });
  // Keep the promise from being reported as unhandled while we are still sending.
  answered.catch(() => undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('close', () => reject(failure ?? new SiegelError('VIRUS_SCAN_FAILED', `cannot connect to clamd at ${where}`)));
    });
    await send(socket, Buffer.from('zINSTREAM\0', 'latin1'));
    for await (const piece of content) {
      const chunk = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      for (let at = 0; at < chunk.length; at += CHUNK_SIZE) {
        const part = chunk.subarray(at, at + CHUNK_SIZE);
        const length = Buffer.alloc(4);
        length.writeUInt32BE(part.length);
        if (!(await send(socket, length, part))) break;
      }
      if (socket.destroyed || reply.length > 0) break;
    }
    if (!socket.destroyed && reply.length === 0) await send(socket, Buffer.alloc(4));
    const line = await answered;
    return parseClamdReply(line);
  } catch (error) {
    socket.destroy();
    if (error instanceof SiegelError) throw error;
    throw new SiegelError('VIRUS_SCAN_FAILED', `scan via clamd at ${where} failed: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

/** Writes and waits for drain; false when the socket is gone (clamd answered early or failed). */
async function send(socket: net.Socket, ...buffers: Buffer[]): Promise<boolean> {
  for (const buffer of buffers) {
    if (socket.destroyed || !socket.writable) return false;
    if (!socket.write(buffer)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          socket.off('drain', done);
          socket.off('close', done);
          resolve();
        };
        socket.on('drain', done);
        socket.on('close', done);
      });
    }
  }
  return !socket.destroyed;
}

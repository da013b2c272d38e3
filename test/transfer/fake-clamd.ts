/**
 * A stand-in for clamd speaking the real INSTREAM protocol on a Unix socket.
 * clamav-daemon cannot run here (it needs the virus databases, which are
 * not available offline), so this fake parses exactly what clamd parses
 * ("zINSTREAM\0", <u32 length><bytes>... , <u32 0>) and answers like clamd
 * ("stream: OK\0", "stream: <signature> FOUND\0", "... ERROR\0"). It finds
 * the EICAR test string, the same way clamd's Eicar-Test-Signature does.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';

export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

export type FakeClamdMode = 'scan' | 'silent' | 'size-limit';

export interface FakeClamd {
  readonly socketPath: string;
  /** SHA-256 and length of every stream received, in order. */
  readonly received: { readonly sha256: string; readonly size: number }[];
  mode: FakeClamdMode;
  close(): Promise<void>;
}

export async function startFakeClamd(directory: string, sizeLimit = Number.MAX_SAFE_INTEGER): Promise<FakeClamd> {
  const socketPath = path.join(directory, 'clamd.sock');
  const sockets = new Set<net.Socket>();
  const fake: FakeClamd = {
    socketPath,
    received: [],
    mode: 'scan',
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let commandSeen = false;
    let total = 0;
    const hash = createHash('sha256');
    // Keep the end of the previous chunk so a signature split across chunks is still found.
    let window = '';
    let found = false;
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      if (!commandSeen) {
        const end = buffer.indexOf(0);
        if (end < 0) return;
        const command = buffer.subarray(0, end).toString('latin1');
        buffer = buffer.subarray(end + 1);
        if (command !== 'zINSTREAM') {
          socket.end('UNKNOWN COMMAND\0');
          return;
        }
        commandSeen = true;
      }
      while (buffer.length >= 4) {
        const length = buffer.readUInt32BE(0);
        if (length === 0) {
          fake.received.push({ sha256: hash.digest('hex'), size: total });
          buffer = Buffer.alloc(0);
          if (fake.mode === 'silent') return;
          socket.end(found ? 'stream: Eicar-Test-Signature FOUND\0' : 'stream: OK\0');
          return;
        }
        if (buffer.length < 4 + length) return;
        const chunk = buffer.subarray(4, 4 + length);
        buffer = buffer.subarray(4 + length);
        total += chunk.length;
        hash.update(chunk);
        if (fake.mode === 'size-limit' || total > sizeLimit) {
          socket.end('INSTREAM size limit exceeded. ERROR\0');
          return;
        }
        const text = window + chunk.toString('latin1');
        if (text.includes(EICAR)) found = true;
        window = text.slice(-EICAR.length);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return fake;
}

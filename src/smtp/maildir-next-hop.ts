/**
 * Delivers into a Maildir (demo and test set-ups, or a local mailbox):
 * write to tmp/, fsync, rename into new/, fsync new/. The file holds
 * exactly the message bytes: no Return-Path or Delivered-To is added,
 * because a signature covers the bytes and the demo shows what left.
 * The envelope is in the log line of the message.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { SiegelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NextHop } from './next-hop.js';

let counter = 0;

/** A unique name per the Maildir spec: time, microseconds, pid, counter, randomness, host. */
function uniqueName(hostname: string): string {
  const now = Date.now();
  const seconds = Math.floor(now / 1000);
  const micros = (now % 1000) * 1000 + Math.floor((performance.now() % 1) * 1000);
  counter = (counter + 1) % 1_000_000;
  // '/' and ':' may not appear in the host part (the spec's octal escapes).
  const host = hostname.replace(/\//g, '\\057').replace(/:/g, '\\072');
  return `${seconds}.M${micros}P${process.pid}Q${counter}R${randomBytes(8).toString('hex')}.${host}`;
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename durable. Some platforms cannot open a directory for fsync; that is not fatal.
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw err;
  } finally {
    await handle?.close();
  }
}

export function createMaildirNextHop(directory: string, logger: Logger, options: { hostname: string }): NextHop {
  const root = path.resolve(directory);
  let prepared: Promise<void> | undefined;

  const prepare = () =>
    (prepared ??= Promise.all(['tmp', 'new', 'cur'].map((sub) => mkdir(path.join(root, sub), { recursive: true, mode: 0o700 }))).then(
      () => undefined,
      (err: unknown) => {
        prepared = undefined; // try again with the next message
        throw err;
      },
    ));

  return {
    async deliver(message, queueId) {
      const name = uniqueName(options.hostname);
      const tmpPath = path.join(root, 'tmp', name);
      const newPath = path.join(root, 'new', name);
      let written = false;
      try {
        await prepare();
        const handle = await open(tmpPath, 'wx', 0o600);
        written = true;
        try {
          await handle.writev([...message.chunks]);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await rename(tmpPath, newPath);
        written = false;
      } catch (err) {
        if (written) await unlink(tmpPath).catch(() => undefined);
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        logger.debug({ queueId, maildir: root, error: code }, 'maildir delivery failed');
        throw new SiegelError('STORAGE_FAILED', `maildir ${root}: ${code}`, { cause: err });
      }
      try {
        await syncDirectory(path.join(root, 'new'));
      } catch (err) {
        // Not durable, so not delivered: take it back so the client's retry does not make a
        // second copy. If a reader already took it from new/, it was delivered after all.
        const removed = await unlink(newPath).then(
          () => true,
          () => false,
        );
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        if (removed) throw new SiegelError('STORAGE_FAILED', `maildir ${root}: fsync of new/: ${code}`, { cause: err });
        logger.warn({ queueId, maildir: root, error: code }, 'maildir: fsync of new/ failed, but the message was already picked up');
      }
      return { response: `maildir new/${name}` };
    },
    async close() {},
  };
}

/**
 * One log line per request. Paths carry link secrets (/d/<token>, and the
 * staff area's sign-in and upload-request links), so every path segment
 * that looks like a secret is replaced by a short hash before logging;
 * query strings are never logged.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../log.js';
import { tokenRef } from './signing-key.js';

const secretLike = /^[A-Za-z0-9_-]{16,}$/;

export function redactPath(path: string): string {
  return path
    .slice(0, 512)
    .split('/')
    .map((segment) => (secretLike.test(segment) ? `~${tokenRef(segment, 8)}` : segment.length > 64 ? '~long' : segment))
    .join('/');
}

export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const path = redactPath(req.path);
    // 'close' fires for finished and for aborted responses alike.
    res.once('close', () => {
      logger.info(
        { method: req.method, path, status: res.statusCode, complete: res.writableFinished, ms: Number((process.hrtime.bigint() - started) / 1_000_000n), ip: req.ip },
        'http request',
      );
    });
    next();
  };
}

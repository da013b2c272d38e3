/**
 * The public side of a share: GET /d/<token> (details, or the password
 * form first), POST /d/<token> (the password, CSRF-protected), and
 * GET|HEAD /d/<token>/download (the bytes, with Range for resumed
 * downloads). Tokens are checked by the service in constant time; here
 * they are only shape-checked so junk never reaches it, and they never
 * reach the log (see request-log.ts).
 */
import { pipeline } from 'node:stream/promises';
import express, { type Request, type Response, type Router } from 'express';
import type { ByteRange, ShareInfo } from '../transfer/types.js';
import { contentDisposition, safeContentType } from './content-disposition.js';
import { downloadPage, formExpiredPage, gonePage, linkPath, lockedPage, notFoundPage, passwordPage, rangePage, type PasswordProblem } from './download-pages.js';
import type { WebContext } from './context.js';
import { chooseRange, ifRangeMatches } from './range.js';
import { sendPage } from './respond.js';
import { tokenRef } from './signing-key.js';

/** Link secrets are base64url; anything else is answered like an unknown token without asking the service. */
const tokenShape = /^[A-Za-z0-9_-]{16,128}$/;
const maxPasswordLength = 1024;

/** Statuses of outcomes that are not errors. */
const status = { notFound: 404, gone: 410, locked: 429, rangeNotSatisfiable: 416, passwordFailed: 401, formRejected: 403 } as const;

export function downloadRoutes(ctx: WebContext): Router {
  const { transfer, logger } = ctx.deps;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 });

  function token(req: Request): string | undefined {
    const value = req.params['token'];
    return typeof value === 'string' && tokenShape.test(value) ? value : undefined;
  }

  const notFound = (req: Request, res: Response) => sendPage(req, res, status.notFound, notFoundPage);
  const gone = (req: Request, res: Response) => sendPage(req, res, status.gone, gonePage);

  function showPasswordForm(req: Request, res: Response, linkToken: string, httpStatus: number, problem: PasswordProblem): void {
    const csrf = ctx.csrf.issue(req, res, linkPath(linkToken));
    sendPage(req, res, httpStatus, (lang) => passwordPage(lang, linkToken, csrf, problem));
  }

  router.get('/d/:token', async (req, res) => {
    const linkToken = token(req);
    if (!linkToken) return notFound(req, res);
    const lookup = await transfer.lookup(linkToken);
    if (lookup.status === 'unknown') return notFound(req, res);
    if (lookup.status === 'gone') return gone(req, res);
    if (lookup.info.passwordRequired && ctx.grants.password(req, linkToken) === undefined) {
      return showPasswordForm(req, res, linkToken, 200, undefined);
    }
    sendPage(req, res, 200, (lang) => downloadPage(lang, linkToken, lookup.info));
  });

  router.post('/d/:token', form, async (req, res) => {
    const linkToken = token(req);
    if (!linkToken) return notFound(req, res);
    if (!ctx.csrf.check(req, linkPath(linkToken))) {
      logger.info({ share: tokenRef(linkToken) }, 'download password form rejected: CSRF token missing or wrong');
      return sendPage(req, res, status.formRejected, (lang) => formExpiredPage(lang, linkToken));
    }
    const lookup = await transfer.lookup(linkToken);
    if (lookup.status === 'unknown') return notFound(req, res);
    if (lookup.status === 'gone') return gone(req, res);
    const body = req.body as Record<string, unknown>;
    const password = body['password'];
    if (typeof password !== 'string' || password.length === 0 || password.length > maxPasswordLength) {
      return showPasswordForm(req, res, linkToken, 400, 'empty');
    }
    const check = await transfer.checkPassword(linkToken, password, req.ip);
    switch (check) {
      case 'ok':
        ctx.grants.grant(req, res, linkToken, password);
        return res.redirect(303, linkPath(linkToken));
      case 'not-required':
        return res.redirect(303, linkPath(linkToken));
      case 'locked':
        return sendPage(req, res, status.locked, lockedPage);
      case 'wrong':
        // How many attempts are left is deliberately not shown.
        return showPasswordForm(req, res, linkToken, status.passwordFailed, 'wrong');
    }
  });

  // Express routes HEAD to GET handlers; the handler answers HEAD from the metadata without counting a download.
  router.get('/d/:token/download', async (req, res) => {
    const linkToken = token(req);
    if (!linkToken) return notFound(req, res);
    const lookup = await transfer.lookup(linkToken);
    if (lookup.status === 'unknown') return notFound(req, res);
    if (lookup.status === 'gone') return gone(req, res);
    const password = lookup.info.passwordRequired ? ctx.grants.password(req, linkToken) : undefined;
    if (lookup.info.passwordRequired && password === undefined) return res.redirect(303, linkPath(linkToken));

    const etag = `"${lookup.info.sha256}"`;
    const rangeHeader = req.headers.range;
    const choice = ifRangeMatches(req.get('if-range'), etag) ? chooseRange(rangeHeader, lookup.info.size) : ({ kind: 'whole' } as const);
    if (choice.kind === 'unsatisfiable') return rangeNotSatisfiable(req, res, linkToken, lookup.info.size);
    const requested = choice.kind === 'partial' ? choice.range : undefined;

    if (req.method === 'HEAD') {
      setDownloadHeaders(res, lookup.info, requested ?? wholeRange(lookup.info.size), requested !== undefined, etag);
      return res.end();
    }

    const result = await transfer.download(linkToken, { range: requested, clientIp: req.ip, password });
    switch (result.status) {
      case 'unknown':
        return notFound(req, res);
      case 'gone':
        return gone(req, res);
      case 'password-required':
        return res.redirect(303, linkPath(linkToken));
      case 'locked':
        return sendPage(req, res, status.locked, lockedPage);
      case 'range-not-satisfiable':
        return rangeNotSatisfiable(req, res, linkToken, result.size);
      case 'ok':
        break;
    }
    setDownloadHeaders(res, result.info, result.range, requested !== undefined, etag);
    const share = tokenRef(linkToken);
    try {
      await pipeline(result.stream, res);
      logger.info({ share, bytes: result.info.size === 0 ? 0 : result.range.end - result.range.start + 1, partial: requested !== undefined }, 'download sent');
    } catch (err) {
      // Client went away, or the stored file failed its integrity check mid-way: the
      // response is cut short (its Content-Length is not reached), never completed with wrong bytes.
      logger.info({ share, reason: (err as NodeJS.ErrnoException).code ?? 'stream-error' }, 'download interrupted');
      res.destroy();
    }
  });

  function rangeNotSatisfiable(req: Request, res: Response, linkToken: string, size: number): void {
    res.set('Content-Range', `bytes */${size}`);
    res.set('Accept-Ranges', 'bytes');
    sendPage(req, res, status.rangeNotSatisfiable, (lang) => rangePage(lang, linkToken));
  }

  // Anything else below /d/ looks exactly like an unknown link.
  router.all('/d/*splat', notFound);
  return router;
}

function wholeRange(size: number): ByteRange {
  return { start: 0, end: size - 1 };
}

function setDownloadHeaders(res: Response, info: ShareInfo, range: ByteRange, partial: boolean, etag: string): void {
  const length = info.size === 0 ? 0 : range.end - range.start + 1;
  res.status(partial ? 206 : 200);
  // setHeader, not res.set: express would append a charset to text/* types it cannot know.
  const headers: Record<string, string> = {
    'Content-Type': safeContentType(info.contentType),
    'Content-Length': String(length),
    'Content-Disposition': contentDisposition(info.fileName),
    'Accept-Ranges': 'bytes',
    ETag: etag,
    'Last-Modified': info.createdAt.toUTCString(),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    // Should a browser ever render the file, it runs nothing and reaches nothing.
    'Content-Security-Policy': "default-src 'none'; sandbox",
  };
  if (partial) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
}

/**
 * The signed-in staff pages: /staff (own shares, revocation), /staff/upload
 * (the tus upload form), /staff/uploads/<token> (the link an upload became)
 * and the staff tus endpoint /staff/tus/. Every page needs a session; every
 * POST a CSRF token (the tus creation request carries it in a header).
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { SiegelError } from '../../errors.js';
import { readCookie } from '../cookies.js';
import { csrfCookie } from '../csrf.js';
import { langOf } from '../i18n.js';
import { staffText } from './messages.js';
import { expiryChoices, formExpiredPage, homePage, uploadedPage, uploadPage, type StaffFrame } from './pages.js';
import { sendStaffPage, uploadScripts, type StaffContext } from './staff-deps.js';
import type { UploadShareOptions } from '../../transfer/uploads.js';

const tusPath = '/staff/tus';
const uploadTokenShape = /^[A-Za-z0-9_-]{43}$/;
const shareIdShape = /^[A-Za-z0-9_-]{1,128}$/;
export const csrfHeader = 'siegel-csrf';
const maxDownloadsLimit = 1000;

export function staffRoutes(ctx: StaffContext): Router {
  const { config, transfer } = ctx.web.deps;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 });
  const day = 86_400_000;

  const requireStaff = staffOnly(ctx);
  const frame = (req: Request, res: Response) => staffFrame(ctx, req, res);

  router.get('/staff', requireStaff, async (req, res) => {
    const shares = await transfer.list({ owner: staffOf(res), includeInactive: true });
    shares.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    const f = frame(req, res);
    const revokeCsrf = (id: string) => ctx.web.csrf.issue(req, res, `/staff/shares/${id}/revoke`);
    const notice = req.query['revoked'] === '1' ? staffText[langOf(res)].revoked : undefined;
    sendStaffPage(req, res, 200, (lang) => homePage(lang, f, shares, revokeCsrf, notice));
  });

  router.post('/staff/shares/:id/revoke', requireStaff, form, async (req, res) => {
    const id = String(req.params['id']);
    const action = `/staff/shares/${id}/revoke`;
    if (!shareIdShape.test(id) || !ctx.web.csrf.check(req, action)) return sendStaffPage(req, res, 403, (lang) => formExpiredPage(lang, '/staff'));
    await transfer.revoke(id, staffOf(res));
    res.redirect(303, '/staff?revoked=1');
  });

  router.get('/staff/upload', requireStaff, (req, res) => {
    const f = frame(req, res);
    const csrf = ctx.web.csrf.issue(req, res, tusPath);
    const choices = expiryChoices(config.largeFiles.defaultExpiry, config.largeFiles.maxExpiry);
    sendStaffPage(req, res, 200, (lang) => uploadPage(lang, f, csrf, choices), uploadScripts);
  });

  router.get('/staff/uploads/:token', requireStaff, (req, res, next) => {
    const token = String(req.params['token']);
    const upload = uploadTokenShape.test(token) ? ctx.uploads.describe(token) : undefined;
    const result = upload?.owner === staffOf(res) ? ctx.uploads.result(token) : undefined;
    if (!result) return next();
    const f = frame(req, res);
    sendStaffPage(req, res, 200, (lang) => uploadedPage(lang, f, result));
  });

  // The tus endpoint: creation needs the session and the CSRF header; the
  // other requests the session and an upload of this staff member.
  router.all([tusPath, `${tusPath}/`, `${tusPath}/:id`], async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const address = ctx.sessions.address(req);
    if (!address) return void res.status(401).type('text').send('Sign-in required\n');
    const rawId: unknown = req.params['id'];
    const id = typeof rawId === 'string' ? rawId : undefined;
    if (id === undefined) {
      if (req.method === 'POST' && !csrfMatches(req)) return void res.status(403).type('text').send('CSRF token missing or wrong\n');
    } else if (!uploadTokenShape.test(id) || ctx.uploads.describe(id)?.owner !== address) {
      return void res.status(404).type('text').send('Not found\n');
    }
    await ctx.staffTus.handle(req, res, {
      owner: address,
      origin: 'web',
      ...(req.ip ? { clientIp: req.ip } : {}),
      options: (metadata) => staffUploadOptions(metadata, config.largeFiles.maxExpiry),
    });
  });

  function csrfMatches(req: Request): boolean {
    const secret = readCookie(req, csrfCookie);
    const token = req.get(csrfHeader);
    return secret !== undefined && token !== undefined && token.length <= 100 && ctx.web.key.verify(token, 'csrf', secret, tusPath);
  }

  function staffUploadOptions(metadata: Record<string, string | null>, maxExpiry: number): UploadShareOptions {
    const base = partnerUploadOptions(metadata);
    const expires = metadata['expires'];
    const password = metadata['password'];
    const maxDownloads = metadata['maxDownloads'];
    let expiresIn: number | undefined;
    if (expires) {
      const days = Number(expires);
      if (!Number.isInteger(days) || days < 1 || days * day > maxExpiry) throw badMetadata('expires');
      expiresIn = days * day;
    }
    if (password !== null && password !== undefined && password.length > 1024) throw badMetadata('password');
    let limit: number | undefined;
    if (maxDownloads) {
      limit = Number(maxDownloads);
      if (!Number.isInteger(limit) || limit < 1 || limit > maxDownloadsLimit) throw badMetadata('maxDownloads');
    }
    return {
      ...base,
      ...(expiresIn !== undefined ? { expiresIn } : {}),
      ...(password ? { password } : {}),
      ...(limit !== undefined ? { maxDownloads: limit } : {}),
    };
  }

  return router;
}

/** Middleware: the signed-in address in res.locals.staff, or a redirect to the sign-in page. */
export function staffOnly(ctx: StaffContext) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const address = ctx.sessions.address(req);
    if (!address) {
      res.set('Cache-Control', 'no-store');
      res.redirect(303, '/staff/sign-in');
      return;
    }
    res.locals['staff'] = address;
    next();
  };
}

export function staffOf(res: Response): string {
  return String(res.locals['staff']);
}

export function staffFrame(ctx: StaffContext, req: Request, res: Response): StaffFrame {
  return { address: staffOf(res), signOutCsrf: ctx.web.csrf.issue(req, res, '/staff/sign-out') };
}

function badMetadata(field: string): SiegelError {
  return new SiegelError('MESSAGE_MALFORMED', `invalid upload metadata: ${field}`);
}

/** File name and type from tus metadata (the service sanitises the name further). */
export function partnerUploadOptions(metadata: Record<string, string | null>): UploadShareOptions {
  const fileName = (metadata['filename'] ?? metadata['name'] ?? '').trim();
  if (fileName.length === 0 || fileName.length > 1024) throw badMetadata('filename');
  const type = metadata['filetype'] ?? metadata['type'];
  return { fileName, ...(type && type.length <= 200 ? { contentType: type } : {}) };
}

/**
 * Upload requests: a staff member creates a link (/u/<token>) for an
 * outside partner, who uploads files there without signing in (the token
 * is the permission; stored hashed, shown once). Each finished file
 * becomes a share owned by the staff member (origin 'upload-request'), who
 * gets a mail with its download link. Requests expire and can be closed.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { secretHash, type UploadRequestRecord } from '../../transfer/staff-records.js';
import { newSecret, type UploadResult } from '../../transfer/uploads.js';
import { formatDateTime, formatSize } from '../format.js';
import { staffText } from './messages.js';
import { expiryChoices, formExpiredPage, publicUploadPage, requestCreatedPage, requestGonePage, requestsPage, type RequestForm } from './pages.js';
import { parseAddress, sendStaffPage, uploadScripts, type StaffContext } from './staff-deps.js';
import { partnerUploadOptions, staffFrame, staffOf, staffOnly } from './staff-routes.js';

const requestTokenShape = /^[A-Za-z0-9_-]{43}$/;
const uploadTokenShape = /^[A-Za-z0-9_-]{43}$/;
const requestIdShape = /^[0-9a-f]{32}$/;
const maxNoteLength = 1000;

export function requestRoutes(ctx: StaffContext): Router {
  const { config, transfer, now, logger } = ctx.web.deps;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 10 });
  const requireStaff = staffOnly(ctx);
  const choices = () => expiryChoices(config.largeFiles.defaultExpiry, config.largeFiles.maxExpiry);
  const day = 86_400_000;

  function showRequests(req: Request, res: Response, status: number, formState?: RequestForm): void {
    const owner = staffOf(res);
    const f = staffFrame(ctx, req, res);
    const csrf = ctx.web.csrf.issue(req, res, '/staff/requests');
    const closeCsrf = (id: string) => ctx.web.csrf.issue(req, res, `/staff/requests/${id}/close`);
    const requests = ctx.store.requests(owner);
    sendStaffPage(req, res, status, (lang) => requestsPage(lang, f, csrf, choices(), requests, closeCsrf, now(), formState));
  }

  router.get('/staff/requests', requireStaff, (req, res) => showRequests(req, res, 200));

  router.post('/staff/requests', requireStaff, form, async (req, res) => {
    if (!ctx.web.csrf.check(req, '/staff/requests')) return sendStaffPage(req, res, 403, (lang) => formExpiredPage(lang, '/staff/requests'));
    const body = req.body as Record<string, unknown>;
    const partnerRaw = typeof body['partner'] === 'string' ? body['partner'].trim() : '';
    const note = typeof body['note'] === 'string' ? body['note'].trim() : '';
    const partner = partnerRaw === '' ? undefined : parseAddress(partnerRaw);
    if (partnerRaw !== '' && !partner) return showRequests(req, res, 400, { partner: partnerRaw.slice(0, 254), note: note.slice(0, maxNoteLength), problem: 'partner' });
    if (note.length > maxNoteLength) return showRequests(req, res, 400, { partner: partnerRaw, note: note.slice(0, maxNoteLength), problem: 'note' });
    const { days, chosen } = choices();
    const requested = Number(body['expires']);
    const expiryDays = days.includes(requested) ? requested : chosen;
    const owner = staffOf(res);
    const token = newSecret();
    const id = randomBytes(16).toString('hex');
    const createdAt = now();
    const expiresAt = new Date(createdAt.getTime() + expiryDays * day);
    ctx.store.saveRequest(secretHash(token), { id, owner, ...(partner ? { partner } : {}), ...(note ? { note } : {}), createdAt, expiresAt });
    await transfer.recordAudit?.({ at: createdAt, event: 'request-created', actor: owner, ...(partner ? { detail: `partner ${partner}` } : {}), ...(req.ip ? { clientIp: req.ip } : {}) });
    logger.info({ request: id, owner }, 'upload request created');
    const url = `${config.web.publicUrl.replace(/\/+$/, '')}/u/${token}`;
    const f = staffFrame(ctx, req, res);
    sendStaffPage(req, res, 201, (lang) => requestCreatedPage(lang, f, url, expiresAt));
  });

  router.post('/staff/requests/:id/close', requireStaff, form, (req, res) => {
    const id = String(req.params['id']);
    if (!requestIdShape.test(id) || !ctx.web.csrf.check(req, `/staff/requests/${id}/close`)) {
      return sendStaffPage(req, res, 403, (lang) => formExpiredPage(lang, '/staff/requests'));
    }
    ctx.store.closeRequest(id, staffOf(res), now());
    res.redirect(303, '/staff/requests');
  });

  /** The open request behind a /u/<token> path, or the status to answer with. */
  function openRequest(req: Request): UploadRequestRecord | 404 | 410 {
    const token = String(req.params['token']);
    const request = requestTokenShape.test(token) ? ctx.store.requestByToken(secretHash(token)) : undefined;
    if (!request) return 404;
    if (request.closedAt || request.expiresAt <= now()) return 410;
    return request;
  }

  router.get('/u/:token', (req, res) => {
    const request = openRequest(req);
    if (typeof request === 'number') return sendStaffPage(req, res, request, requestGonePage);
    const token = String(req.params['token']);
    sendStaffPage(req, res, 200, (lang) => publicUploadPage(lang, token, request), uploadScripts);
  });

  router.all(['/u/:token/tus', '/u/:token/tus/', '/u/:token/tus/:id'], async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const request = openRequest(req);
    if (typeof request === 'number') return void res.status(request).type('text').send(request === 404 ? 'Not found\n' : 'Gone\n');
    const rawId: unknown = req.params['id'];
    const id = typeof rawId === 'string' ? rawId : undefined;
    if (id !== undefined && (!uploadTokenShape.test(id) || ctx.uploads.describe(id)?.requestId !== request.id)) {
      return void res.status(404).type('text').send('Not found\n');
    }
    await ctx.requestTus.handle(req, res, {
      owner: request.owner,
      origin: 'upload-request',
      requestId: request.id,
      ...(req.ip ? { clientIp: req.ip } : {}),
      options: partnerUploadOptions,
      finished: (result) => mailOwner(request, result),
    });
  });

  /** Both languages in one mail: the staff member's language is not known here. */
  async function mailOwner(request: UploadRequestRecord, result: UploadResult): Promise<void> {
    const partner = request.partner ?? '';
    const parts = (['de', 'en'] as const).map((lang) =>
      staffText[lang].requestMailText(result.fileName, formatSize(result.size, lang), result.sha256, result.url, formatDateTime(result.expiresAt, lang), partner),
    );
    await ctx.notifier.send({ to: request.owner, subject: staffText.de.requestMailSubject(result.fileName), text: `${parts[0]}\n----\n\n${parts[1]}` });
    await transfer.recordAudit?.({ at: now(), event: 'upload', shareId: result.shareId, actor: partner || undefined, fileName: result.fileName, size: result.size, detail: `upload request ${request.id}` });
  }

  return router;
}

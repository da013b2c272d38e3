/**
 * Staff sign-in with a mailed one-time link.
 *
 * POST /staff/sign-in answers every well-formed address the same way, and
 * at the same speed: the link is mailed in the background, and only for
 * addresses in config.internalDomains, so the page reveals nothing about
 * which addresses exist or are ours. Attempts are rate-limited per client
 * and per address. GET /staff/sign-in/<token> only shows a button: mail
 * scanners that prefetch links do not use it up; the POST it sends
 * consumes the link (single use, stored hashed) and starts a session.
 */
import express, { type Request, type Response, type Router } from 'express';
import { secretHash } from '../../transfer/staff-records.js';
import { newSecret } from '../../transfer/uploads.js';
import { langOf } from '../i18n.js';
import { tokenRef } from '../signing-key.js';
import { staffText } from './messages.js';
import { confirmPage, formExpiredPage, linkInvalidPage, linkSentPage, signInPage, tooManyPage } from './pages.js';
import { isInternal, parseAddress, sendStaffPage, type StaffContext } from './staff-deps.js';

const linkShape = /^[A-Za-z0-9_-]{43}$/;
const signInPath = '/staff/sign-in';

export function signInRoutes(ctx: StaffContext): Router {
  const { config, logger, now, transfer } = ctx.web.deps;
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 10 });

  function showForm(req: Request, res: Response, status: number, address = '', problem?: 'invalid'): void {
    const csrf = ctx.web.csrf.issue(req, res, signInPath);
    sendStaffPage(req, res, status, (lang) => signInPage(lang, csrf, address, problem));
  }

  router.get(signInPath, (req, res) => {
    if (ctx.sessions.address(req)) return res.redirect(303, '/staff');
    showForm(req, res, 200);
  });

  router.post(signInPath, form, (req, res) => {
    if (!ctx.web.csrf.check(req, signInPath)) return sendStaffPage(req, res, 403, (lang) => formExpiredPage(lang, signInPath));
    const raw = (req.body as Record<string, unknown>)['address'];
    const address = parseAddress(raw);
    if (!address) return showForm(req, res, 400, typeof raw === 'string' ? raw.slice(0, 254) : '', 'invalid');
    if (!ctx.signInPerIp.take(`ip:${req.ip ?? ''}`) || !ctx.signInPerAddress.take(`address:${address}`)) {
      logger.info({ ip: req.ip }, 'sign-in link refused: rate limit');
      return sendStaffPage(req, res, 429, tooManyPage);
    }
    if (isInternal(address, config.internalDomains)) {
      const token = newSecret();
      const lifetime = config.web.signInLinkLifetime;
      ctx.store.saveSignInLink(secretHash(token), address, new Date(now().getTime() + lifetime));
      const t = staffText[langOf(res)];
      const link = `${config.web.publicUrl.replace(/\/+$/, '')}${signInPath}/${token}`;
      // In the background: an internal address must not answer slower than any other.
      ctx.notifier
        .send({ to: address, subject: t.mailSubject, text: t.mailText(link, Math.max(1, Math.round(lifetime / 60_000))) })
        .then(() => logger.info({ link: tokenRef(token) }, 'sign-in link mailed'))
        .catch((err: unknown) => logger.error({ link: tokenRef(token), err }, 'cannot mail sign-in link'));
    } else {
      logger.info({}, 'sign-in link not sent: address outside the internal domains');
    }
    sendStaffPage(req, res, 200, linkSentPage);
  });

  router.get(`${signInPath}/:token`, (req, res) => {
    const token = req.params['token'];
    if (typeof token !== 'string' || !linkShape.test(token)) return sendStaffPage(req, res, 404, linkInvalidPage);
    const action = `${signInPath}/${token}`;
    const csrf = ctx.web.csrf.issue(req, res, action);
    sendStaffPage(req, res, 200, (lang) => confirmPage(lang, action, csrf));
  });

  router.post(`${signInPath}/:token`, form, async (req, res) => {
    const token = req.params['token'];
    if (typeof token !== 'string' || !linkShape.test(token)) return sendStaffPage(req, res, 404, linkInvalidPage);
    const action = `${signInPath}/${token}`;
    if (!ctx.web.csrf.check(req, action)) return sendStaffPage(req, res, 403, (lang) => formExpiredPage(lang, action));
    const address = ctx.store.consumeSignInLink(secretHash(token), now());
    if (!address) {
      logger.info({ link: tokenRef(token) }, 'sign-in link invalid, used or expired');
      return sendStaffPage(req, res, 410, linkInvalidPage);
    }
    ctx.sessions.start(req, res, address);
    await transfer.recordAudit?.({ at: now(), event: 'sign-in', actor: address, ...(req.ip ? { clientIp: req.ip } : {}) });
    logger.info({ actor: address }, 'staff signed in');
    res.redirect(303, '/staff');
  });

  router.post('/staff/sign-out', form, (req, res) => {
    if (!ctx.web.csrf.check(req, '/staff/sign-out')) return sendStaffPage(req, res, 403, (lang) => formExpiredPage(lang, '/staff'));
    ctx.sessions.end(req, res);
    res.redirect(303, signInPath);
  });

  return router;
}

/**
 * The staff area of the large-file exchange as one router for the web
 * app: sign-in with a mailed link, own shares, uploads (tus), upload
 * requests for partners, and the tus client script served from
 * node_modules (no CDN).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Router } from 'express';
import { MemoryLocker } from '@tus/server';
import { Uploads } from '../../transfer/uploads.js';
import type { WebContext } from '../context.js';
import { RateLimit } from './rate-limit.js';
import { requestRoutes } from './request-routes.js';
import { StaffSessions } from './sessions.js';
import { signInRoutes } from './sign-in-routes.js';
import type { StaffContext, StaffServices } from './staff-deps.js';
import { staffRoutes } from './staff-routes.js';
import { createTusEndpoint } from './tus-endpoint.js';

export type { StaffServices };

const require = createRequire(import.meta.url);
/** tus-js-client's browser bundle (its package has no exports map, so the path resolves directly). */
const tusBundle = path.join(path.dirname(require.resolve('tus-js-client/package.json')), 'dist', 'tus.min.js');

export function createStaffRouter(web: WebContext, services: StaffServices): Router {
  const { config, logger, now, transfer } = web.deps;
  const uploads = new Uploads({ config, store: services.store, blobs: services.blobs, transfer, logger, now });
  const locker = new MemoryLocker();
  const maxSize = config.largeFiles.maxFileSize;
  const window = 15 * 60_000;
  const ctx: StaffContext = {
    web,
    store: services.store,
    notifier: services.notifier,
    uploads,
    sessions: new StaffSessions(services.store, config.web.sessionLifetime, now),
    staffTus: createTusEndpoint({ path: '/staff/tus', uploads, maxSize, logger, locker }),
    requestTus: createTusEndpoint({ path: '/u', uploads, maxSize, logger, locker }),
    signInPerIp: new RateLimit(20, window, now),
    signInPerAddress: new RateLimit(5, window, now),
  };
  const sweeper = setInterval(() => {
    uploads.sweep().catch((err: unknown) => logger.error({ err }, 'cannot sweep unfinished uploads'));
  }, config.largeFiles.sweepInterval);
  sweeper.unref();

  const router = express.Router();
  router.get('/static/vendor/tus.min.js', (_req, res) => {
    res.sendFile(tusBundle, { maxAge: '1h', headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
  });
  router.use(signInRoutes(ctx));
  router.use(staffRoutes(ctx));
  router.use(requestRoutes(ctx));
  return router;
}

/**
 * The web edge of the large-file exchange: an express 5 app that only
 * translates HTTP; every decision is the TransferService's. Feature
 * modules (download links here; the staff area later) are routers that
 * take the shared WebContext and are mounted below.
 */
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { WebDeps } from './deps.js';
import { createWebContext, type WebContext } from './context.js';
import { downloadRoutes } from './download-routes.js';
import { errorHandler, notFoundHandler } from './error-pages.js';
import { languageMiddleware } from './i18n.js';
import { metricsRouter } from './metrics.js';
import { requestLog } from './request-log.js';
import { securityHeaders } from './security-headers.js';
import { createStaffRouter } from './staff/router.js';

export type { WebDeps };

/** src/web/static in development, dist/web/static after the build (scripts/copy-web-assets.mjs). */
export const staticDirectory = fileURLToPath(new URL('./static/', import.meta.url));

export function createWebApp(deps: WebDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.web.trustProxy);
  // Pages are no-store anyway; static files get their own validators from express.static.
  app.set('etag', false);
  app.use(requestLog(deps.logger));
  app.use(securityHeaders());
  app.use(
    '/static',
    express.static(staticDirectory, { index: false, redirect: false, dotfiles: 'ignore', fallthrough: true, maxAge: '1h', etag: true, lastModified: true }),
  );
  app.use(languageMiddleware);
  if (deps.metrics) app.use(metricsRouter({ source: deps.metrics, networks: deps.config.web.metricsNetworks, now: deps.now }));
  const ctx: WebContext = createWebContext(deps);
  for (const router of featureRouters(ctx)) app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}

/** The feature routers, in order; the staff area adds its router here. */
function featureRouters(ctx: WebContext): express.Router[] {
  return [downloadRoutes(ctx), ...(ctx.deps.staff ? [createStaffRouter(ctx, ctx.deps.staff), startPage()] : [])];
}

/** Whoever opens the bare address (a newcomer, a bookmark) lands in the staff area; partners only ever get link addresses. */
function startPage(): express.Router {
  const router = express.Router();
  router.get('/', (_req, res) => res.redirect(303, '/staff'));
  return router;
}

/** Sending pages: status, no caching of anything that may hold a link, the shared layout. */
import type { Request, Response } from 'express';
import { langOf, type Lang } from './i18n.js';
import { renderPage, type SafeHtml } from './layout.js';

export interface PageContent {
  readonly title: string;
  readonly body: SafeHtml;
}

export function sendPage(req: Request, res: Response, status: number, page: PageContent | ((lang: Lang) => PageContent)): void {
  const lang = langOf(res);
  const content = typeof page === 'function' ? page(lang) : page;
  res.status(status);
  res.set('Cache-Control', 'no-store');
  res.type('html');
  res.send(renderPage({ lang, title: content.title, body: content.body, path: req.path }));
}

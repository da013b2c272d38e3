/**
 * What the staff area needs beyond the web edge's own dependencies, and
 * what its route modules share.
 */
import type { Request, Response } from 'express';
import type { BlobStore } from '../../transfer/blob-store.js';
import type { StaffStore } from '../../transfer/staff-records.js';
import type { Notifier } from '../../transfer/types.js';
import type { Uploads } from '../../transfer/uploads.js';
import type { WebContext } from '../context.js';
import { langOf, type Lang } from '../i18n.js';
import { renderPage } from '../layout.js';
import type { PageContent } from '../respond.js';
import type { RateLimit } from './rate-limit.js';
import type { StaffSessions } from './sessions.js';
import type { TusEndpoint } from './tus-endpoint.js';

export interface StaffServices {
  readonly store: StaffStore;
  readonly blobs: BlobStore;
  readonly notifier: Notifier;
}

export interface StaffContext {
  readonly web: WebContext;
  readonly store: StaffStore;
  readonly notifier: Notifier;
  readonly uploads: Uploads;
  readonly sessions: StaffSessions;
  readonly staffTus: TusEndpoint;
  readonly requestTus: TusEndpoint;
  readonly signInPerIp: RateLimit;
  readonly signInPerAddress: RateLimit;
}

/** Like sendPage, with the page's own scripts from /static/. */
export function sendStaffPage(req: Request, res: Response, status: number, page: (lang: Lang) => PageContent, scripts?: readonly string[]): void {
  const lang = langOf(res);
  const content = page(lang);
  res.status(status);
  res.set('Cache-Control', 'no-store');
  res.type('html');
  res.send(renderPage({ lang, title: content.title, body: content.body, path: req.path, ...(scripts ? { scripts } : {}) }));
}

export const uploadScripts = ['/static/vendor/tus.min.js', '/static/staff-upload.js'] as const;

/** A bare address in one of our internal domains (lower-case), or undefined. */
export function parseAddress(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const address = value.trim().toLowerCase();
  if (address.length > 254 || !/^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$/.test(address)) return undefined;
  return address;
}

export function isInternal(address: string, internalDomains: readonly string[]): boolean {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return internalDomains.some((d) => d.toLowerCase() === domain);
}

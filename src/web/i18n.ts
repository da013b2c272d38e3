/**
 * Languages of the web pages. The choice: `?lang=` (remembered in a cookie),
 * else that cookie, else Accept-Language by q-value, else German.
 *
 * Each feature module keeps its own message table, defined with
 * defineMessages: the German table fixes the keys and each message's type,
 * and the English table must match it exactly, so a missing or extra key is
 * a compile error.
 */
import type { NextFunction, Request, Response } from 'express';
import { readCookie } from './cookies.js';

export const languages = ['de', 'en'] as const;
export type Lang = (typeof languages)[number];
export const defaultLanguage: Lang = 'de';
export const languageCookie = 'lang';

export function isLang(value: unknown): value is Lang {
  return typeof value === 'string' && (languages as readonly string[]).includes(value);
}

/** A message: plain text, or a function of parameters (already formatted for the language). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parameters differ per message; each table fixes them
export type Message = string | ((...args: any[]) => string);

/** The English table must have exactly the German table's keys and message types. */
export type Translation<T> = { readonly [K in keyof T]: T[K] extends string ? string : T[K] };

export type MessageTable<T> = { readonly de: Translation<T>; readonly en: Translation<T> };

export function defineMessages<T extends Record<string, Message>>(tables: { readonly de: T; readonly en: NoInfer<Translation<T>> }): MessageTable<T> {
  // T matches Translation<T> key by key (strings widen to string); tsc cannot see that for a generic T.
  return tables as unknown as MessageTable<T>;
}

/** The language from `?lang=`, the `lang` cookie, Accept-Language, or German. */
export function pickLanguage(req: Request): Lang {
  const query = queryLanguage(req);
  if (query) return query;
  const cookie = readCookie(req, languageCookie);
  if (isLang(cookie)) return cookie;
  return acceptLanguage(req.headers['accept-language']) ?? defaultLanguage;
}

function queryLanguage(req: Request): Lang | undefined {
  const value: unknown = req.query['lang'];
  return isLang(value) ? value : undefined;
}

/** The best of our languages in an Accept-Language header (RFC 9110 section 12.5.4), or undefined. */
export function acceptLanguage(header: string | undefined): Lang | undefined {
  if (!header || header.length > 1024) return undefined;
  let best: { lang: Lang; q: number; order: number } | undefined;
  let wildcard: number | undefined;
  header.split(',').forEach((item, order) => {
    const [range, ...params] = item.trim().split(';');
    const tag = range?.trim().toLowerCase() ?? '';
    let q = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(param);
      if (match?.[1] !== undefined) q = Number(match[1]);
    }
    if (q <= 0) return;
    if (tag === '*') {
      wildcard = Math.max(wildcard ?? 0, q);
      return;
    }
    const primary = tag.split('-')[0];
    if (!isLang(primary)) return;
    if (!best || q > best.q) best = { lang: primary, q, order };
  });
  if (best) return best.lang;
  return wildcard !== undefined ? defaultLanguage : undefined;
}

/**
 * Sets res.locals.lang for the pages and remembers an explicit `?lang=` in
 * the `lang` cookie (SameSite=Lax so it survives following a mailed link;
 * not HttpOnly: it holds nothing secret).
 */
export function languageMiddleware(req: Request, res: Response, next: NextFunction): void {
  const lang = pickLanguage(req);
  res.locals['lang'] = lang;
  const query = queryLanguage(req);
  if (query && readCookie(req, languageCookie) !== query) {
    res.cookie(languageCookie, query, { sameSite: 'lax', path: '/', maxAge: 365 * 86_400_000, secure: req.secure, httpOnly: false });
  }
  // Pages differ by these, so shared caches must not mix them up.
  res.vary('Accept-Language');
  res.vary('Cookie');
  next();
}

/** The language chosen by languageMiddleware. */
export function langOf(res: Response): Lang {
  const lang: unknown = res.locals['lang'];
  return isLang(lang) ? lang : defaultLanguage;
}

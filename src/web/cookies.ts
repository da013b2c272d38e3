/**
 * Cookie parsing without a dependency: the web edge reads only a handful of
 * its own cookies, so a small strict parser is enough. Malformed pairs are
 * skipped, never thrown on.
 */
import type { Request } from 'express';

/** Cookies of the request, first occurrence wins (RFC 6265 section 5.4 orders the most specific path first). */
export function readCookies(req: Request): ReadonlyMap<string, string> {
  const cookies = new Map<string, string>();
  const header = req.headers.cookie;
  if (typeof header !== 'string' || header.length > 8192) return cookies;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (cookies.has(name)) continue;
    try {
      cookies.set(name, decodeURIComponent(value));
    } catch {
      // Not percent-decodable: not one of ours.
    }
  }
  return cookies;
}

export function readCookie(req: Request, name: string): string | undefined {
  return readCookies(req).get(name);
}

/** Whether the browser reached us over https (directly or, with trust proxy, through the proxy). */
export function isSecureRequest(req: Request): boolean {
  return req.secure;
}

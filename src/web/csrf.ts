/**
 * CSRF protection for the public forms: a random value in an HttpOnly,
 * SameSite=Strict cookie, and in each form a token = HMAC(cookie, form
 * action). A cross-site page can neither read the cookie nor compute the
 * token, and a token for one form is useless for another.
 */
import type { Request, Response } from 'express';
import { readCookie } from './cookies.js';
import { randomId, type SigningKey } from './signing-key.js';

export const csrfCookie = 'siegel_csrf';
export const csrfField = 'csrf';

export class CsrfTokens {
  constructor(private readonly key: SigningKey) {}

  /** The token for a form posting to `action`; sets the cookie when the browser has none. */
  issue(req: Request, res: Response, action: string): string {
    let secret = readCookie(req, csrfCookie);
    if (!secret || !/^[A-Za-z0-9_-]{24}$/.test(secret)) {
      secret = randomId();
      res.cookie(csrfCookie, secret, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
    }
    return this.key.sign('csrf', secret, action);
  }

  /** Whether the posted form carries the token for this cookie and action. */
  check(req: Request, action: string): boolean {
    const secret = readCookie(req, csrfCookie);
    const body: unknown = req.body;
    const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[csrfField] : undefined;
    if (!secret || typeof token !== 'string' || token.length > 100) return false;
    return this.key.verify(token, 'csrf', secret, action);
  }
}

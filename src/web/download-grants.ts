/**
 * After a correct download password the browser gets a grant: a cookie
 * scoped to /d/<token> holding `id.expiry.mac`, where mac = HMAC(token
 * reference, id, expiry). The password itself never goes into the cookie;
 * the service wants it on each download, so it stays in this process's
 * memory for the grant's short life. A restart (or another node) simply
 * asks for the password again.
 */
import type { Request, Response } from 'express';
import { readCookie } from './cookies.js';
import { randomId, tokenRef, type SigningKey } from './signing-key.js';

export const grantCookie = 'siegel_grant';
const defaultLifetime = 60 * 60_000;
/** Grants are created only after a correct password, so this is a safety net, not a limit anyone reaches. */
const maxGrants = 10_000;

interface Grant {
  readonly ref: string;
  readonly password: string;
  readonly expiresAt: number;
}

export class DownloadGrants {
  private readonly grants = new Map<string, Grant>();

  constructor(
    private readonly key: SigningKey,
    private readonly now: () => Date,
    private readonly lifetime = defaultLifetime,
  ) {}

  /** Remembers the password for this token and sets the grant cookie. */
  grant(req: Request, res: Response, token: string, password: string): void {
    this.prune();
    const id = randomId();
    const expiresAt = this.now().getTime() + this.lifetime;
    const ref = tokenRef(token, 64);
    this.grants.set(id, { ref, password, expiresAt });
    res.cookie(grantCookie, `${id}.${expiresAt}.${this.key.sign('grant', ref, id, String(expiresAt))}`, {
      httpOnly: true,
      secure: req.secure,
      sameSite: 'strict',
      path: `/d/${token}`,
      maxAge: this.lifetime,
    });
  }

  /** The remembered password when the request carries a valid grant for this token. */
  password(req: Request, token: string): string | undefined {
    const value = readCookie(req, grantCookie);
    if (!value || value.length > 200) return undefined;
    const [id, expiry, mac, ...rest] = value.split('.');
    if (!id || !expiry || !mac || rest.length > 0) return undefined;
    const ref = tokenRef(token, 64);
    if (!this.key.verify(mac, 'grant', ref, id, expiry)) return undefined;
    const grant = this.grants.get(id);
    if (!grant || grant.ref !== ref || grant.expiresAt <= this.now().getTime()) return undefined;
    return grant.password;
  }

  private prune(): void {
    const now = this.now().getTime();
    for (const [id, grant] of this.grants) if (grant.expiresAt <= now) this.grants.delete(id);
    // Oldest first (insertion order) when still full.
    for (const id of this.grants.keys()) {
      if (this.grants.size < maxGrants) break;
      this.grants.delete(id);
    }
  }
}

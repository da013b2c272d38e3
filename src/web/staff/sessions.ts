/**
 * Staff sessions: a random id in an HttpOnly, SameSite=Strict cookie
 * (Secure over https), stored only as its SHA-256 with an expiry of
 * web.sessionLifetime. Sign-out deletes the row, so a copied cookie dies
 * with it.
 */
import type { Request, Response } from 'express';
import { secretHash, type StaffStore } from '../../transfer/staff-records.js';
import { newSecret } from '../../transfer/uploads.js';
import { readCookie } from '../cookies.js';

export const sessionCookie = 'siegel_staff';
const sessionShape = /^[A-Za-z0-9_-]{43}$/;

export class StaffSessions {
  constructor(
    private readonly store: StaffStore,
    private readonly lifetime: number,
    private readonly now: () => Date,
  ) {}

  /** The signed-in address, or undefined. */
  address(req: Request): string | undefined {
    const id = readCookie(req, sessionCookie);
    if (!id || !sessionShape.test(id)) return undefined;
    return this.store.session(secretHash(id), this.now())?.address;
  }

  start(req: Request, res: Response, address: string): void {
    const id = newSecret();
    const createdAt = this.now();
    this.store.saveSession(secretHash(id), { address, createdAt, expiresAt: new Date(createdAt.getTime() + this.lifetime) });
    res.cookie(sessionCookie, id, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/', maxAge: this.lifetime });
  }

  end(req: Request, res: Response): void {
    const id = readCookie(req, sessionCookie);
    if (id && sessionShape.test(id)) this.store.deleteSession(secretHash(id));
    res.clearCookie(sessionCookie, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
  }
}

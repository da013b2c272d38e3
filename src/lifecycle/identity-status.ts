/**
 * Where each enrolled identity stands in its lifecycle at a given time:
 * which one is in use, which one a renewal has superseded, which ones
 * expire soon without a successor. `siegel certs list`, the expiry monitor
 * and the metrics all read this one function, so they never disagree.
 *
 * Rollover is derived, not stored: when a renewed certificate (same
 * mailbox, later notBefore) becomes valid, the keystore signs with it
 * (signingIdentity takes the newest valid one) and the older identity
 * stays 'active' in the store, shown here as 'superseded'. Siegel does not
 * set it to 'retired' by itself: its key keeps decrypting mail encrypted to
 * the old certificate either way (decryptionKeys returns every state but
 * pending), and should the new certificate be removed, the old one takes
 * over again for as long as it is valid. 'retired' is left for an
 * administrator's explicit decision.
 */
import type { IdentitySummary } from '../keystore/keystore.js';

export const DAY_MS = 86_400_000;

/**
 * - pending: key generated, no certificate yet;
 * - retired: set aside by an administrator (still decrypts);
 * - not-yet-valid: its notBefore is still to come (a renewal imported early);
 * - in-use: the certificate the mailbox signs with and/or announces for encryption now;
 * - superseded: valid, but a newer identity of the mailbox has taken over every role it had;
 * - expired: past notAfter.
 */
export type IdentityStatus = 'pending' | 'retired' | 'not-yet-valid' | 'in-use' | 'superseded' | 'expired';

export interface IdentityLifecycle {
  readonly identity: IdentitySummary;
  readonly status: IdentityStatus;
  /** Milliseconds until notAfter (negative once expired); null while pending. */
  readonly msLeft: number | null;
  /** Whole days until notAfter, rounded down (negative once expired); null while pending. */
  readonly daysLeft: number | null;
  /**
   * Id of the identity that takes over when this one ends: an active one of
   * the same mailbox, for every role this one has, valid from no later than
   * this one's notAfter and valid longer. null when there is none.
   */
  readonly renewedBy: string | null;
  /** Needs the administrator: active, not renewed, and expiring within the warning time or already expired. */
  readonly expiring: boolean;
}

type Capability = 'sign' | 'encrypt';

interface Dated extends IdentitySummary {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function capabilities(identity: IdentitySummary): Capability[] {
  return identity.role === 'both' ? ['sign', 'encrypt'] : [identity.role];
}

function dated(identity: IdentitySummary): identity is Dated {
  return identity.notBefore !== null && identity.notAfter !== null;
}

/** The keystore's order (keystore.ts newestFirst): latest notBefore, then latest notAfter, then id. */
function newestFirst(a: Dated, b: Dated): number {
  return b.notBefore.getTime() - a.notBefore.getTime() || b.notAfter.getTime() - a.notAfter.getTime() || a.id.localeCompare(b.id);
}

/** Classifies every identity at `now`; `warningMs` is enrollment.expiryWarning. Order is kept. */
export function identityLifecycles(identities: readonly IdentitySummary[], now: Date, warningMs: number): IdentityLifecycle[] {
  const at = now.getTime();
  const active = identities.filter((i): i is Dated => i.state === 'active' && dated(i));
  // Per mailbox and capability, the identity the keystore would pick now.
  const inUse = new Set<string>();
  for (const capability of ['sign', 'encrypt'] as const) {
    const byMailbox = new Map<string, Dated>();
    for (const identity of active.filter((i) => capabilities(i).includes(capability) && i.notBefore.getTime() <= at && at <= i.notAfter.getTime()).sort(newestFirst)) {
      if (!byMailbox.has(identity.mailbox)) byMailbox.set(identity.mailbox, identity);
    }
    for (const identity of byMailbox.values()) inUse.add(identity.id);
  }
  return identities.map((identity) => {
    if (identity.state === 'pending' || !dated(identity)) {
      return { identity, status: 'pending', msLeft: null, daysLeft: null, renewedBy: null, expiring: false };
    }
    const msLeft = identity.notAfter.getTime() - at;
    const daysLeft = Math.floor(msLeft / DAY_MS);
    const status: IdentityStatus =
      identity.state === 'retired'
        ? 'retired'
        : msLeft < 0
          ? 'expired'
          : identity.notBefore.getTime() > at
            ? 'not-yet-valid'
            : inUse.has(identity.id)
              ? 'in-use'
              : 'superseded';
    const renewedBy = identity.state === 'active' ? successor(identity, active) : null;
    const expiring = identity.state === 'active' && renewedBy === null && msLeft <= warningMs;
    return { identity, status, msLeft, daysLeft, renewedBy, expiring };
  });
}

/** An active identity of the same mailbox that covers every role of `identity` past its notAfter, without a gap. */
function successor(identity: Dated, active: readonly Dated[]): string | null {
  const needed = capabilities(identity);
  const covering = active
    .filter(
      (other) =>
        other.id !== identity.id &&
        other.mailbox === identity.mailbox &&
        other.notAfter.getTime() > identity.notAfter.getTime() &&
        other.notBefore.getTime() <= identity.notAfter.getTime(),
    )
    .sort(newestFirst);
  const covered = needed.every((capability) => covering.some((other) => capabilities(other).includes(capability)));
  if (!covered) return null;
  // Name the one taking over signing where there is one (the role staff notice first).
  const first = needed.map((capability) => covering.find((other) => capabilities(other).includes(capability)))[0];
  return first?.id ?? null;
}

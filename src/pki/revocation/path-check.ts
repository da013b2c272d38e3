/**
 * Revocation status of a validated certification path: every certificate
 * except the anchor (trusted by configuration, RFC 5280 6.1) is checked
 * against its issuer, the next certificate of the path, in parallel. The
 * path's status is the worst of its certificates': revoked (the one
 * nearest the leaf is named) before unknown/unavailable before good.
 */
import { subjectOf } from './checker.js';
import type { RevocationChecker, RevocationStatus } from './types.js';

export type PathRevocation =
  | { readonly status: 'good'; readonly detail: string }
  | { readonly status: 'revoked'; readonly certificate: string; readonly revokedAt: Date; readonly reasonCode?: number; readonly detail: string }
  | { readonly status: 'unavailable'; readonly certificate: string; readonly detail: string };

/** `path`: leaf first, anchor last (validatePath). Never throws. */
export async function checkPathRevocation(checker: RevocationChecker, path: readonly Buffer[], at: Date): Promise<PathRevocation> {
  const pairs = path.slice(0, -1).map((certificate, i) => ({ certificate, issuer: path[i + 1] as Buffer }));
  const statuses = await Promise.all(pairs.map(({ certificate, issuer }) => checker.check(certificate, issuer, at).catch((err: unknown): RevocationStatus => ({ status: 'unavailable', source: 'none', why: String(err) }))));
  const named = statuses.map((status, i) => ({ status, subject: subjectOf(pairs[i]?.certificate ?? Buffer.alloc(0)) }));
  for (const { status, subject } of named) {
    if (status.status === 'revoked') {
      return { status: 'revoked', certificate: subject, revokedAt: status.revokedAt, ...(status.reasonCode !== undefined ? { reasonCode: status.reasonCode } : {}), detail: `"${subject}" was ${status.detail}` };
    }
  }
  for (const { status, subject } of named) {
    if (status.status === 'unavailable') return { status: 'unavailable', certificate: subject, detail: `"${subject}": ${status.why}` };
    if (status.status === 'unknown') return { status: 'unavailable', certificate: subject, detail: `"${subject}": ${status.detail}` };
  }
  // Short, for the Authentication-Results comment: which certificates had nothing to check.
  const uninformed = named.filter(({ status }) => status.status === 'good' && status.source === 'none').map(({ subject }) => `"${subject}"`);
  if (uninformed.length === 0) return { status: 'good', detail: 'not revoked' };
  if (uninformed.length === named.length) return { status: 'good', detail: 'no revocation information' };
  return { status: 'good', detail: `not revoked; no revocation information for ${uninformed.join(', ')}` };
}

/**
 * Revocation in the inbound verdict (issue 5): after a signature passed,
 * its signer's path is checked. A revoked certificate anywhere in the path
 * gives 'fail' with reason 'revoked' (the key can no longer vouch for
 * anything, whatever signingTime claims: the signer chooses it). A status
 * that cannot be had keeps the 'pass' under soft-fail and says so; under
 * hard-fail it gives 'temperror' with 'revocation-unavailable' (a later
 * check may succeed). OCSP 'unknown' counts as unavailable: the responder
 * cannot vouch for the certificate, and the CRL (when there is one) was
 * tried as well.
 */
import { verdictOf, type Verdict } from '../../smime/verdict.js';
import type { VerifyOutcome } from '../../smime/verify-signed-data.js';
import { rememberIssuers } from './issuers.js';
import { checkPathRevocation } from './path-check.js';
import type { RevocationChecker } from './types.js';

export interface RevocationPolicy {
  readonly checker: RevocationChecker;
  readonly mode: 'soft' | 'hard';
}

export async function withRevocation(outcome: VerifyOutcome, policy: RevocationPolicy | undefined, at: Date): Promise<VerifyOutcome> {
  if (!policy || outcome.verdict.result !== 'pass' || !outcome.path) return outcome;
  const verdict = outcome.verdict;
  const extra: Pick<Verdict, 'signer' | 'signingTime'> = { ...(verdict.signer ? { signer: verdict.signer } : {}), ...(verdict.signingTime ? { signingTime: verdict.signingTime } : {}) };
  rememberIssuers(outcome.path);
  const checked = await checkPathRevocation(policy.checker, outcome.path, at);
  switch (checked.status) {
    case 'revoked':
      return {
        ...outcome,
        verdict: verdictOf('revoked', `the signature is valid, but ${checked.detail}`, extra),
      };
    case 'unavailable':
      if (policy.mode === 'hard') return { ...outcome, verdict: verdictOf('revocation-unavailable', `revocation status could not be checked: ${checked.detail}`, extra) };
      return { ...outcome, verdict: { ...verdict, detail: `${verdict.detail} (revocation status could not be checked: ${checked.detail})` } };
    case 'good':
      return { ...outcome, verdict: { ...verdict, detail: `${verdict.detail} (${checked.detail})` } };
  }
}

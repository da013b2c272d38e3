/**
 * The revocation checker: OCSP first when the certificate names a
 * responder (current, and one small signed answer), then the CRLs of its
 * distribution points when OCSP gave no answer to rely on (unreachable,
 * unusable, or 'unknown'). A certificate naming neither is 'good' with
 * "no revocation information": there is nothing to check.
 *
 * OCSP answers are cached per certificate until their nextUpdate (or
 * thisUpdate + ocspMaxAge); CRLs per URL until theirs (crl-cache.ts).
 * Failures are remembered for a minute, so an outage costs one timeout per
 * minute and not one per message. All times come from the caller's clock.
 */
import { certificateKey, BoundedCache, memoByCertificate } from '../memo.js';
import { readCertificate, oneLine } from '../path-validation.js';
import { certificateFields, revocationUrls } from './certificate-fields.js';
import { CrlCache, FAILURE_TTL_MS } from './crl-cache.js';
import type { ParsedCrl } from './crl-parse.js';
import { queryOcsp } from './ocsp-client.js';
import { reasonName, type RevocationChecker, type RevocationSettings, type RevocationStatus } from './types.js';

interface CachedStatus {
  readonly status: RevocationStatus;
  /** Valid from (thisUpdate minus skew) to `until`, on the caller's clock. */
  readonly from: number;
  readonly until: number;
}

export class DefaultRevocationChecker implements RevocationChecker {
  readonly #crls: CrlCache;
  readonly #ocsp = new BoundedCache<CachedStatus>(4096);
  readonly #inflight = new Map<string, Promise<RevocationStatus>>();

  constructor(
    private readonly settings: Pick<RevocationSettings, 'timeout' | 'ocspMaxAge' | 'maxCrlSize'>,
    crls?: CrlCache,
  ) {
    this.#crls = crls ?? new CrlCache({ timeout: settings.timeout, maxCrlSize: settings.maxCrlSize, maxAge: settings.ocspMaxAge });
  }

  async check(certificate: Buffer, issuer: Buffer, at: Date): Promise<RevocationStatus> {
    const key = `${certificateKey(certificate)}/${certificateKey(issuer)}`;
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.checkUncached(certificate, issuer, at, key).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  private async checkUncached(certificate: Buffer, issuer: Buffer, at: Date, key: string): Promise<RevocationStatus> {
    const urls = revocationUrls(certificate);
    if (urls.ocsp.length === 0 && urls.crl.length === 0) return { status: 'good', source: 'none', detail: 'no revocation information' };
    let ocspResult: RevocationStatus | undefined;
    if (urls.ocsp.length > 0) {
      ocspResult = await this.viaOcsp(urls.ocsp, certificate, issuer, at, key);
      if (ocspResult.status === 'good' || ocspResult.status === 'revoked') return ocspResult;
    }
    if (urls.crl.length === 0 && ocspResult) return ocspResult;
    const crlResult = await this.viaCrl(urls.crl, certificate, issuer, at);
    if (crlResult.status !== 'unavailable' || !ocspResult) return crlResult;
    // Neither gave an answer to rely on: say what both said.
    if (ocspResult.status === 'unknown') return { status: 'unknown', source: 'ocsp', detail: `${ocspResult.detail}; ${crlResult.why}` };
    return { status: 'unavailable', source: 'ocsp', why: `${ocspResult.status === 'unavailable' ? ocspResult.why : ''}; ${crlResult.why}` };
  }

  private async viaOcsp(ocspUrls: readonly string[], certificate: Buffer, issuer: Buffer, at: Date, key: string): Promise<RevocationStatus> {
    const t = at.getTime();
    const cached = this.#ocsp.get(key);
    if (cached && t >= cached.from && t <= cached.until) return cached.status;
    const problems: string[] = [];
    for (const url of ocspUrls) {
      const answer = await queryOcsp(url, certificate, issuer, { at, timeout: this.settings.timeout, ocspMaxAge: this.settings.ocspMaxAge });
      if (!answer.ok) {
        problems.push(answer.why);
        continue;
      }
      const via = `OCSP ${url}, signed by ${answer.signer}${answer.nonce === 'absent' ? ', without nonce' : ''}`;
      const status: RevocationStatus =
        answer.status === 'good'
          ? { status: 'good', source: 'ocsp', detail: via }
          : answer.status === 'unknown'
            ? { status: 'unknown', source: 'ocsp', detail: `the OCSP responder does not know the certificate (${url})` }
            : revoked('ocsp', answer.revokedAt ?? answer.thisUpdate, answer.reasonCode, via);
      const until = answer.nextUpdate ? answer.nextUpdate.getTime() : answer.thisUpdate.getTime() + this.settings.ocspMaxAge;
      this.#ocsp.set(key, { status, from: answer.thisUpdate.getTime() - 5 * 60_000, until });
      return status;
    }
    const status: RevocationStatus = { status: 'unavailable', source: 'ocsp', why: problems.join('; ') };
    this.#ocsp.set(key, { status, from: t, until: t + FAILURE_TTL_MS });
    return status;
  }

  private async viaCrl(crlUrls: readonly string[], certificate: Buffer, issuer: Buffer, at: Date): Promise<RevocationStatus> {
    const problems: string[] = [];
    let fields: ReturnType<typeof certificateFields>;
    try {
      fields = certificateFields(certificate);
    } catch {
      return { status: 'unavailable', source: 'crl', why: 'the certificate cannot be read' };
    }
    const isCa = readCertificate(certificate)?.x509.ca ?? false;
    for (const url of crlUrls) {
      const answer = await this.#crls.get(url, issuer, at);
      if (!answer.ok) {
        problems.push(answer.why);
        continue;
      }
      const scope = outOfScope(answer.crl, isCa);
      if (scope) {
        problems.push(`${scope} (${url})`);
        continue;
      }
      try {
        const entry = answer.crl.lookup(fields.serialHex);
        if (!entry) return { status: 'good', source: 'crl', detail: `not on the CRL ${url} (${answer.crl.entryCount} entries, thisUpdate ${answer.crl.thisUpdate.toISOString()})` };
        return revoked('crl', entry.revokedAt, entry.reasonCode, `CRL ${url}`);
      } catch (err) {
        problems.push(`CRL ${url}: the entry cannot be read: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return { status: 'unavailable', source: 'crl', why: problems.join('; ') };
  }
}

function outOfScope(crl: ParsedCrl, isCa: boolean): string | undefined {
  if (crl.onlyUserCerts && isCa) return 'the CRL covers only end-entity certificates';
  if (crl.onlyCaCerts && !isCa) return 'the CRL covers only CA certificates';
  return undefined;
}

function revoked(source: 'ocsp' | 'crl', revokedAt: Date, reasonCode: number | undefined, via: string): RevocationStatus {
  return {
    status: 'revoked',
    source,
    revokedAt,
    ...(reasonCode !== undefined ? { reasonCode } : {}),
    detail: `revoked on ${revokedAt.toISOString()} (${reasonName(reasonCode)}), according to ${via}`,
  };
}

/** "CN=..., O=..." of a certificate for details; '?' when unreadable. */
export const subjectOf: (der: Buffer) => string = memoByCertificate((der) => {
  const view = readCertificate(der);
  return view ? oneLine(view.x509.subject) : '?';
});

/**
 * GET /metrics on the web listener, in the Prometheus text format (0.0.4),
 * for the monitoring an administration already runs:
 *   siegel_identity_expiry_seconds{mailbox,role,serial}  seconds until notAfter (negative once expired)
 *   siegel_identity_expiring{mailbox,role,serial}        1 when it needs renewing (lifecycle/identity-status.ts)
 *   siegel_identities_expiring                           how many need renewing: the one number to alert on
 *   siegel_identity_expiry_warning_seconds               enrollment.expiryWarning
 * One series per active identity (retired and pending ones have nothing
 * to renew). Only clients in web.metricsNetworks (default loopback) get
 * them; everyone else gets the ordinary 404 page, so the endpoint does
 * not even show that it exists. The client address is req.ip: behind a
 * reverse proxy set web.trustProxy, or the proxy's (loopback) address
 * would stand for every client. Metrics hold public certificate data
 * only (addresses, serials, dates), never key material or tokens.
 */
import express from 'express';
import { createClientNetworks } from '../smtp/client-networks.js';
import type { IdentitySummary } from '../keystore/keystore.js';
import { identityLifecycles, type IdentityLifecycle } from '../lifecycle/identity-status.js';

export interface MetricsSource {
  /** The enrolled identities (Keystore.list: no key material). */
  identities(): Promise<IdentitySummary[]>;
  /** enrollment.expiryWarning. */
  readonly warningMs: number;
}

export interface MetricsRouteOptions {
  readonly source: MetricsSource;
  /** web.metricsNetworks; empty: nobody. */
  readonly networks: readonly string[];
  readonly now: () => Date;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export function metricsRouter(options: MetricsRouteOptions): express.Router {
  const allowed = createClientNetworks(options.networks);
  const router = express.Router();
  router.get('/metrics', async (req, res, next) => {
    if (!allowed.allows(req.ip ?? req.socket.remoteAddress ?? '')) {
      next();
      return;
    }
    try {
      const body = renderMetrics(await options.source.identities(), options.now(), options.source.warningMs);
      res.status(200).set({ 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store' }).send(body);
    } catch (err) {
      next(err);
    }
  });
  return router;
}

export function renderMetrics(identities: readonly IdentitySummary[], now: Date, warningMs: number): string {
  const lifecycles = identityLifecycles(identities, now, warningMs).filter(
    (l): l is IdentityLifecycle & { msLeft: number } => l.identity.state === 'active' && l.msLeft !== null,
  );
  const labels = ({ identity }: IdentityLifecycle) =>
    `{mailbox="${escapeLabel(identity.mailbox)}",role="${escapeLabel(identity.role)}",serial="${escapeLabel(identity.serial ?? '')}"}`;
  const lines = [
    '# HELP siegel_identity_expiry_seconds Seconds until the certificate of an enrolled identity expires (negative once expired).',
    '# TYPE siegel_identity_expiry_seconds gauge',
    ...lifecycles.map((l) => `siegel_identity_expiry_seconds${labels(l)} ${Math.floor(l.msLeft / 1000)}`),
    '# HELP siegel_identity_expiring 1 when the identity expires within the warning time (or has expired) and no renewal is enrolled.',
    '# TYPE siegel_identity_expiring gauge',
    ...lifecycles.map((l) => `siegel_identity_expiring${labels(l)} ${l.expiring ? 1 : 0}`),
    '# HELP siegel_identities_expiring Identities that expire within the warning time (or have expired) without a renewal.',
    '# TYPE siegel_identities_expiring gauge',
    `siegel_identities_expiring ${lifecycles.filter((l) => l.expiring).length}`,
    '# HELP siegel_identity_expiry_warning_seconds The warning time (enrollment.expiryWarning).',
    '# TYPE siegel_identity_expiry_warning_seconds gauge',
    `siegel_identity_expiry_warning_seconds ${Math.floor(warningMs / 1000)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Label values escape backslash, double quote and line feed (exposition format). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

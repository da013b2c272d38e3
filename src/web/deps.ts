/**
 * What the web edge needs from the rest of Siegel. Later features (the
 * staff area, upload requests) add optional fields here rather than new
 * parameters to createWebApp.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { TransferService } from '../transfer/types.js';
import type { MetricsSource } from './metrics.js';
import type { StaffServices } from './staff/staff-deps.js';

export interface WebDeps {
  readonly config: Config;
  readonly transfer: TransferService;
  readonly logger: Logger;
  readonly now: () => Date;
  /**
   * Key for the HMACs of form (CSRF) tokens and download grants. A random
   * key per process when absent: grants are short-lived, so a restart only
   * asks for the password again.
   */
  readonly cookieSecret?: Uint8Array;
  /** The staff area (sign-in, uploads, upload requests); not mounted when absent. */
  readonly staff?: StaffServices;
  /** GET /metrics (Prometheus) for clients in web.metricsNetworks; not mounted when absent. */
  readonly metrics?: MetricsSource;
}

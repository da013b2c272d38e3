/**
 * The expiry watch `siegel serve` runs: identities that expire within
 * enrollment.expiryWarning (or have expired) and have no renewal enrolled
 * get one warn log line each, once per UTC day (and at every start, so an
 * administrator restarting the gateway sees them), and one digest mail per
 * UTC day goes to enrollment.adminAddress through the notifier (the
 * outbound relay). The day of the last digest is kept in a small file in
 * dataDir, so restarts do not mail twice; a failed mail is tried again at
 * the next check. Checks run at start and then every checkIntervalMs
 * (default one hour: retries and the change of day are noticed within an
 * hour); never two at once; the timer is unref'd.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { errorMessage } from '../errors.js';
import type { IdentitySummary } from '../keystore/keystore.js';
import type { Logger } from '../log.js';
import type { Notifier } from '../transfer/types.js';
import { expiryDigest } from './expiry-digest.js';
import { identityLifecycles, type IdentityLifecycle } from './identity-status.js';

export const DEFAULT_CHECK_INTERVAL_MS = 3_600_000;
/** Name of the file in dataDir holding the UTC day (YYYY-MM-DD) of the last digest mail. */
export const DIGEST_STATE_FILE = 'expiry-digest.sent';

export interface ExpiryMonitorOptions {
  /** The enrolled identities (Keystore.list: no key material). */
  readonly identities: () => Promise<IdentitySummary[]>;
  /** enrollment.expiryWarning. */
  readonly warningMs: number;
  /** enrollment.adminAddress; no mail without it. */
  readonly adminAddress: string | undefined;
  readonly notifier: Notifier | undefined;
  readonly logger: Logger;
  readonly now: () => Date;
  /** Where the day of the last digest is remembered (DIGEST_STATE_FILE in dataDir). */
  readonly stateFile: string;
  readonly checkIntervalMs?: number;
}

export type DigestOutcome = 'sent' | 'nothing-expiring' | 'already-sent-today' | 'no-admin-address' | 'failed';

export interface ExpiryCheck {
  readonly expiring: readonly IdentityLifecycle[];
  /** True when this check wrote the warn lines (first check, or a new day). */
  readonly logged: boolean;
  readonly digest: DigestOutcome;
}

export interface ExpiryMonitor {
  /** One check now (what the timer runs); a check under way is awaited instead of starting a second. */
  check(): Promise<ExpiryCheck>;
  /** Stops the timer; resolves once a check under way has finished. */
  stop(): Promise<void>;
}

/** A monitor without a timer (tests, and the building block of startExpiryMonitor). */
export function createExpiryMonitor(options: ExpiryMonitorOptions): ExpiryMonitor {
  const { logger } = options;
  let loggedDay: string | undefined;
  /** The day the digest went out, also when the state file could not be written (full or read-only disk). */
  let mailedDay: string | undefined;
  let running: Promise<ExpiryCheck> | undefined;

  const checkOnce = async (): Promise<ExpiryCheck> => {
    const now = options.now();
    const today = utcDay(now);
    const expiring = identityLifecycles(await options.identities(), now, options.warningMs).filter((l) => l.expiring);
    let logged = false;
    if (loggedDay !== today) {
      loggedDay = today;
      logged = true;
      for (const entry of expiring) logExpiring(logger, entry);
      if (expiring.length === 0) logger.info({ warning: `${Math.round(options.warningMs / 86_400_000)}d` }, 'no identity expires soon');
    }
    const digest = mailedDay === today ? 'already-sent-today' : await mailDigest(options, expiring, today);
    if (digest === 'sent') mailedDay = today;
    return { expiring, logged, digest };
  };

  return {
    check() {
      running ??= checkOnce().finally(() => {
        running = undefined;
      });
      return running;
    },
    async stop() {
      await running?.catch(() => undefined);
    },
  };
}

/** Checks at once and then every checkIntervalMs until stopped; errors are logged, never thrown. */
export function startExpiryMonitor(options: ExpiryMonitorOptions): ExpiryMonitor {
  const monitor = createExpiryMonitor(options);
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    monitor.check().catch((err: unknown) => options.logger.error({ error: errorMessage(err) }, 'expiry check failed'));
  };
  const first = setTimeout(tick, 0);
  first.unref();
  const timer = setInterval(tick, Math.max(1000, options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS));
  timer.unref();
  return {
    check: () => monitor.check(),
    async stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(timer);
      await monitor.stop();
    },
  };
}

function logExpiring(logger: Logger, { identity, status, daysLeft }: IdentityLifecycle): void {
  logger.warn(
    {
      mailbox: identity.mailbox,
      role: identity.role,
      subject: identity.subject,
      serial: identity.serial,
      notAfter: identity.notAfter?.toISOString(),
      daysLeft,
      status,
    },
    status === 'expired' ? 'identity expired and not renewed: renew it' : 'identity expires soon and is not renewed: renew it',
  );
}

async function mailDigest(options: ExpiryMonitorOptions, expiring: readonly IdentityLifecycle[], today: string): Promise<DigestOutcome> {
  if (expiring.length === 0) return 'nothing-expiring';
  if (!options.adminAddress || !options.notifier) return 'no-admin-address';
  if (readState(options.stateFile) === today) return 'already-sent-today';
  const { subject, text } = expiryDigest(expiring, options.warningMs);
  try {
    await options.notifier.send({ to: options.adminAddress, subject, text });
  } catch (err) {
    options.logger.error({ to: options.adminAddress, error: errorMessage(err) }, 'expiry digest could not be mailed; tried again at the next check');
    return 'failed';
  }
  try {
    writeState(options.stateFile, today);
  } catch (err) {
    // The mail went out and this process remembers it; at worst it goes out once more after a restart.
    options.logger.warn({ file: options.stateFile, error: errorMessage(err) }, 'cannot remember the day of the expiry digest');
  }
  options.logger.info({ to: options.adminAddress, identities: expiring.length }, 'expiry digest mailed');
  return 'sent';
}

function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function readState(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function writeState(file: string, day: string): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${day}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

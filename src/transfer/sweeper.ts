/**
 * The periodic sweep `siegel serve` runs: deletes the files of expired,
 * revoked and exhausted shares. One sweep right after start (a gateway
 * restarted more often than the interval still sweeps), then every
 * intervalMs; never two at once. The timer is unref'd so it never keeps a
 * process alive.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { TransferService } from './types.js';

/** Stops the timer; resolves once a sweep under way has finished (close the service after that). */
export type StopSweeper = () => Promise<void>;

export function startSweeper(service: Pick<TransferService, 'sweep'>, intervalMs: number, logger: Logger): StopSweeper {
  let running: Promise<void> | undefined;
  let stopped = false;
  const sweepOnce = () => {
    if (running !== undefined || stopped) return;
    running = service
      .sweep()
      .then((deleted) => {
        if (deleted > 0) logger.info({ deleted }, 'sweep deleted files of expired, revoked or exhausted shares');
      })
      .catch((err: unknown) => logger.error({ error: errorMessage(err) }, 'sweep failed'))
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(sweepOnce, 0);
  first.unref();
  const timer = setInterval(sweepOnce, Math.max(1000, intervalMs));
  timer.unref();
  return async () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(timer);
    await running;
  };
}

/**
 * What the `siegel files ...` commands share: opening the exchange from the
 * config (closed again whatever happens), turning errors into exit codes
 * (1 failure, 2 usage: an invalid request is the caller's mistake), and a
 * plain-text table.
 */
import { errorMessage, SiegelError } from '../errors.js';
import { openTransferService } from '../transfer/open.js';
import type { TransferService } from '../transfer/types.js';
import { ExitCode, type CommandContext } from './context.js';

/** A mistake in the command line: printed, exit code 2. */
export class UsageError extends Error {}

export async function withTransfer(ctx: CommandContext, command: string, action: (service: TransferService) => Promise<number>): Promise<number> {
  let service: TransferService | undefined;
  try {
    service = openTransferService(ctx.config, { logger: ctx.logger, now: ctx.now });
    return await action(service);
  } catch (err) {
    ctx.stderr.write(`siegel files ${command}: ${errorMessage(err)}\n`);
    return err instanceof UsageError || (err instanceof SiegelError && err.code === 'INVALID_REQUEST') ? ExitCode.usage : ExitCode.failure;
  } finally {
    await service?.close().catch((err: unknown) => ctx.stderr.write(`siegel files ${command}: ${errorMessage(err)}\n`));
  }
}

/** 2026-11-23 14:05 (UTC), short enough for a table. */
export function shortTime(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')}`;
}

export function humanSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export { table } from './table.js';

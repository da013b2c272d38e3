/**
 * Logging: one JSON object per line (pino). Message bodies, keys and
 * passphrases are never passed to the logger; `redact` is a second net.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['password', 'passphrase', 'pass', 'key', 'privateKey', '*.password', '*.passphrase'], censor: '[redacted]' },
    },
    destination as pino.DestinationStream,
  );
}

/** A logger that drops everything (tests, CLI filters). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Where a listener hands a processed message: an SMTP server (smtp://,
 * smtps://) or a Maildir (maildir:/path). `deliver` resolves only once the
 * next hop took responsibility for the message; it rejects with a
 * SiegelError whose reply is what the SMTP client should be told.
 */
import os from 'node:os';
import { SiegelError } from '../errors.js';
import type { NextHopConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { PipelineMessage } from '../pipeline/types.js';
import { createMaildirNextHop } from './maildir-next-hop.js';
import { createSmtpNextHop } from './smtp-next-hop.js';

export interface NextHop {
  /** Resolves with the next hop's answer once it accepted the message for all recipients. */
  deliver(message: PipelineMessage, queueId: string): Promise<{ response: string }>;
  /** Aborts deliveries still running; later deliveries fail. */
  close(): Promise<void>;
}

export interface NextHopOptions {
  /** Our name in EHLO and in Maildir file names (default: os.hostname()). */
  readonly hostname?: string;
}

export function createNextHop(relay: string, config: NextHopConfig, logger: Logger, options: NextHopOptions = {}): NextHop {
  const hostname = options.hostname ?? os.hostname();
  const target = relay.trim();
  if (target.startsWith('maildir:')) {
    return createMaildirNextHop(target.slice('maildir:'.length), logger, { hostname });
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch (err) {
    throw new SiegelError('CONFIG_INVALID', `relay ${JSON.stringify(relay)} is not a valid URL`, { cause: err });
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new SiegelError('CONFIG_INVALID', `relay ${JSON.stringify(relay)}: expected smtp://, smtps:// or maildir:`);
  }
  const secure = url.protocol === 'smtps:';
  const port = url.port === '' ? (secure ? 465 : 25) : Number(url.port);
  // URL keeps the brackets of an IPv6 literal; sockets want the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new SiegelError('CONFIG_INVALID', `relay ${JSON.stringify(relay)} has no host`);
  return createSmtpNextHop({ host, port, secure }, config, logger, { hostname });
}

/**
 * Quarantine delivery (onFail: quarantine): a message whose signature fails
 * goes, with its verdict header, to `inbound.quarantine` (by default the
 * Maildir <dataDir>/mail/quarantine, for admins to review) instead of the
 * internal mail server. The sender gets 250 like for any delivered message:
 * the gateway took responsibility for it. The pipeline decides (its result's
 * `destination`); the SMTP edge only routes to the hop opened here.
 */
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { createNextHop, type NextHop } from '../../smtp/next-hop.js';

/** `inbound.quarantine` as a relay: a relative maildir: path is relative to dataDir, like the listeners' relays. */
export function quarantineRelay(config: Config): string {
  const relay = config.inbound.quarantine.trim();
  return relay.startsWith('maildir:') ? `maildir:${path.resolve(config.dataDir, relay.slice('maildir:'.length))}` : relay;
}

/** The quarantine as a next hop; every message it takes is logged as a warning, for an admin to review. */
export function openQuarantineHop(config: Config, logger: Logger): NextHop {
  const hop = createNextHop(quarantineRelay(config), config.smtp.inbound.nextHop, logger, config.hostname ? { hostname: config.hostname } : {});
  return {
    async deliver(message, queueId) {
      const outcome = await hop.deliver(message, queueId);
      logger.warn({ queueId, sender: message.envelope.mailFrom, recipients: message.envelope.rcptTo, quarantine: outcome.response }, 'message quarantined: its signature failed');
      return outcome;
    },
    close: () => hop.close(),
  };
}

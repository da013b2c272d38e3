/**
 * Quarantine delivery (onFail: quarantine): a message whose signature fails
 * goes, with its verdict header, to `inbound.quarantine` (by default the
 * Maildir <dataDir>/mail/quarantine, for admins to review) instead of the
 * internal mail server. The sender gets 250 like for any delivered message:
 * the gateway took responsibility for it. The SMTP edge hands every message
 * to one next hop, so this one routes by queue id: the pipeline marks what
 * it quarantined, delivery sends those to the quarantine.
 */
import path from 'node:path';
import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import { createNextHop, type NextHop } from '../../smtp/next-hop.js';
import type { PipelineMessage, PipelineResult } from '../types.js';
import { isQuarantined } from './policy-fail.js';

type Process = (message: PipelineMessage, queueId: string) => Promise<PipelineResult>;

/** `inbound.quarantine` as a relay: a relative maildir: path is relative to dataDir, like the listeners' relays. */
export function quarantineRelay(config: Config): string {
  const relay = config.inbound.quarantine.trim();
  return relay.startsWith('maildir:') ? `maildir:${path.resolve(config.dataDir, relay.slice('maildir:'.length))}` : relay;
}

export function openQuarantineHop(config: Config, logger: Logger): NextHop {
  return createNextHop(quarantineRelay(config), config.smtp.inbound.nextHop, logger, config.hostname ? { hostname: config.hostname } : {});
}

/** The listener's process and next hop, with quarantined messages routed to `quarantine`. */
export function withQuarantine(process: Process, nextHop: NextHop, quarantine: NextHop, logger: Logger): { process: Process; nextHop: NextHop } {
  const marked = new Set<string>();
  return {
    async process(message, queueId) {
      const result = await process(message, queueId);
      if (isQuarantined(result)) marked.add(queueId);
      return result;
    },
    nextHop: {
      async deliver(message, queueId) {
        if (!marked.delete(queueId)) return nextHop.deliver(message, queueId);
        const outcome = await quarantine.deliver(message, queueId);
        logger.warn({ queueId, sender: message.envelope.mailFrom, recipients: message.envelope.rcptTo, quarantine: outcome.response }, 'message quarantined: its signature failed');
        return outcome;
      },
      async close() {
        await Promise.all([nextHop.close(), quarantine.close()]);
      },
    },
  };
}

/**
 * The large-file exchange's own mail (download notifications, sign-in
 * links, upload-request results): a small RFC 5322 message that goes
 * through the outbound pipeline like staff mail, so it leaves signed when
 * its sender is an enrolled mailbox, and then to the submission next hop.
 * The text may hold a link secret: it is never logged.
 */
import { randomBytes } from 'node:crypto';
import { SiegelError } from '../errors.js';
import { rfc5322Date } from '../mime/date.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { encodeWords } from '../mime/encoded-words.js';
import { parseAddressList } from '../mime/headers.js';
import { encodeQuotedPrintable } from '../mime/quoted-printable.js';
import { pipelineMessage } from '../pipeline/message.js';
import { randomQueueId } from '../pipeline/queue-id.js';
import type { PipelineMessage, PipelineResult } from '../pipeline/types.js';
import type { NextHop } from '../smtp/next-hop.js';
import type { Notifier } from './types.js';

export interface MailNotifierOptions {
  readonly config: Config;
  /** The outbound pipeline (createOutboundPipeline). */
  readonly outbound: (message: PipelineMessage, queueId: string) => Promise<PipelineResult>;
  /** The submission next hop. */
  readonly nextHop: Pick<NextHop, 'deliver'>;
  readonly logger: Logger;
  readonly now?: () => Date;
}

/** The exchange's sender address: configured, else siegel@ the first internal domain. */
export function notificationsFrom(config: Config): string {
  return config.largeFiles.notificationsFrom ?? `siegel@${config.internalDomains[0] ?? 'localhost'}`;
}

/** One bare address, or undefined; nothing that could smuggle a header line or a second recipient. */
function singleAddress(value: string): string | undefined {
  if (/[\r\n]/.test(value)) return undefined;
  const addresses = parseAddressList(value);
  return addresses.length === 1 && /^[^\s<>()",;:@]+@[^\s<>()",;:@]+$/.test(addresses[0] as string) ? addresses[0] : undefined;
}

/** Subject as a header value: ASCII as it is, anything else as RFC 2047 encoded words (folded). */
function subjectValue(subject: string): string {
  // Control characters (line breaks above all) have no place in a subject.
  // eslint-disable-next-line no-control-regex
  const clean = subject.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (/^[\x20-\x7e]*$/.test(clean) && clean.length <= 900) return clean;
  return encodeWords(Buffer.from(clean, 'utf8'), 'utf-8').join('\r\n ');
}

/** The complete message, CRLF throughout, 7-bit. */
export function buildNotification(input: { from: string; to: string; subject: string; text: string; date: Date }): Buffer {
  const domain = input.from.slice(input.from.lastIndexOf('@') + 1);
  const body = encodeQuotedPrintable([Buffer.from(input.text.replace(/\r?\n/g, '\r\n'), 'utf8')], { text: true });
  const header = [
    `From: ${input.from}`,
    `To: ${input.to}`,
    `Subject: ${subjectValue(input.subject)}`,
    `Date: ${rfc5322Date(input.date)}`,
    `Message-ID: <${randomBytes(16).toString('hex')}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    'Auto-Submitted: auto-generated',
  ].join('\r\n');
  const tail = body.length > 0 && !body.subarray(-2).equals(Buffer.from('\r\n')) ? '\r\n' : '';
  return Buffer.concat([Buffer.from(`${header}\r\n\r\n`, 'latin1'), body, Buffer.from(tail, 'latin1')]);
}

export function createMailNotifier(options: MailNotifierOptions): Notifier {
  const { config, outbound, nextHop, logger } = options;
  const now = options.now ?? (() => new Date());
  return {
    async send({ to, subject, text }) {
      const from = singleAddress(notificationsFrom(config));
      if (!from) throw new SiegelError('CONFIG_INVALID', 'largeFiles.notificationsFrom is not a single mail address');
      const recipient = singleAddress(to);
      if (!recipient) throw new SiegelError('INTERNAL', 'notification recipient is not a single mail address');
      const raw = buildNotification({ from, to: recipient, subject, text, date: now() });
      const queueId = randomQueueId();
      const result = await outbound(pipelineMessage({ mailFrom: from, rcptTo: [recipient] }, raw), queueId);
      const { response } = await nextHop.deliver(result.message, queueId);
      logger.info(
        { queueId, from, to: [recipient], actions: result.actions.map((a) => `${a.stage}:${a.action}`), response },
        'notification sent',
      );
    },
  };
}

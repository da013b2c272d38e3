/**
 * The Received trace field every SMTP server that relays a message adds at
 * the top (RFC 5321 section 4.4), with the protocol keywords of RFC 3848
 * (ESMTP, ESMTPS, ESMTPA, ESMTPSA) so the recipient can see that the hop
 * was encrypted and authenticated. The client's HELO name is untrusted
 * text: only a conservative host-name form of it is written.
 */
import { rfc5322Date } from '../mime/date.js';

export interface ReceivedInfo {
  /** HELO/EHLO argument as the client sent it. */
  readonly helo: string;
  readonly address: string;
  /** Our host name. */
  readonly by: string;
  /** RFC 3848 keyword, e.g. "ESMTPS". */
  readonly protocol: string;
  readonly queueId: string;
  /** Named only when there is exactly one (more would disclose Bcc recipients to the others). */
  readonly recipients: readonly string[];
  readonly date: Date;
}

const HOST = /^[A-Za-z0-9.\-[\]:_]{1,255}$/;
const PROTOCOLS = new Set(['SMTP', 'ESMTP', 'ESMTPS', 'ESMTPA', 'ESMTPSA', 'LMTP', 'UTF8SMTP', 'UTF8SMTPS', 'UTF8SMTPA', 'UTF8SMTPSA']);

export function receivedField(info: ReceivedInfo): Buffer {
  const helo = HOST.test(info.helo) ? info.helo : 'unknown';
  const address = /^[0-9A-Fa-f:.]+$/.test(info.address) ? info.address : 'unknown';
  const protocol = PROTOCOLS.has(info.protocol) ? info.protocol : 'ESMTP';
  const recipient = info.recipients.length === 1 && /^[^\s<>()\\",;]{1,254}$/.test(info.recipients[0] as string) ? `\r\n\tfor <${info.recipients[0] as string}>` : '';
  const text = `Received: from ${helo} ([${address}])\r\n\tby ${info.by} (Siegel) with ${protocol} id ${info.queueId}${recipient};\r\n\t${rfc5322Date(info.date)}\r\n`;
  return Buffer.from(text, 'latin1');
}

/**
 * Secure link delivery (issue 6, onMissingCertificate: link): when a rule
 * requires encryption and a recipient has no certificate, the whole message
 * as it would have left (signed, when the sender is enrolled) is stored in
 * the large-file exchange, encrypted at rest and behind a random password,
 * and the recipient gets a plain notice with the link instead. The password
 * goes to the sender (the From address) through the notifier, to be passed
 * on by phone or another channel: link and password never travel together.
 *
 * The notice keeps From, To, Cc, Reply-To and Date, gets a prefixed Subject
 * and a new Message-ID, and is signed by the same signing stage as the
 * message (so it is signed exactly when the message was). Nothing secret
 * (token, link, password) is logged: only the share's id.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Config } from '../../config/schema.js';
import { fieldValue, getHeader, parseAddressList, splitFields, splitHeaderBody } from '../../mime/headers.js';
import { encodeQuotedPrintable } from '../../mime/quoted-printable.js';
import { linkNoticeHtml, linkNoticeText, NOTICE_SUBJECT_PREFIX, passwordMail } from '../../transfer/link-delivery-note.js';
import type { CreatedShare, Notifier, TransferService } from '../../transfer/types.js';
import { leadingBytes, pipelineMessage } from '../message.js';
import type { OutboundMessage } from '../outbound-message.js';
import type { Stage, StageContext, StageResult } from '../types.js';
import { policyRefusal } from './policy.js';

export interface LinkDeliveryOptions {
  readonly transfer: TransferService;
  /** Mails the password to the sender. */
  readonly notifier: Notifier;
  readonly limits: Config['limits'];
  /** The signing stage of this message: the notice is signed when the message was. */
  readonly sign: Stage;
  /** Lifetime of the link in ms (the rule's largeFiles.expiry; capped by largeFiles.maxExpiry). */
  readonly expiresIn: number;
}

/** Delivers the (signed) message as a link; `missing` are the recipients without a certificate. */
export type LinkDelivery = (message: OutboundMessage, missing: readonly string[], context: StageContext) => Promise<StageResult<OutboundMessage>>;

/** No 0/O, 1/l/I: the password is read out over the phone. */
const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const PASSWORD_LENGTH = 20;

export function linkPassword(): string {
  let password = '';
  for (let i = 0; i < PASSWORD_LENGTH; i++) password += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)] as string;
  return password;
}

/** Header fields the notice carries over from the message, as they are. */
const KEPT_FIELDS = new Set(['from', 'to', 'cc', 'reply-to', 'date']);

export function createLinkDelivery(options: LinkDeliveryOptions): LinkDelivery {
  const { transfer, notifier, limits, sign, expiresIn } = options;
  return async (message, missing, context) => {
    const head = splitHeaderBody(leadingBytes(message, limits.headerSize)).header;
    const from = getHeader(head, 'from');
    const senders = from ? parseAddressList(from) : [];
    const owner = (senders.length === 1 ? (senders[0] as string) : message.envelope.mailFrom).trim().toLowerCase();
    if (!owner.includes('@')) {
      throw policyRefusal(`Policy requires encryption, no certificate for ${missing.join(', ')}, and the message names no single sender to give the link's password to`);
    }
    const subjectField = getHeader(head, 'subject') ?? '';
    const password = linkPassword();
    const share = await transfer.share(Readable.from(message.chunks), {
      owner,
      fileName: 'Nachricht.eml',
      contentType: 'message/rfc822',
      expiresIn,
      password,
      // 'offload': stored by the outbound pipeline for the sender, as large attachments are (the store knows no other origin).
      origin: 'offload',
      expectedSize: message.size,
    });
    const undo = async (): Promise<void> => {
      await transfer.revoke(share.id, owner).catch(() => false);
    };
    let signed;
    try {
      // Before the notice leaves: a link whose password never reaches the sender would help nobody.
      await notifier.send({ to: owner, ...passwordMail({ recipients: message.envelope.rcptTo, subject: subjectField.trim(), password, expiresAt: share.expiresAt }) });
      signed = await sign.run(pipelineMessage(message.envelope, buildNotice(head, owner, share)), context);
    } catch (err) {
      // The client keeps the message and tries again, getting a new link and password.
      await undo();
      throw err;
    }
    return {
      undo,
      message: { ...signed.message, clientSmime: message.clientSmime },
      action: {
        stage: 'encrypt',
        action: 'link',
        detail: { share: share.id, without: missing.length, recipients: message.envelope.rcptTo.length, notice: signed.action.action },
      },
    };
  };
}

/** The notice: the message's address and date fields, a prefixed Subject, a new Message-ID, text and HTML. CRLF throughout. */
export function buildNotice(head: Buffer, sender: string, share: Pick<CreatedShare, 'url' | 'expiresAt'>): Buffer {
  const kept: string[] = [];
  let subject = `Subject: ${NOTICE_SUBJECT_PREFIX.trim()}\r\n`;
  for (const field of splitFields(head)) {
    const name = field.name.toLowerCase();
    // latin1 round-trips the raw bytes (8-bit or encoded words alike).
    const raw = field.raw.toString('latin1').replace(/\r?\n/g, '\r\n');
    const line = raw.endsWith('\r\n') ? raw : `${raw}\r\n`;
    if (KEPT_FIELDS.has(name)) kept.push(line);
    else if (name === 'subject' && fieldValue(field).trim() !== '') subject = line.replace(/^Subject:[ \t]*/i, `Subject: ${NOTICE_SUBJECT_PREFIX}`);
  }
  const domain = sender.slice(sender.lastIndexOf('@') + 1);
  const boundary = `=_siegel-link-${randomBytes(12).toString('hex')}`;
  const notice = { sender, url: share.url, expiresAt: share.expiresAt };
  const part = (type: string, text: string): Buffer =>
    Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`, 'latin1'),
      encodeQuotedPrintable([Buffer.from(text, 'utf8')], { text: true }),
      Buffer.from('\r\n', 'latin1'),
    ]);
  const header = [
    ...kept,
    subject,
    `Message-ID: <${randomBytes(16).toString('hex')}@${domain}>\r\n`,
    'MIME-Version: 1.0\r\n',
    `Content-Type: multipart/alternative; boundary="${boundary}"\r\n`,
    '\r\n',
  ].join('');
  return Buffer.concat([
    Buffer.from(header, 'latin1'),
    part('text/plain', linkNoticeText(notice)),
    part('text/html', linkNoticeHtml(notice)),
    Buffer.from(`--${boundary}--\r\n`, 'latin1'),
  ]);
}

/**
 * Translates what went wrong at an SMTP next hop into a SiegelError. A 4xx
 * or 5xx answer of the next hop is mirrored to our client (code, enhanced
 * code, text), so the client retries or bounces as the next hop asked;
 * failures without an answer map to the NEXT_HOP_* catalog entries.
 */
import { SiegelError, type SmtpReply } from '../errors.js';

/** The fields nodemailer's SMTPConnection puts on its errors. */
export interface SmtpClientError extends Error {
  code?: string | undefined;
  response?: string | undefined;
  responseCode?: number | undefined;
  command?: string | undefined;
  recipient?: string | undefined;
  rejectedErrors?: SmtpClientError[] | undefined;
}

export interface RejectedRecipient {
  readonly recipient: string;
  readonly response: string;
}

/** Commands (as nodemailer names them) whose refusal is a refusal of the message. */
const TRANSACTION_COMMANDS = new Set(['MAIL FROM', 'RCPT TO', 'DATA']);

const LINE = /^(\d{3})(?:[ -](.*))?$/;
const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)/;
const MAX_TEXT = 300;

function cleanText(text: string): string {
  // The text goes into our own reply line: no control characters, bounded length.
  const flat = text.replace(/[\p{Cc}]+/gu, ' ').replace(/\s+/g, ' ').trim();
  return flat.length > MAX_TEXT ? `${flat.slice(0, MAX_TEXT - 3)}...` : flat;
}

/**
 * Parses a (possibly multi-line) SMTP reply into what we send on. Only 4xx
 * and 5xx are mirrored; 421 becomes 451 because a 421 from us would close
 * the client's session although only the next hop went away.
 */
export function mirrorReply(response: string): SmtpReply | undefined {
  const lines = response.split(/\r?\n/).filter((line) => line.trim() !== '');
  const first = LINE.exec(lines[0]?.trim() ?? '');
  if (!first) return undefined;
  const received = Number(first[1]);
  if (received < 400 || received > 599) return undefined;
  const permanent = received >= 500;
  let enhanced: string | undefined;
  const texts: string[] = [];
  for (const line of lines) {
    const parts = LINE.exec(line.trim());
    let text = parts?.[2] ?? line;
    const status = ENHANCED.exec(text);
    if (status) {
      enhanced ??= `${status[1]}.${status[2]}.${status[3]}`;
      text = text.slice(status[0].length);
    }
    texts.push(text);
  }
  // An enhanced code must be of the same class as the reply code (RFC 3463).
  if (enhanced === undefined || enhanced[0] !== String(received)[0]) enhanced = permanent ? '5.0.0' : '4.3.0';
  const text = cleanText(texts.join(' ')) || (permanent ? 'Next hop rejected the message' : 'Next hop deferred the message');
  return { code: received === 421 ? 451 : received, enhanced, text };
}

function mirrored(response: string, detail: string, cause?: unknown): SiegelError | undefined {
  const reply = mirrorReply(response);
  if (!reply) return undefined;
  return new SiegelError(reply.code >= 500 ? 'NEXT_HOP_PERMFAIL' : 'NEXT_HOP_TEMPFAIL', `${detail}: ${cleanText(response)}`, { reply, cause });
}

/**
 * The answer when the next hop refused some recipients: the first permanent
 * refusal if there is one (retrying cannot help), else the first temporary
 * one. The recipient is named in the text unless the next hop already did.
 */
export function recipientsRejected(rejected: readonly RejectedRecipient[]): SiegelError {
  const chosen = rejected.find((r) => /^5/.test(r.response)) ?? rejected[0];
  const reply = chosen ? mirrorReply(chosen.response) : undefined;
  if (!chosen || !reply) {
    return new SiegelError('NEXT_HOP_PROTOCOL', `next hop refused recipients with an unexpected answer`);
  }
  const named = reply.text.toLowerCase().includes(chosen.recipient.toLowerCase()) ? reply.text : `<${chosen.recipient}>: ${reply.text}`;
  const list = rejected.map((r) => `<${r.recipient}> ${cleanText(r.response)}`).join('; ');
  return new SiegelError(reply.code >= 500 ? 'NEXT_HOP_PERMFAIL' : 'NEXT_HOP_TEMPFAIL', `next hop refused recipient(s): ${list}`, {
    reply: { ...reply, text: cleanText(named) },
  });
}

/**
 * True only for a well-formed 250 reply (RFC 5321 4.2, 4.3.2: 250 is the one
 * success answer to the end of data). nodemailer counts any reply starting
 * with "2" as success, so "2500 ok", "299" or an HTTP-ish "200 OK" would
 * otherwise become a 250 to our client for a message the next hop may never
 * have taken.
 */
export function isAcceptance(response: string): boolean {
  const lines = response.split(/\r?\n/);
  return lines.every((line, index) => (index === lines.length - 1 ? /^250(?: |$)/ : /^250-/).test(line));
}

/** Any failure of an SMTP delivery attempt as a SiegelError. */
export function nextHopError(err: unknown): SiegelError {
  if (err instanceof SiegelError) return err;
  // Structural, not instanceof: socket errors may come from another realm (e.g. a test VM context).
  if (typeof err !== 'object' || err === null || typeof (err as { message?: unknown }).message !== 'string') {
    return new SiegelError('INTERNAL', `next hop: ${String(err)}`);
  }
  const e = err as SmtpClientError;
  const detail = `next hop${e.command ? ` (${e.command})` : ''}`;
  if (e.code === 'EENVELOPE' && e.rejectedErrors && e.rejectedErrors.length > 0) {
    return recipientsRejected(e.rejectedErrors.map((r) => ({ recipient: r.recipient ?? '', response: r.response ?? '' })));
  }
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH') {
    // Our login is our configuration, not the client's fault: never mirror a 535 as if the client's credentials failed.
    return new SiegelError('CONFIG_INVALID', `${detail}: login failed: ${cleanText(e.response ?? e.message)}`, { cause: err });
  }
  if (e.code === 'EMESSAGE' && e.response === undefined && /size/i.test(e.message)) {
    // nodemailer refused it itself against the SIZE the next hop announced.
    return new SiegelError('MESSAGE_TOO_LARGE', `${detail}: ${cleanText(e.message)}`, { cause: err });
  }
  if (e.code === 'ETLS' || e.code === 'EREQUIRETLS') {
    // A TLS failure is about the connection, not the message: temporary, whatever the next hop said.
    return new SiegelError('NEXT_HOP_UNREACHABLE', `${detail}: ${cleanText(e.message)}`, { cause: err });
  }
  if (typeof e.response === 'string' && e.response.trim() !== '' && !TRANSACTION_COMMANDS.has(e.command ?? '') && /^5/.test(e.response.trim())) {
    // A 5xx before the transaction (greeting, EHLO) refuses us, not the message: the
    // client keeps it and retries rather than bouncing it (like Postfix's smtp_skip_5xx_greeting).
    return new SiegelError('NEXT_HOP_UNREACHABLE', `${detail}: ${cleanText(e.response)}`, { cause: err });
  }
  if (typeof e.response === 'string' && e.response.trim() !== '') {
    const reply = mirrored(e.response, detail, err);
    if (reply) return reply;
    return new SiegelError('NEXT_HOP_PROTOCOL', `${detail}: unexpected answer: ${cleanText(e.response)}`, { cause: err });
  }
  switch (e.code) {
    case 'ETIMEDOUT':
      return new SiegelError('NEXT_HOP_TIMEOUT', `${detail}: ${cleanText(e.message)}`, { cause: err });
    case 'ECONNECTION':
    case 'ESOCKET':
    case 'EDNS':
    case 'ETLS':
    case 'EREQUIRETLS':
      return new SiegelError('NEXT_HOP_UNREACHABLE', `${detail}: ${cleanText(e.message)}`, { cause: err });
    case 'EPROTOCOL':
    case 'EENVELOPE':
    case 'EMESSAGE':
      // 'API' marks a refusal by nodemailer itself (e.g. an empty envelope): our bug, not the next hop's.
      if (e.command === 'API') return new SiegelError('INTERNAL', `${detail}: ${cleanText(e.message)}`, { cause: err });
      return new SiegelError('NEXT_HOP_PROTOCOL', `${detail}: ${cleanText(e.message)}`, { cause: err });
    default:
      return new SiegelError('INTERNAL', `${detail}: ${cleanText(e.message)}`, { cause: err });
  }
}

/**
 * Failures after the whole message was sent but before a clear answer (a
 * lost connection, a timeout, a garbled reply): the next hop may have taken
 * the message. The client still gets 4xx (a duplicate at worst, never a
 * loss), but what the pipeline made for the message (attachment links) must
 * stay: a delivered copy would otherwise point at revoked files.
 */
const uncertain = new WeakSet<SiegelError>();

export function deliveryUncertain(err: SiegelError): SiegelError {
  uncertain.add(err);
  return err;
}

export function isDeliveryUncertain(err: unknown): boolean {
  return err instanceof SiegelError && uncertain.has(err);
}


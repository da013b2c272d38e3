/**
 * Relays a message to an SMTP next hop with nodemailer's SMTPConnection,
 * one connection per message (no pool: a delivery is one transaction whose
 * outcome is the client's answer, and nothing is kept between messages).
 *
 * smtp:// uses STARTTLS whenever the next hop offers it (required with
 * nextHop.requireTls) and fails the delivery if the TLS handshake fails
 * rather than falling back to plaintext; smtps:// is TLS from the start.
 *
 * Partial refusal: when the next hop refuses some recipients, nodemailer
 * still sends DATA for the others, and SMTPConnection offers no way to stop
 * between RCPT and DATA. One DATA has one answer for the client, so a
 * partial delivery could only be answered by a lie (250) or by a reply that
 * makes the client deliver the accepted part twice (4xx). So when any
 * recipient was refused, the message body is never sent: the connection is
 * dropped right after the 354, before the end-of-data dot, which makes the
 * next hop abandon the transaction (RFC 5321 section 3.8: an abruptly
 * closed connection is treated as RSET). The client gets the refusal
 * mirrored (the first permanent one, else the first temporary one) and
 * nothing has been delivered to anyone.
 */
import { isAscii } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { isIP, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { rootCertificates, type ConnectionOptions } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import type { NextHopConfig } from '../config/schema.js';
import { SiegelError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PipelineMessage } from '../pipeline/types.js';
import type { NextHop } from './next-hop.js';
import { deliveryUncertain, isAcceptance, nextHopError, recipientsRejected, type SmtpClientError } from './next-hop-errors.js';

export interface SmtpTarget {
  readonly host: string;
  readonly port: number;
  /** Implicit TLS (smtps://). */
  readonly secure: boolean;
}

/**
 * SMTPConnection stores the envelope object it is given and fills in which
 * recipients the next hop accepted or refused (lib/smtp-connection
 * _setEnvelope). The refusal test in test/smtp pins this behaviour.
 */
interface TrackedEnvelope extends SMTPConnection.Envelope {
  rejectedErrors?: SmtpClientError[];
}

export function createSmtpNextHop(target: SmtpTarget, config: NextHopConfig, logger: Logger, options: { hostname: string }): NextHop {
  /** Abort functions of the transactions in flight. */
  const active = new Set<(err: SiegelError) => void>();
  let closed = false;

  async function tlsOptions(): Promise<ConnectionOptions> {
    const tls: ConnectionOptions = { rejectUnauthorized: config.verifyCertificate, minVersion: 'TLSv1.2' };
    if (isIP(target.host) === 0) tls.servername = target.host;
    if (config.caFile) {
      // The extra CA is added to the public roots, not instead of them.
      tls.ca = [...rootCertificates, await readConfigFile(config.caFile, 'nextHop.caFile')];
    }
    return tls;
  }

  async function credentials(): Promise<SMTPConnection.Credentials | undefined> {
    if (config.user === undefined) return undefined;
    if (config.passwordFile === undefined) throw new SiegelError('CONFIG_INVALID', 'nextHop.user is set but nextHop.passwordFile is not');
    // Read per delivery so a rotated password needs no restart; only the final newline is not part of it.
    const pass = (await readConfigFile(config.passwordFile, 'nextHop.passwordFile')).replace(/\r?\n$/, '');
    return { user: config.user, pass };
  }

  function transaction(message: PipelineMessage, queueId: string, tls: ConnectionOptions, auth: SMTPConnection.Credentials | undefined) {
    return new Promise<{ response: string }>((resolve, reject) => {
      const connection = new SMTPConnection({
        host: target.host,
        port: target.port,
        secure: target.secure,
        // A password never travels in clear text: with AUTH configured, STARTTLS is
        // required even when nextHop.requireTls is off (as Postfix's noplaintext).
        requireTLS: !target.secure && (config.requireTls || auth !== undefined),
        name: options.hostname,
        connectionTimeout: config.timeout,
        greetingTimeout: config.timeout,
        socketTimeout: config.timeout,
        tls,
        logger: false,
      });
      let settled = false;
      /** The whole message went to the next hop (only the answer to the final dot is outstanding). */
      let dataSent = false;
      const finish = (err: unknown, response?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        active.delete(finish);
        if (err === undefined && response !== undefined) {
          connection.quit();
          resolve({ response });
          return;
        }
        connection.close();
        // close() only half-closes; a next hop that stalls must not keep the socket.
        (connection._socket as Socket | undefined)?.destroy();
        const error = nextHopError(err);
        // An explicit 4xx/5xx after the data means "not taken"; silence or garbage then does not.
        reject(dataSent && UNANSWERED.has(error.code) ? deliveryUncertain(error) : error);
      };
      active.add(finish);
      const timer = setTimeout(() => finish(new SiegelError('NEXT_HOP_TIMEOUT', `next hop did not finish within ${config.timeout} ms`)), config.timeout);
      // Errors arrive as events (also after a settled transaction, e.g. a reset during QUIT); a
      // listener must always be attached or the process would crash.
      connection.on('error', (err) => finish(err));
      // After a delivery, the end of the connection (QUIT) is normal: no error object (a stack trace) for it.
      connection.on('end', () => settled || finish(new SiegelError('NEXT_HOP_UNREACHABLE', 'next hop closed the connection')));

      const send = () => {
        const envelope: TrackedEnvelope = {
          from: message.envelope.mailFrom,
          to: [...message.envelope.rcptTo],
          size: message.size,
          use8BitMime: message.chunks.some(has8bit),
        };
        // Pieces of at most 1 MiB, pushed as the socket takes them: nodemailer copies a chunk it
        // must dot-stuff, and a 50 MB message pushed at once would be copied and queued whole.
        const pieces = outgoingPieces(message.chunks);
        let next = pieces.next();
        const body = new Readable({
          highWaterMark: PIECE_BYTES,
          read() {
            // The first read comes after the next hop answered DATA with 354.
            const refused = envelope.rejectedErrors ?? [];
            if (refused.length > 0) {
              logger.debug({ queueId, refused: refused.length }, 'next hop refused recipients, abandoning the transaction before end of data');
              finish(recipientsRejected(refused.map((r) => ({ recipient: r.recipient ?? '', response: r.response ?? '' }))));
              this.destroy();
              return;
            }
            for (; !next.done; ) {
              const more = this.push(next.value);
              next = pieces.next();
              if (!more) return;
            }
            this.push(null);
          },
        });
        body.once('end', () => {
          dataSent = true;
        });
        connection.send(envelope, body, (err, info) => {
          if (err) {
            finish(err);
            return;
          }
          if (info.rejected.length > 0) {
            // Not reachable with the nodemailer this was written for (see above). Should a
            // later version deliver partially anyway, a permanent failure is the only answer
            // that neither claims delivery to the refused nor causes a second delivery.
            logger.error({ queueId, rejected: info.rejected }, 'next hop delivered to only some recipients');
            const refusal = recipientsRejected(((info.rejectedErrors ?? []) as SmtpClientError[]).map((r) => ({ recipient: r.recipient ?? '', response: r.response ?? '' })));
            const reply = refusal.reply && refusal.reply.code >= 500 ? refusal.reply : { code: 554, enhanced: '5.0.0', text: 'Delivered to some recipients only, not retried' };
            finish(new SiegelError('NEXT_HOP_PERMFAIL', refusal.message, { reply }));
            return;
          }
          if (!isAcceptance(info.response)) {
            // Whether the next hop took it is unknown: the client retries (a duplicate at worst, never a loss).
            finish(new SiegelError('NEXT_HOP_PROTOCOL', `next hop (DATA): not a 250 reply: ${JSON.stringify(info.response.slice(0, 200))}`));
            return;
          }
          finish(undefined, info.response);
        });
      };

      connection.connect(() => {
        // The message goes out in several writes (headers, entity, signature): without
        // TCP_NODELAY each one after the first waits for the next hop's delayed ACK.
        (connection._socket as Socket | undefined)?.setNoDelay(true);
        if (!auth) {
          send();
          return;
        }
        connection.login(auth, (err) => (err ? finish(err) : send()));
      });
    });
  }

  return {
    async deliver(message, queueId) {
      if (closed) throw new SiegelError('SHUTTING_DOWN', 'next hop is closed');
      const [tls, auth] = await Promise.all([tlsOptions(), credentials()]);
      return transaction(message, queueId, tls, auth);
    },
    async close() {
      closed = true;
      for (const abort of [...active]) abort(new SiegelError('SHUTTING_DOWN', 'next hop closed while delivering'));
    },
  };
}

async function readConfigFile(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new SiegelError('CONFIG_INVALID', `${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

const PIECE_BYTES = 1024 * 1024;

/** Failures that carry no answer of the next hop (so, after the data, no proof it did not take the message). */
const UNANSWERED = new Set(['NEXT_HOP_TIMEOUT', 'NEXT_HOP_UNREACHABLE', 'NEXT_HOP_PROTOCOL', 'INTERNAL']);

/** The message as views of at most PIECE_BYTES (no copies). */
function* outgoingPieces(chunks: readonly Buffer[]): Generator<Buffer, void, undefined> {
  for (const chunk of chunks) {
    for (let start = 0; start < chunk.length; start += PIECE_BYTES) yield chunk.subarray(start, start + PIECE_BYTES);
  }
}

/** True when any byte is outside 7-bit ASCII (then BODY=8BITMIME is declared where offered); a native (SIMD) scan. */
function has8bit(raw: Buffer): boolean {
  return !isAscii(raw);
}

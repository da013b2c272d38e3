/**
 * An SMTP listener (submission or inbound): smtp-server translating the
 * protocol, nothing more. Access decisions come from access.ts, message
 * decisions from the pipeline (`process`), delivery from the next hop.
 *
 * A message is answered 250 only after the next hop accepted it; every
 * failure is answered with the catalog reply of its SiegelError (a next
 * hop's 4xx/5xx mirrored), anything unexpected with 451 4.3.0.
 *
 * smtp-server is run with enhanced status codes hidden: with them on it
 * puts its own enhanced code in front of every reply, also in front of
 * ours. Our replies carry the catalog's enhanced code in their text.
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { ListenerConfig } from '../config/schema.js';
import { SiegelError, errorMessage, smtpReplyFor, type SmtpReply } from '../errors.js';
import type { Logger } from '../log.js';
import { pipelineMessage } from '../pipeline/message.js';
import { randomQueueId } from '../pipeline/queue-id.js';
import type { Destination, PipelineMessage, PipelineResult, StageAction } from '../pipeline/types.js';
import { isDeliveryUncertain } from './next-hop-errors.js';
import { createAccessPolicy, listenerConfigProblems, type ClientState } from './access.js';
import { receivedField } from './received.js';
import { collectMessage } from './collect.js';
import { createCredentialStore, type CredentialStore } from './credentials.js';
import type { NextHop } from './next-hop.js';

export interface SmtpListenerOptions {
  readonly name: 'submission' | 'inbound';
  readonly config: ListenerConfig;
  /** Our name in the greeting and EHLO answer. */
  readonly hostname: string;
  readonly logger: Logger;
  readonly process: (message: PipelineMessage, queueId: string) => Promise<PipelineResult>;
  /**
   * The pipeline's treatment group of a recipient (e.g. opaque vs
   * multipart/signed). One DATA has one answer, so a transaction carries
   * one group only: recipients of another group get 452 4.5.3 and the client
   * sends them in a new transaction (DESIGN rule 3, RFC 5321 3.3).
   */
  readonly recipientGroup?: (mailFrom: string, recipient: string) => string | Promise<string>;
  /**
   * Refuses a recipient at RCPT time by throwing a SiegelError (e.g. an
   * inbound listener that only relays to the administration's domains).
   */
  readonly checkRecipient?: (recipient: string) => void;
  readonly nextHop: NextHop;
  /** Next hops for messages the pipeline sends elsewhere (PipelineResult.destination), e.g. the quarantine. */
  readonly destinations?: Readonly<Partial<Record<Destination, NextHop>>>;
  /** Clock for the durations in the log. */
  readonly now?: () => Date;
}

export interface SmtpListener {
  start(): Promise<{ port: number }>;
  /** Stops accepting; transactions past DATA finish, everything else gets 421. */
  stop(): Promise<void>;
}

/** An Error as smtp-server wants it: responseCode plus "enhanced text". */
function serverError(reply: SmtpReply): Error & { responseCode: number } {
  return Object.assign(new Error(`${reply.enhanced} ${reply.text}`), { responseCode: reply.code });
}

function replyLine(reply: SmtpReply): string {
  return `${reply.code} ${reply.enhanced} ${reply.text}`;
}

function userOf(session: SMTPServerSession): string | undefined {
  const user: unknown = session.user;
  if (typeof user === 'object' && user !== null && 'username' in user && typeof user.username === 'string') return user.username;
  return undefined;
}

async function readTlsFile(file: string, key: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new SiegelError('CONFIG_INVALID', `${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

export function createSmtpListener(options: SmtpListenerOptions): SmtpListener {
  const { name, config, logger, nextHop } = options;
  const now = options.now ?? (() => new Date());
  const log = logger.child({ listener: name });
  const policy = createAccessPolicy(config);
  const credentials: CredentialStore | undefined = config.auth.credentialsFile ? createCredentialStore(config.auth.credentialsFile, log) : undefined;
  const clients = new Map<string, ClientState>();
  /** Transactions past DATA, by session id. */
  const inFlight = new Map<string, Promise<void>>();
  let server: SMTPServer | undefined;
  let stopping = false;
  let stopped: Promise<void> | undefined;

  const shuttingDown = () => smtpReplyFor(new SiegelError('SHUTTING_DOWN'));

  function sayGoodbye(sessionId: string, reply: SmtpReply = shuttingDown()): void {
    for (const connection of server?.connections ?? []) {
      if (connection.id !== sessionId) continue;
      connection.send(reply.code, `${reply.enhanced} ${reply.text}`);
      connection.close();
    }
  }

  /** Sessions whose DATA is still arriving (the client owes us bytes), by id. */
  const receiving = new Set<string>();
  /** The sessionTimeout timer of each connection. */
  const deadlines = new Map<string, NodeJS.Timeout>();

  /**
   * sessionTimeout: a client trickling bytes (slowloris) never trips the idle timeout.
   * A message received in full is processed and answered first; anything else ends now.
   */
  function sessionExpired(sessionId: string): void {
    const reply = smtpReplyFor(new SiegelError('SESSION_TIMEOUT'));
    const working = inFlight.get(sessionId);
    log.info({ client: clients.get(sessionId)?.address, reply: replyLine(reply), receiving: receiving.has(sessionId) }, 'session time limit reached');
    if (working && !receiving.has(sessionId)) void working.finally(() => setImmediate(() => sayGoodbye(sessionId, reply)));
    else sayGoodbye(sessionId, reply);
  }

  async function transaction(stream: SMTPServerDataStream, session: SMTPServerSession, client: ClientState | undefined, queueId: string): Promise<string> {
    const started = now().getTime();
    const user = userOf(session);
    const envelope = {
      mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
      rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
      ...(user !== undefined ? { authenticatedUser: user } : {}),
    };
    const fields: Record<string, unknown> = {
      queueId,
      client: client?.address ?? session.remoteAddress,
      user: userOf(session),
      tls: session.secure,
      sender: envelope.mailFrom,
      recipientCount: envelope.rcptTo.length,
      recipients: envelope.rcptTo,
    };
    let actions: readonly StageAction[] = [];
    let undo: (() => Promise<void>) | undefined;
    const line = (extra: Record<string, unknown>) => ({
      ...fields,
      actions: actions.map((a) => `${a.stage}:${a.action}`),
      // What the stages reported beyond their outcome, e.g. which identity signed.
      ...stageDetails(actions),
      ...extra,
      durationMs: now().getTime() - started,
    });
    receiving.add(session.id);
    const collected = await collectMessage(stream, config.maxMessageSize, declaredSize(session)).finally(() => receiving.delete(session.id));
    fields.size = collected.size;
    try {
      if (collected.aborted) throw new SiegelError('INTERNAL', 'client disconnected during DATA');
      if (collected.oversized) throw new SiegelError('MESSAGE_TOO_LARGE', `message of ${collected.size} bytes, limit ${config.maxMessageSize}`);
      const result = await options.process(pipelineMessage(envelope, collected.raw), queueId);
      undo = result.undo;
      actions = result.actions;
      // Our trace field goes on top of what the pipeline made (outside any signature or encryption).
      const trace = receivedField({
        helo: String(session.hostNameAppearsAs || ''),
        address: session.remoteAddress,
        by: options.hostname,
        protocol: session.transmissionType,
        queueId,
        recipients: envelope.rcptTo,
        date: now(),
      });
      const hop = result.destination === undefined ? nextHop : options.destinations?.[result.destination];
      // A destination without a hop is a wiring fault: defer (451) rather than deliver the message where it must not go.
      if (!hop) throw new SiegelError('INTERNAL', `no next hop for destination ${String(result.destination)}`);
      const delivery = await hop.deliver(pipelineMessage(result.message.envelope, [trace, ...result.message.chunks]), queueId);
      if (result.destination) fields.destination = result.destination;
      log.info(line({ outcome: 'relayed', response: delivery.response }), 'message relayed');
      return `2.0.0 Ok: queued as ${queueId}`;
    } catch (err) {
      // Not delivered: the client keeps the message, so what the pipeline created for it (links) goes;
      // unless the next hop may have it after all (no answer to the final dot): then the links stay, to expire.
      if (isDeliveryUncertain(err)) fields.kept = 'links (delivery uncertain)';
      else await undo?.();
      const reply = smtpReplyFor(err);
      const expected = err instanceof SiegelError && err.code !== 'INTERNAL';
      const outcome = collected.aborted ? 'aborted' : reply.code >= 500 ? 'rejected' : 'deferred';
      // The detail names the cause for the admin; message content never gets here.
      // An aborted message gets no reply: nobody is left to read it.
      const answer = collected.aborted ? {} : { reply: replyLine(reply) };
      log[expected || collected.aborted ? 'info' : 'error'](line({ outcome, ...answer, error: errorMessage(err) }), `message ${outcome}`);
      throw err;
    }
  }

  function serverOptions(tls: { key: Buffer; cert: Buffer } | undefined) {
    return {
      name: options.hostname,
      banner: 'Siegel',
      logger: false,
      disableReverseLookup: true,
      size: config.maxMessageSize,
      // Checked in onData to answer with the catalog's 552 5.3.4.
      rejectOversized: false,
      authMethods: ['PLAIN', 'LOGIN'],
      // Authentication is decided per client in onMailFrom (access.ts).
      authOptional: true,
      // Clear-text AUTH is refused per session via session.disabledCommands instead.
      allowInsecureAuth: true,
      disabledCommands: [...policy.serverDisabledCommands],
      maxClients: config.maxConnections,
      socketTimeout: config.socketTimeout,
      // A transaction past DATA may wait for the next hop that long before it is cut.
      closeTimeout: config.nextHop.timeout + 5_000,
      ...(tls ?? {}),

      onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void) {
        try {
          if (stopping) return callback(serverError(shuttingDown()));
          const client = policy.connect(session.remoteAddress);
          clients.set(session.id, client);
          session.disabledCommands = policy.disabledCommands(client, false);
          deadlines.set(session.id, setTimeout(() => sessionExpired(session.id), config.sessionTimeout).unref());
          callback();
        } catch (err) {
          log.info({ client: session.remoteAddress, reply: replyLine(smtpReplyFor(err)), error: errorMessage(err) }, 'connection refused');
          callback(serverError(smtpReplyFor(err)));
        }
      },

      onSecure(_socket: unknown, session: SMTPServerSession, callback: (err?: Error | null) => void) {
        const client = clients.get(session.id);
        if (client) session.disabledCommands = policy.disabledCommands(client, true);
        callback();
      },

      onAuth(
        auth: { method: string; username?: string | undefined; password?: string | null | undefined; authcid?: string | undefined; authzid?: string | undefined },
        session: SMTPServerSession,
        callback: (err: Error | null | undefined, response?: { user?: unknown; message?: string; responseCode?: number }) => void,
      ) {
        const failed = () => {
          const reply = smtpReplyFor(new SiegelError('AUTH_FAILED'));
          log.info({ client: clients.get(session.id)?.address ?? session.remoteAddress, user: auth.username, method: auth.method }, 'authentication failed');
          callback(null, { message: `${reply.enhanced} ${reply.text}`, responseCode: reply.code });
        };
        const username = auth.username ?? '';
        // Acting for another identity (PLAIN authzid) is not supported.
        const proxying = auth.method === 'PLAIN' && !!auth.authzid && !!auth.authcid && auth.authzid !== auth.authcid;
        if (!credentials || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') || proxying) return failed();
        credentials.verify(username, auth.password ?? '').then(
          (ok) => (ok ? callback(null, { user: { username } }) : failed()),
          (err: unknown) => {
            log.error({ error: errorMessage(err) }, 'credential check failed');
            callback(serverError(smtpReplyFor(err)));
          },
        );
      },

      onMailFrom(_address: unknown, session: SMTPServerSession, callback: (err?: Error | null) => void) {
        try {
          const client = clients.get(session.id);
          if (!client) throw new SiegelError('INTERNAL', 'session without client state');
          policy.checkMail(client, session.secure, userOf(session) !== undefined);
          callback();
        } catch (err) {
          callback(serverError(smtpReplyFor(err)));
        }
      },

      onRcptTo(address: { address: string }, session: SMTPServerSession, callback: (err?: Error | null) => void) {
        const rcpts = session.envelope.rcptTo;
        // smtp-server replaces a repeated recipient instead of adding it, so that one does not count.
        const repeated = rcpts.some((r) => r.address.toLowerCase() === address.address.toLowerCase());
        if (!repeated && rcpts.length >= config.maxRecipients) return callback(serverError(smtpReplyFor(new SiegelError('TOO_MANY_RECIPIENTS'))));
        try {
          options.checkRecipient?.(address.address);
        } catch (err) {
          return callback(serverError(smtpReplyFor(err)));
        }
        const group = options.recipientGroup;
        const first = rcpts[0];
        if (!group || !first || repeated) return callback();
        const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        Promise.all([group(mailFrom, address.address), group(mailFrom, first.address)]).then(
          ([mine, theirs]) => callback(mine === theirs ? null : serverError(smtpReplyFor(new SiegelError('RECIPIENT_NEEDS_OWN_TRANSACTION')))),
          (err: unknown) => {
            log.error({ error: errorMessage(err) }, 'recipient grouping failed');
            callback(serverError(smtpReplyFor(err)));
          },
        );
      },

      onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void) {
        const queueId = randomQueueId();
        const client = clients.get(session.id);
        const done = transaction(stream, session, client, queueId).then(
          (text) => callback(null, text),
          (err: unknown) => callback(serverError(smtpReplyFor(err))),
        );
        const tracked = done.finally(() => {
          inFlight.delete(session.id);
          // The answer is out (callback above sends it); when stopping, end the session now.
          if (stopping) setImmediate(() => sayGoodbye(session.id));
        });
        inFlight.set(session.id, tracked);
      },

      onClose(session: SMTPServerSession) {
        clients.delete(session.id);
        clearTimeout(deadlines.get(session.id));
        deadlines.delete(session.id);
      },
    };
  }

  return {
    async start() {
      if (server) throw new SiegelError('INTERNAL', `listener ${name} already started`);
      const problems = listenerConfigProblems(config);
      if (problems.length > 0) throw new SiegelError('CONFIG_INVALID', `smtp.${name}: ${problems.join('; ')}`);
      const tls = config.tls
        ? { key: await readTlsFile(config.tls.key, `smtp.${name}.tls.key`), cert: await readTlsFile(config.tls.cert, `smtp.${name}.tls.cert`) }
        : undefined;
      await credentials?.load();
      const instance = new SMTPServer(serverOptions(tls));
      // Connection-level errors (resets, TLS failures) end up here; they must never crash the process.
      instance.on('error', (err: Error & { code?: string; remoteAddress?: string }) => {
        log.debug({ client: err.remoteAddress, error: err.code ?? err.message }, 'connection error');
      });
      // SMTP is a dialogue of small writes; without TCP_NODELAY, Nagle's algorithm and the
      // peer's delayed ACK add up to 40 ms to every reply.
      instance.server.on('connection', (socket: Socket) => socket.setNoDelay(true));
      const port = await new Promise<number>((resolve, reject) => {
        const onError = (err: Error) => reject(new SiegelError('CONFIG_INVALID', `smtp.${name}: cannot listen on ${config.listen.host}:${config.listen.port}: ${errorMessage(err)}`, { cause: err }));
        instance.server.once('error', onError);
        instance.listen(config.listen.port, config.listen.host, () => {
          instance.server.off('error', onError);
          resolve((instance.server.address() as AddressInfo).port);
        });
      });
      server = instance;
      stopping = false;
      stopped = undefined;
      return { port };
    },

    stop() {
      const instance = server;
      if (!instance) return Promise.resolve();
      stopped ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => instance.close(() => resolve()));
        // Sessions not past DATA have nothing to finish: 421 now.
        for (const connection of [...instance.connections]) {
          if (!inFlight.has(connection.id)) sayGoodbye(connection.id);
        }
        await Promise.allSettled([...inFlight.values()]);
        await closed;
        server = undefined;
      })();
      return stopped;
    },
  };
}

/** The SIZE the client declared in MAIL FROM (RFC 1870), if any. */
function declaredSize(session: SMTPServerSession): number | undefined {
  const mailFrom = session.envelope.mailFrom;
  const args = mailFrom ? (mailFrom.args as Record<string, string> | false | undefined) : undefined;
  const value = args ? args.SIZE : undefined;
  return value !== undefined && /^\d{1,12}$/.test(value) ? Number(value) : undefined;
}

/** The stages' details keyed by stage name, for the log line (never message content). */
function stageDetails(actions: readonly StageAction[]): Record<string, unknown> {
  const details = Object.fromEntries(actions.filter((a) => a.detail).map((a) => [a.stage, a.detail]));
  return Object.keys(details).length > 0 ? { details } : {};
}

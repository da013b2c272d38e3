/**
 * A scriptable misbehaving SMTP next hop for the fault-injection tests: a
 * raw net.Server speaking just enough SMTP (greeting, EHLO/HELO, MAIL,
 * RCPT, DATA, RSET, NOOP, QUIT) whose every step can be delayed, replaced
 * by garbage, or cut off. smtp-server is not used on purpose: it would not
 * let a test answer with bytes no SMTP server sends.
 *
 * The hop keeps a ledger of what it took responsibility for: a message is
 * `accepted` once the hop *wrote* its 250 after the end-of-data dot (even if
 * the gateway had given up on it by then), and `received` once the whole
 * body arrived, whatever was answered. The mail-safety property of the
 * tests is "every 250 the client got has a matching entry in accepted".
 */
import net, { type AddressInfo, type Socket } from 'node:net';

/** What the hop does at one step. A string is sent as is (CRLF added when missing). */
export type Step =
  | { readonly kind: 'reply'; readonly text: string; readonly delayMs?: number }
  /** Writes raw bytes (no CRLF added), then carries on reading. */
  | { readonly kind: 'garbage'; readonly bytes: Buffer | string }
  /** Never answers (the connection stays open until the gateway gives up). */
  | { readonly kind: 'hang' }
  /** Closes the connection at once (FIN after nothing). */
  | { readonly kind: 'close' }
  /** Resets the connection (RST). */
  | { readonly kind: 'reset' };

export interface HopScript {
  readonly greeting?: Step;
  /** Answer to MAIL FROM; default 250. */
  readonly mail?: Step;
  /** Answer to RCPT TO, by recipient address (lower case); default 250. */
  readonly rcpt?: (address: string) => Step;
  /** Answer to DATA; default 354. */
  readonly data?: Step;
  /** After this many bytes of message data: cut the connection (no reply). */
  readonly closeAfterBodyBytes?: number;
  /** Answer after the end-of-data dot; default 250. */
  readonly endOfData?: Step;
}

export interface HopMessage {
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  /** The message as received (dot-unstuffed, without the final dot line). */
  readonly raw: Buffer;
}

export interface FaultHop {
  readonly port: number;
  readonly url: string;
  /** The script for connections opened from now on. */
  script: HopScript;
  /** Messages the hop answered 250 after the dot. */
  readonly accepted: HopMessage[];
  /** Messages whose data ended with the dot, whatever the answer. */
  readonly received: HopMessage[];
  /** Connections that reached DATA (354 sent). */
  dataStarted: number;
  /** Resolves once a message's body has arrived (end-of-data dot read) `count` times in total. */
  receivedCount(count: number): Promise<void>;
  /** Resolves once `count` connections reached DATA. */
  dataStartedCount(count: number): Promise<void>;
  stop(): Promise<void>;
}

const EHLO = '250-fault-hop\r\n250-8BITMIME\r\n250 SIZE 104857600';

export function reply(text: string, delayMs?: number): Step {
  return delayMs === undefined ? { kind: 'reply', text } : { kind: 'reply', text, delayMs };
}

/** Starts the hop on 127.0.0.1 with a well-behaved script (every step answered as a real MTA would). */
export async function startFaultHop(initial: HopScript = {}): Promise<FaultHop> {
  const sockets = new Set<Socket>();
  const waiters: { check: () => boolean; resolve: () => void }[] = [];
  const wake = () => {
    for (const waiter of [...waiters]) {
      if (!waiter.check()) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const waitFor = (check: () => boolean) => new Promise<void>((resolve) => (check() ? resolve() : waiters.push({ check, resolve })));

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A reset from the gateway (it gave up) is expected; never crash the test process.
    socket.on('error', () => undefined);
    serve(socket, hop.script, hop, wake);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const hop: FaultHop = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    script: initial,
    accepted: [],
    received: [],
    dataStarted: 0,
    receivedCount: (count) => waitFor(() => hop.received.length >= count),
    dataStartedCount: (count) => waitFor(() => hop.dataStarted >= count),
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return hop;
}

/** One SMTP session following `script`. */
function serve(socket: Socket, script: HopScript, hop: FaultHop, wake: () => void): void {
  let buffer = Buffer.alloc(0);
  let mode: 'command' | 'data' | 'dead' = 'command';
  let mailFrom = '';
  let rcptTo: string[] = [];
  let dataBytes = 0;
  let dataChunks: Buffer[] = [];
  /** Steps run one after the other: a delayed reply holds back the next. */
  let queue: Promise<void> = Promise.resolve();

  const perform = (step: Step): Promise<void> => {
    if (mode === 'dead') return Promise.resolve();
    switch (step.kind) {
      case 'reply':
        return new Promise<void>((resolve) => {
          const send = () => {
            if (mode !== 'dead' && !socket.destroyed) socket.write(step.text.endsWith('\r\n') ? step.text : `${step.text}\r\n`);
            resolve();
          };
          if (step.delayMs === undefined) return send();
          // A late answer must not outlive the connection (nor keep the test process alive).
          const timer = setTimeout(send, step.delayMs);
          socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      case 'garbage':
        socket.write(step.bytes);
        return Promise.resolve();
      case 'hang':
        return Promise.resolve();
      case 'close':
        mode = 'dead';
        socket.end();
        return Promise.resolve();
      case 'reset':
        mode = 'dead';
        socket.resetAndDestroy();
        return Promise.resolve();
    }
  };
  const then = (step: Step, after?: () => void) => {
    queue = queue.then(() => perform(step)).then(() => after?.());
  };

  const command = (line: string) => {
    const verb = line.slice(0, 4).toUpperCase();
    if (verb === 'EHLO') return then(reply(EHLO));
    if (verb === 'HELO') return then(reply('250 fault-hop'));
    if (verb === 'MAIL') {
      mailFrom = /<([^>]*)>/.exec(line)?.[1] ?? '';
      rcptTo = [];
      return then(script.mail ?? reply('250 2.1.0 Ok'));
    }
    if (verb === 'RCPT') {
      const address = (/<([^>]*)>/.exec(line)?.[1] ?? '').toLowerCase();
      const step = script.rcpt?.(address) ?? reply('250 2.1.5 Ok');
      if (step.kind === 'reply' && step.text.startsWith('250')) rcptTo.push(address);
      return then(step);
    }
    if (verb === 'DATA') {
      const step = script.data ?? reply('354 End data with <CR><LF>.<CR><LF>');
      if (step.kind === 'reply' && step.text.startsWith('354')) {
        mode = 'data';
        dataBytes = 0;
        dataChunks = [];
        hop.dataStarted += 1;
        wake();
      }
      return then(step);
    }
    if (verb === 'RSET') return then(reply('250 2.0.0 Ok'));
    if (verb === 'NOOP') return then(reply('250 2.0.0 Ok'));
    if (verb === 'QUIT') return then(reply('221 2.0.0 Bye'), () => socket.end());
    return then(reply('502 5.5.2 Command not recognized'));
  };

  const endOfData = (body: Buffer) => {
    const message: HopMessage = { mailFrom, rcptTo: [...rcptTo], raw: unstuff(body) };
    hop.received.push(message);
    wake();
    const step = script.endOfData ?? reply('250 2.0.0 Ok: accepted');
    // Only a well-formed 250 is an acceptance ("2500 ok" is not): the strict reading makes the safety check stricter.
    const accepts = step.kind === 'reply' && /^250(?: |\r?\n|$)/.test(step.text);
    then(step, () => {
      // Accepted once the 250 went out on a connection still open: the hop now owns the message.
      if (accepts && mode !== 'dead' && !socket.destroyed) hop.accepted.push(message);
    });
    mode = 'command';
  };

  socket.on('data', (chunk: Buffer) => {
    if (mode === 'dead') return;
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (mode === 'data') {
        if (script.closeAfterBodyBytes !== undefined && dataBytes + buffer.length >= script.closeAfterBodyBytes) {
          dataBytes += buffer.length;
          mode = 'dead';
          socket.resetAndDestroy();
          return;
        }
        // The end-of-data mark may be the very first line (empty message) or follow a CRLF.
        const joined = Buffer.concat([...dataChunks, buffer]);
        const end = joined.subarray(0, 3).equals(Buffer.from('.\r\n')) ? 0 : joined.indexOf('\r\n.\r\n');
        if (end < 0) {
          dataBytes += buffer.length;
          dataChunks = [joined];
          buffer = Buffer.alloc(0);
          return;
        }
        const bodyEnd = end === 0 ? 0 : end + 2;
        const rest = joined.subarray(end === 0 ? 3 : end + 5);
        dataChunks = [];
        buffer = Buffer.from(rest);
        endOfData(joined.subarray(0, bodyEnd));
        continue;
      }
      const newline = buffer.indexOf('\r\n');
      if (newline < 0) return;
      const line = buffer.subarray(0, newline).toString('latin1');
      buffer = buffer.subarray(newline + 2);
      command(line);
    }
  });

  then(script.greeting ?? reply('220 fault-hop ESMTP'));
}

/** Undoes dot-stuffing (RFC 5321 4.5.2). */
function unstuff(body: Buffer): Buffer {
  return Buffer.from(body.toString('latin1').replace(/(^|\r\n)\./g, '$1'), 'latin1');
}

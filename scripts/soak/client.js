// A lean SMTP client as a sending mail server uses one: a persistent
// connection, TCP_NODELAY, one transaction after the other with RSET in
// between, no pipelining. Every transaction ends in exactly one outcome:
// the reply code to the end of data (250, 4xx, 5xx), the refusal of an
// earlier command, or a lost connection (no reply at all).
import net from 'node:net';

export class ConnectionLost extends Error {}

/** Dot-stuffing (RFC 5321 4.5.2); the soak's messages rarely need it, but a client must do it. */
function stuff(raw) {
  if (raw[0] !== 0x2e && raw.indexOf('\n.') < 0) return raw;
  return Buffer.from(raw.toString('latin1').replace(/(^|\n)\./g, '$1..'), 'latin1');
}

/** Opens a session: resolves after the greeting and EHLO. */
export function openSession(port, { timeoutMs = 180_000, name = 'soak-client.example' } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let buffer = '';
    let lines = [];
    let waiting = null;
    let dead = null;
    let timer = null;

    const fail = (reason) => {
      if (dead) return;
      dead = new ConnectionLost(reason);
      clearTimeout(timer);
      socket.destroy();
      const w = waiting;
      waiting = null;
      w?.reject(dead);
    };
    socket.on('error', (err) => fail(`socket error: ${err.code ?? err.message}`));
    socket.on('close', () => fail('connection closed'));
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      let nl;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        lines.push(line);
        // The last line of a reply has a space (or nothing) after the code; "250-" lines continue.
        if (/^\d{3}(?: |$)/.test(line)) {
          const reply = { code: Number(line.slice(0, 3)), text: lines.join(' | ') };
          lines = [];
          const w = waiting;
          waiting = null;
          clearTimeout(timer);
          // A reply nobody asked for (e.g. 421 before closing): the next command sees the close.
          w?.resolve(reply);
        }
      }
    });

    /** Sends `data` (null: only wait, for the greeting) and resolves with the reply. */
    const exchange = (data) =>
      new Promise((res, rej) => {
        if (dead) return rej(dead);
        waiting = { resolve: res, reject: rej };
        timer = setTimeout(() => fail(`no reply within ${timeoutMs} ms`), timeoutMs);
        if (data !== null) socket.write(data);
      });

    let used = false;
    const session = {
      get alive() {
        return dead === null;
      },
      /**
       * One transaction. Resolves { code, stage, text } with the reply that
       * ended it; rejects with ConnectionLost when the connection went away
       * before that reply. `recipients` collects which recipients took part
       * and which the gateway deferred to a transaction of their own.
       */
      async send(message, recipients = { accepted: [], deferred: [] }) {
        if (used) {
          const rset = await exchange('RSET\r\n');
          if (rset.code !== 250) return { ...rset, stage: 'RSET' };
        }
        used = true;
        const mail = await exchange(`MAIL FROM:<${message.mailFrom}> SIZE=${message.raw.length}\r\n`);
        if (mail.code !== 250) return { ...mail, stage: 'MAIL' };
        for (const rcpt of message.rcptTo) {
          const reply = await exchange(`RCPT TO:<${rcpt}>\r\n`);
          if (reply.code === 250) recipients.accepted.push(rcpt);
          // "Send this one in its own transaction" (RFC 5321 3.3): the caller does, after this one.
          else if (reply.code === 452 && / 4\.5\.3 /.test(` ${reply.text} `)) recipients.deferred.push(rcpt);
          // Any other refusal ends the transaction unsent.
          else return { ...reply, stage: 'RCPT' };
        }
        if (recipients.accepted.length === 0) return { code: 452, text: 'no recipient accepted', stage: 'RCPT' };
        const data = await exchange('DATA\r\n');
        if (data.code !== 354) return { ...data, stage: 'DATA' };
        const body = stuff(message.raw);
        const tail = body.at(-1) === 0x0a ? '.\r\n' : '\r\n.\r\n';
        return { ...(await exchange(Buffer.concat([body, Buffer.from(tail)]))), stage: 'END' };
      },
      close() {
        if (dead) return Promise.resolve();
        return exchange('QUIT\r\n')
          .catch(() => {})
          .finally(() => socket.destroy());
      },
    };
    (async () => {
      const greeting = await exchange(null);
      if (greeting.code !== 220) throw new ConnectionLost(`greeting ${greeting.code}`);
      const ehlo = await exchange(`EHLO ${name}\r\n`);
      if (ehlo.code !== 250) throw new ConnectionLost(`EHLO answered ${ehlo.code}`);
      resolve(session);
    })().catch((err) => {
      socket.destroy();
      reject(err);
    });
  });
}

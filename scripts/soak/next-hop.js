// The counting next hop: a minimal SMTP server on 127.0.0.1 (one per
// listener) that records every message it accepts by its X-Soak-Id, with
// what the soak checks (top-level form, our Authentication-Results verdict,
// SHA-256 of the body, envelope), and that misbehaves on purpose for a
// small, seeded fraction of transactions:
//   - 451 to the DATA command (before any byte of the message),
//   - 451 after the end of data (it had every byte and still defers),
//   - 550 after the end of data,
//   - the connection closed in the middle of DATA (no reply at all).
// A message counts as delivered only when this server answered 250 to its
// end of data: that is the moment a real next hop takes responsibility.
// Not smtp-server: its fixed 100 ms pause on each new connection would
// throttle the gateway, which opens one next-hop connection per message.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { prng, transactionKey } from './messages.js';

const END = Buffer.from('\r\n.\r\n');
const HEAD_LIMIT = 64 * 1024;

/** Shares of transactions that get each fault (the rest are accepted). */
export const DEFAULT_FAULTS = { dataCommand451: 0.01, afterData451: 0.01, afterData550: 0.01, dropMidData: 0.005 };

/** Header fields of a header block (unfolded, names lower-case, every occurrence). */
function headerFields(text) {
  const fields = [];
  for (const line of text.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return fields;
}

/** What the soak checks of a message as it arrives: id, form, verdict, body digest. */
export function inspect(message, authservId) {
  const split = message.indexOf('\r\n\r\n');
  const headerEnd = split < 0 ? message.length : split + 2;
  const fields = headerFields(message.toString('latin1', 0, headerEnd));
  const field = (name) => fields.find(([n]) => n === name)?.[1];
  const id = field('x-soak-id') ?? /<([^@>]+)@soak\.example>/.exec(field('message-id') ?? '')?.[1];
  const contentType = (field('content-type') ?? 'text/plain').toLowerCase();
  let marker = 'plain';
  if (contentType.startsWith('multipart/signed')) marker = 'signed';
  else if (contentType.startsWith('application/pkcs7-mime') || contentType.startsWith('application/x-pkcs7-mime')) {
    marker = /smime-type=(auth)?enveloped-data/.test(contentType) ? 'encrypted' : 'opaque-signed';
  }
  // Our verdict only: a header under another authserv-id is not the gateway's.
  const ours = fields.filter(([n, v]) => n === 'authentication-results' && v.toLowerCase().startsWith(`${authservId};`));
  const smime = ours.length === 1 ? (/\bsmime=([a-z]+)/i.exec(ours[0][1])?.[1] ?? null) : ours.length > 1 ? 'several' : null;
  const body = split < 0 ? Buffer.alloc(0) : message.subarray(split + 4);
  return { id, marker, smime, bodyHash: createHash('sha256').update(body).digest('hex') };
}

/** Undoes SMTP dot-stuffing (RFC 5321 4.5.2): a line starting with ".." loses one dot. */
function unstuff(data) {
  if (!(data[0] === 0x2e && data[1] === 0x2e) && data.indexOf('\r\n..') < 0) return data;
  return Buffer.from(data.toString('latin1').replace(/(^|\r\n)\.\./g, '$1.'), 'latin1');
}

/**
 * Starts one counting next hop. `keepSample(info)` says whether to keep the
 * raw bytes of a delivered message (for the spot checks at the end).
 */
export function startCountingHop({ name, seed, authservId, faults = DEFAULT_FAULTS, keepSample = () => false }) {
  const random = prng(seed);
  /** transactionKey(id, recipients) -> { count, hop, marker, smime, bodyHash, rcptTo } */
  const deliveries = new Map();
  /** transactionKey -> 'afterData451' | 'afterData550' | 'dropMidData' (the faults that knew the message). */
  const refused = new Map();
  const injected = { dataCommand451: 0, afterData451: 0, afterData550: 0, dropMidData: 0 };
  const samples = [];
  const stats = { connections: 0, open: 0, transactions: 0, withoutId: 0, protocolErrors: 0 };

  function decideFault() {
    let roll = random();
    for (const [fault, share] of Object.entries(faults)) {
      if ((roll -= share) < 0) return fault;
    }
    return 'accept';
  }

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    stats.connections++;
    stats.open++;
    socket.once('close', () => stats.open--);
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    let rcptTo = [];
    /** Set while in DATA. */
    let data = null;

    const reply = (line) => {
      if (!socket.destroyed) socket.write(`${line}\r\n`);
    };

    function endOfData(message) {
      const { fault } = data;
      data = null;
      stats.transactions++;
      const info = inspect(unstuff(message), authservId);
      if (!info.id) stats.withoutId++;
      const key = transactionKey(info.id ?? '(none)', rcptTo);
      if (fault === 'afterData451' || fault === 'afterData550') {
        injected[fault]++;
        if (info.id) refused.set(key, fault);
        reply(fault === 'afterData451' ? '451 4.3.0 soak: injected deferral after end of data' : '550 5.7.1 soak: injected refusal after end of data');
      } else {
        const known = deliveries.get(key);
        if (known) known.count++;
        else deliveries.set(key, { count: 1, hop: name, marker: info.marker, smime: info.smime, bodyHash: info.bodyHash, rcptTo: [...rcptTo] });
        if (keepSample(info)) samples.push({ ...info, rcptTo: [...rcptTo], raw: message });
        reply('250 2.0.0 soak: delivered');
      }
      rcptTo = [];
    }

    /** Bytes of the message so far; true when it ended (the rest is handed back as commands). */
    function takeData(chunk) {
      // The tail holds the last bytes before this chunk ("\r\n" before the first one, so an empty message ends at once).
      const scan = Buffer.concat([data.tail, chunk]);
      const at = scan.indexOf(END);
      if (data.fault === 'dropMidData') {
        data.head = Buffer.concat([data.head, chunk]).subarray(0, HEAD_LIMIT);
        if (data.head.indexOf('\r\n\r\n') >= 0 || data.head.length >= HEAD_LIMIT || at >= 0) {
          // Closed before any reply to the end of data: the gateway must not claim delivery.
          injected.dropMidData++;
          const { id } = inspect(data.head, authservId);
          if (id) refused.set(transactionKey(id, rcptTo), 'dropMidData');
          data = null;
          socket.destroy();
          return null;
        }
      }
      if (at < 0) {
        data.chunks.push(chunk);
        data.length += chunk.length;
        data.tail = scan.subarray(Math.max(0, scan.length - 4));
        return null;
      }
      // Position of the end marker in message coordinates; the CRLF before the dot belongs to the message.
      const markerAt = data.length - data.tail.length + at;
      const message = Buffer.concat([...data.chunks, chunk]).subarray(0, markerAt + 2);
      const rest = chunk.subarray(markerAt + END.length - data.length);
      endOfData(message);
      return rest;
    }

    function command(line) {
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO' || verb === 'HELO') reply(`250-soak-${name}\r\n250-8BITMIME\r\n250 SIZE 209715200`);
      else if (verb === 'MAIL') {
        rcptTo = [];
        reply('250 2.1.0 ok');
      } else if (verb === 'RCPT') {
        const address = /<([^>]*)>/.exec(line)?.[1] ?? '';
        rcptTo.push(address.toLowerCase());
        reply('250 2.1.5 ok');
      } else if (verb === 'DATA') {
        const fault = decideFault();
        if (fault === 'dataCommand451') {
          injected.dataCommand451++;
          rcptTo = [];
          reply('451 4.3.0 soak: injected deferral at DATA');
          return;
        }
        data = { fault, chunks: [], length: 0, tail: Buffer.from('\r\n'), head: Buffer.alloc(0) };
        reply('354 go ahead');
      } else if (verb === 'RSET') {
        rcptTo = [];
        reply('250 2.0.0 ok');
      } else if (verb === 'NOOP') reply('250 2.0.0 ok');
      else if (verb === 'QUIT') {
        reply('221 2.0.0 bye');
        socket.end();
      } else {
        stats.protocolErrors++;
        reply('502 5.5.2 not implemented');
      }
    }

    socket.on('data', (chunk) => {
      let input = chunk;
      while (input && input.length > 0) {
        if (data) {
          input = takeData(input);
          continue;
        }
        pending = pending.length > 0 ? Buffer.concat([pending, input]) : input;
        input = null;
        let nl;
        while (!data && (nl = pending.indexOf('\r\n')) >= 0) {
          const line = pending.toString('latin1', 0, nl);
          pending = pending.subarray(nl + 2);
          command(line);
        }
        if (data && pending.length > 0) {
          input = pending;
          pending = Buffer.alloc(0);
        }
      }
    });
    socket.write(`220 soak-${name} ESMTP\r\n`);
  });

  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        name,
        port: server.address().port,
        deliveries,
        refused,
        injected,
        samples,
        stats,
        close: () => new Promise((r) => server.close(r)),
      }),
    );
  });
}

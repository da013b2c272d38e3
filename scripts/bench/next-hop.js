// The counting next hop, its own process (forked by next-hop-process.js):
// a minimal SMTP responder on 127.0.0.1 that discards the message bytes. It
// only looks for the end-of-data marker (Buffer.indexOf, no strings) and
// reads each message's header, to count what arrived: multipart/signed,
// enveloped (application/pkcs7-mime), plain, and the smime= verdict of
// Authentication-Results. The first message of each kind is also written
// to the sample directory, so the benchmark can check one with openssl.
//
// Not smtp-server: its fixed 100 ms early-talker pause on every new
// connection would dominate the figures; a real next hop (Postfix) answers
// at once. It offers neither PIPELINING nor CHUNKING, so every command is
// one line and the data ends with CRLF.CRLF.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const sampleDir = process.argv[2];
const HEADER_LIMIT = 64 * 1024;
const SAMPLE_LIMIT = 64 * 1024 * 1024;
const END = Buffer.from('\r\n.\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

const stats = { received: 0, bytes: 0, kinds: {}, smime: {}, samples: {} };

/** multipart/signed, enveloped-data, authEnveloped-data or plain, from the unfolded top-level header. */
export function classify(head) {
  const unfolded = head.replace(/\r\n[ \t]+/g, ' ');
  const type = /^content-type:[ \t]*([^\r\n]*)/im.exec(unfolded)?.[1]?.toLowerCase() ?? '';
  let kind = 'plain';
  if (type.startsWith('multipart/signed')) kind = 'signed';
  else if (/^application\/(x-)?pkcs7-mime/.test(type)) kind = /smime-type="?authenveloped-data/.test(type) ? 'authEnveloped' : /smime-type="?enveloped-data/.test(type) ? 'enveloped' : 'pkcs7-other';
  const verdict = /^authentication-results:[^\r\n]*?\bsmime=([a-z]+)/im.exec(unfolded)?.[1] ?? 'none';
  return { kind, verdict };
}

function count(head) {
  const { kind, verdict } = classify(head);
  stats.received++;
  stats.kinds[kind] = (stats.kinds[kind] ?? 0) + 1;
  stats.smime[verdict] = (stats.smime[verdict] ?? 0) + 1;
  return `${kind}-${verdict}`;
}

function serve(socket) {
  socket.setNoDelay(true);
  let inData = false;
  let pending = Buffer.alloc(0);
  // The last bytes of the previous data chunk: the end marker may straddle two chunks.
  let tail = Buffer.alloc(0);
  let head = [];
  let headLength = 0;
  let headDone = false;
  let key = '';
  let sample = null;

  const startMessage = () => {
    inData = true;
    tail = Buffer.alloc(0);
    head = [];
    headLength = 0;
    headDone = false;
    sample = null;
  };

  /** Collects the start of the message until the blank line (or 64 KB), then classifies it. */
  const readHeader = (data) => {
    head.push(data);
    headLength += data.length;
    const text = Buffer.concat(head).subarray(0, HEADER_LIMIT).toString('latin1');
    const blank = text.indexOf('\r\n\r\n');
    if (blank < 0 && headLength < HEADER_LIMIT) return;
    headDone = true;
    key = count(blank < 0 ? text : text.slice(0, blank + 2));
    // The first message of each kind is kept in full, starting with the bytes read so far.
    if (sampleDir && !(key in stats.samples)) sample = { chunks: [...head], length: headLength };
    head = [];
  };

  const keep = (data) => {
    if (sample && sample.length + data.length <= SAMPLE_LIMIT) {
      sample.chunks.push(data);
      sample.length += data.length;
    } else sample = null;
  };

  /** Message bytes; returns what follows the end marker (commands), or null while the data goes on. */
  const onData = (data) => {
    // Where the marker starts, relative to `data`: negative when it began in the previous chunk.
    let end = null;
    if (tail.length > 0) {
      // The marker straddling the previous chunk: search the joint only (at most 8 bytes).
      const at = Buffer.concat([tail, data.subarray(0, END.length - 1)]).indexOf(END);
      if (at >= 0) end = at - tail.length;
    }
    if (end === null) {
      const at = data.indexOf(END);
      if (at >= 0) end = at;
    }
    const body = end === null ? data : data.subarray(0, Math.max(0, end + 2));
    stats.bytes += body.length;
    if (!headDone) readHeader(body);
    else if (sample) keep(body);
    if (end === null) {
      // The last 4 bytes seen, even when this chunk is shorter than that.
      const seen = data.length >= END.length - 1 ? data : Buffer.concat([tail, data]);
      tail = Buffer.from(seen.subarray(Math.max(0, seen.length - (END.length - 1))));
      return null;
    }
    inData = false;
    // Marker bytes that came in earlier chunks were taken for message bytes: take them back.
    const overshoot = Math.max(0, -(end + 2));
    stats.bytes -= overshoot;
    if (!headDone) {
      headDone = true;
      key = count(Buffer.concat(head).toString('latin1'));
    }
    if (sample) {
      const file = path.join(sampleDir, `sample-${key}.eml`);
      const bytes = Buffer.concat(sample.chunks);
      writeFileSync(file, unstuff(bytes.subarray(0, bytes.length - overshoot)));
      stats.samples[key] = file;
      sample = null;
    }
    socket.write('250 2.0.0 queued\r\n');
    return data.subarray(end + END.length);
  };

  const onCommands = (data) => {
    pending = pending.length > 0 ? Buffer.concat([pending, data]) : data;
    let nl;
    while (!inData && (nl = pending.indexOf(CRLF)) >= 0) {
      const line = pending.subarray(0, nl).toString('latin1').toUpperCase();
      pending = pending.subarray(nl + 2);
      if (line.startsWith('EHLO')) socket.write('250-sink\r\n250-8BITMIME\r\n250 SIZE 209715200\r\n');
      else if (line.startsWith('DATA')) {
        startMessage();
        socket.write('354 go ahead\r\n');
      } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
      else socket.write('250 ok\r\n');
    }
    if (inData && pending.length > 0) {
      const rest = pending;
      pending = Buffer.alloc(0);
      onChunk(rest);
    } else if (pending.length > 4096) socket.destroy();
    else pending = Buffer.from(pending);
  };

  const onChunk = (chunk) => {
    if (!inData) return onCommands(chunk);
    const rest = onData(chunk);
    if (rest !== null && rest.length > 0) onCommands(rest);
  };

  socket.write('220 sink ESMTP\r\n');
  socket.on('error', () => {});
  socket.on('data', onChunk);
}

/** The SMTP transparency procedure undone (RFC 5321 4.5.2): a line's leading ".." is one ".". */
function unstuff(bytes) {
  return Buffer.from(bytes.toString('latin1').replace(/(^|\r\n)\.\./g, '$1.'), 'latin1');
}

if (process.send) {
  const server = net.createServer(serve);
  server.listen(0, '127.0.0.1', () => process.send({ ready: server.address().port }));
  process.on('message', ({ id, cmd }) => {
    if (cmd === 'stats') {
      const cpu = process.cpuUsage();
      process.send({ id, value: { ...stats, kinds: { ...stats.kinds }, smime: { ...stats.smime }, samples: { ...stats.samples }, cpuMs: (cpu.user + cpu.system) / 1000 } });
    } else if (cmd === 'close') server.close(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
}

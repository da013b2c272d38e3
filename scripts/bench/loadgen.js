// The load generator, its own process (forked by children.js), so its CPU
// runs neither on the gateway's event loop nor on the next hop's. A lean
// SMTP client: persistent connections, TCP_NODELAY, SIZE= declared as mail
// clients do, one transaction after the other per connection. Each message
// file is read once into one Buffer and written to every connection as it
// is (no copies, no strings), followed by the end-of-data dot.
//
// A probe connection sends NOOP every 20 ms while the measured messages
// flow: its reply time is what any other client of the gateway waits when
// the event loop is busy (a signature or parse that blocked it would show
// here as hundreds of ms).
//
// (nodemailer leaves Nagle's algorithm on, which caps each connection at one
// message per ~40 ms delayed-ACK round and hides the gateway's own cost.)
import { readFileSync } from 'node:fs';
import net from 'node:net';

const REPLY_TIMEOUT_MS = 600_000;
const PROBE_INTERVAL_MS = 20;
const DOT = Buffer.from('.\r\n', 'latin1');

/** One SMTP connection; `command` writes (a line or buffers) and resolves with the reply code. */
function connect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let buffer = '';
    let waiting = null;
    let closed = null;
    const settle = (value) => {
      const w = waiting;
      waiting = null;
      clearTimeout(w?.timer);
      w?.done(value);
    };
    socket.on('data', (d) => {
      buffer += d.toString('latin1');
      // A reply is complete at a line "ddd text" (no dash after the code).
      const m = /(^|\r\n)(\d{3})( [^\r\n]*)?\r\n$/.exec(buffer);
      if (m && waiting) {
        const text = buffer.trim().split('\r\n').pop();
        buffer = '';
        settle({ code: Number(m[2]), text });
      }
    });
    socket.on('error', (err) => {
      closed = err.message;
      settle({ code: 0, text: err.message });
      reject(err);
    });
    socket.on('close', () => {
      closed ??= 'connection closed';
      settle({ code: 0, text: closed });
    });
    const command = (...parts) =>
      new Promise((done) => {
        if (closed) return done({ code: 0, text: closed });
        waiting = { done, timer: setTimeout(() => settle({ code: 0, text: 'no reply in time' }), REPLY_TIMEOUT_MS) };
        socket.cork();
        for (const part of parts) socket.write(part);
        process.nextTick(() => socket.uncork());
      });
    const expect = async (ok, ...parts) => {
      const reply = await command(...parts);
      if (!ok.includes(reply.code)) throw new Error(reply.code === 0 ? reply.text : `${reply.text} (after ${String(parts[0] ?? 'greeting').slice(0, 24).trim()})`);
    };
    const session = {
      expect,
      isClosed: () => closed !== null,
      async send(raw, from, to) {
        await expect([250], `MAIL FROM:<${from}> SIZE=${raw.length}\r\n`);
        await expect([250], `RCPT TO:<${to}>\r\n`);
        await expect([354], 'DATA\r\n');
        // The messages have no line starting with "." (see messages.js): no dot-stuffing.
        await expect([250], raw, DOT);
      },
      close: () => socket.end('QUIT\r\n'),
    };
    (async () => {
      await expect([220]);
      await expect([250], 'EHLO bench.example\r\n');
      resolve(session);
    })().catch(reject);
  });
}

const files = new Map();
/** One Buffer per message file, read once and reused for every message of that size. */
function messageBytes(file) {
  if (!files.has(file)) files.set(file, readFileSync(file));
  return files.get(file);
}

async function probe(port, running) {
  const session = await connect(port);
  const times = [];
  while (running()) {
    const t0 = performance.now();
    await session.expect([250], 'NOOP\r\n');
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
  }
  session.close();
  return times;
}

/**
 * Sends `warmup` then `count` messages over `concurrency` connections;
 * the latencies (ms, one per measured message) and the seconds are of the
 * measured messages only; the probe's reply times are raw too, so parts of
 * a cell can be combined.
 */
async function run({ port, file, from, to, concurrency, warmup, count, withProbe }) {
  const raw = messageBytes(file);
  const cpu0 = process.cpuUsage();
  const sessions = await Promise.all(Array.from({ length: concurrency }, () => connect(port)));
  const errors = [];
  const latencies = [];
  let next = 0;
  const worker = async (session, total, record) => {
    while (next < total && !session.isClosed()) {
      next++;
      const t0 = performance.now();
      try {
        await session.send(raw, from, to);
        if (record) latencies.push(performance.now() - t0);
      } catch (err) {
        errors.push(err.message);
        if (!session.isClosed()) await session.expect([250], 'RSET\r\n').catch(() => {});
      }
    }
  };
  await Promise.all(sessions.map((s) => worker(s, warmup, false)));
  next = 0;
  let measuring = true;
  const probed = withProbe ? probe(port, () => measuring) : Promise.resolve(null);
  const start = performance.now();
  await Promise.all(sessions.map((s) => worker(s, count, true)));
  const seconds = (performance.now() - start) / 1000;
  measuring = false;
  for (const s of sessions) s.close();
  const probeResult = await probed;
  const cpu = process.cpuUsage(cpu0);
  return {
    bytes: raw.length,
    seconds,
    sent: latencies.length,
    latencies,
    probe: probeResult,
    cpuMs: (cpu.user + cpu.system) / 1000,
    errors: errors.length,
    firstErrors: [...new Set(errors)].slice(0, 3),
  };
}

if (process.send) {
  process.on('message', ({ id, cmd, args }) => {
    if (cmd === 'run')
      run(args).then(
        (value) => process.send({ id, value }),
        (err) => process.send({ id, error: err.message }),
      );
    else if (cmd === 'forget') {
      files.clear();
      process.send({ id, value: true });
    }
    else if (cmd === 'close') process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}

// The gateway under test as its own process, and what the benchmarks read
// about it from /proc (Linux): shared by all modes of scripts/bench/run.js.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts `siegel serve --config configFile` and waits until `port` accepts connections. */
export async function startGateway(configFile, port) {
  // The same V8 flag as bin/siegel.js's shebang and `npm start` (GATEWAY_NODE_FLAGS overrides).
  const flags = (process.env.GATEWAY_NODE_FLAGS ?? '--max-semi-space-size=1 --expose-gc').split(' ').filter(Boolean);
  // gateway-probe.js answers gatewayThreads(); loaded into every gateway alike.
  const probe = ['--import', path.join(root, 'scripts/bench/gateway-probe.js')];
  const child = spawn(process.execPath, [...flags, ...probe, path.join(root, 'bin/siegel.js'), 'serve', '--config', configFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.channel?.unref();
  running.add(child);
  child.on('exit', () => running.delete(child));
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopGateway(child);
  throw new Error(`gateway did not start (${configFile})`);
}

/** Gateways still running; killed when the benchmark exits, even on an error, so none is left behind. */
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
// Interrupted (Ctrl-C, timeout): exit through the handler above.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));

export function stopGateway(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.on('exit', resolve);
    child.kill('SIGTERM');
  });
}

let probeId = 0;
/**
 * The gateway's event-loop account from gateway-probe.js: { elu: { idle,
 * active } (ms), mainThreadMs }; null if it does not answer within 2 s.
 */
export function gatewayThreads(child) {
  const id = ++probeId;
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), 2000);
    const onMessage = (msg) => {
      if (msg?.benchProbe === id) done(msg);
    };
    const done = (value) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(value);
    };
    child.on('message', onMessage);
    try {
      child.send({ benchProbe: id });
    } catch {
      done(null);
    }
  });
}

/** Event-loop active and idle time and main-thread CPU (ms) between two gatewayThreads() readings. */
export function threadsDelta(before, after) {
  if (!before || !after) return null;
  return { active: after.elu.active - before.elu.active, idle: after.elu.idle - before.elu.idle, mainThreadMs: after.mainThreadMs - before.mainThreadMs };
}

/** CPU time (user + system) the process used so far, in ms. */
export function cpuTime(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100;
}

function statusField(pid, name) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)[1]) * 1024;
}

/** Peak resident memory (VmHWM) in bytes, since start or the last resetPeakMemory. */
export function peakMemory(pid) {
  return statusField(pid, 'VmHWM');
}

export function residentMemory(pid) {
  return statusField(pid, 'VmRSS');
}

/** Sets VmHWM back to the current RSS (Linux clear_refs "5"), so the next phase gets a peak of its own. */
export function resetPeakMemory(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples VmRSS every `intervalMs` (and reads VmHWM at the end, which also
 * catches peaks between samples); stop() returns the highest of both.
 */
export function sampleMemory(pid, intervalMs = 50) {
  let peak = residentMemory(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, residentMemory(pid));
    } catch {
      // The process ended; stop() reports what was seen.
    }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      let hwm = 0;
      try {
        hwm = peakMemory(pid);
      } catch {
        // Gone.
      }
      return { sampled: peak, hwm, peak: Math.max(peak, hwm) };
    },
  };
}

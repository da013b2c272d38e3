// The load generator and the counting next hop as child processes of the
// benchmark, each with its own event loop and CPU account; requests and
// answers go over the IPC channel.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Forks `script` and waits for its { ready } message; `call(cmd, args)` resolves with its answer. */
function startChild(script, argv = []) {
  const child = fork(path.join(here, script), argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map();
  let nextId = 1;
  child.on('message', (msg) => {
    const request = pending.get(msg.id);
    if (!request) return;
    pending.delete(msg.id);
    if (msg.error) request.reject(new Error(msg.error));
    else request.resolve(msg.value);
  });
  child.on('exit', (code) => {
    for (const { reject } of pending.values()) reject(new Error(`${script} exited (${code})`));
    pending.clear();
  });
  const ready = new Promise((resolve, reject) => {
    const onReady = (msg) => {
      if (!('ready' in msg)) return;
      child.off('message', onReady);
      resolve(msg.ready);
    };
    child.on('message', onReady);
    child.once('exit', (code) => reject(new Error(`${script} exited before it was ready (${code})`)));
  });
  const call = (cmd, args) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, cmd, args });
    });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.send({ cmd: 'close' });
      setTimeout(() => child.kill('SIGTERM'), 2000).unref();
    });
  return { ready, call, stop, pid: child.pid };
}

/** The counting next hop (next-hop.js); samples of each kind of message land in `sampleDir`. */
export async function startNextHop(sampleDir) {
  const child = startChild('next-hop.js', [sampleDir]);
  const port = await child.ready;
  return { port, pid: child.pid, stats: () => child.call('stats'), stop: child.stop };
}

/** The load generator (loadgen.js). */
export async function startLoadgen() {
  const child = startChild('loadgen.js');
  await child.ready;
  return { pid: child.pid, run: (args) => child.call('run', args), forget: () => child.call('forget'), stop: child.stop };
}

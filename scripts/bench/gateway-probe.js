// Loaded into each gateway process by the benchmark (node --import): on a
// request over the IPC channel it answers with the event loop's
// utilisation (ELU) and the CPU time of the main thread (the event loop)
// and of the whole process, so the benchmark can tell work on the event
// loop from work on the thread pool and crypto workers. It does nothing
// until asked, and never keeps the gateway alive.
import { performance } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

// --import preloads into worker threads too (the gateway's crypto pool): only the main thread answers.
if (isMainThread && process.send && process.channel) {
  process.on('message', (msg) => {
    if (msg?.benchProbe === undefined) return;
    const elu = performance.eventLoopUtilization();
    const thread = process.threadCpuUsage();
    process.send({ benchProbe: msg.benchProbe, elu: { idle: elu.idle, active: elu.active }, mainThreadMs: (thread.user + thread.system) / 1000 });
  });
  process.channel.unref();
}

// Loaded into the gateway process by the soak (node --import): writes
// process.memoryUsage() to $SOAK_HEAP_PROBE twice a second, so the soak
// can watch the V8 heap of a process it only sees from outside. Written to
// a temporary file and renamed, so a reader never sees half a line. The
// timer is unref'd: it never keeps the gateway alive.
import { renameSync, writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const file = process.env.SOAK_HEAP_PROBE;
// --import preloads into worker threads too (the gateway's crypto pool): their small heaps must not overwrite the main one's.
if (file && isMainThread) {
  const timer = setInterval(() => {
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify({ ...process.memoryUsage(), at: Date.now() }));
      renameSync(`${file}.tmp`, file);
    } catch {
      // A full disk or a removed directory must not disturb the gateway.
    }
  }, 500);
  timer.unref();
}

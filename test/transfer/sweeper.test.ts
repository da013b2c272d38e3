import { createLogger } from '../../src/log.js';
import { startSweeper } from '../../src/transfer/sweeper.js';
import { Writable } from 'node:stream';

describe('startSweeper', () => {
  it('sweeps right after start, logs what it deleted and failures, and stops cleanly', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _e, done) => void (lines.push(chunk.toString()), done()) }));
    let calls = 0;
    let release: () => void = () => undefined;
    const service = {
      sweep: () => {
        calls += 1;
        if (calls === 1) return new Promise<number>((resolve) => (release = () => resolve(3)));
        return Promise.reject(new Error('disk gone'));
      },
    };
    const stop = startSweeper(service, 1000, logger);
    while (calls === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    // A stop while a sweep runs waits for it.
    let stopped = false;
    const stopping = stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(stopped).toBe(true);
    expect(calls).toBe(1);
    expect(lines.some((line) => line.includes('"deleted":3'))).toBe(true);
    // Nothing runs after stop.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(calls).toBe(1);
  });

  it('keeps running after a failed sweep', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _e, done) => void (lines.push(chunk.toString()), done()) }));
    let calls = 0;
    const stop = startSweeper({ sweep: async () => (calls += 1) === 1 ? Promise.reject(new Error('disk gone')) : 0 }, 1000, logger);
    while (calls < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    await stop();
    expect(lines.some((line) => line.includes('sweep failed') && line.includes('disk gone'))).toBe(true);
  });
});

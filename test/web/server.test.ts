/** The HTTP listener: slowloris protection and a stop that does not wait for idle keep-alive connections. */
import net from 'node:net';
import http from 'node:http';
import { startWebServer } from '../../src/web/server.js';

const hello: http.RequestListener = (_req, res) => {
  res.end('hello');
};

test('stop() closes idle keep-alive connections at once', async () => {
  const server = await startWebServer(hello, { host: '127.0.0.1', port: 0 }, { keepAliveTimeout: 60_000, closeGrace: 60_000 });
  const agent = new http.Agent({ keepAlive: true });
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: server.port, path: '/', agent }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
  expect(body).toBe('hello');
  const started = Date.now();
  await server.close();
  // Far below keepAliveTimeout and closeGrace: the idle socket was closed, not waited for.
  expect(Date.now() - started).toBeLessThan(30_000);
  const refused = await new Promise<string>((resolve) => {
    net.connect(server.port, '127.0.0.1').on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error')).on('connect', () => resolve('connected'));
  });
  expect(refused).toBe('ECONNREFUSED');
  agent.destroy();
});

test('stop() cuts a response that does not finish after the grace period', async () => {
  const server = await startWebServer((_req, res) => res.write('never ends'), { host: '127.0.0.1', port: 0 }, { closeGrace: 200 });
  const ended = new Promise<string>((resolve) => {
    http.get({ host: '127.0.0.1', port: server.port, path: '/' }, (res) => {
      res.on('data', () => undefined);
      res.on('error', () => resolve('cut'));
      res.on('close', () => resolve(res.complete ? 'complete' : 'cut'));
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  await server.close();
  expect(await ended).toBe('cut');
});

test('a client that never finishes its headers is disconnected (slowloris)', async () => {
  const server = await startWebServer(hello, { host: '127.0.0.1', port: 0 }, { headersTimeout: 500, requestTimeout: 1000 });
  try {
    const outcome = await new Promise<string>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: '));
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
      socket.setTimeout(20_000, () => {
        resolve('still open');
        socket.destroy();
      });
    });
    expect(outcome).toBe('HTTP/1.1 408 Request Timeout');
  } finally {
    await server.close();
  }
});

/**
 * The one HTTP client for PKI downloads (OCSP, CRLs, caIssuers) talks to
 * servers named in partners' certificates: whatever they answer is a
 * rejected promise, never an exception that could end the process.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FetchError, fetchBytes } from '../../src/pki/http-fetch.js';

let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((request, response) => {
    if (request.url === '/bad-redirect') response.writeHead(302, { location: 'http://[' }).end();
    else if (request.url === '/redirect') response.writeHead(302, { location: '/file' }).end();
    else response.writeHead(200).end('certificate bytes');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('fetchBytes', () => {
  it('rejects a redirect to a Location that is not a URL, with or without following redirects', async () => {
    for (const followRedirects of [true, false]) {
      const outcome = await fetchBytes(`${base}/bad-redirect`, { timeout: 5_000, maxSize: 1024, followRedirects }).catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(FetchError);
      expect((outcome as FetchError).message).toContain('redirected to an invalid URL');
    }
  });

  it('follows a valid relative redirect', async () => {
    expect((await fetchBytes(`${base}/redirect`, { timeout: 5_000, maxSize: 1024 })).toString()).toBe('certificate bytes');
  });
});

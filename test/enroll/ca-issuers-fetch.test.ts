/**
 * The caIssuers download is bounded (size, time, no redirects, http only)
 * and chain completion stops after its download limit; against a real HTTP
 * server on 127.0.0.1 and certificates issued by the openssl CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { httpCaIssuersFetcher } from '../../src/pki/ca-issuers-fetch.js';
import { completeChain } from '../../src/pki/chain-completion.js';
import { readPemBlocks } from '../../src/pki/pem.js';
import { trustStoreFromDer } from '../../src/pki/trust-store.js';
import { createOpensslCa, type OpensslCa } from './openssl-ca.js';

let server: http.Server;
let base: string;
let ca: OpensslCa;
let dir: string;
const hanging = new Set<http.ServerResponse>();

function derOf(pemFile: string): Buffer {
  return readPemBlocks(readFileSync(pemFile, 'latin1'))[0]?.der ?? Buffer.alloc(0);
}

/** A request made by openssl for a fresh P-256 key; returns the file. */
function opensslRequest(name: string): string {
  const csr = path.join(dir, `${name}.csr`);
  execFileSync(
    'openssl',
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, `${name}.key`), '-subj', `/CN=${name}`, '-out', csr],
    { stdio: 'pipe' },
  );
  return csr;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-aia-'));
  ca = createOpensslCa(dir);
  server = http.createServer((req, res) => {
    if (req.url === '/big') res.writeHead(200, { 'content-type': 'application/pkix-cert' }).end(Buffer.alloc(2 * 1024 * 1024, 0x30));
    else if (req.url === '/chunked-big') {
      res.writeHead(200);
      for (let i = 0; i < 40; i++) res.write(Buffer.alloc(64 * 1024, 0x30));
      res.end();
    } else if (req.url === '/redirect') res.writeHead(302, { location: '/ca.der' }).end();
    else if (req.url === '/hang') hanging.add(res);
    else if (req.url === '/ca.der') res.writeHead(200).end(ca.issuingDer);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('caIssuers download', () => {
  const fetch = httpCaIssuersFetcher({ timeoutMs: 300 });

  it('returns the CA certificate served', async () => {
    expect((await fetch(`${base}/ca.der`)).equals(ca.issuingDer)).toBe(true);
  });

  it('refuses answers over the size limit, declared or streamed', async () => {
    await expect(fetch(`${base}/big`)).rejects.toThrow('the answer is larger than 1048576 bytes');
    await expect(fetch(`${base}/chunked-big`)).rejects.toThrow('the answer is larger than 1048576 bytes');
  });

  it('follows no redirect, fetches only http, and gives up on a server that does not answer', async () => {
    await expect(fetch(`${base}/redirect`)).rejects.toThrow('HTTP 302 (redirects are not followed)');
    await expect(fetch('https://127.0.0.1/ca.der')).rejects.toThrow('only http URLs are fetched');
    await expect(fetch(`${base}/hang`)).rejects.toThrow('no answer within 0.3 s');
  });
});

describe('chain completion', () => {
  it('downloads the issuer and reaches the anchor; stops at the download limit', async () => {
    const leaf = derOf(ca.issue(opensslRequest('aia-leaf'), 'aia-leaf', { aiaUrl: `${base}/ca.der` }));
    const anchors = trustStoreFromDer([derOf(ca.rootPem)]).anchors;
    const done = await completeChain(leaf, [], { anchors, fetch: httpCaIssuersFetcher() });
    expect(done.problem).toBeUndefined();
    expect(done.fetched).toEqual([`${base}/ca.der`]);
    expect(done.chain.map((der) => der.equals(ca.issuingDer))).toEqual([true]);
    expect(done.anchor?.der.equals(derOf(ca.rootPem))).toBe(true);

    const limited = await completeChain(leaf, [], { anchors, fetch: httpCaIssuersFetcher(), maxHops: 0 });
    expect(limited.problem).toBe('the issuer of "CN=aia-leaf" was not found within 0 downloads');
    expect(limited.chain).toEqual([]);

    // Issued by the root, so the intermediate served is not its issuer; without anchors nothing else fits.
    const rootIssued = derOf(ca.issue(opensslRequest('wrong-leaf'), 'wrong-leaf', { aiaUrl: `${base}/ca.der`, issuer: 'root' }));
    const notServed = await completeChain(rootIssued, [], { anchors: [], fetch: httpCaIssuersFetcher() });
    expect(notServed.problem).toBe(`${base}/ca.der did not serve the issuer of "CN=wrong-leaf"`);
  });
});

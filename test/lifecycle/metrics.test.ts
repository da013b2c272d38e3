/**
 * GET /metrics on the web listener of `siegel serve`, over real HTTP at a
 * fixed clock: seconds to expiry per active identity, the expiring flag and
 * count (a renewed identity does not count), only for clients in
 * web.metricsNetworks (others, also behind a trusted proxy, get the
 * ordinary 404), and nothing secret in it.
 */
import { X509Certificate } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { startServer, type ServeHandle } from '../../src/commands/serve.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import type { Issued } from '../../src/pki/generate.js';
import { mailboxCert, testPki, type TestPki } from '../pki/test-pki.js';
import { gatewayDir, siegel, type GatewayDir } from './helpers.js';

const NOW = new Date('2027-01-01T00:00:00Z');

let pki: TestPki;
let gw: GatewayDir;
let config: Config;
let expiring: Issued;
let renewedOld: Issued;
let renewal: Issued;

function serialOf(leaf: Issued): string {
  return new X509Certificate(leaf.certificate).serialNumber.toUpperCase();
}

beforeAll(async () => {
  pki = await testPki('p256');
  gw = gatewayDir(pki, 'smtp:\n  submission:\n    listen: 127.0.0.1:0\n  inbound:\n    listen: 127.0.0.1:0\nweb:\n  listen: 127.0.0.1:0\n');
  expiring = await mailboxCert(pki, { email: 'poststelle@stadt.example', usage: 'sign', keySpec: 'p256', notAfter: new Date('2027-01-11T00:00:00Z') });
  renewedOld = await mailboxCert(pki, { email: 'bauamt@stadt.example', usage: 'both', keySpec: 'p256', notAfter: new Date('2027-01-15T00:00:00Z') });
  renewal = await mailboxCert(pki, { email: 'bauamt@stadt.example', usage: 'both', keySpec: 'p256', notBefore: new Date('2026-12-15T00:00:00Z'), notAfter: new Date('2029-12-15T00:00:00Z') });
  for (const [mailbox, leaf] of [['poststelle@stadt.example', expiring], ['bauamt@stadt.example', renewedOld], ['bauamt@stadt.example', renewal]] as const) {
    const files = gw.pem(`${mailbox}-${serialOf(leaf)}`, leaf);
    const result = await siegel(['enroll', 'import', '--config', gw.config, '--mailbox', mailbox, '--cert', files.cert, '--key', files.key, '--chain', files.chain], { now: NOW });
    expect(result.code).toBe(0);
  }
  config = loadConfig({ file: gw.config, env: {} });
}, 60_000);

async function serve(overrides: Partial<Config['web']>): Promise<ServeHandle> {
  return startServer({
    config: { ...config, web: { ...config.web, ...overrides } },
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    env: {},
    logger: silentLogger(),
    now: () => NOW,
  });
}

test('loopback gets the Prometheus text: expiry seconds, expiring flags and count', async () => {
  const server = await serve({});
  try {
    const response = await fetch(`http://127.0.0.1:${server.ports.web}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = await response.text();
    const samples = body.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples).toEqual(
      expect.arrayContaining([
        `siegel_identity_expiry_seconds{mailbox="poststelle@stadt.example",role="sign",serial="${serialOf(expiring)}"} ${10 * 86_400}`,
        `siegel_identity_expiry_seconds{mailbox="bauamt@stadt.example",role="both",serial="${serialOf(renewedOld)}"} ${14 * 86_400}`,
        `siegel_identity_expiry_seconds{mailbox="bauamt@stadt.example",role="both",serial="${serialOf(renewal)}"} ${(Date.parse('2029-12-15T00:00:00Z') - NOW.getTime()) / 1000}`,
        `siegel_identity_expiring{mailbox="poststelle@stadt.example",role="sign",serial="${serialOf(expiring)}"} 1`,
        `siegel_identity_expiring{mailbox="bauamt@stadt.example",role="both",serial="${serialOf(renewedOld)}"} 0`,
        `siegel_identity_expiring{mailbox="bauamt@stadt.example",role="both",serial="${serialOf(renewal)}"} 0`,
        'siegel_identities_expiring 1',
        `siegel_identity_expiry_warning_seconds ${30 * 86_400}`,
      ]),
    );
    expect(samples).toHaveLength(8);
    expect(body).toContain('# TYPE siegel_identity_expiry_seconds gauge\n');
    expect(body).not.toMatch(/BEGIN|PRIVATE|[0-9a-f]{64}/);
  } finally {
    await server.stop();
  }
}, 30_000);

test('clients outside web.metricsNetworks get the ordinary 404 page, also through a trusted proxy', async () => {
  const closed = await serve({ metricsNetworks: ['10.0.0.0/8'] });
  try {
    const response = await fetch(`http://127.0.0.1:${closed.ports.web}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain('siegel_');
  } finally {
    await closed.stop();
  }
  const proxied = await serve({ trustProxy: true });
  try {
    const outside = await fetch(`http://127.0.0.1:${proxied.ports.web}/metrics`, { headers: { 'X-Forwarded-For': '203.0.113.7' } });
    expect(outside.status).toBe(404);
    const local = await fetch(`http://127.0.0.1:${proxied.ports.web}/metrics`, { headers: { 'X-Forwarded-For': '127.0.0.1' } });
    expect(local.status).toBe(200);
  } finally {
    await proxied.stop();
  }
  const off = await serve({ metricsNetworks: [] });
  try {
    expect((await fetch(`http://127.0.0.1:${off.ports.web}/metrics`)).status).toBe(404);
  } finally {
    await off.stop();
  }
}, 30_000);

/**
 * A rule's minRsaBits on the inbound side, through `siegel inbound`
 * (src/cli.ts main, in process, fixed clock): the same message signed by
 * an RSA-2048 signer is a `policy` verdict (weak-key) when its envelope
 * sender falls under a rule asking for 3072 bits, and a `pass` when it
 * comes from a sender no rule names (the configured floor, 2048, applies).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runSiegel } from '../cli/run-siegel.js';
import { addressing, AT, bodyEntity, createGateway, inboundFixtures, opensslSigned, PARTNER, removeInboundFixtures, verdictOf, type Gateway, type InboundFixtures } from '../inbound/fixtures.js';
import { lines } from './policy-dir.js';

const CLERK = 'poststelle@stadt.example';
const OTHER_SENDER = 'weiterleitung@partner-verband.example';

let f: InboundFixtures;
let gw: Gateway;

async function inbound(from: string, raw: Buffer): Promise<{ code: number; out: Buffer; stderr: string }> {
  const result = await runSiegel(['inbound', '--config', gw.configFile, '--from', from, '--to', CLERK], { stdin: raw, env: { SIEGEL_LOG__LEVEL: 'info' }, now: AT });
  return { code: result.code, out: result.stdout, stderr: result.stderr };
}

function filterLog(stderr: string): Record<string, unknown> | undefined {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => typeof l.smime === 'string');
}

beforeAll(async () => {
  f = await inboundFixtures();
  gw = await createGateway(f);
  mkdirSync(gw.config.policies, { recursive: true });
  writeFileSync(
    path.join(gw.config.policies, '50-inbound.yaml'),
    lines('rules:', '  - name: partner keys of 3072 bits', '    match:', '      direction: inbound', `      from: [${PARTNER}]`, '    minRsaBits: 3072'),
  );
}, 60_000);

afterAll(async () => {
  gw?.remove();
  await removeInboundFixtures();
});

describe('inbound minRsaBits per rule', () => {
  test('the rule\'s floor makes an RSA-2048 signature a policy verdict; without the rule it passes', async () => {
    expect(gw.config.inbound.minRsaBits).toBe(2048);
    const signed = opensslSigned(f, f.signers.rsa2048, bodyEntity(), { to: addressing(PARTNER, 'Antrag', CLERK) });

    const ruled = await inbound(PARTNER, signed);
    expect(ruled.code).toBe(0);
    expect(verdictOf(ruled.out)).toMatchObject({ result: 'policy', reason: 'weak-key' });
    expect(filterLog(ruled.stderr)).toMatchObject({ smime: 'policy', reason: 'weak-key' });

    const unruled = await inbound(OTHER_SENDER, signed);
    expect(unruled.code).toBe(0);
    expect(verdictOf(unruled.out)).toMatchObject({ result: 'pass', reason: 'valid' });
    expect(filterLog(unruled.stderr)).toMatchObject({ smime: 'pass' });
  });

  test('a broken policy file: exit 78 (EX_CONFIG) as siegel outbound, nothing written, so the MTA defers the mail', async () => {
    const broken = path.join(gw.config.policies, '90-broken.yaml');
    writeFileSync(broken, 'rules: [ {name: x, match: {direction: sideways}} ]\n');
    try {
      const result = await inbound(PARTNER, opensslSigned(f, f.signers.rsa2048, bodyEntity(), { to: addressing(PARTNER, 'Antrag', CLERK) }));
      expect(result.code).toBe(78);
      expect(result.out.length).toBe(0);
      expect(result.stderr).toContain('90-broken.yaml');
    } finally {
      rmSync(broken);
    }
  });
});


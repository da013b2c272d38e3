/**
 * The algorithm floor of an outbound rule (issue 6: "algorithm floors"): a
 * recipient certificate with an RSA key below the rule's minRsaBits is not
 * encrypted to, exactly as if there were none; the same certificate serves
 * under a rule without that floor.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runSiegel, type CliResult } from '../cli/run-siegel.js';
import { EX_DATAERR } from '../../src/commands/outbound.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { CAP, correspondent, decryptWith, harvestFrom, partnerPki, type Correspondent } from '../pipeline/encrypt-fixtures.js';
import { mail } from './outbound-fixtures.js';
import { lines, policyDir } from './policy-dir.js';

const STRICT = 'rat@strict.example';
const LENIENT = 'rat@lenient.example';

let dir: string;
let policies: string;
let config: string;
let strict: Correspondent;
let lenient: Correspondent;

async function outbound(to: string): Promise<CliResult> {
  return runSiegel(['outbound', '--config', config, '--from', 'jemand@stadt.example', '--to', to], { stdin: mail('jemand@stadt.example', to) });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-floor-'));
  policies = policyDir({
    '10-floor.yaml': lines(
      'rules:',
      '  - name: strict partners',
      '    match: { direction: outbound, to: ["*@strict.example"] }',
      '    encrypt: required',
      '    onMissingCertificate: reject',
      '    minRsaBits: 3072',
      '  - name: lenient partners',
      '    match: { direction: outbound, to: ["*@lenient.example"] }',
      '    encrypt: required',
      '    onMissingCertificate: reject',
    ),
  });
  mkdirSync(path.join(dir, 'trust'));
  config = path.join(dir, 'siegel.yaml');
  writeFileSync(config, `dataDir: data\ntrustAnchors: trust\npolicies: ${policies}\n`);
  const partner = await partnerPki();
  [strict, lenient] = await Promise.all([correspondent(partner, dir, STRICT, 'rsa2048'), correspondent(partner, dir, LENIENT, 'rsa2048')]);
  const store = SqliteHarvestedStore.open(path.join(dir, 'data'));
  await harvestFrom(store, partner, strict, [CAP.cbc], new Date());
  await harvestFrom(store, partner, lenient, [CAP.cbc], new Date());
  await store.close();
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(policies, { recursive: true, force: true });
});

it('an RSA-2048 certificate under a 3072-bit floor counts as missing: encrypt: required refuses with 550 5.7.1', async () => {
  const result = await outbound(STRICT);
  expect(result.code).toBe(EX_DATAERR);
  expect(result.stdout.length).toBe(0);
  expect(result.stderr).toContain(`550 5.7.1 Policy requires encryption, no certificate for ${STRICT} (rule strict partners)`);
});

it('the same kind of certificate under a rule without that floor is encrypted to', async () => {
  const result = await outbound(LENIENT);
  expect(result.code).toBe(0);
  expect(result.stdout.toString('latin1')).toMatch(/^Content-Type: application\/pkcs7-mime; smime-type=enveloped-data/im);
  expect(decryptWith(dir, lenient, result.stdout).toString('utf8')).toContain('Content-Type');
});

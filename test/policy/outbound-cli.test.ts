/**
 * Outbound policy through `siegel outbound` (src/cli.ts main, in process):
 * each decision of a rule changes what leaves, the log line names the rule,
 * and a refusal exits non-zero with the SMTP reply on stderr, writing
 * nothing, so the MTA keeps (and bounces) the message.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EX_DATAERR } from '../../src/commands/outbound.js';
import { loadConfig } from '../../src/config/load.js';
import { openKeystore } from '../../src/keystore/open.js';
import { SqliteHarvestedStore } from '../../src/keystore/sqlite-harvested-store.js';
import { createRootCa, issueMailbox } from '../../src/pki/generate.js';
import { runSiegel, type CliResult } from '../cli/run-siegel.js';
import { CAP, correspondent, decryptWith, harvestFrom, openssl, partnerPki, type Correspondent } from '../pipeline/encrypt-fixtures.js';
import {
  CITIZEN, CLEAR_WITH_CERT, CLERK, ENROLLED, headerBlock, mail, NEWSLETTER, outboundPolicyDir, PARTNER_WITH_CERT, PARTNER_WITHOUT_CERT, POSTSTELLE, RULES, STAFF, TAX, UNENROLLED,
} from './outbound-fixtures.js';

let dir: string;
let policies: string;
let config: string;
let rat: Correspondent;
let clear: Correspondent;

function outbound(from: string, to: readonly string[], input = mail(from, to[0] ?? CITIZEN)): Promise<CliResult> {
  return runSiegel(['outbound', '--config', config, '--from', from, '--to', ...to], { stdin: input, env: { SIEGEL_LOG__LEVEL: 'info' } });
}

/** The JSON log lines on stderr, and the other lines as they are. */
function stderrLines(stderr: string): { logs: Array<Record<string, unknown>>; text: string[] } {
  const logs: Array<Record<string, unknown>> = [];
  const text: string[] = [];
  for (const line of stderr.split('\n').filter((l) => l !== '')) {
    if (line.startsWith('{')) logs.push(JSON.parse(line) as Record<string, unknown>);
    else text.push(line);
  }
  return { logs, text };
}

function filterLog(stderr: string): Record<string, unknown> | undefined {
  return stderrLines(stderr).logs.find((l) => l.msg === 'outbound filter');
}

/** The signer certificate's e-mail address, as OpenSSL reads it from the signature (the throw-away root is not installed: -noverify). */
function signerOf(signed: Buffer): string {
  const certFile = path.join(dir, `signer-${Math.random().toString(36).slice(2)}.pem`);
  const verified = openssl(dir, ['cms', '-verify', '-noverify', '-signer', certFile], signed);
  expect(verified.stderr).toContain('Verification successful');
  return new X509Certificate(readFileSync(certFile)).subjectAltName ?? '';
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-outbound-'));
  policies = outboundPolicyDir();
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'master.key'), 'p'.repeat(44), { mode: 0o600 });
  config = path.join(dir, 'siegel.yaml');
  writeFileSync(config, `dataDir: data\ntrustAnchors: trust\nmasterKeyFile: master.key\npolicies: ${policies}\n`);
  const keystore = openKeystore(loadConfig({ file: config, env: {} }), {}, () => new Date());
  const root = await createRootCa({ subject: [['CN', 'Policy Test Root']], keySpec: 'p256' });
  for (const mailbox of ENROLLED) {
    const leaf = await issueMailbox(root, { subject: [['CN', mailbox]], email: mailbox, keySpec: 'p256' });
    await keystore.importIdentity({ mailbox, privateKey: leaf.privateKey, certificate: leaf.certificate, chain: [] }, new Date());
  }
  await keystore.close();
  const partner = await partnerPki();
  [rat, clear] = await Promise.all([correspondent(partner, dir, PARTNER_WITH_CERT, 'rsa2048'), correspondent(partner, dir, CLEAR_WITH_CERT, 'p256')]);
  const store = SqliteHarvestedStore.open(path.join(dir, 'data'));
  await harvestFrom(store, partner, rat, [CAP.gcm], new Date());
  await harvestFrom(store, partner, clear, [CAP.gcm], new Date());
  await store.close();
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(policies, { recursive: true, force: true });
});

describe('siegel outbound under policies', () => {
  it('encrypt: required with a known certificate: encrypted to it, signed inside, the rule in the log line', async () => {
    const result = await outbound(STAFF, [PARTNER_WITH_CERT]);
    expect(result.code).toBe(0);
    expect(headerBlock(result.stdout)).toMatch(/^Content-Type: application\/pkcs7-mime; smime-type=authEnveloped-data/im);
    const inner = decryptWith(dir, rat, result.stdout);
    expect(signerOf(inner)).toBe(`email:${STAFF}`);
    const log = filterLog(result.stderr);
    expect(log).toMatchObject({ actions: ['policy:rule', 'sign:signed', 'encrypt:encrypted'] });
    expect(log?.details).toMatchObject({ policy: { rule: RULES.partner, sign: 'if-enrolled', encrypt: 'required', onMissingCertificate: 'reject' }, encrypt: { rule: RULES.partner } });
  });

  it('encrypt: required without a certificate: exit 65, nothing written, the 550 5.7.1 reply naming recipient and rule on stderr', async () => {
    const result = await outbound(STAFF, [PARTNER_WITHOUT_CERT]);
    expect(result.code).toBe(EX_DATAERR);
    expect(result.stdout.length).toBe(0);
    expect(stderrLines(result.stderr).text).toEqual([`siegel outbound: 550 5.7.1 Policy requires encryption, no certificate for ${PARTNER_WITHOUT_CERT} (rule ${RULES.partner})`]);
  });

  it('onMissingCertificate: link with an unenrolled sender: the recipient gets an unsigned notice with the link instead of the message', async () => {
    const result = await outbound(TAX, [CITIZEN]);
    expect(result.code).toBe(0);
    const header = headerBlock(result.stdout);
    expect(header).toMatch(/^Subject: \[Sichere Nachricht\] Bescheid$/m);
    expect(header).toMatch(/^Content-Type: multipart\/alternative;/im);
    expect(result.stdout.toString('latin1')).toMatch(/http:\/\/127\.0\.0\.1:8080\/d\/[A-Za-z0-9_-]+/);
    expect(result.stdout.toString('latin1')).not.toContain('Rathaus');
    expect(filterLog(result.stderr)).toMatchObject({
      actions: ['policy:rule', 'offload:none', 'sign:no-identity', 'encrypt:link'],
      details: { encrypt: { rule: RULES.tax, without: 1, notice: 'no-identity' } },
    });
  });

  it('encrypt: never: signed but not encrypted, although the recipient\'s certificate is known', async () => {
    const result = await outbound(STAFF, [CLEAR_WITH_CERT]);
    expect(result.code).toBe(0);
    expect(headerBlock(result.stdout)).toMatch(/^Content-Type: multipart\/signed;/im);
    expect(signerOf(result.stdout)).toBe(`email:${STAFF}`);
    expect(filterLog(result.stderr)).toMatchObject({ actions: ['policy:rule', 'sign:signed', 'encrypt:policy-never'], details: { encrypt: { rule: RULES.clear } } });
  });

  it('sign: never: an enrolled sender\'s newsletter leaves byte for byte', async () => {
    const input = mail(NEWSLETTER, CITIZEN);
    const result = await outbound(NEWSLETTER, [CITIZEN], input);
    expect(result.code).toBe(0);
    expect(result.stdout.equals(input)).toBe(true);
    expect(filterLog(result.stderr)).toMatchObject({ actions: ['policy:rule', 'sign:policy-never', 'encrypt:no-certificate'], details: { sign: { rule: RULES.newsletter } } });
  });

  it('signAs: the clerk\'s mail is signed with the Poststelle\'s identity', async () => {
    const result = await outbound(CLERK, [CITIZEN]);
    expect(result.code).toBe(0);
    expect(signerOf(result.stdout)).toBe(`email:${POSTSTELLE}`);
    expect(filterLog(result.stderr)).toMatchObject({ details: { sign: { signer: POSTSTELLE, rule: RULES.clerk } } });
  });

  it('sign: always without an identity: exit 65 with 550 5.7.1 naming the sender', async () => {
    const result = await outbound(UNENROLLED, [CITIZEN]);
    expect(result.code).toBe(EX_DATAERR);
    expect(result.stdout.length).toBe(0);
    expect(stderrLines(result.stderr).text).toEqual([`siegel outbound: 550 5.7.1 Policy requires a signature, no signing identity for ${UNENROLLED} (rule ${RULES.jemand})`]);
  });

  it('the default policy for everybody else: today\'s behaviour (signed, plain without a certificate)', async () => {
    const result = await outbound(STAFF, [CITIZEN]);
    expect(result.code).toBe(0);
    expect(signerOf(result.stdout)).toBe(`email:${STAFF}`);
    expect(filterLog(result.stderr)).toMatchObject({ actions: ['policy:default', 'sign:signed', 'encrypt:no-certificate'], details: { policy: { rule: 'default' } } });
  });

  it('recipients under different policies: exit 65 and a message telling to split', async () => {
    const result = await outbound(STAFF, [PARTNER_WITH_CERT, CITIZEN]);
    expect(result.code).toBe(EX_DATAERR);
    expect(result.stdout.length).toBe(0);
    const [line] = stderrLines(result.stderr).text;
    expect(line).toContain(`${PARTNER_WITH_CERT} under rule "${RULES.partner}"`);
    expect(line).toContain(`${CITIZEN} under the default policy`);
    expect(line).toContain('split the message into one per policy');
  });
});

/**
 * `siegel policy check` and `siegel policy explain` as admins call them:
 * through the CLI, with a config file whose `policies` key is resolved
 * relative to the config file's directory.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli.js';
import { lines } from './policy-dir.js';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function siegel(argv: readonly string[]): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await main(argv, { stdin: new PassThrough(), stdout, stderr, env: {} });
  return { code, stdout: out, stderr: err };
}

/** A config dir with siegel.yaml (policies: rules, relative) and the given policy files. */
function setUp(files: Record<string, string>): { config: string; policies: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-cmd-'));
  const policies = path.join(dir, 'rules');
  mkdirSync(policies);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(policies, name), text);
  const config = path.join(dir, 'siegel.yaml');
  writeFileSync(config, lines('dataDir: data', 'trustAnchors: anchors', 'policies: rules', 'internalDomains: [stadt.example]'));
  return { config, policies };
}

const good = {
  '10-council.yaml': lines(
    'groups:',
    '  council: [anna@rat.example]',
    'rules:',
    '  - name: council',
    '    description: Council papers are confidential.',
    '    match:',
    '      direction: outbound',
    '      from: [ratsbuero@stadt.example]',
    '      to: [group:council]',
    '    sign: always',
    '    encrypt: required',
    '    onMissingCertificate: link',
  ),
  '20-inbound.yaml': lines('rules:', '  - name: partner-fail', '    match:', '      direction: inbound', "      from: ['*@partner.example']", '    onFail: quarantine'),
};

describe('siegel policy check', () => {
  it('prints the files with their rule counts and exits 0', async () => {
    const { config, policies } = setUp(good);
    const run = await siegel(['policy', 'check', '--config', config]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      lines(
        `${path.join(policies, '10-council.yaml')}: 1 rule(s), 1 group(s)`,
        `${path.join(policies, '20-inbound.yaml')}: 1 rule(s)`,
        `  outbound council (${path.join(policies, '10-council.yaml')}:4)`,
        `  inbound partner-fail (${path.join(policies, '20-inbound.yaml')}:2)`,
        `policy in ${policies} is valid: 2 rule(s) in 2 file(s)`,
      ),
    );
  });

  it('prints file:line: key: message for each problem and exits 1', async () => {
    const { config, policies } = setUp({ ...good, '30-bad.yaml': lines('rules:', '  - name: bad', '    match: { direction: outbound }', '    sign: sometimes', '    encrypt: yes') });
    const run = await siegel(['policy', 'check', '--config', config]);
    expect(run.code).toBe(1);
    const file = path.join(policies, '30-bad.yaml');
    expect(run.stderr).toBe(
      lines(
        `${file}:4: rules[0].sign: expected one of always, if-enrolled, never, got "sometimes"`,
        `${file}:5: rules[0].encrypt: expected one of never, opportunistic, required, got "yes"`,
        `policy in ${policies} is not valid: 2 problem(s)`,
      ),
    );
  });

  it('says so when the directory does not exist (the default applies) and exits 0', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-cmd-'));
    const config = path.join(dir, 'siegel.yaml');
    writeFileSync(config, lines('dataDir: data', 'trustAnchors: anchors'));
    const run = await siegel(['policy', 'check', '--config', config]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`no policy directory at ${path.join(dir, 'policies')}: every message gets the default decision\n`);
  });
});

describe('siegel policy explain', () => {
  it('shows the rule and the decision for each recipient, marking defaults', async () => {
    const { config, policies } = setUp(good);
    const run = await siegel(['policy', 'explain', '--config', config, '--from', 'ratsbuero@stadt.example', '--to', 'anna@rat.example', 'buerger@example.net']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      lines(
        'outbound mail from ratsbuero@stadt.example:',
        `anna@rat.example: rule "council" (${path.join(policies, '10-council.yaml')}:4) - Council papers are confidential.`,
        '  sign: always',
        '  encrypt: required',
        '  onMissingCertificate: link',
        '  largeFiles: threshold 10MB, expiry 14d (default)',
        '  minRsaBits: 2048 (default)',
        '  contentEncryption: auto (default)',
        'buerger@example.net: no rule matched, default decision',
        '  sign: if-enrolled (default)',
        '  encrypt: opportunistic (default)',
        '  onMissingCertificate: reject (default)',
        '  largeFiles: threshold 10MB, expiry 14d (default)',
        '  minRsaBits: 2048 (default)',
        '  contentEncryption: auto (default)',
      ),
    );
  });

  it('explains inbound mail and writes JSON with --json', async () => {
    const { config, policies } = setUp(good);
    const run = await siegel(['policy', 'explain', '--config', config, '--direction', 'in', '--from', 'x@partner.example', '--to', 'amt@stadt.example', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      direction: 'inbound',
      from: 'x@partner.example',
      recipients: [
        {
          recipient: 'amt@stadt.example',
          rule: { name: 'partner-fail', file: path.join(policies, '20-inbound.yaml'), line: 2 },
          decision: { subjectTags: {}, onFail: 'quarantine', minRsaBits: 2048 },
          fromRule: ['onFail'],
        },
      ],
    });
  });

  it('refuses to explain with a broken policy or a bad direction', async () => {
    const { config } = setUp({ 'a.yaml': lines('rules:', '  - name: x') });
    const broken = await siegel(['policy', 'explain', '--config', config, '--from', 'a@stadt.example', '--to', 'b@example.net']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('a.yaml:2: rules[0].match: missing (required)');
    const badDirection = await siegel(['policy', 'explain', '--config', config, '--direction', 'sideways', '--from', 'a@stadt.example', '--to', 'b@example.net']);
    expect(badDirection.code).toBe(2);
    expect(badDirection.stderr).toContain('sideways');
  });
});

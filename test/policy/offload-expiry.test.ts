/**
 * A rule's largeFiles through `siegel outbound` (src/cli.ts main, in
 * process): its threshold (below the configured one) decides which
 * attachment is offloaded and its expiry is the lifetime of the link,
 * capped by the configured largeFiles.maxExpiry as every share is. The
 * clock is fixed, so the share's expiry is exact.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { runSiegel, type CliResult } from '../cli/run-siegel.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { openTransferService } from '../../src/transfer/open.js';
import { mixedMessage, sha256 } from '../pipeline/offload-messages.js';
import { lines, policyDir } from './policy-dir.js';

const SHORT = 'bauamt@stadt.example';
const LONG = 'archiv@stadt.example';
const CITIZEN = 'buerger@example.org';
const AT = new Date('2026-11-23T09:00:00Z');
const DAY = 86_400_000;

let dir: string;
let policies: string;
let configFile: string;

async function outbound(from: string, input: Buffer): Promise<CliResult> {
  return runSiegel(['outbound', '--config', configFile, '--from', from, '--to', CITIZEN], { stdin: input, env: { SIEGEL_LOG__LEVEL: 'info' }, now: AT });
}

/** The message's text with quoted-printable soft breaks undone (the note is ASCII but for umlauts). */
function unfolded(message: Buffer): string {
  return message.toString('latin1').replace(/=\r?\n/g, '');
}

/** The link's token in the offload note. */
function linkToken(message: Buffer): string {
  const link = /https:\/\/dateien\.stadt\.example\/d\/([A-Za-z0-9_-]+)/.exec(unfolded(message));
  expect(link).not.toBeNull();
  return link?.[1] ?? '';
}

function filterLog(stderr: string): Record<string, unknown> | undefined {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'outbound filter');
}

/** The share behind a link, as the exchange reports it. */
async function shareOf(token: string): Promise<{ expiresAt: Date; sha256: string; size: number }> {
  const transfer = openTransferService(loadConfig({ file: configFile, env: {} }), { logger: createLogger('error', new PassThrough()), now: () => AT });
  try {
    const download = await transfer.download(token, {});
    expect(download.status).toBe('ok');
    if (download.status !== 'ok') throw new Error(`download: ${download.status}`);
    download.stream.destroy();
    return { expiresAt: download.info.expiresAt, sha256: download.info.sha256, size: download.info.size };
  } finally {
    await transfer.close();
  }
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-offload-'));
  policies = policyDir({
    '10-files.yaml': lines(
      'rules:',
      '  - name: building plans expire soon',
      `    match: { direction: outbound, from: [${SHORT}] }`,
      '    largeFiles: { threshold: 1KB, expiry: 2d }',
      '  - name: archive wants a year',
      `    match: { direction: outbound, from: [${LONG}] }`,
      '    largeFiles: { threshold: 1KB, expiry: 365d }',
    ),
  });
  mkdirSync(path.join(dir, 'trust'));
  writeFileSync(path.join(dir, 'master.key'), 'o'.repeat(44), { mode: 0o600 });
  configFile = path.join(dir, 'siegel.yaml');
  // The configured threshold (10 MB default) is far above the attachment: only the rule makes it large.
  writeFileSync(
    configFile,
    `dataDir: data\ntrustAnchors: trust\nmasterKeyFile: master.key\npolicies: ${policies}\ninternalDomains: [stadt.example]\nweb:\n  publicUrl: https://dateien.stadt.example\nlargeFiles:\n  maxExpiry: 90d\n`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(policies, { recursive: true, force: true });
});

describe('a rule\'s largeFiles', () => {
  it('offloads an attachment above the rule\'s threshold with the rule\'s expiry', async () => {
    const content = randomBytes(4096);
    const input = mixedMessage({ from: SHORT, to: CITIZEN, attachments: [{ name: 'plan.pdf', content, contentType: 'application/pdf' }] });
    const result = await outbound(SHORT, input);
    expect(result.stderr).not.toMatch(/siegel outbound:/);
    expect(result.code).toBe(0);
    expect(filterLog(result.stderr)).toMatchObject({ actions: ['policy:rule', 'offload:offloaded', 'sign:no-identity', 'encrypt:no-certificate'], details: { offload: { attachments: 1, bytes: 4096 } } });
    // The attachment is gone from the message, the note names the link.
    expect(result.stdout.toString('latin1')).not.toContain(content.toString('base64').slice(0, 76));
    const share = await shareOf(linkToken(result.stdout));
    expect(share).toEqual({ expiresAt: new Date(AT.getTime() + 2 * DAY), sha256: sha256(content), size: 4096 });
    // The note tells the recipient the same date.
    expect(unfolded(result.stdout)).toContain('2026-11-25 09:00 UTC');
  });

  it('caps a rule\'s expiry beyond largeFiles.maxExpiry at the maximum', async () => {
    const content = randomBytes(2048);
    const result = await outbound(LONG, mixedMessage({ from: LONG, to: CITIZEN, attachments: [{ name: 'akte.pdf', content, contentType: 'application/pdf' }] }));
    expect(result.code).toBe(0);
    expect(filterLog(result.stderr)).toMatchObject({ actions: expect.arrayContaining(['offload:offloaded']) as unknown });
    const share = await shareOf(linkToken(result.stdout));
    expect(share.expiresAt).toEqual(new Date(AT.getTime() + 90 * DAY));
    expect(share.sha256).toBe(sha256(content));
  });
});

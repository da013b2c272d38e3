/**
 * Policies in a running `siegel serve` (in-process, real SMTP client and
 * next hop): a broken policy fails the start naming file and line; SIGHUP
 * and an edited file reload it for the next message on the same
 * connection-less gateway; a broken reload keeps the last good policy and
 * says why in a warning naming file, line and key.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startServer, type ServeHandle } from '../../src/commands/serve.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { captureLogger, sendMail, startFakeNextHop, tempDir, type FakeNextHop } from '../smtp/helpers.js';
import { lines } from './policy-dir.js';

const SENDER = 'info@partner.example';
const RECIPIENT = 'poststelle@stadt.example';

let dir: string;
let hop: FakeNextHop;
let server: ServeHandle | undefined;
let log: ReturnType<typeof captureLogger>;
let config: Config;

const policyFile = () => path.join(dir, 'policies', '50-inbound.yaml');
const tagRule = (name: string, tag: string) =>
  lines('rules:', `  - name: ${name}`, '    match:', '      direction: inbound', `      to: ['*@stadt.example']`, '    subjectTags:', `      none: '${tag}'`);

function unsigned(subject: string): Buffer {
  return Buffer.from([`From: Partner <${SENDER}>`, `To: ${RECIPIENT}`, `Subject: ${subject}`, 'MIME-Version: 1.0', 'Content-Type: text/plain', '', 'Guten Tag.', ''].join('\r\n'));
}

/** Sends one unsigned message and returns the Subject the internal server got. */
async function subjectDelivered(subject: string): Promise<string> {
  const before = hop.received.length;
  const outcome = await sendMail(server!.ports.inbound, { from: SENDER, to: [RECIPIENT], raw: unsigned(subject) });
  expect(outcome.response).toMatch(/^250/);
  expect(hop.received).toHaveLength(before + 1);
  const match = /^Subject: (.*)$/m.exec(hop.received[before]?.raw.toString('utf8') ?? '');
  return match?.[1]?.trim() ?? '';
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

const lineFor = (msg: string) => log.lines().filter((l) => l.msg === msg);

beforeAll(async () => {
  dir = tempDir('siegel-policy-serve-');
  hop = await startFakeNextHop();
  mkdirSync(path.join(dir, 'trust'));
  mkdirSync(path.join(dir, 'policies'));
  writeFileSync(path.join(dir, 'master.key'), 'p'.repeat(44), { mode: 0o600 });
  const smtp = ['smtp:', '  submission:', '    listen: 127.0.0.1:0', `    relay: ${hop.url}`, '  inbound:', '    listen: 127.0.0.1:0', `    relay: ${hop.url}`];
  writeFileSync(path.join(dir, 'siegel.yaml'), ['dataDir: data', 'trustAnchors: trust', 'masterKeyFile: master.key', 'internalDomains: [stadt.example]', ...smtp, ''].join('\n'));
  const loaded = loadConfig({ file: path.join(dir, 'siegel.yaml'), env: {} });
  config = { ...loaded, web: { ...loaded.web, listen: { host: '127.0.0.1', port: 0 } } };
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await hop?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const start = async () => {
  log = captureLogger();
  return startServer({ config, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, logger: log.logger, now: () => new Date() });
};

test('a broken policy fails the start, naming file, line and key', async () => {
  writeFileSync(policyFile(), lines('rules:', '  - name: broken', '    match: { direction: inbound }', '    onFail: drop'));
  await expect(start()).rejects.toThrow(`${policyFile()}:4: rules[0].onFail: expected one of tag, quarantine, reject, got "drop"`);
});

test('SIGHUP reloads: the next message gets the new rule; a broken file keeps the last good one and logs why', async () => {
  writeFileSync(policyFile(), tagRule('first', '[eins]'));
  server = await start();
  expect(lineFor('policies loaded')[0]).toMatchObject({ rules: 1, files: 1, watching: true });
  expect(await subjectDelivered('Antrag A')).toBe('[eins] Antrag A');

  writeFileSync(policyFile(), tagRule('second', '[zwei]'));
  process.emit('SIGHUP', 'SIGHUP');
  expect(lineFor('policies reloaded').at(-1)).toMatchObject({ rules: 1 });
  expect(await subjectDelivered('Antrag B')).toBe('[zwei] Antrag B');
  const relayed = lineFor('message relayed').at(-1);
  expect(relayed?.actions).toContain('policy:tag');
  expect(relayed?.details).toMatchObject({ policy: { rule: 'second', file: policyFile(), line: 2 } });

  writeFileSync(policyFile(), tagRule('third', '[drei]').replace('none:', 'nothing:'));
  process.emit('SIGHUP', 'SIGHUP');
  const warning = log.lines().filter((l) => l.level === 'warn' && l.msg === 'policy reload failed, the last good policy stays in force').at(-1);
  expect(warning).toMatchObject({ file: policyFile(), line: 7, policyKey: 'rules[0].subjectTags.nothing', rulesInForce: 1 });
  expect(String(warning?.problem)).toContain('nothing');
  expect(await subjectDelivered('Antrag C')).toBe('[zwei] Antrag C');
}, 60_000);

test('an edited file is reloaded by the watcher, without a signal', async () => {
  const reloads = lineFor('policies reloaded').length;
  writeFileSync(policyFile(), tagRule('watched', '[beobachtet]'));
  await until(() => lineFor('policies reloaded').length > reloads, 'the watcher to reload');
  expect(await subjectDelivered('Antrag D')).toBe('[beobachtet] Antrag D');
}, 60_000);

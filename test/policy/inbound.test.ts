/**
 * Inbound policy decisions, through `siegel inbound` and through a real
 * `siegel serve` inbound listener: a rule's subject tags override the
 * configured ones; onFail tag / quarantine / reject for a `fail` (reject
 * answers 550 5.7.7 and delivers nothing, quarantine puts the message with
 * its verdict into the quarantine Maildir instead of the next hop); other
 * verdicts are never rejected; recipients of different rules are split at
 * RCPT time; the rule and action are in the message's log line.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { startServer, type ServeHandle } from '../../src/commands/serve.js';
import { loadConfig } from '../../src/config/load.js';
import { addressing, bodyEntity, createGateway, header, inboundFixtures, opensslSigned, PARTNER, removeInboundFixtures, verdictOf, type Gateway, type InboundFixtures } from '../inbound/fixtures.js';
import { captureLogger, sendMail, startFakeNextHop, type FakeNextHop } from '../smtp/helpers.js';
import { lines } from './policy-dir.js';

const CLERK = 'poststelle@stadt.example';
const REVIEWED = 'bauamt@stadt.example';
const OTHER = 'kasse@stadt.example';

let f: InboundFixtures;
let gw: Gateway;

const rules = lines(
  'rules:',
  '  - name: partner-reject',
  '    match:',
  '      direction: inbound',
  "      from: ['*@partner.example']",
  `      to: [${CLERK}]`,
  '    onFail: reject',
  '    subjectTags:',
  "      pass: '[Partner geprueft]'",
  '  - name: bauamt-quarantine',
  '    match:',
  '      direction: inbound',
  `      to: [${REVIEWED}]`,
  '    onFail: quarantine',
);

function tampered(to: string): Buffer {
  const signed = opensslSigned(f, f.signers.rsa2048, bodyEntity('Betrag: 100 EUR\r\n'), { to: addressing(PARTNER, 'Rechnung', to) });
  return Buffer.from(signed.toString('latin1').replace('Betrag: 100 EUR', 'Betrag: 900 EUR'), 'latin1');
}

function quarantined(): Buffer[] {
  const dir = path.join(gw.config.dataDir, 'mail', 'quarantine', 'new');
  try {
    return readdirSync(dir).map((name) => readFileSync(path.join(dir, name)));
  } catch {
    return [];
  }
}

beforeAll(async () => {
  f = await inboundFixtures();
  gw = await createGateway(f, ['inbound:', '  subjectTags:', '    fail: "[Signatur ungueltig]"', '    pass: "[Signatur geprueft]"'].join('\n'));
  mkdirSync(gw.config.policies, { recursive: true });
  writeFileSync(path.join(gw.config.policies, '50-inbound.yaml'), rules);
}, 60_000);

afterAll(async () => {
  gw?.remove();
  await removeInboundFixtures();
});

describe('siegel inbound', () => {
  test('no rule: a fail is delivered with the configured tag (onFail: tag, the default)', async () => {
    const other = await gw.inbound(tampered(OTHER));
    expect(other.status).toBe(0);
    expect(verdictOf(other.out).result).toBe('fail');
    expect(header(other.out, 'Subject')).toEqual(['[Signatur ungueltig] Rechnung']);
  });

  test('onFail: reject exits 65 with the 550 5.7.7 reply naming the rule, and writes nothing', async () => {
    const result = await gw.inbound(tampered(CLERK));
    expect(result.status).toBe(65);
    expect(result.out).toHaveLength(0);
    expect(result.stderr).toMatch(/^siegel inbound: 550 5\.7\.7 Message rejected: its S\/MIME signature does not verify: policy rule "partner-reject" rejects messages whose signature fails \(digest-mismatch\)/);
  });

  test('onFail: reject lets a valid signature through with the rule\'s tags', async () => {
    const result = await gw.inbound(opensslSigned(f, f.signers.rsa2048, bodyEntity(), { to: addressing(PARTNER, 'Antrag', CLERK) }));
    expect(result.status).toBe(0);
    expect(verdictOf(result.out).result).toBe('pass');
    // The rule's pass tag overrides the configured one.
    expect(header(result.out, 'Subject')).toEqual(['[Partner geprueft] Antrag']);
  });

  test('onFail: quarantine puts the message with its verdict into the quarantine Maildir, nothing on stdout', async () => {
    const before = quarantined().length;
    const result = await gw.inbound(tampered(REVIEWED));
    expect(result.status).toBe(0);
    expect(result.out).toHaveLength(0);
    expect(result.stderr).toContain('quarantined to maildir:');
    const stored = quarantined();
    expect(stored).toHaveLength(before + 1);
    expect(verdictOf(stored.at(-1) ?? Buffer.alloc(0))).toMatchObject({ result: 'fail', reason: 'digest-mismatch' });
  });
});

describe('siegel serve', () => {
  let hop: FakeNextHop;
  let server: ServeHandle;
  let log: ReturnType<typeof captureLogger>;

  beforeAll(async () => {
    hop = await startFakeNextHop();
    const smtp = ['smtp:', '  submission:', '    listen: 127.0.0.1:0', `    relay: ${hop.url}`, '  inbound:', '    listen: 127.0.0.1:0', `    relay: ${hop.url}`];
    writeFileSync(gw.configFile, `${readFileSync(gw.configFile, 'utf8')}${smtp.join('\n')}\n`);
    const loaded = loadConfig({ file: gw.configFile, env: {} });
    log = captureLogger();
    server = await startServer({ config: { ...loaded, web: { ...loaded.web, listen: { host: '127.0.0.1', port: 0 } } }, stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, logger: log.logger, now: () => new Date('2027-01-01T00:00:00Z') });
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await hop?.stop();
  });

  const lastLine = (msg: string) => log.lines().filter((l) => l.msg === msg).at(-1);

  test('onFail: reject answers 550 5.7.7 at DATA and delivers nothing; the log names the rule', async () => {
    const before = hop.received.length;
    const outcome = await sendMail(server.ports.inbound, { from: PARTNER, to: [CLERK], raw: tampered(CLERK) });
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toMatch(/^550 5\.7\.7 Message rejected/);
    expect(hop.received).toHaveLength(before);
    expect(String(lastLine('message rejected')?.error)).toContain('policy rule "partner-reject"');
  });

  test('onFail: quarantine delivers to the quarantine Maildir, not the next hop, and logs it', async () => {
    const before = { hop: hop.received.length, quarantine: quarantined().length };
    const outcome = await sendMail(server.ports.inbound, { from: PARTNER, to: [REVIEWED], raw: tampered(REVIEWED) });
    expect(outcome.response).toMatch(/^250/);
    expect(hop.received).toHaveLength(before.hop);
    expect(quarantined()).toHaveLength(before.quarantine + 1);
    expect(verdictOf(quarantined().at(-1) ?? Buffer.alloc(0)).result).toBe('fail');
    const relayed = lastLine('message relayed');
    expect(relayed?.actions).toContain('policy:quarantine');
    expect(relayed?.details).toMatchObject({ policy: { rule: 'bauamt-quarantine', line: 10 } });
    expect(lastLine('message quarantined: its signature failed')).toMatchObject({ recipients: [REVIEWED] });
  });

  test('recipients of different rules go in separate transactions (452 4.5.3), each with its own decision', async () => {
    const before = hop.received.length;
    const first = await sendMail(server.ports.inbound, { from: PARTNER, to: [OTHER, CLERK], raw: tampered(OTHER) });
    expect(first.response).toMatch(/^250/);
    expect(first.rejected).toEqual([CLERK]);
    // The default decision for OTHER: delivered, tagged.
    expect(hop.received).toHaveLength(before + 1);
    expect(hop.received[before]?.rcptTo).toEqual([OTHER]);
    expect(verdictOf(hop.received[before]?.raw ?? Buffer.alloc(0)).result).toBe('fail');
    expect(lastLine('message relayed')?.details).toMatchObject({ policy: { rule: 'default' } });
    // CLERK's rule rejects the same failed message.
    const second = await sendMail(server.ports.inbound, { from: PARTNER, to: [CLERK], raw: tampered(OTHER) });
    expect(second.response).toMatch(/^550 5\.7\.7/);
    expect(hop.received).toHaveLength(before + 1);
  });
});

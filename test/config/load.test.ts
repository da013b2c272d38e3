/**
 * Configuration loading (src/config/load.ts, schema.ts, units.ts): the
 * contract of DESIGN.md ("a file with only dataDir and trustAnchors is a
 * valid config"), the key-path error messages, SIEGEL_* overrides, and that
 * docs/configuration.md and the schema describe the same keys.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { loadConfig } from '../../src/config/load.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { formatSize, parseDuration, parseSize } from '../../src/config/units.js';
import { SiegelError } from '../../src/errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const docsFile = path.join(here, '..', '..', 'docs', 'configuration.md');

const MINIMAL = 'dataDir: data\ntrustAnchors: anchors\n';

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'siegel-config-'));
}

/** Writes `text` as siegel.yaml in a fresh directory (or `dir`) and returns its path. */
function configFile(text: string, dir = tempDir()): string {
  const file = path.join(dir, 'siegel.yaml');
  writeFileSync(file, text);
  return file;
}

/** Loads a config from YAML text with an empty environment unless one is given. */
function load(text: string, env: NodeJS.ProcessEnv = {}): Config {
  return loadConfig({ file: configFile(text), env });
}

/** The SiegelError a load throws; fails the test when it loads. */
function loadError(options: Parameters<typeof loadConfig>[0]): SiegelError {
  let caught: unknown;
  try {
    loadConfig(options);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SiegelError);
  const error = caught as SiegelError;
  expect(error.code).toBe('CONFIG_INVALID');
  return error;
}

function errorFor(text: string, env: NodeJS.ProcessEnv = {}): string {
  return loadError({ file: configFile(text), env }).message;
}

describe('loadConfig: defaults', () => {
  it('accepts a file with only dataDir and trustAnchors and fills in the documented defaults', () => {
    const dir = tempDir();
    const file = configFile(MINIMAL, dir);
    const config = loadConfig({ file, env: {} });

    expect(config.dataDir).toBe(path.join(dir, 'data'));
    expect(config.trustAnchors).toBe(path.join(dir, 'anchors'));
    expect(config.masterKeyFile).toBeUndefined();
    expect(config.internalDomains).toEqual([]);
    expect(config.log.level).toBe('info');
    expect(typeof config.hostname).toBe('string');
    expect(config.authservId).toBe(config.hostname);

    const { submission, inbound } = config.smtp;
    expect(submission.listen).toEqual({ host: '127.0.0.1', port: 10587 });
    expect(inbound.listen).toEqual({ host: '127.0.0.1', port: 10025 });
    for (const listener of [submission, inbound]) {
      expect(listener.clientNetworks).toEqual(['127.0.0.0/8', '::1/128']);
      expect(listener.maxMessageSize).toBe(52_428_800);
      expect(listener.maxRecipients).toBe(100);
      expect(listener.maxConnections).toBe(100);
      expect(listener.socketTimeout).toBe(300_000);
      expect(listener.requireTls).toBe(false);
      expect(listener.tls).toBeUndefined();
      expect(listener.auth).toEqual({ required: false, credentialsFile: undefined });
      expect(listener.nextHop).toEqual({
        requireTls: false,
        verifyCertificate: true,
        timeout: 120_000,
        caFile: undefined,
        passwordFile: undefined,
      });
    }
    // maildir: relays are resolved against dataDir, not the config directory.
    expect(submission.relay).toBe(`maildir:${path.join(dir, 'data', 'mail', 'outbound')}`);
    expect(inbound.relay).toBe(`maildir:${path.join(dir, 'data', 'mail', 'inbound')}`);

    expect(config.signing).toEqual({ enabled: true, mode: 'multipart', opaqueFor: [], includeChain: true });
    expect(config.web).toEqual({ listen: { host: '127.0.0.1', port: 8080 }, publicUrl: 'http://127.0.0.1:8080', trustProxy: false, sessionLifetime: 8 * 3_600_000, signInLinkLifetime: 15 * 60_000, metricsNetworks: ['127.0.0.0/8', '::1/128'] });
    expect(config.largeFiles.threshold).toBe(10 * 1024 * 1024);
    expect(config.limits).toEqual({ mimeDepth: 50, mimeParts: 10_000, headerSize: 1_048_576 });
  });

  it('resolves relative paths against the config file directory, not the working directory', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'etc'));
    const file = configFile(
      [
        'dataDir: ../var/siegel',
        'trustAnchors: ./anchors',
        'masterKeyFile: secrets/master.key',
        'smtp:',
        '  submission:',
        '    relay: maildir:spool/out',
        '    tls: { cert: tls/cert.pem, key: tls/key.pem }',
        '    auth: { credentialsFile: users.txt }',
        '    nextHop: { caFile: ca.pem, passwordFile: hop.pass }',
        '  inbound:',
        '    relay: maildir:/srv/mail/in',
        '',
      ].join('\n'),
      path.join(dir, 'etc'),
    );
    const config = loadConfig({ file, env: {} });
    const etc = path.join(dir, 'etc');
    expect(config.dataDir).toBe(path.join(dir, 'var', 'siegel'));
    expect(config.trustAnchors).toBe(path.join(etc, 'anchors'));
    expect(config.masterKeyFile).toBe(path.join(etc, 'secrets', 'master.key'));
    expect(config.smtp.submission.relay).toBe(`maildir:${path.join(dir, 'var', 'siegel', 'spool', 'out')}`);
    expect(config.smtp.submission.tls).toEqual({ cert: path.join(etc, 'tls', 'cert.pem'), key: path.join(etc, 'tls', 'key.pem') });
    expect(config.smtp.submission.auth.credentialsFile).toBe(path.join(etc, 'users.txt'));
    expect(config.smtp.submission.nextHop.caFile).toBe(path.join(etc, 'ca.pem'));
    expect(config.smtp.submission.nextHop.passwordFile).toBe(path.join(etc, 'hop.pass'));
    expect(config.smtp.inbound.relay).toBe('maildir:/srv/mail/in');
  });

  it('keeps absolute paths and resolves built-in values against baseDir', () => {
    const config = loadConfig({ values: { dataDir: '/var/lib/siegel', trustAnchors: 'anchors' }, baseDir: '/etc/siegel', env: {} });
    expect(config.dataDir).toBe('/var/lib/siegel');
    expect(config.trustAnchors).toBe('/etc/siegel/anchors');
    expect(config.smtp.submission.relay).toBe('maildir:/var/lib/siegel/mail/outbound');
  });

  it('uses hostname as authserv-id unless authservId is set', () => {
    expect(load(`${MINIMAL}hostname: mx.stadt.example\n`).authservId).toBe('mx.stadt.example');
    const both = load(`${MINIMAL}hostname: mx.stadt.example\nauthservId: siegel.stadt.example\n`);
    expect(both.authservId).toBe('siegel.stadt.example');
    expect(both.hostname).toBe('mx.stadt.example');
  });
});

describe('loadConfig: sizes and durations', () => {
  it.each<[string | number, number]>([
    ['10MB', 10_485_760],
    ['512KB', 524_288],
    ['512k', 524_288],
    ['1GB', 1_073_741_824],
    ['1.5MB', 1_572_864],
    ['100 B', 100],
    [1048576, 1_048_576],
    ['1048576', 1_048_576],
  ])('size %p is %d bytes', (value, bytes) => {
    const config = load(`${MINIMAL}smtp:\n  submission:\n    maxMessageSize: ${JSON.stringify(value)}\nlargeFiles:\n  threshold: ${JSON.stringify(value)}\n`);
    expect(config.smtp.submission.maxMessageSize).toBe(bytes);
    expect(config.largeFiles.threshold).toBe(bytes);
  });

  it.each<[string | number, number]>([
    ['14d', 14 * 86_400_000],
    ['5m', 300_000],
    ['30s', 30_000],
    ['1h30m', 5_400_000],
    ['2w', 14 * 86_400_000],
    ['250ms', 250],
    [1500, 1500],
  ])('duration %p is %d ms', (value, ms) => {
    const config = load(`${MINIMAL}smtp:\n  inbound:\n    socketTimeout: ${JSON.stringify(value)}\n    nextHop:\n      timeout: ${JSON.stringify(value)}\n`);
    expect(config.smtp.inbound.socketTimeout).toBe(ms);
    expect(config.smtp.inbound.nextHop.timeout).toBe(ms);
  });

  it.each(['10XB', 'ten megabytes', '-5', '', '10MB5'])('rejects the size %p naming the key path and the expected form', (value) => {
    const message = errorFor(`${MINIMAL}smtp:\n  submission:\n    maxMessageSize: ${JSON.stringify(value)}\n`);
    expect(message).toContain('smtp.submission.maxMessageSize: expected a size like "10MB", "512KB" or a number of bytes');
    expect(message).toContain(JSON.stringify(value));
  });

  it('rejects a negative or fractional number of bytes', () => {
    expect(errorFor(`${MINIMAL}largeFiles:\n  threshold: -1\n`)).toContain('largeFiles.threshold: expected a size like');
    expect(errorFor(`${MINIMAL}limits:\n  headerSize: 1.5\n`)).toContain('limits.headerSize: expected a size like');
  });

  it.each(['14 days', '5', 'm5', '1h30', '-1s', ''])('rejects the duration %p naming the key path and the expected form', (value) => {
    const message = errorFor(`${MINIMAL}smtp:\n  inbound:\n    socketTimeout: ${JSON.stringify(value)}\n`);
    expect(message).toContain('smtp.inbound.socketTimeout: expected a duration like "30s", "5m", "14d" or milliseconds');
  });

  it('refuses timer durations a Node.js timer cannot hold (it would fire at once) and zero', () => {
    expect(errorFor(`${MINIMAL}smtp:\n  submission:\n    sessionTimeout: 30d\n`)).toContain('smtp.submission.sessionTimeout: must be at most 24.8 days');
    expect(errorFor(`${MINIMAL}smtp:\n  inbound:\n    socketTimeout: 0\n`)).toContain('smtp.inbound.socketTimeout: must be at least 1 ms');
    expect(errorFor(`${MINIMAL}smtp:\n  submission:\n    nextHop:\n      timeout: 25d\n`)).toContain('smtp.submission.nextHop.timeout: must be at most 24.8 days');
  });

  it('names the nested key path of a bad next-hop timeout', () => {
    expect(errorFor(`${MINIMAL}smtp:\n  submission:\n    nextHop:\n      timeout: soon\n`)).toContain(
      'smtp.submission.nextHop.timeout: expected a duration like',
    );
  });

  it('lists every bad key at once, with the file name', () => {
    const file = configFile(`${MINIMAL}largeFiles:\n  threshold: huge\nsmtp:\n  inbound:\n    listen: localhost\n`);
    const message = loadError({ file, env: {} }).message;
    expect(message).toContain(`invalid configuration (${file})`);
    expect(message).toContain('largeFiles.threshold: expected a size');
    expect(message).toContain('smtp.inbound.listen: expected "host:port" (e.g. "127.0.0.1:10587") or a port, got "localhost"');
  });
});

describe('units', () => {
  it('parses and formats sizes with binary multiples', () => {
    expect(parseSize('2MiB')).toBe(2 * 1024 * 1024);
    expect(parseSize(' 3 kb ')).toBe(3072);
    expect(parseSize(Number.MAX_SAFE_INTEGER + 2)).toBeUndefined();
    expect(parseSize('99999999999999999GB')).toBeUndefined();
    expect(formatSize(52_428_800)).toBe('50MB');
    expect(formatSize(1024)).toBe('1KB');
    expect(formatSize(1_073_741_824)).toBe('1GB');
    expect(formatSize(1000)).toBe('1000B');
  });

  it('parses durations with combined units', () => {
    expect(parseDuration('1d 2h')).toBe(93_600_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('5M')).toBe(300_000);
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(parseDuration('   ')).toBeUndefined();
  });
});

describe('loadConfig: listen addresses and relays', () => {
  it.each<[string, { host: string; port: number }]>([
    ['"[::1]:25"', { host: '::1', port: 25 }],
    ['"[2001:db8::1]:587"', { host: '2001:db8::1', port: 587 }],
    ['"2525"', { host: '127.0.0.1', port: 2525 }],
    ['2525', { host: '127.0.0.1', port: 2525 }],
    ['0.0.0.0:587', { host: '0.0.0.0', port: 587 }],
    ['mail.stadt.example:25', { host: 'mail.stadt.example', port: 25 }],
  ])('accepts listen %s', (value, expected) => {
    expect(load(`${MINIMAL}smtp:\n  submission:\n    listen: ${value}\n`).smtp.submission.listen).toEqual(expected);
  });

  it.each(['localhost', '::1:25', '127.0.0.1:65536', '127.0.0.1:', ':25', '[::1]'])('rejects listen %p naming the key', (value) => {
    expect(errorFor(`${MINIMAL}web:\n  listen: ${JSON.stringify(value)}\n`)).toContain(
      `web.listen: expected "host:port" (e.g. "127.0.0.1:10587") or a port, got ${JSON.stringify(value)}`,
    );
  });

  it.each(['smtp://relay.stadt.example:25', 'smtps://relay.stadt.example:465', 'smtp://[::1]:2525', 'maildir:/var/mail/out'])(
    'accepts relay %p',
    (relay) => {
      expect(load(`${MINIMAL}smtp:\n  submission:\n    relay: ${JSON.stringify(relay)}\n`).smtp.submission.relay).toBe(relay);
    },
  );

  it.each(['http://relay.stadt.example', 'smtp://', 'maildir:', 'relay.stadt.example:25', 'lmtp://x:24'])('rejects relay %p naming the key', (relay) => {
    expect(errorFor(`${MINIMAL}smtp:\n  inbound:\n    relay: ${JSON.stringify(relay)}\n`)).toContain(
      'smtp.inbound.relay: expected "smtp://host:port", "smtps://host:port" or "maildir:PATH"',
    );
  });

  it.each(['smtp://relay:secret@mail.stadt.example:25', 'smtps://user@mail.stadt.example:465'])('rejects credentials in relay %p', (relay) => {
    const error = errorFor(`${MINIMAL}smtp:\n  submission:\n    relay: ${JSON.stringify(relay)}\n`);
    expect(error).toContain('smtp.submission.relay: no user or password in the relay URL: use nextHop.user and nextHop.passwordFile');
    expect(error).not.toContain('secret');
  });

  it('checks client networks', () => {
    const config = load(`${MINIMAL}smtp:\n  submission:\n    clientNetworks: [10.0.0.0/8, "fd00::/8", 192.0.2.7]\n`);
    expect(config.smtp.submission.clientNetworks).toEqual(['10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
    expect(errorFor(`${MINIMAL}smtp:\n  submission:\n    clientNetworks: [intranet]\n`)).toContain(
      'smtp.submission.clientNetworks.0: expected an IP address or network',
    );
  });
});

describe('loadConfig: invalid files', () => {
  it('rejects unknown keys, naming them and where they are', () => {
    expect(errorFor(`${MINIMAL}dataDirectory: /x\n`)).toContain('(top level): unknown key(s) "dataDirectory"');
    expect(errorFor(`${MINIMAL}smtp:\n  submission:\n    port: 25\n`)).toContain('smtp.submission: unknown key(s) "port"');
    expect(errorFor(`${MINIMAL}smtp:\n  submission:\n    nextHop:\n      password: secret\n`)).toContain(
      'smtp.submission.nextHop: unknown key(s) "password"',
    );
    expect(errorFor(`${MINIMAL}smtp:\n  outbound: {}\n`)).toContain('smtp: unknown key(s) "outbound"');
  });

  it('names dataDir when it is missing, and trustAnchors too', () => {
    const message = errorFor('internalDomains: [stadt.example]\n');
    expect(message).toMatch(/^ {2}- dataDir: /m);
    expect(message).toMatch(/^ {2}- trustAnchors: /m);
    expect(errorFor('trustAnchors: anchors\n')).toMatch(/^ {2}- dataDir: /m);
    expect(errorFor('dataDir: ""\ntrustAnchors: anchors\n')).toMatch(/^ {2}- dataDir: /m);
  });

  it('treats an empty file as a file without keys', () => {
    expect(errorFor('')).toMatch(/^ {2}- dataDir: /m);
  });

  it('rejects values of the wrong type or outside the allowed set', () => {
    expect(errorFor(`${MINIMAL}signing:\n  mode: detached\n`)).toContain('signing.mode: ');
    expect(errorFor(`${MINIMAL}log:\n  level: verbose\n`)).toContain('log.level: ');
    expect(errorFor(`${MINIMAL}limits:\n  mimeDepth: 0\n`)).toContain('limits.mimeDepth: ');
    expect(errorFor(`${MINIMAL}internalDomains: stadt.example\n`)).toContain('internalDomains: ');
    expect(errorFor(`${MINIMAL}web:\n  publicUrl: not a url\n`)).toContain('web.publicUrl: ');
  });

  it('gives a clear error for invalid YAML', () => {
    const file = configFile('dataDir: [unclosed\ntrustAnchors: anchors\n');
    const error = loadError({ file, env: {} });
    expect(error.message).toContain(`config file ${file} is not valid YAML`);
  });

  it('gives a clear error for YAML that is not a mapping', () => {
    for (const text of ['- dataDir\n- trustAnchors\n', 'just a string\n']) {
      const file = configFile(text);
      expect(loadError({ file, env: {} }).message).toBe(`config file ${file} must be a YAML mapping of keys`);
    }
  });

  it('gives a clear error for a missing or unreadable file', () => {
    const dir = tempDir();
    const missing = path.join(dir, 'nope.yaml');
    expect(loadError({ file: missing, env: {} }).message).toBe(`cannot read config file ${missing}: ENOENT`);
    expect(loadError({ file: dir, env: {} }).message).toBe(`cannot read config file ${dir}: EISDIR`);
  });
});

describe('loadConfig: SIEGEL_* environment', () => {
  it('overrides the file with SIEGEL_* variables', () => {
    const config = load(`${MINIMAL}internalDomains: [old.example]\nsmtp:\n  submission:\n    listen: 127.0.0.1:10587\n    maxRecipients: 7\n`, {
      SIEGEL_DATA_DIR: '/var/lib/siegel',
      SIEGEL_SMTP__SUBMISSION__LISTEN: '0.0.0.0:2525',
      SIEGEL_INTERNAL_DOMAINS: '[a.example, b.example]',
      SIEGEL_LIMITS__MIME_DEPTH: '5',
      SIEGEL_SIGNING__ENABLED: 'false',
      SIEGEL_SMTP__INBOUND__NEXT_HOP__TIMEOUT: '30s',
    });
    expect(config.dataDir).toBe('/var/lib/siegel');
    expect(config.smtp.submission.listen).toEqual({ host: '0.0.0.0', port: 2525 });
    // Keys the environment does not name keep the file's value.
    expect(config.smtp.submission.maxRecipients).toBe(7);
    expect(config.internalDomains).toEqual(['a.example', 'b.example']);
    expect(config.limits.mimeDepth).toBe(5);
    expect(config.signing.enabled).toBe(false);
    expect(config.smtp.inbound.nextHop.timeout).toBe(30_000);
    // The maildir relay follows the overridden data dir.
    expect(config.smtp.submission.relay).toBe('maildir:/var/lib/siegel/mail/outbound');
  });

  it('can supply required keys that the file lacks', () => {
    const config = load('trustAnchors: anchors\n', { SIEGEL_DATA_DIR: '/srv/siegel' });
    expect(config.dataDir).toBe('/srv/siegel');
  });

  it('names the key path of a bad environment value', () => {
    expect(errorFor(MINIMAL, { SIEGEL_SMTP__SUBMISSION__MAX_MESSAGE_SIZE: 'lots' })).toContain(
      'smtp.submission.maxMessageSize: expected a size like',
    );
    expect(errorFor(MINIMAL, { SIEGEL_SMTP__SUBMISSION__LISTENN: '25' })).toContain('smtp.submission: unknown key(s) "listenn"');
  });

  it('ignores variables that are not SIEGEL_*', () => {
    expect(load(MINIMAL, { DATA_DIR: '/x', siegel_data_dir: '/y', HOME: '/root' }).dataDir).not.toMatch(/^\/[xy]$/);
  });

  it('does not treat SIEGEL_MASTER_KEY as a config key', () => {
    const config = load(MINIMAL, { SIEGEL_MASTER_KEY: 'k'.repeat(44) });
    expect(config).not.toHaveProperty('masterKey');
    expect(config.masterKeyFile).toBeUndefined();
  });

  it('does not treat the CLI variables SIEGEL_CONFIG and SIEGEL_P12_PASSPHRASE as config keys', () => {
    // The Docker image sets SIEGEL_CONFIG; enroll import reads SIEGEL_P12_PASSPHRASE.
    const config = load(MINIMAL, { SIEGEL_CONFIG: '/etc/siegel/siegel.yaml', SIEGEL_P12_PASSPHRASE: 'Amt-PIN 0815' });
    expect(config).not.toHaveProperty('config');
    expect(config).not.toHaveProperty('p12Passphrase');
  });
});

// ---------------------------------------------------------------------------
// docs/configuration.md and the schema must describe the same keys.

/** The documented keys of one markdown table, following the `### heading` or `## heading` given. */
function tableRows(markdown: string, heading: string): Array<{ keys: string[]; defaultCell: string }> {
  const start = markdown.split('\n').findIndex((line) => line.trim() === heading);
  if (start < 0) throw new Error(`heading ${heading} not found in docs/configuration.md`);
  const rows: Array<{ keys: string[]; defaultCell: string }> = [];
  let inTable = false;
  for (const line of markdown.split('\n').slice(start + 1)) {
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const first = cells[0] ?? '';
    if (first === 'key' || /^-+$/.test(first)) continue;
    const keys = [...first.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
    rows.push({ keys, defaultCell: cells[1] ?? '' });
  }
  return rows;
}

type AnySchema = z.core.$ZodType;

/** The object shape under optional/default/prefault wrappers, if the schema is an object. */
function shapeOf(schema: AnySchema): Record<string, AnySchema> | undefined {
  let current: AnySchema = schema;
  for (;;) {
    if (current instanceof z.ZodObject) return current.shape as Record<string, AnySchema>;
    const def = current._zod.def as { innerType?: AnySchema };
    if (!def.innerType) return undefined;
    current = def.innerType;
  }
}

/** Every key path of the schema: objects (e.g. `smtp.submission`) and leaves. */
function schemaPaths(schema: AnySchema, prefix = ''): Array<{ path: string; leaf: boolean }> {
  const shape = shapeOf(schema);
  if (!shape) return [];
  return Object.entries(shape).flatMap(([key, child]) => {
    const p = prefix ? `${prefix}.${key}` : key;
    const nested = schemaPaths(child, p);
    return [{ path: p, leaf: nested.length === 0 }, ...nested];
  });
}

function valueAt(config: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((node, key) => (typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined), config);
}

function withValueAt(dotted: string, value: unknown): Record<string, unknown> {
  return dotted
    .split('.')
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

describe('docs/configuration.md matches the schema', () => {
  const markdown = readFileSync(docsFile, 'utf8');
  const mainRows = tableRows(markdown, '## Keys');
  const listenerRows = tableRows(markdown, '### Listener keys (`smtp.submission.*`, `smtp.inbound.*`)');
  const listeners = ['smtp.submission', 'smtp.inbound'] as const;
  const documented = [
    ...mainRows.flatMap((row) => row.keys),
    ...listenerRows.flatMap((row) => row.keys.flatMap((key) => listeners.map((l) => `${l}.${key}`))),
  ];
  const paths = schemaPaths(configSchema);

  it('finds both tables', () => {
    expect(mainRows.length).toBeGreaterThan(10);
    expect(listenerRows.length).toBeGreaterThan(10);
    expect(documented).toContain('dataDir');
    expect(documented).toContain('smtp.inbound.nextHop.passwordFile');
    expect(documented).toContain('smtp.submission.tls.key');
  });

  it('documents only keys the schema has', () => {
    const known = new Set(paths.map((p) => p.path));
    expect(documented.filter((key) => !known.has(key))).toEqual([]);
  });

  it('documents every key the schema has', () => {
    const docs = new Set(documented);
    expect(paths.filter((p) => p.leaf && !docs.has(p.path)).map((p) => p.path)).toEqual([]);
  });

  it('gives each documented key a value in a config parsed with defaults, unless it is documented without one', () => {
    const config = loadConfig({ values: { dataDir: '/d', trustAnchors: '/t' }, env: {} });
    const noDefault = (cell: string) => cell === '—' || cell === '(required)';
    const rows = [
      ...mainRows.map((row) => ({ keys: row.keys, defaultCell: row.defaultCell })),
      ...listenerRows.map((row) => ({ keys: row.keys.flatMap((k) => listeners.map((l) => `${l}.${k}`)), defaultCell: row.defaultCell })),
    ];
    const missing = rows.filter((row) => !noDefault(row.defaultCell)).flatMap((row) => row.keys.filter((key) => valueAt(config, key) === undefined));
    expect(missing).toEqual([]);
  });

  it('states the defaults the schema applies', () => {
    const base = loadConfig({ values: { dataDir: '/d', trustAnchors: '/t' }, env: {} });
    const checked: string[] = [];
    const mismatches: string[] = [];
    const compare = (key: string, literal: string) => {
      const config = loadConfig({ values: { dataDir: '/d', trustAnchors: '/t', ...withValueAt(key, parseYaml(literal)) }, env: {} });
      checked.push(key);
      if (JSON.stringify(valueAt(config, key)) !== JSON.stringify(valueAt(base, key))) {
        mismatches.push(`${key}: documented ${literal}, schema default ${JSON.stringify(valueAt(base, key))}`);
      }
    };
    // authservId's documented default names another key, not a literal.
    for (const row of mainRows.filter((r) => r.keys.length === 1 && r.keys[0] !== 'authservId')) {
      const literal = /^`([^`]+)`$/.exec(row.defaultCell)?.[1];
      if (literal !== undefined) compare(row.keys[0] ?? '', literal);
    }
    for (const row of listenerRows.filter((r) => r.keys.length === 1)) {
      const literals = [...row.defaultCell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
      if (literals.length === 1) for (const l of listeners) compare(`${l}.${row.keys[0] ?? ''}`, literals[0] ?? '');
      // Two values: the first is the submission listener's, the second the inbound one's.
      if (literals.length === 2) listeners.forEach((l, i) => compare(`${l}.${row.keys[0] ?? ''}`, literals[i] ?? ''));
    }
    expect(mismatches).toEqual([]);
    expect(checked).toEqual(
      expect.arrayContaining(['log.level', 'largeFiles.threshold', 'limits.headerSize', 'smtp.submission.listen', 'smtp.inbound.relay', 'smtp.inbound.maxMessageSize']),
    );
  });
});

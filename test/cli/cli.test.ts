/**
 * The `siegel` command as users and scripts call it: `main(argv, io)` in
 * process with fake stdin/stdout/stderr, and once the shipped entry point
 * bin/siegel.js as a child process.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';
import { verifyPassword } from '../../src/smtp/credentials.js';
import { ExitCode } from '../../src/commands/context.js';
import { EX_DATAERR, EX_TEMPFAIL } from '../../src/commands/outbound.js';
import { createRootCa, issueCa, issueMailbox, type Issued } from '../../src/pki/generate.js';
import { toPem } from '../../src/pki/pem.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const node = path.join(root, 'node_modules', '.bin', 'node');

const MAILBOX = 'poststelle@stadt.example';
const DAY = 86_400_000;

interface CliResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Collects everything written to a PassThrough until it ends. */
function collect(stream: PassThrough): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** Runs `siegel ARGV` in process. The environment is exactly `env` (never the test runner's). */
async function siegel(argv: readonly string[], options: { stdin?: Buffer | string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  stdin.end(options.stdin ?? '');
  const code = await main(argv, { stdin, stdout, stderr, env: options.env ?? {} });
  stdout.end();
  stderr.end();
  return { code, stdout: await out, stderr: (await err).toString('utf8') };
}

function message(from: string, to = 'buerger@example.org', extraHeaders = ''): Buffer {
  return Buffer.from(
    `From: Poststelle <${from}>\r\nTo: <${to}>\r\nSubject: Bescheid =?UTF-8?Q?=C3=BCber?= Antrag\r\n${extraHeaders}Date: Mon, 04 May 2026 10:00:00 +0200\r\n` +
      `Message-ID: <cli-test@stadt.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n` +
      `Sehr geehrte Damen und Herren,\r\n\r\nGrüße aus dem Rathaus.\r\n`,
    'utf8',
  );
}

/** A message from the enrolled mailbox nested `levels` multiparts deep. */
function nestedMessage(levels: number): Buffer {
  let open = `From: ${MAILBOX}\r\nTo: buerger@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n`;
  let close = '';
  for (let i = 0; i < levels; i++) {
    open += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    close = `\r\n--b${i}--\r\n${close}`;
  }
  return Buffer.from(`${open}Content-Type: text/plain\r\n\r\ninnermost\r\n${close}`);
}

/** `openssl cms -verify` against our root only, as a recipient's client would. */
function opensslVerify(signed: Buffer): { status: number | null; stderr: string; content: Buffer } {
  const result = spawnSync('openssl', ['cms', '-verify', '-CAfile', files.root, '-purpose', 'smimesign'], { input: signed });
  return { status: result.status, stderr: result.stderr.toString(), content: result.stdout };
}

function headerBlock(raw: Buffer): string {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return end < 0 ? text : text.slice(0, end);
}

/** A port on 127.0.0.1 that nobody listens on (right now). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface Files {
  dir: string;
  config: string;
  root: string;
  cert: string;
  key: string;
  chain: string;
}

let files: Files;

function writeConfig(name: string, extra = ''): string {
  const file = path.join(files.dir, name);
  writeFileSync(file, `dataDir: data\ntrustAnchors: anchors\nmasterKeyFile: master.key\n${extra}`);
  return file;
}

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'siegel-cli-'));
  const notBefore = new Date(Date.now() - DAY);
  const notAfter = new Date(Date.now() + 365 * DAY);
  const rootCa = await createRootCa({ subject: [['C', 'DE'], ['O', 'CLI-Test-PKI'], ['CN', 'CLI Test Root']], keySpec: 'p256', notBefore, notAfter });
  const ca = await issueCa(rootCa, { subject: [['C', 'DE'], ['O', 'CLI-Test-PKI'], ['CN', 'CLI Test Issuing CA']], keySpec: 'p256', notBefore, notAfter });
  const leaf: Issued = await issueMailbox(ca, {
    subject: [['C', 'DE'], ['O', 'Stadt'], ['CN', 'Poststelle']],
    email: MAILBOX,
    keySpec: 'p256',
    notBefore,
    notAfter,
  });
  mkdirSync(path.join(dir, 'anchors'));
  const rootPem = toPem('CERTIFICATE', rootCa.certificate);
  writeFileSync(path.join(dir, 'anchors', 'root.pem'), rootPem);
  writeFileSync(path.join(dir, 'root.pem'), rootPem);
  writeFileSync(path.join(dir, 'master.key'), 'Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OWFiY2RlZmdoaWo=', { mode: 0o600 });
  writeFileSync(path.join(dir, 'mailbox.crt'), toPem('CERTIFICATE', leaf.certificate));
  writeFileSync(path.join(dir, 'mailbox.key'), leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(path.join(dir, 'chain.pem'), toPem('CERTIFICATE', ca.certificate) + rootPem);
  files = {
    dir,
    config: path.join(dir, 'siegel.yaml'),
    root: path.join(dir, 'root.pem'),
    cert: path.join(dir, 'mailbox.crt'),
    key: path.join(dir, 'mailbox.key'),
    chain: path.join(dir, 'chain.pem'),
  };
  writeConfig('siegel.yaml');

  // Every test below needs the enrolled mailbox; this is the enroll test.
  const enrolled = await siegel(['enroll', 'import', '--config', files.config, '--mailbox', MAILBOX, '--cert', files.cert, '--key', files.key, '--chain', files.chain]);
  expect(enrolled.stderr).toBe('');
  expect(enrolled.code).toBe(ExitCode.ok);
  expect(enrolled.stdout.toString()).toMatch(new RegExp(`^Enrolled ${MAILBOX} \\(both\\)\\n`));
});

describe('siegel enroll import / certs list', () => {
  it('lists the mailbox enrolled with enroll import', async () => {
    const result = await siegel(['certs', 'list', '--config', files.config]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(ExitCode.ok);
    const lines = result.stdout.toString().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^MAILBOX\s+ROLE\s+STATE/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(new RegExp(`^${MAILBOX}\\s+both\\s+`));
    expect(lines[1]).toContain('CN=Poststelle');
  });

  it('lists as JSON with --json', async () => {
    const result = await siegel(['certs', 'list', '--config', files.config, '--json']);
    expect(result.code).toBe(ExitCode.ok);
    const listing = JSON.parse(result.stdout.toString()) as Array<{ mailbox: string; daysLeft: number | null }>;
    expect(listing.map((l) => l.mailbox)).toEqual([MAILBOX]);
    expect(listing[0]?.daysLeft).toBeGreaterThan(300);
  });

  it('shows an address with certs show, and lists no harvested certificates yet', async () => {
    const show = await siegel(['certs', 'show', MAILBOX, '--config', files.config]);
    expect(show.code).toBe(ExitCode.ok);
    expect(show.stdout.toString()).toContain(`Address: ${MAILBOX}`);
    expect(show.stdout.toString()).toContain('Enrolled identities (own mailbox): 1');
    const harvested = await siegel(['certs', 'list', '--harvested', '--config', files.config]);
    expect(harvested.code).toBe(ExitCode.ok);
    expect(harvested.stdout.toString()).toContain('No certificates harvested yet');
  });

  it('says "Already enrolled" on a second import and exits 0', async () => {
    const again = await siegel(['enroll', 'import', '--config', files.config, '--mailbox', MAILBOX, '--cert', files.cert, '--key', files.key, '--chain', files.chain]);
    expect(again.code).toBe(ExitCode.ok);
    expect(again.stdout.toString()).toMatch(/^Already enrolled: /);
  });

  it('finds the config through SIEGEL_CONFIG', async () => {
    const result = await siegel(['certs', 'list'], { env: { SIEGEL_CONFIG: files.config } });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(ExitCode.ok);
    expect(result.stdout.toString()).toContain(MAILBOX);
  });
});

describe('siegel outbound', () => {
  it('signs mail from an enrolled mailbox so that OpenSSL verifies it against the root', async () => {
    const input = message(MAILBOX);
    const result = await siegel(['outbound', '--config', files.config], { stdin: input });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const header = headerBlock(result.stdout);
    expect(header).toMatch(/^Content-Type: multipart\/signed;[^]*protocol="application\/pkcs7-signature"/im);
    expect(header).toContain('Subject: Bescheid =?UTF-8?Q?=C3=BCber?= Antrag');
    expect(header).toContain('Message-ID: <cli-test@stadt.example>');
    const verified = opensslVerify(result.stdout);
    expect(verified.stderr).toContain('Verification successful');
    expect(verified.status).toBe(0);
    // 8bit is converted to quoted-printable before signing (RFC 8551 section 3.1.2).
    expect(verified.content.toString('latin1')).toContain('Content-Transfer-Encoding: quoted-printable');
    expect(verified.content.toString('latin1')).toContain('Gr=C3=BC=C3=9Fe aus dem Rathaus.');
  });

  it('writes mail from a sender without identity unchanged, byte for byte', async () => {
    // Bare LF, 8-bit bytes and no final line end: nothing may be normalised.
    const input = Buffer.concat([message('jemand@stadt.example'), Buffer.from('Zeile mit LF\nund \xff\xfe Bytes', 'latin1')]);
    const result = await siegel(['outbound', '--config', files.config], { stdin: input });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.equals(input)).toBe(true);
  });

  it('takes the envelope from --from and --to instead of the headers', async () => {
    // The outbound log line shows the envelope; --to decides the signature
    // form for recipients listed in signing.opaqueFor.
    const config = writeConfig('opaque-for.yaml', 'signing:\n  opaqueFor: [partner.example]\n');
    const env = { SIEGEL_LOG__LEVEL: 'info' };
    const input = message(MAILBOX, 'buerger@example.org');

    const byHeaders = await siegel(['outbound', '--config', config], { stdin: input, env });
    expect(byHeaders.code).toBe(0);
    const headerLog = JSON.parse(byHeaders.stderr.trim().split('\n').at(-1) ?? '{}') as { msg?: string; from?: string; to?: string[] };
    expect(headerLog).toMatchObject({ msg: 'outbound filter', from: MAILBOX, to: ['buerger@example.org'], actions: ['sign:signed', 'encrypt:no-certificate'] });
    expect(headerBlock(byHeaders.stdout)).toMatch(/^Content-Type: multipart\/signed/im);

    const overridden = await siegel(['outbound', '--config', config, '--from', 'bounces@stadt.example', '--to', 'a@partner.example', 'b@example.org'], {
      stdin: input,
      env,
    });
    expect(overridden.code).toBe(0);
    const log = JSON.parse(overridden.stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(log).toMatchObject({ msg: 'outbound filter', from: 'bounces@stadt.example', to: ['a@partner.example', 'b@example.org'], actions: ['sign:signed-opaque', 'encrypt:no-certificate'] });
    // The signer is still the From header's mailbox; the envelope recipient made it opaque.
    expect(headerBlock(overridden.stdout)).toMatch(/^Content-Type: application\/pkcs7-mime;[^]*smime-type=signed-data/im);
    const verified = opensslVerify(overridden.stdout);
    expect(verified.stderr).toContain('Verification successful');
    // 8bit is converted to quoted-printable before signing (RFC 8551 section 3.1.2).
    expect(verified.content.toString('latin1')).toContain('Content-Transfer-Encoding: quoted-printable');
    expect(verified.content.toString('latin1')).toContain('Gr=C3=BC=C3=9Fe aus dem Rathaus.');
  });

  it('exits 65 (EX_DATAERR) and writes nothing for a message nested deeper than limits.mimeDepth', async () => {
    const config = writeConfig('shallow.yaml', 'limits:\n  mimeDepth: 3\n');
    const ok = await siegel(['outbound', '--config', config], { stdin: nestedMessage(3) });
    expect(ok.code).toBe(0);
    expect(opensslVerify(ok.stdout).status).toBe(0);

    const result = await siegel(['outbound', '--config', config], { stdin: nestedMessage(5) });
    expect(result.code).toBe(EX_DATAERR);
    expect(result.code).toBe(65);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toBe('siegel outbound: MIME nesting deeper than 3\n');
  });

  it('exits 75 (EX_TEMPFAIL) and writes nothing when the master key is missing or unreadable', async () => {
    const missing = path.join(files.dir, 'no-master-key.yaml');
    writeFileSync(missing, 'dataDir: data\ntrustAnchors: anchors\n');
    const noKey = await siegel(['outbound', '--config', missing], { stdin: message(MAILBOX) });
    expect(noKey.code).toBe(EX_TEMPFAIL);
    expect(noKey.stdout.length).toBe(0);
    expect(noKey.stderr).toMatch(/^siegel outbound: .*no master key/);

    const unreadable = path.join(files.dir, 'unreadable-master-key.yaml');
    writeFileSync(unreadable, 'dataDir: data\ntrustAnchors: anchors\nmasterKeyFile: gone.key\n');
    const badFile = await siegel(['outbound', '--config', unreadable], { stdin: message(MAILBOX) });
    expect(badFile.code).toBe(EX_TEMPFAIL);
    expect(badFile.stdout.length).toBe(0);
    expect(badFile.stderr).toBe(`siegel outbound: cannot read master key file ${path.join(files.dir, 'gone.key')}: ENOENT\n`);
  });

  it('exits 65 and writes nothing for a message larger than smtp.submission.maxMessageSize', async () => {
    const config = writeConfig('small.yaml', 'smtp:\n  submission:\n    maxMessageSize: 1KB\n');
    const input = Buffer.concat([message('jemand@stadt.example'), Buffer.alloc(2048, 'x')]);
    const result = await siegel(['outbound', '--config', config], { stdin: input });
    expect(result.code).toBe(65);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toBe('siegel outbound: input exceeds the limit of 1024 bytes\n');
  });
});

describe('siegel: configuration and usage errors', () => {
  it('exits non-zero naming the key path of a bad config value', async () => {
    const config = writeConfig('bad.yaml', 'smtp:\n  submission:\n    maxMessageSize: lots\n');
    const result = await siegel(['certs', 'list', '--config', config]);
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toContain(`siegel: invalid configuration (${config}):`);
    expect(result.stderr).toContain('smtp.submission.maxMessageSize: expected a size like "10MB"');
  });

  it('exits 78 (EX_CONFIG) from outbound when the config is broken, so an MTA defers the mail instead of bouncing it', async () => {
    const config = writeConfig('bad-outbound.yaml', 'smtp:\n  submission:\n    maxMessageSize: lots\n');
    const result = await siegel(['outbound', '--config', config], { stdin: 'From: a@example.org\r\n\r\nx\r\n' });
    expect(result.code).toBe(78);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toContain('siegel outbound: invalid configuration');
  });

  it('names a bad SIEGEL_* override the same way', async () => {
    const result = await siegel(['outbound', '--config', files.config], { stdin: message(MAILBOX), env: { SIEGEL_SMTP__SUBMISSION__LISTEN: 'localhost' } });
    expect(result.code).not.toBe(0);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toContain('smtp.submission.listen: expected "host:port"');
  });

  it('says "no configuration" without --config, SIEGEL_CONFIG or ./siegel.yaml', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'siegel-cli-cwd-'));
    const cwd = process.cwd();
    process.chdir(empty);
    try {
      const result = await siegel(['certs', 'list']);
      expect(result.code).toBe(ExitCode.failure);
      expect(result.stderr).toBe(
        'siegel: no configuration: pass --config FILE, set SIEGEL_CONFIG, put siegel.yaml in the current directory, or try --demo\n',
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it('uses ./siegel.yaml when no config is named', async () => {
    const cwd = process.cwd();
    process.chdir(files.dir);
    try {
      const result = await siegel(['certs', 'list']);
      expect(result.code).toBe(ExitCode.ok);
      expect(result.stdout.toString()).toContain(MAILBOX);
    } finally {
      process.chdir(cwd);
    }
  });

  it('prints help with --help and exits 0', async () => {
    const result = await siegel(['--help']);
    expect(result.code).toBe(0);
    const help = result.stdout.toString();
    expect(help).toContain('Usage: siegel');
    for (const command of ['serve', 'outbound', 'enroll', 'certs', 'health']) expect(help).toContain(command);

    const sub = await siegel(['outbound', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout.toString()).toContain('--from <addr>');
    expect(sub.stdout.toString()).toContain('--to <addr...>');
  });

  it('exits 2 for an unknown command or option', async () => {
    const unknown = await siegel(['frobnicate']);
    expect(unknown.code).toBe(ExitCode.usage);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");

    const option = await siegel(['outbound', '--config', files.config, '--bogus']);
    expect(option.code).toBe(ExitCode.usage);
    expect(option.stderr).toContain("unknown option '--bogus'");

    const missing = await siegel(['enroll', 'import', '--config', files.config]);
    expect(missing.code).toBe(ExitCode.usage);
    expect(missing.stderr).toContain("required option '--mailbox <addr>' not specified");
  });
});

describe('siegel passwd', () => {
  it('prints a credentials line that verifies, without any configuration', async () => {
    const result = await siegel(['passwd', '--user', 'scanner'], { stdin: 'geheim\n' });
    expect(result.code).toBe(0);
    const line = result.stdout.toString().trim();
    expect(line).toMatch(/^scanner:\$scrypt\$N=\d+,r=\d+,p=\d+\$/);
    const hash = line.slice('scanner:'.length);
    expect(await verifyPassword('geheim', hash)).toBe(true);
    expect(await verifyPassword('falsch', hash)).toBe(false);
  });
});

describe('siegel health', () => {
  it('exits 1 and names the part that does not answer', async () => {
    const port = await closedPort();
    const env = { SIEGEL_SMTP__SUBMISSION__LISTEN: `127.0.0.1:${port}`, SIEGEL_SMTP__INBOUND__LISTEN: `127.0.0.1:${port}`, SIEGEL_WEB__LISTEN: `127.0.0.1:${port}` };
    const result = await siegel(['health', '--config', files.config], { env });
    expect(result.code).toBe(1);
    expect(result.stdout.toString()).toBe(
      `not ok: no SMTP greeting from the submission listener on 127.0.0.1:${port}\n` +
        `not ok: no SMTP greeting from the inbound listener on 127.0.0.1:${port}\n` +
        `not ok: no HTTP answer from the web listener on 127.0.0.1:${port}\n`,
    );
  });

  it('exits 0 with "ok" for each part when both listeners greet with 220 and the web answers', async () => {
    const smtp = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.resume(); // read QUIT and the client's close, so server.close() can finish
      socket.end('220 test ESMTP\r\n');
    });
    const web = http.createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const portOf = (server: net.Server) => {
      const address = server.address();
      return address !== null && typeof address === 'object' ? address.port : 0;
    };
    try {
      const env = { SIEGEL_SMTP__SUBMISSION__LISTEN: String(portOf(smtp)), SIEGEL_SMTP__INBOUND__LISTEN: String(portOf(smtp)), SIEGEL_WEB__LISTEN: String(portOf(web)) };
      const result = await siegel(['health', '--config', files.config], { env });
      expect(result.stdout.toString()).toBe(
        `ok: submission listener on 127.0.0.1:${portOf(smtp)} answers\n` +
          `ok: inbound listener on 127.0.0.1:${portOf(smtp)} answers\n` +
          `ok: web listener on 127.0.0.1:${portOf(web)} answers\n`,
      );
      expect(result.code).toBe(0);
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      web.closeAllConnections();
      await new Promise<void>((resolve) => web.close(() => resolve()));
    }
  });
});

/** Newest modification time of the .ts files under src/ against dist/: rebuild only when stale. */
function distIsStale(): boolean {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      return entry.isDirectory() ? walk(full) : entry.name.endsWith('.ts') ? [full] : [];
    });
  const src = path.join(root, 'src');
  return walk(src).some((file) => {
    const built = path.join(root, 'dist', path.relative(src, file).replace(/\.ts$/, '.js'));
    try {
      return statSync(built).mtimeMs < statSync(file).mtimeMs;
    } catch {
      return true;
    }
  });
}

describe('bin/siegel.js (the shipped entry point)', () => {
  beforeAll(() => {
    // `npm test` builds first; rebuilding only when stale keeps this from
    // rewriting dist/ under other tests that run it (test/serve).
    if (!distIsStale()) return;
    const build = spawnSync(node, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root });
    if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout.toString()}${build.stderr.toString()}`);
  }, 180_000);

  it('runs outbound as a filter: signed message on stdout, exit 0', () => {
    const input = message(MAILBOX);
    const child = spawnSync(node, [path.join(root, 'bin', 'siegel.js'), 'outbound', '--config', files.config], {
      input,
      cwd: files.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: files.dir },
      timeout: 60_000,
    });
    expect(child.stderr.toString()).not.toMatch(/siegel( outbound)?:/);
    expect(child.status).toBe(0);
    expect(headerBlock(child.stdout)).toMatch(/^Content-Type: multipart\/signed/im);
    const verified = opensslVerify(child.stdout);
    expect(verified.stderr).toContain('Verification successful');
  });

  it('exits 2 for an unknown command', () => {
    const child = spawnSync(node, [path.join(root, 'bin', 'siegel.js'), 'frobnicate'], { cwd: files.dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    expect(child.status).toBe(2);
    expect(child.stderr.toString()).toContain("unknown command 'frobnicate'");
  });
});

import { writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { passwd } from '../../src/commands/passwd.js';
import type { CommandContext } from '../../src/commands/context.js';
import { silentLogger } from '../../src/log.js';
import { createCredentialStore, hashPassword, verifyPassword } from '../../src/smtp/credentials.js';
import { tempDir } from './helpers.js';

describe('password hashes', () => {
  it('round-trips and rejects wrong or malformed input', async () => {
    const encoded = await hashPassword('Korrekt Pferd Batterie');
    expect(encoded).toMatch(/^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(await verifyPassword('Korrekt Pferd Batterie', encoded)).toBe(true);
    expect(await verifyPassword('korrekt Pferd Batterie', encoded)).toBe(false);
    expect(await verifyPassword('x', '$scrypt$N=3,r=8,p=1$AAAA$AAAA')).toBe(false);
    expect(await hashPassword('a')).not.toBe(await hashPassword('a'));
  });

  it('refuses parameters that would let a file line exhaust memory', async () => {
    expect(await verifyPassword('x', `$scrypt$N=${2 ** 24},r=8,p=1$${'A'.repeat(24)}$${'A'.repeat(44)}`)).toBe(false);
  });
});

describe('credential store', () => {
  it('checks users, ignores malformed lines and reloads when the file changes or disappears', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'users');
    writeFileSync(file, ['# comment', '', `anna:${await hashPassword('eins')}`, 'kaputt', `bernd:${await hashPassword('zwei')}`].join('\n'));
    const store = createCredentialStore(file, silentLogger());
    await store.load();
    expect(await store.verify('anna', 'eins')).toBe(true);
    expect(await store.verify('bernd', 'zwei')).toBe(true);
    expect(await store.verify('anna', 'zwei')).toBe(false);
    expect(await store.verify('kaputt', '')).toBe(false);
    writeFileSync(file, `bernd:${await hashPassword('drei')}\n`);
    expect(await store.verify('anna', 'eins')).toBe(false);
    expect(await store.verify('bernd', 'drei')).toBe(true);
    rmSync(file);
    expect(await store.verify('bernd', 'drei')).toBe(false);
  });

  it('spends a scrypt on unknown users too', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'users');
    writeFileSync(file, `anna:${await hashPassword('eins')}\n`);
    const store = createCredentialStore(file, silentLogger());
    await store.load();
    const time = async (user: string) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < 3; i++) await store.verify(user, 'falsch');
      return Number(process.hrtime.bigint() - started) / 3e6;
    };
    const known = await time('anna');
    const unknown = await time('niemand');
    // Both cost one scrypt (tens of ms); an early return would take microseconds.
    expect(unknown).toBeGreaterThan(known * 0.5);
  });

  it('fails load() for an unreadable file', async () => {
    const store = createCredentialStore(path.join(tempDir(), 'dir-not-file'), silentLogger());
    await expect(store.load()).resolves.toBeUndefined(); // missing = no users
    const dirAsFile = createCredentialStore(tempDir(), silentLogger());
    await expect(dirAsFile.load()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('siegel passwd', () => {
  function context(input: string) {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdin.end(input);
    const out: string[] = [];
    const err: string[] = [];
    stdout.on('data', (d: Buffer) => out.push(d.toString()));
    stderr.on('data', (d: Buffer) => err.push(d.toString()));
    const ctx = { stdin, stdout, stderr, env: {}, logger: silentLogger(), now: () => new Date(), config: {} } as unknown as CommandContext;
    return { ctx, out: () => out.join(''), err: () => err.join('') };
  }

  it('prints a credentials line for the password on stdin', async () => {
    const run = context('mein geheimes Passwort\nnext line ignored\n');
    expect(await passwd(run.ctx, { user: 'poststelle' })).toBe(0);
    const line = run.out().trim();
    expect(line).toMatch(/^poststelle:\$scrypt\$/);
    expect(await verifyPassword('mein geheimes Passwort', line.slice('poststelle:'.length))).toBe(true);
    expect(run.out()).not.toContain('geheim');
  });

  it('refuses bad user names and empty passwords', async () => {
    expect(await passwd(context('pw\n').ctx, { user: 'a:b' })).toBe(2);
    expect(await passwd(context('\n').ctx, { user: 'anna' })).toBe(2);
  });
});

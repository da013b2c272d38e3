import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { SiegelError } from '../../src/errors.js';
import { MASTER_KEY_ENV, MasterKey, loadMasterKey } from '../../src/keystore/master-key.js';
import { tempDir } from '../pki/test-pki.js';

const dir = tempDir('siegel-master-');
const KEY = 'k'.repeat(31) + 'X';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SiegelError);
    expect((err as SiegelError).code).toBe('CONFIG_INVALID');
    return (err as SiegelError).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

describe('loadMasterKey', () => {
  it('reads a file without its line end and does not warn for mode 0600', () => {
    const file = path.join(dir, 'master.key');
    writeFileSync(file, `${KEY}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    const warnings: string[] = [];
    const key = loadMasterKey({ masterKeyFile: file }, {}, (m) => warnings.push(m));
    expect(key.id).toEqual(new MasterKey(Buffer.from(KEY), 'test').id);
    expect(warnings).toEqual([]);
  });

  it('warns when group or others may read the file', () => {
    const file = path.join(dir, 'open.key');
    writeFileSync(file, KEY);
    chmodSync(file, 0o640);
    const warnings: string[] = [];
    loadMasterKey({ masterKeyFile: file }, {}, (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringMatching(/mode 0640; it should be readable by its owner only \(chmod 600\)/)]);
  });

  it('reads the environment variable', () => {
    const key = loadMasterKey({}, { [MASTER_KEY_ENV]: KEY }, () => {});
    expect(key.source).toBe(MASTER_KEY_ENV);
  });

  it('says how to provide a key when there is none', () => {
    expect(configError(() => loadMasterKey({}, {}, () => {}))).toMatch(/no master key: set masterKeyFile .* or the environment variable SIEGEL_MASTER_KEY/);
  });

  it('refuses short keys, unreadable files and two sources', () => {
    expect(configError(() => loadMasterKey({}, { [MASTER_KEY_ENV]: 'short' }, () => {}))).toMatch(/is 5 bytes long; at least 32/);
    expect(configError(() => loadMasterKey({ masterKeyFile: path.join(dir, 'missing') }, {}, () => {}))).toMatch(/cannot read master key file .*ENOENT/);
    const file = path.join(dir, 'both.key');
    writeFileSync(file, KEY, { mode: 0o600 });
    expect(configError(() => loadMasterKey({ masterKeyFile: file }, { [MASTER_KEY_ENV]: KEY }, () => {}))).toMatch(/set only one/);
  });

  it('never shows the key in inspect or JSON', () => {
    const key = new MasterKey(Buffer.from(KEY), 'test');
    expect(inspect(key, { depth: 5 })).not.toContain(KEY);
    expect(JSON.stringify({ key })).not.toContain(KEY);
  });
});

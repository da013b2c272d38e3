import { generateKeyPairSync } from 'node:crypto';
import { SiegelError } from '../../src/errors.js';
import { decryptPrivateKey, encryptPrivateKey } from '../../src/keystore/key-encryption.js';
import { MasterKey } from '../../src/keystore/master-key.js';

const master = new MasterKey(Buffer.from('m'.repeat(48)), 'test');
const other = new MasterKey(Buffer.from('o'.repeat(48)), 'other');
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });

function unavailable(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SiegelError);
    expect((err as SiegelError).code).toBe('IDENTITY_UNAVAILABLE');
    return (err as SiegelError).message;
  }
  throw new Error('expected IDENTITY_UNAVAILABLE');
}

describe('key encryption at rest', () => {
  it('round-trips and never contains the plaintext', () => {
    const sealed = encryptPrivateKey(master, privateKey);
    expect(sealed[0]).toBe(1);
    expect(sealed.includes(pkcs8)).toBe(false);
    expect(sealed.includes(pkcs8.subarray(pkcs8.length - 32))).toBe(false);
    const opened = decryptPrivateKey(master, sealed, 'test');
    expect(opened.export({ type: 'pkcs8', format: 'der' }).equals(pkcs8)).toBe(true);
  });

  it('uses a fresh salt and IV each time', () => {
    expect(encryptPrivateKey(master, privateKey).equals(encryptPrivateKey(master, privateKey))).toBe(false);
  });

  it('tells a different master key apart from damage', () => {
    const sealed = encryptPrivateKey(master, privateKey);
    expect(unavailable(() => decryptPrivateKey(other, sealed, 'poststelle@x'))).toMatch(/poststelle@x was encrypted under another master key/);
    for (const offset of [12, 30, 40, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[offset] = (tampered[offset] ?? 0) ^ 0x01;
      expect(unavailable(() => decryptPrivateKey(master, tampered, 'x'))).toMatch(/fails its integrity check/);
    }
    expect(unavailable(() => decryptPrivateKey(master, Buffer.from([2, 0, 0]), 'x'))).toMatch(/unknown format/);
  });
});

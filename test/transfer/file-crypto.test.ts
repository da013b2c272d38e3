import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SiegelError } from '../../src/errors.js';
import { BlobCipher, HEADER_SIZE, TAG_SIZE, deriveFileKey, sealedLayout } from '../../src/transfer/file-crypto.js';
import { LocalBlobStore } from '../../src/transfer/local-blob-store.js';
import { LocalBlobPaths } from '../../src/transfer/local-blob-paths.js';
import { chunked, newId, newKey, temporaryDirectory } from './blob-test-helpers.js';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return error instanceof SiegelError ? error.code : 'not a SiegelError';
  }
}

/** An independent reader of the documented format: Python's `cryptography`, written from the header comment of file-crypto.ts. */
const PYTHON_READER = `
import sys, hmac, hashlib, struct
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
blob = open(sys.argv[1], 'rb').read(); key = bytes.fromhex(sys.argv[2])
h = blob[:68]
assert h[:4] == b'SGLB' and h[4] == 1
R = struct.unpack('>I', h[8:12])[0]
okm = HKDF(algorithm=hashes.SHA256(), length=96, salt=h[12:28], info=b'siegel/blob/v1').derive(key)
assert hmac.compare_digest(hmac.new(okm[64:], h[:36], hashlib.sha256).digest(), h[36:68])
body = blob[68:]; out = bytearray(); i = 0
while True:
    sealed = body[i * (R + 16):(i + 1) * (R + 16)]
    final = len(sealed) < R + 16
    aad = h + struct.pack('>Q', i) + (b'\\x01' if final else b'\\x00')
    out += AESGCM(okm[:32]).decrypt(h[28:36] + struct.pack('>I', i), sealed, aad)
    i += 1
    if final: break
print(len(out), hashlib.sha256(out).hexdigest())
`;

const PYTHON_HKDF = `
import sys, base64
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes
token = sys.argv[1]; secret = base64.urlsafe_b64decode(token + '=' * (-len(token) % 4))
print(HKDF(algorithm=hashes.SHA256(), length=32, salt=sys.argv[2].encode(), info=b'siegel/file-key/v1').derive(secret).hex())
`;

describe('deriveFileKey', () => {
  it('matches HKDF-SHA256 as computed by Python cryptography', () => {
    const token = randomBytes(32).toString('base64url');
    const fileId = newId();
    const expected = execFileSync('python3', ['-c', PYTHON_HKDF, token, fileId], { encoding: 'utf8' }).trim();
    expect(deriveFileKey(token, fileId).toString('hex')).toBe(expected);
  });

  it('gives each token and each file its own 32-byte key', () => {
    const token = randomBytes(32).toString('base64url');
    const key = deriveFileKey(token, 'file1');
    expect(key).toHaveLength(32);
    expect(deriveFileKey(token, 'file1').equals(key)).toBe(true);
    expect(deriveFileKey(token, 'file2').equals(key)).toBe(false);
    expect(deriveFileKey(randomBytes(32).toString('base64url'), 'file1').equals(key)).toBe(false);
  });
});

describe('blob format', () => {
  it('is readable by an independent implementation of the documented format', async () => {
    const directory = await temporaryDirectory('blob-format');
    try {
      for (const [recordSize, size] of [[64, 0], [64, 64], [64, 1000], [65_536, 3 * 65_536 + 9]] as const) {
        const store = new LocalBlobStore({ directory: join(directory.path, 'files'), minFreeSpace: 0, recordSize });
        const id = newId();
        const key = newKey();
        const result = await store.write(id, key, chunked(randomBytes(size), [333]), { maxBytes: size });
        const printed = execFileSync('python3', ['-c', PYTHON_READER, new LocalBlobPaths(join(directory.path, 'files')).sealed(id), key.toString('hex')], {
          encoding: 'utf8',
        }).trim();
        expect(printed).toBe(`${result.size} ${result.sha256}`);
      }
    } finally {
      await directory.cleanup();
    }
  });

  it('derives size and record count from the file length, refusing impossible lengths', () => {
    const R = 100;
    const sealed = (size: number) => HEADER_SIZE + Math.floor(size / R) * (R + TAG_SIZE) + (size % R) + TAG_SIZE;
    for (const size of [0, 1, R - 1, R, R + 1, 5 * R + 7]) {
      expect(sealedLayout(sealed(size), R)).toEqual({ size, records: Math.floor(size / R) + 1, finalLength: size % R });
    }
    for (const length of [0, HEADER_SIZE, HEADER_SIZE + TAG_SIZE - 1, HEADER_SIZE + TAG_SIZE + R, HEADER_SIZE + 2 * TAG_SIZE + R - 1]) {
      expect(codeOf(() => sealedLayout(length, R))).toBe('DECRYPTION_FAILED');
    }
  });

  it('binds each record to its index, its final flag and its blob', () => {
    const key = newKey();
    const cipher = BlobCipher.create(key, 64);
    const record = randomBytes(64);
    const sealed = cipher.sealRecord(3, false, record);
    expect(BlobCipher.open(key, cipher.header).openRecord(3, false, sealed).equals(record)).toBe(true);
    expect(codeOf(() => cipher.openRecord(4, false, sealed))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => cipher.openRecord(3, true, sealed))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => BlobCipher.create(key, 64).openRecord(3, false, sealed))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => BlobCipher.open(newKey(), cipher.header))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => cipher.sealRecord(0, true, randomBytes(64)))).toBe('INTERNAL');
    expect(codeOf(() => cipher.sealRecord(0, false, randomBytes(63)))).toBe('INTERNAL');
  });

  it('seals each tail rewrite under a fresh nonce, bound to its blob', () => {
    const key = newKey();
    const cipher = BlobCipher.create(key, 64);
    const tail = randomBytes(20);
    const first = cipher.sealTail(7, tail);
    const second = cipher.sealTail(7, tail);
    expect(first.equals(second)).toBe(false);
    expect(cipher.openTail(first)).toEqual({ index: 7, plaintext: tail });
    expect(cipher.openTail(second)).toEqual({ index: 7, plaintext: tail });
    expect(codeOf(() => BlobCipher.create(key, 64).openTail(first))).toBe('DECRYPTION_FAILED');
    const changedIndex = Buffer.from(first);
    changedIndex[15]! ^= 1;
    expect(codeOf(() => cipher.openTail(changedIndex))).toBe('DECRYPTION_FAILED');
  });

  it('refuses headers it cannot trust before deriving anything from them', () => {
    const key = newKey();
    const header = BlobCipher.create(key, 64).header;
    const oversized = Buffer.from(header);
    oversized.writeUInt32BE(1 << 30, 8);
    expect(codeOf(() => BlobCipher.open(key, oversized))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => BlobCipher.open(key, Buffer.from('not a blob')))).toBe('DECRYPTION_FAILED');
    expect(codeOf(() => BlobCipher.open(randomBytes(16), header))).toBe('INTERNAL');
  });
});

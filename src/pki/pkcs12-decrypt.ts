/**
 * Password-based decryption of PKCS#12 contents and shrouded key bags.
 *
 * - PBES2 (RFC 8018; OpenSSL 3, Python cryptography, newer Windows): PBKDF2
 *   and the CBC cipher via node:crypto. pkijs decrypts PBES2 only through
 *   WebCrypto, which has no 3DES, and PBES2 with des-ede3-cbc exists in the
 *   wild (Java keytool, `openssl -keypbe des3`).
 * - Legacy PKCS#12 PBE (RFC 7292 appendix C: SHA-1 + 3DES or RC2-40; Windows
 *   exports, `openssl -legacy`): node-forge, because Node's OpenSSL does not
 *   load the legacy provider that RC2 lives in. Only the cipher is used from
 *   forge; the decrypted bytes go back to pkijs and node:crypto, so key types
 *   forge cannot model (EC) still work.
 */
import { createDecipheriv, pbkdf2Sync } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import forge from 'node-forge';

/** Wrong passphrase (when there was no MAC to tell) or damaged data. */
export class DecryptionFailed extends Error {}
/** An algorithm Siegel does not read; `name` is for the admin. */
export class UnsupportedAlgorithm extends Error {}

const PBES2 = '1.2.840.113549.1.5.13';
const PBKDF2 = '1.2.840.113549.1.5.12';
const PKCS12_PBE_PREFIX = '1.2.840.113549.1.12.1.';

/** Untrusted files choose the iteration count; cap it so an import cannot hang the CLI. */
const MAX_PBKDF2_ITERATIONS = 10_000_000;
const MAX_PKCS12_PBE_ITERATIONS = 1_000_000;

const PBES2_CIPHERS: Record<string, { name: string; keyLength: number }> = {
  '2.16.840.1.101.3.4.1.2': { name: 'aes-128-cbc', keyLength: 16 },
  '2.16.840.1.101.3.4.1.22': { name: 'aes-192-cbc', keyLength: 24 },
  '2.16.840.1.101.3.4.1.42': { name: 'aes-256-cbc', keyLength: 32 },
  '1.2.840.113549.3.7': { name: 'des-ede3-cbc', keyLength: 24 },
};

const PBKDF2_PRFS: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

const LEGACY_NAMES: Record<string, string> = {
  '1': 'pbeWithSHAAnd128BitRC4',
  '2': 'pbeWithSHAAnd40BitRC4',
  '3': 'pbeWithSHAAnd3-KeyTripleDES-CBC',
  '4': 'pbeWithSHAAnd2-KeyTripleDES-CBC',
  '5': 'pbeWithSHAAnd128BitRC2-CBC',
  '6': 'pbeWithSHAAnd40BitRC2-CBC',
};
/** What node-forge implements of the list above. */
const LEGACY_SUPPORTED = new Set(['3', '6']);

/** forge's pbe module is not in @types/node-forge; this is the one function used. */
interface ForgePbe {
  pbe: { getCipher(oid: string, params: forge.asn1.Asn1, password: string): forge.cipher.BlockCipher };
}

export function decryptPbe(algorithm: pkijs.AlgorithmIdentifier, ciphertext: ArrayBuffer, passphrase: string): Buffer {
  const oid = algorithm.algorithmId;
  if (oid === PBES2) return decryptPbes2(algorithm, Buffer.from(ciphertext), passphrase);
  if (oid.startsWith(PKCS12_PBE_PREFIX)) return decryptLegacy(algorithm, Buffer.from(ciphertext), passphrase);
  throw new UnsupportedAlgorithm(`encryption algorithm ${oid}`);
}

function decryptPbes2(algorithm: pkijs.AlgorithmIdentifier, ciphertext: Buffer, passphrase: string): Buffer {
  let kdf: pkijs.PBKDF2Params;
  let scheme: pkijs.AlgorithmIdentifier;
  try {
    const params = new pkijs.PBES2Params({ schema: algorithm.algorithmParams });
    if (params.keyDerivationFunc.algorithmId !== PBKDF2) {
      throw new UnsupportedAlgorithm(`PBES2 key derivation ${params.keyDerivationFunc.algorithmId}`);
    }
    kdf = new pkijs.PBKDF2Params({ schema: params.keyDerivationFunc.algorithmParams });
    scheme = params.encryptionScheme;
  } catch (err) {
    if (err instanceof UnsupportedAlgorithm) throw err;
    throw new DecryptionFailed('malformed PBES2 parameters', { cause: err });
  }
  const cipher = PBES2_CIPHERS[scheme.algorithmId];
  if (!cipher) throw new UnsupportedAlgorithm(`PBES2 cipher ${scheme.algorithmId}`);
  const digest = kdf.prf ? PBKDF2_PRFS[kdf.prf.algorithmId] : 'sha1';
  if (!digest) throw new UnsupportedAlgorithm(`PBKDF2 PRF ${kdf.prf?.algorithmId ?? '?'}`);
  const salt: unknown = kdf.salt;
  const ivParam: unknown = scheme.algorithmParams;
  if (!(salt instanceof asn1js.OctetString) || !(ivParam instanceof asn1js.OctetString)) {
    throw new DecryptionFailed('malformed PBES2 salt or IV');
  }
  if (kdf.iterationCount < 1 || kdf.iterationCount > MAX_PBKDF2_ITERATIONS) {
    throw new DecryptionFailed(`PBKDF2 iteration count ${kdf.iterationCount} out of range`);
  }
  // RFC 8018 leaves the password encoding open; OpenSSL and Windows use UTF-8 here.
  const key = pbkdf2Sync(Buffer.from(passphrase, 'utf8'), salt.valueBlock.valueHexView, kdf.iterationCount, cipher.keyLength, digest);
  try {
    const decipher = createDecipheriv(cipher.name, key, ivParam.valueBlock.valueHexView);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch (err) {
    throw new DecryptionFailed('PBES2 decryption failed', { cause: err });
  }
}

function decryptLegacy(algorithm: pkijs.AlgorithmIdentifier, ciphertext: Buffer, passphrase: string): Buffer {
  const oid = algorithm.algorithmId;
  const arc = oid.slice(PKCS12_PBE_PREFIX.length);
  if (!LEGACY_SUPPORTED.has(arc)) throw new UnsupportedAlgorithm(LEGACY_NAMES[arc] ?? oid);
  const paramsDer = Buffer.from(algorithm.algorithmParams.toBER(false));
  checkLegacyIterations(paramsDer);
  let ok = false;
  let output = '';
  try {
    const params = forge.asn1.fromDer(forge.util.createBuffer(paramsDer.toString('binary')));
    const cipher = (forge.pki as unknown as ForgePbe).pbe.getCipher(oid, params, passphrase);
    cipher.update(forge.util.createBuffer(ciphertext.toString('binary')));
    ok = cipher.finish();
    output = cipher.output.getBytes();
  } catch (err) {
    throw new DecryptionFailed(`${LEGACY_NAMES[arc] ?? oid} decryption failed`, { cause: err });
  }
  // forge reports bad padding through finish(), not by throwing.
  if (!ok) throw new DecryptionFailed(`${LEGACY_NAMES[arc] ?? oid} decryption failed`);
  return Buffer.from(output, 'binary');
}

/** pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER } */
function checkLegacyIterations(paramsDer: Buffer): void {
  const parsed = asn1js.fromBER(paramsDer);
  const seq = parsed.result;
  const iterations = seq instanceof asn1js.Sequence ? seq.valueBlock.value[1] : undefined;
  if (!(iterations instanceof asn1js.Integer)) throw new DecryptionFailed('malformed PKCS#12 PBE parameters');
  const count = iterations.valueBlock.valueDec;
  if (count < 1 || count > MAX_PKCS12_PBE_ITERATIONS) {
    throw new DecryptionFailed(`PKCS#12 PBE iteration count ${count} out of range`);
  }
}

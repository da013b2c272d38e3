/**
 * PKCS#12 (RFC 7292) import: the main enrollment path, since the
 * Behörden-PKI delivers centrally generated keys as PKCS#12 with a PIN.
 * pkijs reads the structure and checks the MAC (SHA-1/SHA-2, which covers
 * modern and legacy files); pkcs12-decrypt.ts decrypts the bags.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { SiegelError } from '../errors.js';
import { arrayBufferOf } from './bytes.js';
import { assembleKeyMaterial, type KeyMaterial } from './key-material.js';
import { DecryptionFailed, UnsupportedAlgorithm, decryptPbe } from './pkcs12-decrypt.js';

export type { KeyMaterial } from './key-material.js';

const CT_DATA = '1.2.840.113549.1.7.1';
const CT_ENCRYPTED_DATA = '1.2.840.113549.1.7.6';
const CT_ENVELOPED_DATA = '1.2.840.113549.1.7.3';
const BAG_KEY = '1.2.840.113549.1.12.10.1.1';
const BAG_SHROUDED_KEY = '1.2.840.113549.1.12.10.1.2';
const BAG_CERT = '1.2.840.113549.1.12.10.1.3';
const BAG_SAFE_CONTENTS = '1.2.840.113549.1.12.10.1.6';
const CERT_X509 = '1.2.840.113549.1.9.22.1';
const MAC_DIGESTS = new Set(['1.3.14.3.2.26', '2.16.840.1.101.3.4.2.1', '2.16.840.1.101.3.4.2.2', '2.16.840.1.101.3.4.2.3']);

const WRONG_PASSPHRASE = 'wrong passphrase or damaged PKCS#12 file';

interface Collected {
  keys: Buffer[];
  certificates: Buffer[];
}

/** The one identity in a PKCS#12 file; a file with several keys is refused (see readPkcs12Identities). */
export async function readPkcs12(bytes: Buffer, passphrase: string): Promise<KeyMaterial> {
  const identities = await readPkcs12Identities(bytes, passphrase);
  if (identities.length > 1) {
    throw new SiegelError('ENROLL_REJECTED', `PKCS#12 file contains ${identities.length} private keys; export one mailbox identity per file`);
  }
  return identities[0] as KeyMaterial;
}

/**
 * Every key in a PKCS#12 file with its certificate and chain. Some PKIs and
 * Java keystores deliver a mailbox's signing and encryption keys in one file.
 */
export async function readPkcs12Identities(bytes: Buffer, passphrase: string): Promise<KeyMaterial[]> {
  const pfx = parsePfx(bytes);
  const hasMac = pfx.macData !== undefined;
  if (pfx.authSafe.contentType !== CT_DATA) {
    throw new SiegelError('ENROLL_REJECTED', 'PKCS#12 files in public-key integrity mode are not supported; export with a passphrase');
  }
  if (pfx.macData && !MAC_DIGESTS.has(pfx.macData.mac.digestAlgorithm.algorithmId)) {
    throw new SiegelError('ENROLL_REJECTED', `PKCS#12 MAC algorithm ${pfx.macData.mac.digestAlgorithm.algorithmId} is not supported`);
  }
  try {
    // The MAC is keyed with the same passphrase: a mismatch is the wrong-passphrase signal.
    await pfx.parseInternalValues({ password: arrayBufferOf(Buffer.from(passphrase, 'utf8')), checkIntegrity: hasMac });
  } catch (err) {
    throw new SiegelError('ENROLL_REJECTED', WRONG_PASSPHRASE, { cause: err });
  }
  const safe = pfx.parsedValue?.authenticatedSafe;
  if (!safe) throw new SiegelError('ENROLL_REJECTED', 'PKCS#12 file has no contents');
  const collected: Collected = { keys: [], certificates: [] };
  try {
    for (const content of safe.safeContents) collectBags(openContent(content, passphrase), passphrase, collected);
  } catch (err) {
    throw translate(err);
  }
  if (collected.keys.length === 0) {
    throw new SiegelError('ENROLL_REJECTED', 'PKCS#12 file contains no private key (exported without the key?)');
  }
  return collected.keys.map((key) => assembleKeyMaterial(toKeyObject(key), collected.certificates, 'PKCS#12 file'));
}

function parsePfx(bytes: Buffer): pkijs.PFX {
  try {
    return pkijs.PFX.fromBER(arrayBufferOf(bytes));
  } catch (err) {
    throw new SiegelError('ENROLL_REJECTED', 'not a PKCS#12 file (expected a .p12/.pfx file in DER form)', { cause: err });
  }
}

function openContent(content: pkijs.ContentInfo, passphrase: string): pkijs.SafeContents {
  switch (content.contentType) {
    case CT_DATA: {
      const octets: unknown = content.content;
      if (!(octets instanceof asn1js.OctetString)) throw new DecryptionFailed('malformed data content');
      return pkijs.SafeContents.fromBER(octets.getValue());
    }
    case CT_ENCRYPTED_DATA: {
      const encrypted = new pkijs.EncryptedData({ schema: content.content });
      const info = encrypted.encryptedContentInfo;
      const plain = decryptPbe(info.contentEncryptionAlgorithm, info.getEncryptedContent(), passphrase);
      return parseSafeContents(plain);
    }
    case CT_ENVELOPED_DATA:
      throw new SiegelError('ENROLL_REJECTED', 'PKCS#12 files encrypted to a certificate (public-key privacy mode) are not supported');
    default:
      throw new DecryptionFailed(`unknown content type ${content.contentType}`);
  }
}

/** Decrypted with a wrong key, this is where garbage shows up when there was no MAC. */
function parseSafeContents(plain: Buffer): pkijs.SafeContents {
  try {
    return pkijs.SafeContents.fromBER(arrayBufferOf(plain));
  } catch (err) {
    throw new DecryptionFailed('decrypted contents are not SafeContents', { cause: err });
  }
}

function collectBags(contents: pkijs.SafeContents, passphrase: string, out: Collected): void {
  for (const bag of contents.safeBags) {
    const value: unknown = bag.bagValue;
    switch (bag.bagId) {
      case BAG_KEY:
        if (value instanceof pkijs.PrivateKeyInfo) out.keys.push(Buffer.from(value.toSchema().toBER(false)));
        break;
      case BAG_SHROUDED_KEY:
        if (value instanceof pkijs.PKCS8ShroudedKeyBag) {
          out.keys.push(decryptPbe(value.encryptionAlgorithm, value.encryptedData.getValue(), passphrase));
        }
        break;
      case BAG_CERT:
        if (value instanceof pkijs.CertBag && value.certId === CERT_X509 && value.certValue instanceof asn1js.OctetString) {
          // The bag's own bytes, not a re-encoding: the signature covers them.
          out.certificates.push(Buffer.from(value.certValue.getValue()));
        }
        break;
      case BAG_SAFE_CONTENTS:
        if (value instanceof pkijs.SafeContents) collectBags(value, passphrase, out);
        break;
      default:
        // CRL and secret bags carry nothing an identity needs.
        break;
    }
  }
}

function toKeyObject(pkcs8: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new SiegelError('ENROLL_REJECTED', 'the private key in the PKCS#12 file cannot be read (wrong passphrase, damaged file or unsupported key type)', { cause: err });
  }
}

function translate(err: unknown): unknown {
  if (err instanceof SiegelError) return err;
  if (err instanceof UnsupportedAlgorithm) {
    return new SiegelError('ENROLL_REJECTED', `PKCS#12 file uses an unsupported algorithm (${err.message}); re-export it with AES-256 or 3DES`, { cause: err });
  }
  return new SiegelError('ENROLL_REJECTED', WRONG_PASSPHRASE, { cause: err });
}

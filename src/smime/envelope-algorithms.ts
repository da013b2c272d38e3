/**
 * The algorithms Siegel reads and writes in enveloped messages, as tables
 * from OID to what node:crypto calls them. Reading accepts what real
 * clients send (Outlook, Thunderbird/NSS, OpenSSL, gpgsm); writing uses the
 * strongest choice each recipient can read (see envelope-encrypt.ts).
 */
import { ENV_OID } from './envelope-oids.js';
import { algorithmIdentifier, children, isContext, isNullOrAbsent, octets, sequenceItems, smallInteger, type Node } from './envelope-asn1.js';
import { malformed, unsupported } from './envelope-errors.js';

export type ContentEncryption =
  | 'aes-128-cbc'
  | 'aes-192-cbc'
  | 'aes-256-cbc'
  | 'aes-128-gcm'
  | 'aes-192-gcm'
  | 'aes-256-gcm'
  | 'des-ede3-cbc';

export type KeyManagement = 'rsa-oaep' | 'rsa-pkcs1' | 'ecdh';

export interface ContentCipher {
  readonly name: ContentEncryption;
  readonly keyBytes: number;
  readonly mode: 'cbc' | 'gcm';
}

export const CONTENT_CIPHERS: ReadonlyMap<string, ContentCipher> = new Map([
  [ENV_OID.aes128Cbc, { name: 'aes-128-cbc', keyBytes: 16, mode: 'cbc' }],
  [ENV_OID.aes192Cbc, { name: 'aes-192-cbc', keyBytes: 24, mode: 'cbc' }],
  [ENV_OID.aes256Cbc, { name: 'aes-256-cbc', keyBytes: 32, mode: 'cbc' }],
  [ENV_OID.desEde3Cbc, { name: 'des-ede3-cbc', keyBytes: 24, mode: 'cbc' }],
  [ENV_OID.aes128Gcm, { name: 'aes-128-gcm', keyBytes: 16, mode: 'gcm' }],
  [ENV_OID.aes192Gcm, { name: 'aes-192-gcm', keyBytes: 24, mode: 'gcm' }],
  [ENV_OID.aes256Gcm, { name: 'aes-256-gcm', keyBytes: 32, mode: 'gcm' }],
]);

/** Node hash names by digest OID. */
export const HASHES: ReadonlyMap<string, string> = new Map([
  [ENV_OID.sha1, 'sha1'],
  [ENV_OID.sha224, 'sha224'],
  [ENV_OID.sha256, 'sha256'],
  [ENV_OID.sha384, 'sha384'],
  [ENV_OID.sha512, 'sha512'],
]);

/** KDF hash of the RFC 5753 key agreement schemes (cofactor = 1 on the prime curves we read, so both are the same computation). */
export const KEY_AGREEMENT_KDF_HASH: ReadonlyMap<string, string> = new Map([
  [ENV_OID.dhSinglePassStdDhSha1Kdf, 'sha1'],
  [ENV_OID.dhSinglePassStdDhSha224Kdf, 'sha224'],
  [ENV_OID.dhSinglePassStdDhSha256Kdf, 'sha256'],
  [ENV_OID.dhSinglePassStdDhSha384Kdf, 'sha384'],
  [ENV_OID.dhSinglePassStdDhSha512Kdf, 'sha512'],
  [ENV_OID.dhSinglePassCofactorDhSha1Kdf, 'sha1'],
  [ENV_OID.dhSinglePassCofactorDhSha224Kdf, 'sha224'],
  [ENV_OID.dhSinglePassCofactorDhSha256Kdf, 'sha256'],
  [ENV_OID.dhSinglePassCofactorDhSha384Kdf, 'sha384'],
  [ENV_OID.dhSinglePassCofactorDhSha512Kdf, 'sha512'],
]);

/** AES key wrap (RFC 3394) by OID: node:crypto cipher name and KEK length. */
export const KEY_WRAPS: ReadonlyMap<string, { readonly cipher: string; readonly keyBytes: number }> = new Map([
  [ENV_OID.aes128Wrap, { cipher: 'id-aes128-wrap', keyBytes: 16 }],
  [ENV_OID.aes192Wrap, { cipher: 'id-aes192-wrap', keyBytes: 24 }],
  [ENV_OID.aes256Wrap, { cipher: 'id-aes256-wrap', keyBytes: 32 }],
]);

/** RFC 3394 2.2.3.1 default initial value. */
export const KEY_WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

export interface ContentParameters {
  readonly cipher: ContentCipher;
  /** CBC IV or GCM nonce. */
  readonly iv: Buffer;
  /** GCM tag length (ICVlen), 12 by default (RFC 5084 3.2). */
  readonly tagBytes: number;
}

/** contentEncryptionAlgorithm: CBC takes the IV as OCTET STRING, GCM a GCMParameters SEQUENCE. */
export function contentParameters(node: Node | undefined): ContentParameters {
  const alg = algorithmIdentifier(node, 'contentEncryptionAlgorithm');
  const cipher = CONTENT_CIPHERS.get(alg.oid);
  if (!cipher) throw unsupported(`${alg.oid} for content encryption`);
  if (cipher.mode === 'cbc') {
    const iv = octets(alg.parameters, 'content IV');
    if (iv.length !== (cipher.name === 'des-ede3-cbc' ? 8 : 16)) throw malformed('content IV has the wrong length');
    return { cipher, iv, tagBytes: 0 };
  }
  const items = sequenceItems(alg.parameters, 'GCMParameters');
  const nonce = octets(items[0], 'aes-nonce');
  // RFC 5084 3.2 recommends 12 octets; GCM itself accepts other lengths, we bound them.
  if (nonce.length < 8 || nonce.length > 64) throw malformed('aes-nonce has an unusable length');
  const tagBytes = items[1] === undefined ? 12 : smallInteger(items[1], 'aes-ICVlen');
  if (![12, 13, 14, 15, 16].includes(tagBytes)) throw malformed('aes-ICVlen is not 12..16');
  return { cipher, iv: nonce, tagBytes };
}

export interface OaepParameters {
  readonly hash: string;
  readonly label: Buffer | undefined;
}

/**
 * RSAES-OAEP-params (RFC 4055 4.1): every field has a SHA-1 default;
 * node:crypto uses the OAEP hash for MGF1 too, so a different MGF1 hash
 * is refused as unsupported rather than decrypted wrongly.
 */
export function oaepParameters(node: Node | undefined): OaepParameters {
  if (isNullOrAbsent(node)) return { hash: 'sha1', label: undefined };
  const fields = sequenceItems(node, 'RSAES-OAEP-params');
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let label: Buffer | undefined;
  for (const field of fields) {
    const inner = explicitContent(field);
    if (isContext(field, 0)) hash = hashOf(inner, 'OAEP hashFunc');
    else if (isContext(field, 1)) {
      const mgf = algorithmIdentifier(inner, 'OAEP maskGenFunc');
      if (mgf.oid !== ENV_OID.mgf1) throw unsupported(`${mgf.oid} as OAEP mask generation`);
      mgfHash = hashOf(mgf.parameters, 'MGF1 hash');
    } else if (isContext(field, 2)) {
      const source = algorithmIdentifier(inner, 'OAEP pSourceFunc');
      if (source.oid !== ENV_OID.pSpecified) throw unsupported(`${source.oid} as OAEP label source`);
      const value = octets(source.parameters, 'OAEP label');
      label = value.length === 0 ? undefined : value;
    } else throw malformed('unknown field in RSAES-OAEP-params');
  }
  if (mgfHash !== hash) throw unsupported(`OAEP with ${hash} and MGF1-${mgfHash}`);
  return { hash, label };
}

function explicitContent(field: Node): Node | undefined {
  return children(field, 'RSAES-OAEP-params field')[0];
}

function hashOf(node: Node | undefined, what: string): string {
  const alg = algorithmIdentifier(node, what);
  const hash = HASHES.get(alg.oid);
  if (!hash) throw unsupported(`${alg.oid} as ${what}`);
  return hash;
}


/**
 * The at-rest format of the large-file exchange: authenticated streaming
 * encryption (the STREAM construction over AES-256-GCM), so a file of any
 * size is encrypted and decrypted in constant memory and any range can be
 * read by decrypting only the records it covers.
 *
 * Sealed blob, version 1 (all integers big-endian):
 *
 *   header (68 bytes)
 *     0  magic "SGLB"
 *     4  version 1
 *     5  3 reserved bytes, zero
 *     8  u32 record size R (plaintext bytes per record)
 *    12  16-byte random file salt
 *    28  8-byte random nonce prefix
 *    36  32-byte key check: HMAC-SHA256(checkKey, header[0..36])
 *   records 0..n-1, record i at 68 + i * (R + 16)
 *     ciphertext || 16-byte GCM tag
 *     records 0..n-2 hold exactly R bytes and are "not final"; record n-1 is
 *     the final record and holds 0..R-1 bytes (a writer seals a record as
 *     soon as it is full, so a size that is a multiple of R ends in an empty
 *     final record). Size and record count follow from the file length.
 *
 * Keys: HKDF-SHA256(file key, salt = file salt, info "siegel/blob/v1") gives
 * 96 bytes = record key | tail key | check key, so every blob has keys of
 * its own even if a file key were reused. The key check rejects a wrong key
 * before any record is touched (GCM alone is not key-committing).
 * Record i: nonce = nonce prefix || u32 i; AAD = header || u64 i || final
 * flag (1 byte). Reordered, swapped (also between blobs: other keys and
 * header), truncated or altered records all fail authentication; a file cut
 * at a record boundary fails because its new last record was sealed as not
 * final.
 *
 * Unfinished blob (resumable upload): "<id>.part" holds the header and the
 * full records sealed so far (all not final, append-only); "<id>.tail" holds
 * the plaintext of the unfinished record, rewritten (temp file + rename) at
 * every commit:
 *
 *   tail file: "SGLT" | version 1 | 3 reserved | u64 record index |
 *              12-byte random nonce | ciphertext | 16-byte tag
 *   sealed with the tail key, AAD = part header || tail[0..16]. A fresh
 *   random nonce per rewrite, since the same record index is rewritten with
 *   growing content (reusing the record nonce would break GCM).
 *
 * The tail's record index says how many records of the part file are
 * committed; records beyond it (written before a crash, not yet committed)
 * are cut off when the blob is reopened. Finishing appends the tail as the
 * final record and renames the part file to the sealed name.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, hkdfSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { SiegelError } from '../errors.js';

const FILE_KEY_INFO = 'siegel/file-key/v1';
const BLOB_KEYS_INFO = 'siegel/blob/v1';
const BLOB_MAGIC = Buffer.from('SGLB', 'latin1');
const TAIL_MAGIC = Buffer.from('SGLT', 'latin1');
const VERSION = 1;

export const HEADER_SIZE = 68;
export const TAG_SIZE = 16;
const TAIL_PREFIX_SIZE = 16;
const TAIL_NONCE_SIZE = 12;
export const DEFAULT_RECORD_SIZE = 65_536;
/** Bounds of R: a header is read before it is authenticated, so its record size must not make us allocate much. */
export const MIN_RECORD_SIZE = 16;
export const MAX_RECORD_SIZE = 16 * 1024 * 1024;
/** The record counter is 32 bits wide. */
export const MAX_RECORDS = 2 ** 32;

/**
 * The AES-256 key of one file: HKDF-SHA256 over the link secret, salted
 * with the file id, so a token only ever opens its own file and the key is
 * never stored anywhere.
 */
export function deriveFileKey(token: string, fileId: string): Buffer {
  const secret = Buffer.from(token, 'base64url');
  return Buffer.from(hkdfSync('sha256', secret, Buffer.from(fileId, 'utf8'), FILE_KEY_INFO, 32));
}

function damaged(detail: string): SiegelError {
  return new SiegelError('DECRYPTION_FAILED', detail);
}

function checkFileKey(key: Buffer): void {
  if (key.length !== 32) throw new SiegelError('INTERNAL', 'blob key must be 32 bytes');
}

function checkRecordSize(recordSize: number): boolean {
  return Number.isInteger(recordSize) && recordSize >= MIN_RECORD_SIZE && recordSize <= MAX_RECORD_SIZE;
}

/** Encrypts and authenticates the records and tail of one blob. */
export class BlobCipher {
  readonly header: Buffer;
  readonly recordSize: number;
  // KeyObjects, not Buffers: node:crypto re-imports a Buffer key for every cipher (a record each 64 KiB).
  private readonly recordKey: KeyObject;
  private readonly tailKey: KeyObject;
  private readonly noncePrefix: Buffer;

  private constructor(header: Buffer, recordKey: Buffer, tailKey: Buffer) {
    this.header = header;
    this.recordSize = header.readUInt32BE(8);
    this.noncePrefix = header.subarray(28, 36);
    this.recordKey = createSecretKey(recordKey);
    this.tailKey = createSecretKey(tailKey);
  }

  /** A new blob: fresh salt and nonce prefix. */
  static create(key: Buffer, recordSize: number = DEFAULT_RECORD_SIZE): BlobCipher {
    checkFileKey(key);
    if (!checkRecordSize(recordSize)) throw new SiegelError('INTERNAL', `record size out of range: ${recordSize}`);
    const header = Buffer.alloc(HEADER_SIZE);
    BLOB_MAGIC.copy(header, 0);
    header[4] = VERSION;
    header.writeUInt32BE(recordSize, 8);
    randomBytes(16).copy(header, 12);
    randomBytes(8).copy(header, 28);
    const keys = deriveBlobKeys(key, header);
    keys.check.copy(header, 36);
    return new BlobCipher(header, keys.record, keys.tail);
  }

  /** An existing blob from its header; a wrong key or a damaged header fails with DECRYPTION_FAILED. */
  static open(key: Buffer, header: Buffer): BlobCipher {
    checkFileKey(key);
    if (header.length < HEADER_SIZE || !header.subarray(0, 4).equals(BLOB_MAGIC)) throw damaged('not an encrypted blob');
    if (header[4] !== VERSION || header[5] !== 0 || header[6] !== 0 || header[7] !== 0) throw damaged('unsupported blob version');
    if (!checkRecordSize(header.readUInt32BE(8))) throw damaged('blob record size out of range');
    const exact = Buffer.from(header.subarray(0, HEADER_SIZE));
    const keys = deriveBlobKeys(key, exact);
    if (!timingSafeEqual(keys.check, exact.subarray(36, HEADER_SIZE))) throw damaged('wrong key or damaged blob header');
    return new BlobCipher(exact, keys.record, keys.tail);
  }

  /** Byte position of record `index` in the blob file. */
  recordPosition(index: number): number {
    return HEADER_SIZE + index * (this.recordSize + TAG_SIZE);
  }

  sealRecord(index: number, final: boolean, plaintext: Buffer): Buffer {
    return Buffer.concat(this.sealRecordParts(index, final, plaintext));
  }

  /** sealRecord as ciphertext and tag, to be written one after the other (no copy to join them). */
  sealRecordParts(index: number, final: boolean, plaintext: Buffer): [Buffer, Buffer] {
    if (plaintext.length > (final ? this.recordSize - 1 : this.recordSize) || (!final && plaintext.length !== this.recordSize)) {
      throw new SiegelError('INTERNAL', 'record of the wrong size');
    }
    const cipher = createCipheriv('aes-256-gcm', this.recordKey, this.recordNonce(index));
    cipher.setAAD(this.recordAad(index, final));
    const body = cipher.update(plaintext);
    cipher.final();
    return [body, cipher.getAuthTag()];
  }

  /** Plaintext of a sealed record; throws DECRYPTION_FAILED unless it authenticates as record `index` (final or not) of this blob. */
  openRecord(index: number, final: boolean, sealed: Buffer): Buffer {
    if (sealed.length < TAG_SIZE) throw damaged('blob record truncated');
    const bodyLength = sealed.length - TAG_SIZE;
    const decipher = createDecipheriv('aes-256-gcm', this.recordKey, this.recordNonce(index));
    decipher.setAAD(this.recordAad(index, final));
    decipher.setAuthTag(sealed.subarray(bodyLength));
    const plaintext = decipher.update(sealed.subarray(0, bodyLength));
    try {
      decipher.final();
    } catch {
      throw damaged(`blob record ${index} failed authentication`);
    }
    return plaintext;
  }

  /** The tail file for an unfinished record `index` holding `plaintext`. */
  sealTail(index: number, plaintext: Buffer): Buffer {
    const prefix = Buffer.alloc(TAIL_PREFIX_SIZE);
    TAIL_MAGIC.copy(prefix, 0);
    prefix[4] = VERSION;
    prefix.writeBigUInt64BE(BigInt(index), 8);
    const nonce = randomBytes(TAIL_NONCE_SIZE);
    const cipher = createCipheriv('aes-256-gcm', this.tailKey, nonce);
    cipher.setAAD(Buffer.concat([this.header, prefix]));
    const body = cipher.update(plaintext);
    cipher.final();
    return Buffer.concat([prefix, nonce, body, cipher.getAuthTag()]);
  }

  openTail(file: Buffer): { readonly index: number; readonly plaintext: Buffer } {
    const minimum = TAIL_PREFIX_SIZE + TAIL_NONCE_SIZE + TAG_SIZE;
    if (file.length < minimum || file.length - minimum >= this.recordSize || !file.subarray(0, 4).equals(TAIL_MAGIC) || file[4] !== VERSION) {
      throw damaged('damaged tail of an unfinished blob');
    }
    const prefix = file.subarray(0, TAIL_PREFIX_SIZE);
    const nonce = file.subarray(TAIL_PREFIX_SIZE, TAIL_PREFIX_SIZE + TAIL_NONCE_SIZE);
    const decipher = createDecipheriv('aes-256-gcm', this.tailKey, nonce);
    decipher.setAAD(Buffer.concat([this.header, prefix]));
    decipher.setAuthTag(file.subarray(file.length - TAG_SIZE));
    const plaintext = decipher.update(file.subarray(TAIL_PREFIX_SIZE + TAIL_NONCE_SIZE, file.length - TAG_SIZE));
    try {
      decipher.final();
    } catch {
      throw damaged('tail of an unfinished blob failed authentication');
    }
    const index = prefix.readBigUInt64BE(8);
    if (index >= BigInt(MAX_RECORDS)) throw damaged('damaged tail of an unfinished blob');
    return { index: Number(index), plaintext };
  }

  private recordNonce(index: number): Buffer {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_RECORDS) throw new SiegelError('INTERNAL', 'blob too large for its record size');
    const nonce = Buffer.alloc(12);
    this.noncePrefix.copy(nonce, 0);
    nonce.writeUInt32BE(index, 8);
    return nonce;
  }

  private recordAad(index: number, final: boolean): Buffer {
    const aad = Buffer.alloc(HEADER_SIZE + 9);
    this.header.copy(aad, 0);
    aad.writeBigUInt64BE(BigInt(index), HEADER_SIZE);
    aad[HEADER_SIZE + 8] = final ? 1 : 0;
    return aad;
  }
}

function deriveBlobKeys(key: Buffer, header: Buffer): { record: Buffer; tail: Buffer; check: Buffer } {
  const salt = header.subarray(12, 28);
  const okm = Buffer.from(hkdfSync('sha256', key, salt, BLOB_KEYS_INFO, 96));
  const record = okm.subarray(0, 32);
  const tail = okm.subarray(32, 64);
  const check = createHmac('sha256', okm.subarray(64, 96)).update(header.subarray(0, 36)).digest();
  return { record, tail, check };
}

/** Size and shape of a sealed blob, from its file length alone. */
export interface SealedLayout {
  /** Plaintext bytes. */
  readonly size: number;
  /** Records including the final one (at least 1). */
  readonly records: number;
  /** Plaintext bytes of the final record (0..R-1). */
  readonly finalLength: number;
}

/** Throws DECRYPTION_FAILED when no sealed blob can have this length (cut or grown file). */
export function sealedLayout(fileLength: number, recordSize: number): SealedLayout {
  const body = fileLength - HEADER_SIZE - TAG_SIZE;
  if (body < 0) throw damaged('blob truncated');
  const full = Math.floor(body / (recordSize + TAG_SIZE));
  const finalLength = body - full * (recordSize + TAG_SIZE);
  if (finalLength >= recordSize) throw damaged('blob truncated');
  return { size: full * recordSize + finalLength, records: full + 1, finalLength };
}

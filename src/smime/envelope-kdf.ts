/**
 * ANSI X9.63 key derivation as RFC 5753 uses it for ECDH in CMS: the
 * key-encryption key is the leading bytes of
 * Hash(Z || counter || ECC-CMS-SharedInfo) for counter = 1, 2, ...
 */
import { createHash } from 'node:crypto';
import { octetString, oid, sequence, tlv } from './der.js';

/**
 * ECC-CMS-SharedInfo (RFC 5753 7.2): keyInfo names the wrap algorithm with
 * absent parameters, entityUInfo is the ukm when the sender sent one,
 * suppPubInfo the KEK length in bits. OpenSSL rebuilds keyInfo from the
 * wrap OID alone (whatever parameters the message carried), so do we.
 */
export function eccCmsSharedInfo(wrapOid: string, kekBytes: number, ukm: Buffer | undefined): Buffer {
  const bits = Buffer.alloc(4);
  bits.writeUInt32BE(kekBytes * 8);
  return sequence(sequence(oid(wrapOid)), ...(ukm === undefined ? [] : [tlv(0xa0, octetString(ukm))]), tlv(0xa2, octetString(bits)));
}

/** X9.63 KDF (SEC 1 3.6.1) with a Node hash name ('sha256'). */
export function x963Kdf(hash: string, sharedSecret: Buffer, sharedInfo: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let produced = 0;
  for (let counter = 1; produced < length; counter++) {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    const block = createHash(hash).update(sharedSecret).update(count).update(sharedInfo).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

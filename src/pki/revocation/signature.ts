/**
 * Checks the signature of a signed ASN.1 structure (a CRL's tbsCertList, an
 * OCSP response's tbsResponseData) with node:crypto over the exact bytes
 * received. The algorithms of RFC 5280 / RFC 4055 / RFC 5758 in use for
 * CRLs and OCSP; SHA-1 and MD5 signatures are refused (collisions make a
 * forged "good" possible).
 */
import { createVerify, constants, type KeyObject } from 'node:crypto';
import { readPssParams, type AlgorithmIdentifier } from '../../smime/read-signer-info.js';

const RSA: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};
const ECDSA: Readonly<Record<string, string>> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};
const HASH_OF_OID: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const PSS = '1.2.840.113549.1.1.10';

/** Throws with a sentence when the algorithm is not accepted; false when the signature does not verify. */
export function verifySignature(algorithm: AlgorithmIdentifier, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  const type = key.asymmetricKeyType;
  const rsaHash = RSA[algorithm.oid];
  if (rsaHash) {
    if (type !== 'rsa') return false;
    return createVerify(rsaHash).update(data).verify({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
  }
  const ecHash = ECDSA[algorithm.oid];
  if (ecHash) {
    if (type !== 'ec') return false;
    return createVerify(ecHash).update(data).verify({ key, dsaEncoding: 'der' }, signature);
  }
  if (algorithm.oid === PSS) {
    if (type !== 'rsa' && type !== 'rsa-pss') return false;
    const params = readPssParams(algorithm.params);
    const hash = HASH_OF_OID[params.hashOid];
    if (!hash || params.mgfHashOid !== params.hashOid) throw new Error('RSASSA-PSS with SHA-1 or mixed hashes');
    return createVerify(hash).update(data).verify({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: params.saltLength }, signature);
  }
  throw new Error(`signature algorithm ${algorithm.oid} is not accepted`);
}

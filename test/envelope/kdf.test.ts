/**
 * The ECDH pieces against independent implementations: the X9.63 KDF
 * against Python cryptography's X963KDF, and the ukm path (which OpenSSL,
 * NSS and gpgsm do not send) with a message built here that OpenSSL must
 * decrypt too.
 */
import { createCipheriv, diffieHellman, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { certificateRef, issuerAndSerialNumber } from '../../src/smime/certificate-ref.js';
import { octetString, oid, sequence, setOf, tlv } from '../../src/smime/der.js';
import { KEY_WRAP_IV } from '../../src/smime/envelope-algorithms.js';
import { decryptEnvelope } from '../../src/smime/envelope-decrypt.js';
import { eccCmsSharedInfo, x963Kdf } from '../../src/smime/envelope-kdf.js';
import { ENV_OID } from '../../src/smime/envelope-oids.js';
import { envelopeFixtures, removeFixtures, file, keyOf, runOk, sampleContent, type Fixtures } from './fixtures.js';

let f: Fixtures;
const content = sampleContent(2000);

beforeAll(async () => {
  f = await envelopeFixtures();
});

afterAll(removeFixtures);

const PYTHON_X963 = `
import sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
hash_name, length, z, info = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4])
algorithm = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[hash_name]
sys.stdout.write(X963KDF(algorithm=algorithm, length=length, sharedinfo=info).derive(z).hex())
`;

test.each([
  ['sha1', 16],
  ['sha256', 32],
  ['sha256', 80],
  ['sha384', 24],
  ['sha512', 32],
] as const)('x963Kdf(%s, %i bytes) equals Python cryptography X963KDF', (hash, length) => {
  const z = randomBytes(32);
  const info = eccCmsSharedInfo(ENV_OID.aes256Wrap, 32, randomBytes(64));
  const expected = runOk('python3', ['-c', PYTHON_X963, hash, String(length), z.toString('hex'), info.toString('hex')]).toString('ascii');
  expect(x963Kdf(hash, z, info, length).toString('hex')).toBe(expected);
});

test('ECC-CMS-SharedInfo encodes keyInfo, entityUInfo [0] and suppPubInfo [2] (RFC 5753 7.2)', () => {
  expect(eccCmsSharedInfo(ENV_OID.aes128Wrap, 16, undefined).toString('hex')).toBe('3015' + '300b0609608648016503040105' + 'a2060404' + '00000080');
  expect(eccCmsSharedInfo(ENV_OID.aes256Wrap, 32, Buffer.from('abcd', 'hex')).toString('hex')).toBe(
    '301b' + '300b060960864801650304012d' + 'a0040402abcd' + 'a2060404' + '00000100',
  );
});

test('ECDH with a ukm decrypts here and in openssl cms', async () => {
  const recipientKey = new X509Certificate(f.p256.issued.certificate).publicKey;
  const ukm = randomBytes(64);
  const cek = randomBytes(32);
  const ephemeral = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipientKey });
  const kek = x963Kdf('sha384', shared, eccCmsSharedInfo(ENV_OID.aes256Wrap, 32, ukm), 32);
  const wrapper = createCipheriv('id-aes256-wrap', kek, KEY_WRAP_IV);
  const wrapped = Buffer.concat([wrapper.update(cek), wrapper.final()]);
  const spki = ephemeral.publicKey.export({ type: 'spki', format: 'der' });
  // A P-256 SPKI ends with the 65-byte uncompressed point; write it with the curve OID this time (RFC 5753 allows both).
  const originator = tlv(0xa0, tlv(0xa1, spki.subarray(2, 2 + 2 + spki[3]!), tlv(0x03, Buffer.from([0]), spki.subarray(spki.length - 65))));
  const kari = tlv(
    0xa1,
    tlv(0x02, Buffer.from([3])),
    originator,
    tlv(0xa1, octetString(ukm)),
    sequence(oid(ENV_OID.dhSinglePassStdDhSha384Kdf), sequence(oid(ENV_OID.aes256Wrap))),
    sequence(sequence(issuerAndSerialNumber(certificateRef(f.p256.issued.certificate)), octetString(wrapped))),
  );
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', cek, iv);
  const encrypted = Buffer.concat([cipher.update(content), cipher.final()]);
  const eci = sequence(oid(ENV_OID.data), sequence(oid(ENV_OID.aes256Cbc), octetString(iv)), tlv(0x80, encrypted));
  const der = sequence(oid(ENV_OID.envelopedData), tlv(0xa0, sequence(tlv(0x02, Buffer.from([2])), setOf([kari]), eci)));

  const ours = await decryptEnvelope(der, [keyOf(f.p256)]);
  expect(ours.content.equals(content)).toBe(true);
  expect(ours.keyManagement).toBe('ecdh');
  const input = file(f.dir, 'ukm.p7m', der);
  const theirs = runOk('openssl', ['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', input, '-recip', f.p256.certPem, '-inkey', f.p256.keyPem]);
  expect(theirs.equals(content)).toBe(true);
});

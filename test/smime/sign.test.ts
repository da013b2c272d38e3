import { createHash, generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { SiegelError } from '../../src/errors.js';
import type { SigningIdentity } from '../../src/keystore/identity.js';
import { arrayBufferOf } from '../../src/pki/bytes.js';
import { signContent } from '../../src/smime/sign.js';
import { at, attributeValue, children, inspectSignedData, oidOf, parseDer, raw } from './cms-inspect.js';
import { canonicalEntity, combinedIdentity, createPki, splitIdentity, type TestPki } from './helpers.js';

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  data: '1.2.840.113549.1.7.1',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  smimeCapabilities: '1.2.840.113549.1.9.15',
  encKeyPref: '1.2.840.113549.1.9.16.2.11',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  msEncKeyPref: '1.3.6.1.4.1.311.16.4',
};

const SIGNING_TIME = new Date('2026-03-03T09:15:42Z');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

let pki: TestPki;
let rsa: SigningIdentity;
let ec: SigningIdentity;
let split: SigningIdentity;
let entity: Buffer;

beforeAll(async () => {
  pki = await createPki('rsa2048');
  rsa = await combinedIdentity(pki, 'rsa2048', 'rsa@stadt.example');
  ec = await combinedIdentity(pki, 'p256', 'ec@stadt.example');
  split = (await splitIdentity(pki, 'rsa2048', 'split@stadt.example')).identity;
  entity = canonicalEntity();
});

/** Issuer Name and serial INTEGER exactly as encoded in a certificate, read with pkijs. */
function issuerSerialOf(der: Buffer): { issuer: Buffer; serial: Buffer } {
  const cert = pkijs.Certificate.fromBER(arrayBufferOf(der));
  return { issuer: Buffer.from(cert.issuer.valueBeforeDecode), serial: Buffer.from(cert.serialNumber.toBER(false)) };
}

describe('signContent: signed attributes', () => {
  it('signs the DER SET OF encoding and carries the identical octets under [0] in SignerInfo', async () => {
    for (const identity of [rsa, ec]) {
      const inspected = inspectSignedData(await signContent(entity, identity, { signingTime: SIGNING_TIME, detached: true }));
      const field = inspected.signer.signedAttrsField;
      expect(field[0]).toBe(0xa0);
      const asSet = Buffer.concat([Buffer.from([0x31]), field.subarray(1)]);
      const publicKey = new X509Certificate(identity.certificate).publicKey;
      expect(verify('sha256', asSet, publicKey, inspected.signer.signature)).toBe(true);
      // The [0]-tagged octets are not what was signed (RFC 5652 5.4).
      expect(verify('sha256', field, publicKey, inspected.signer.signature)).toBe(false);
    }
  });

  it('writes the attributes in DER SET OF order, so re-encoding reproduces the bytes', async () => {
    const inspected = inspectSignedData(await signContent(entity, split, { signingTime: SIGNING_TIME, detached: true }));
    const encodings = inspected.signer.attributes.map((a) => a.raw);
    const sorted = [...encodings].sort(Buffer.compare);
    expect(encodings).toEqual(sorted);
    // A strict verifier re-encodes the set; asn1js re-encoding the parsed value must give the same octets.
    const field = inspected.signer.signedAttrsField;
    expect(Buffer.from(parseDer(field).toBER(false)).equals(field)).toBe(true);
    // Insertion order (contentType, signingTime, ...) differs from DER order: the sort did work.
    expect(inspected.signer.attributes.map((a) => a.type)).not.toEqual([
      OID.contentType,
      OID.signingTime,
      OID.messageDigest,
      OID.smimeCapabilities,
      OID.signingCertificateV2,
      OID.encKeyPref,
      OID.msEncKeyPref,
    ]);
  });

  it('has contentType id-data, the SHA-256 messageDigest and each attribute exactly once', async () => {
    const whole = inspectSignedData(await signContent(entity, split, { signingTime: SIGNING_TIME, detached: true }));
    expect(whole.signer.attributes.map((a) => a.type).sort()).toEqual(
      [OID.contentType, OID.messageDigest, OID.signingTime, OID.smimeCapabilities, OID.encKeyPref, OID.signingCertificateV2, OID.msEncKeyPref].sort(),
    );
    expect(oidOf(parseDer(attributeValue(whole, OID.contentType) ?? Buffer.alloc(0)))).toBe(OID.data);
    const digest = createHash('sha256').update(entity).digest();
    expect(attributeValue(whole, OID.messageDigest)).toEqual(Buffer.concat([hex('0420'), digest]));
    // Hashing chunk by chunk gives the same digest as hashing the whole entity.
    const chunks = [entity.subarray(0, 7), entity.subarray(7, 1500), entity.subarray(1500)];
    const chunked = inspectSignedData(await signContent(chunks, split, { signingTime: SIGNING_TIME, detached: true }));
    expect(attributeValue(chunked, OID.messageDigest)).toEqual(attributeValue(whole, OID.messageDigest));
  });

  it('puts the given signing time in as UTCTime, and as GeneralizedTime from 2050 on', async () => {
    const utc = inspectSignedData(await signContent(entity, rsa, { signingTime: SIGNING_TIME, detached: true }));
    const utcTime = parseDer(attributeValue(utc, OID.signingTime) ?? Buffer.alloc(0));
    expect(utcTime).toBeInstanceOf(asn1js.UTCTime);
    expect((utcTime as asn1js.UTCTime).toDate()).toEqual(SIGNING_TIME);
    expect(attributeValue(utc, OID.signingTime)).toEqual(Buffer.concat([hex('170d'), Buffer.from('260303091542Z')]));

    const late = new Date('2051-07-01T00:00:01Z');
    const gen = inspectSignedData(await signContent(entity, rsa, { signingTime: late, detached: true }));
    const genTime = parseDer(attributeValue(gen, OID.signingTime) ?? Buffer.alloc(0));
    expect(genTime).toBeInstanceOf(asn1js.GeneralizedTime);
    expect((genTime as asn1js.GeneralizedTime).toDate()).toEqual(late);
  });

  it('points sMIMEEncryptionKeyPreference and the Microsoft attribute at the encryption certificate', async () => {
    const encryption = split.encryptionCertificate;
    if (!encryption) throw new Error('split identity has an encryption certificate');
    const inspected = inspectSignedData(await signContent(entity, split, { signingTime: SIGNING_TIME, detached: true }));
    const { issuer, serial } = issuerSerialOf(encryption);
    // RFC 8551 2.5.3: issuerAndSerialNumber [0] IMPLICIT.
    expect(attributeValue(inspected, OID.encKeyPref)).toEqual(asn1Tlv(0xa0, Buffer.concat([issuer, serial])));
    // Microsoft 1.3.6.1.4.1.311.16.4: plain IssuerAndSerialNumber.
    expect(attributeValue(inspected, OID.msEncKeyPref)).toEqual(asn1Tlv(0x30, Buffer.concat([issuer, serial])));
    // ...and not at the signing certificate.
    const signer = issuerSerialOf(split.certificate);
    expect(signer.serial.equals(serial)).toBe(false);
    expect(inspected.signer.sid).toEqual(asn1Tlv(0x30, Buffer.concat([signer.issuer, signer.serial])));
  });

  it('omits both encryption key preferences for a sign-only mailbox', async () => {
    const signOnly: SigningIdentity = { ...split, encryptionCertificate: undefined };
    const inspected = inspectSignedData(await signContent(entity, signOnly, { signingTime: SIGNING_TIME, detached: true }));
    expect(attributeValue(inspected, OID.encKeyPref)).toBeUndefined();
    expect(attributeValue(inspected, OID.msEncKeyPref)).toBeUndefined();
    expect(new Set(inspected.certificates)).toEqual(new Set([signOnly.certificate, pki.ca.certificate]));
  });

  it('binds the signer certificate with signingCertificateV2 (SHA-256 ESSCertIDv2 with issuerSerial)', async () => {
    const inspected = inspectSignedData(await signContent(entity, rsa, { signingTime: SIGNING_TIME, detached: true }));
    const value = parseDer(attributeValue(inspected, OID.signingCertificateV2) ?? Buffer.alloc(0));
    const certs = children(at(children(value), 0));
    expect(certs).toHaveLength(1);
    const essCertId = children(at(certs, 0));
    // hashAlgorithm left out: it is the DEFAULT sha256.
    expect(essCertId).toHaveLength(2);
    expect(raw(at(essCertId, 0))).toEqual(Buffer.concat([hex('0420'), createHash('sha256').update(rsa.certificate).digest()]));
    const { issuer, serial } = issuerSerialOf(rsa.certificate);
    expect(raw(at(essCertId, 1))).toEqual(asn1Tlv(0x30, Buffer.concat([asn1Tlv(0x30, asn1Tlv(0xa4, issuer)), serial])));
  });

  it('advertises AES-GCM, AES-CBC and RSAES-OAEP in preference order', async () => {
    const inspected = inspectSignedData(await signContent(entity, rsa, { signingTime: SIGNING_TIME, detached: true }));
    const caps = children(parseDer(attributeValue(inspected, OID.smimeCapabilities) ?? Buffer.alloc(0)));
    expect(caps.map((cap) => oidOf(children(cap)[0]))).toEqual([
      '2.16.840.1.101.3.4.1.46',
      '2.16.840.1.101.3.4.1.6',
      '2.16.840.1.101.3.4.1.42',
      '2.16.840.1.101.3.4.1.22',
      '2.16.840.1.101.3.4.1.2',
      '1.2.840.113549.1.1.7',
    ]);
    // AES capabilities carry no parameters; OAEP names SHA-256 and MGF1-SHA-256.
    expect(caps.slice(0, 5).every((cap) => children(cap).length === 1)).toBe(true);
    expect(raw(at(caps, 5))).toEqual(
      hex('303c 0609 2a864886f70d010107 302f a00f 300d 0609 608648016503040201 0500 a11c 301a 0609 2a864886f70d010108 300d 0609 608648016503040201 0500'),
    );
  });
});

describe('signContent: SignedData layout', () => {
  it('writes version 1, sha256 without parameters, rsaEncryption with NULL for RSA', async () => {
    const inspected = inspectSignedData(await signContent(entity, rsa, { signingTime: SIGNING_TIME, detached: true }));
    expect(inspected.contentType).toBe(OID.signedData);
    expect(inspected.version).toBe(1);
    expect(inspected.signerInfoCount).toBe(1);
    expect(inspected.signer.version).toBe(1);
    expect(inspected.digestAlgorithms).toEqual([hex('300b 0609 608648016503040201')]);
    expect(inspected.signer.digestAlgorithm).toEqual(hex('300b 0609 608648016503040201'));
    expect(inspected.signer.signatureAlgorithm).toEqual(hex('300d 0609 2a864886f70d010101 0500'));
  });

  it('writes ecdsa-with-SHA256 without parameters and a DER Ecdsa-Sig-Value for EC keys', async () => {
    const inspected = inspectSignedData(await signContent(entity, ec, { signingTime: SIGNING_TIME, detached: true }));
    expect(inspected.signer.signatureAlgorithm).toEqual(hex('300a 0608 2a8648ce3d040302'));
    const sig = children(parseDer(inspected.signer.signature));
    expect(sig).toHaveLength(2);
    expect(sig.every((n) => n instanceof asn1js.Integer)).toBe(true);
  });

  it('leaves eContent out when detached and embeds the exact entity when opaque', async () => {
    const detached = inspectSignedData(await signContent(entity, rsa, { signingTime: SIGNING_TIME, detached: true }));
    expect(detached.eContentType).toBe(OID.data);
    expect(detached.eContent).toBeUndefined();
    const chunks = [entity.subarray(0, 100), entity.subarray(100)];
    const opaque = inspectSignedData(await signContent(chunks, rsa, { signingTime: SIGNING_TIME, detached: false }));
    expect(opaque.eContent?.equals(entity)).toBe(true);
  });

  it('includes signer, issuing CA and encryption certificate once each, never the root', async () => {
    const withRoot: SigningIdentity = { ...split, chain: [pki.ca.certificate, pki.root.certificate] };
    const inspected = inspectSignedData(await signContent(entity, withRoot, { signingTime: SIGNING_TIME, detached: true }));
    expect(inspected.certificates).toHaveLength(3);
    expect(new Set(inspected.certificates)).toEqual(new Set([split.certificate, pki.ca.certificate, split.encryptionCertificate]));
    expect(inspected.certificates.some((c) => c.equals(pki.root.certificate))).toBe(false);
    // The CertificateSet is a SET OF too: DER-sorted.
    expect([...inspected.certificates].sort(Buffer.compare)).toEqual(inspected.certificates);
    // A combined certificate appears once although it is signer and encryption certificate.
    const combined = inspectSignedData(await signContent(entity, rsa, { signingTime: SIGNING_TIME, detached: true }));
    expect(combined.certificates).toHaveLength(2);
  });

  it('verifies with pkijs as a third implementation', async () => {
    const der = await signContent(entity, ec, { signingTime: SIGNING_TIME, detached: true });
    const contentInfo = pkijs.ContentInfo.fromBER(arrayBufferOf(der));
    const signedData = new pkijs.SignedData({ schema: contentInfo.content });
    await expect(signedData.verify({ signer: 0, data: arrayBufferOf(entity) })).resolves.toBe(true);
    await expect(signedData.verify({ signer: 0, data: arrayBufferOf(Buffer.concat([entity, Buffer.from('x')])) })).rejects.toMatchObject({
      message: expect.stringContaining("Message digest doesn't match"),
    });
  });
});

describe('signContent: failures', () => {
  it('reports a key that does not belong to the certificate as SIGNING_FAILED', async () => {
    const mixed: SigningIdentity = { ...rsa, privateKey: split.privateKey };
    await expect(signContent(entity, mixed, { signingTime: SIGNING_TIME, detached: true })).rejects.toMatchObject({
      name: 'SiegelError',
      code: 'SIGNING_FAILED',
    });
  });

  it('reports an unsupported key type as SIGNING_FAILED', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const failure = await signContent(entity, { ...rsa, privateKey }, { signingTime: SIGNING_TIME, detached: true }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(SiegelError);
    expect((failure as SiegelError).code).toBe('SIGNING_FAILED');
    expect((failure as SiegelError).message).toContain('rsa@stadt.example');
  });
});

/** Independent TLV framing for expected values (short and long length forms). */
function asn1Tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

/**
 * `siegel inbound` on encrypted mail made by the real peers (openssl cms
 * and smime, Python cryptography, gpgsm, NSS cmsutil) for the gateway's
 * enrolled RSA and EC mailboxes: the recipient gets the plain signed
 * message (OpenSSL still verifies it) with its verdict and the
 * X-Siegel-Encrypted marker; mail for keys not held here passes unchanged
 * (neutral), mail that does not decrypt gets permerror and still arrives.
 */
import {
  addressing,
  bodyEntity,
  bodyOf,
  createGateway,
  gpgsmEncrypt,
  header,
  inboundFixtures,
  nssEncrypt,
  opensslEncrypted,
  opensslSigned,
  opensslVerify,
  ourVerdicts,
  PARTNER,
  pkcs7Mime,
  pythonEncrypt,
  removeInboundFixtures,
  verdictOf,
  type Gateway,
  type InboundFixtures,
  type Party,
} from './fixtures.js';

let f: InboundFixtures;
let gw: Gateway;

beforeAll(async () => {
  f = await inboundFixtures();
  gw = await createGateway(f);
}, 60_000);

afterAll(async () => {
  gw.remove();
  await removeInboundFixtures();
});

async function deliver(message: Buffer): Promise<Buffer> {
  const { status, out, stderr } = await gw.inbound(message);
  expect(stderr).toBe('');
  expect(status).toBe(0);
  return out;
}

/** What a client signs first: the multipart/signed entity (no From/To: those go on the encrypted message). */
function signedEntity(signer: Party, entity: Buffer): Buffer {
  return opensslSigned(f, signer, entity);
}

/** The delivered message is the plain signed one: OpenSSL verifies it and gets back exactly the entity the sender wrote. */
function expectPlainSigned(delivered: Buffer, entity: Buffer): void {
  expect(header(delivered, 'Content-Type')[0]).toMatch(/^multipart\/signed;/);
  // OpenSSL puts MIME-Version in the entity it signs as well as on the message: delivered once
  expect(header(delivered, 'MIME-Version')).toEqual(['1.0']);
  const verified = opensslVerify(f, delivered);
  expect(verified.stderr).toContain('Verification successful');
  expect(verified.content.equals(entity)).toBe(true);
  expect(delivered.toString('latin1')).not.toMatch(/application\/(x-)?pkcs7-mime/);
}

describe('signed, then encrypted to an enrolled mailbox: decrypted, verified, the text survives', () => {
  const mailbox = (name: 'rsa' | 'ec'): (() => Party) => () => f.mailboxes[name];
  const cases: ReadonlyArray<[string, () => Party, { oaep?: boolean; gcm?: boolean; legacy?: boolean }, string, string]> = [
    ['openssl cms RSA-OAEP, AES-256-CBC', mailbox('rsa'), { oaep: true }, 'aes-256-cbc', 'rsa-oaep'],
    ['openssl cms RSA PKCS#1 v1.5, AES-256-CBC', mailbox('rsa'), {}, 'aes-256-cbc', 'rsa-pkcs1'],
    ['openssl cms RSA-OAEP, AES-256-GCM (AuthEnvelopedData)', mailbox('rsa'), { oaep: true, gcm: true }, 'aes-256-gcm', 'rsa-oaep'],
    ['openssl cms ECDH P-256, AES-256-CBC', mailbox('ec'), {}, 'aes-256-cbc', 'ecdh'],
    ['openssl cms ECDH P-256, AES-256-GCM', mailbox('ec'), { gcm: true }, 'aes-256-gcm', 'ecdh'],
    ['legacy openssl smime (application/x-pkcs7-mime), PKCS#1 v1.5', mailbox('rsa'), { legacy: true }, 'aes-256-cbc', 'rsa-pkcs1'],
  ];
  test.each(cases)('%s', async (_label, recipientOf, options, content, key) => {
    const recipient = recipientOf();
    const entity = bodyEntity();
    const received = opensslEncrypted(f, recipient, signedEntity(f.signers.rsa2048, entity), addressing(PARTNER, 'Vertraulich', recipient.email), options);
    if (options.legacy) expect(header(received, 'Content-Type')[0]).toMatch(/^application\/x-pkcs7-mime/);
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-identifier': PARTNER } });
    expect(header(delivered, 'X-Siegel-Encrypted')).toEqual([`decrypted; content=${content}; key=${key}; for=${recipient.email}`]);
    expect(header(delivered, 'Subject')).toEqual(['Vertraulich']);
    expect(header(delivered, 'From')).toEqual([PARTNER]);
    expectPlainSigned(delivered, entity);
  });

  const peers: ReadonlyArray<[string, (content: Buffer) => Buffer]> = [
    ['Python cryptography (PKCS#1 v1.5, AES-256-CBC)', (content) => pythonEncrypt(f, f.mailboxes.rsa, content)],
    ['gpgsm (PKCS#1 v1.5, AES-CBC)', (content) => gpgsmEncrypt(f, f.mailboxes.rsa, content)],
    ['NSS cmsutil (PKCS#1 v1.5, AES-CBC)', (content) => nssEncrypt(f, f.mailboxes.rsa, content)],
  ];
  test.each(peers)('%s', async (_label, encrypt) => {
    const entity = bodyEntity();
    const der = encrypt(signedEntity(f.signers.p256, entity));
    const delivered = await deliver(pkcs7Mime(addressing(f.signers.p256.email, 'Vertraulich'), der, 'enveloped-data'));
    expect(verdictOf(delivered)).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-identifier': f.signers.p256.email } });
    const [marker] = header(delivered, 'X-Siegel-Encrypted');
    expect(marker).toMatch(/^decrypted; content=aes-(128|192|256)-cbc; key=rsa-pkcs1; for=poststelle@stadt\.example$/);
    expectPlainSigned(delivered, entity);
  }, 30_000);

  test('a tampered body under the encryption: decrypted, fail, and the marker still says it was encrypted', async () => {
    const signed = signedEntity(f.signers.rsa2048, bodyEntity('IBAN DE11\r\n'));
    const tampered = Buffer.from(signed.toString('latin1').replace('IBAN DE11', 'IBAN DE66'), 'latin1');
    const delivered = await deliver(opensslEncrypted(f, f.mailboxes.rsa, tampered, addressing(PARTNER), { gcm: true }));
    expect(verdictOf(delivered)).toMatchObject({ result: 'fail', reason: 'digest-mismatch' });
    expect(header(delivered, 'X-Siegel-Encrypted')).toHaveLength(1);
    expect(delivered.toString('latin1')).toContain('IBAN DE66');
  });
});

describe('other encrypted shapes', () => {
  test('encrypted but not signed: none, decrypted text delivered with the marker', async () => {
    const entity = bodyEntity('nur verschluesselt\r\n');
    const delivered = await deliver(opensslEncrypted(f, f.mailboxes.ec, entity, addressing(PARTNER, 'Nur verschluesselt', f.mailboxes.ec.email)));
    expect(verdictOf(delivered)).toMatchObject({ result: 'none', reason: 'unsigned' });
    expect(header(delivered, 'X-Siegel-Encrypted')).toEqual([`decrypted; content=aes-256-cbc; key=ecdh; for=${f.mailboxes.ec.email}`]);
    expect(bodyOf(delivered).equals(bodyOf(entity))).toBe(true);
    expect(header(delivered, 'Content-Type')).toEqual(['text/plain; charset=utf-8']);
  });

  test('triple wrapped (sign, encrypt, sign): both signatures checked, the inner signed message delivered', async () => {
    const entity = bodyEntity();
    const inner = signedEntity(f.signers.rsa2048, entity);
    const encrypted = opensslEncrypted(f, f.mailboxes.rsa, inner, addressing(PARTNER), { oaep: true, gcm: true });
    // the outer signature covers the encrypted entity (its Content-* fields and body)
    const envelopedEntity = Buffer.from(encrypted.toString('latin1').replace(/^(?:(?!Content-)[^\r\n]+\r\n)+/i, '').replace(/^MIME-Version: 1\.0\r\n/m, ''), 'latin1');
    expect(envelopedEntity.toString('latin1')).toMatch(/^Content-/);
    const received = opensslSigned(f, f.signers.rsa2048, envelopedEntity, { to: addressing(PARTNER, 'Dreifach') });
    const delivered = await deliver(received);
    const [ours] = ourVerdicts(delivered);
    expect(ours?.results).toHaveLength(2);
    expect(ours?.results.every((r) => r.result === 'pass' && r.properties['body.smime-identifier'] === PARTNER)).toBe(true);
    expect(header(delivered, 'X-Siegel-Encrypted')).toEqual(['decrypted; content=aes-256-gcm; key=rsa-oaep; for=poststelle@stadt.example']);
    expect(header(delivered, 'Subject')).toEqual(['Dreifach']);
    expectPlainSigned(delivered, entity);
  });

  test('encrypted for a key not held here: neutral, delivered unchanged', async () => {
    const received = opensslEncrypted(f, f.notHeld, signedEntity(f.signers.rsa2048, bodyEntity()), addressing(PARTNER, 'Fuer die Kaemmerei', f.notHeld.email), { oaep: true });
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'neutral', reason: 'encrypted-for-others' });
    expect(delivered.subarray(delivered.length - received.length).equals(received)).toBe(true);
    expect(header(delivered, 'X-Siegel-Encrypted')).toEqual([]);
  });

  const corruptions: ReadonlyArray<[string, { oaep: boolean; gcm: boolean }, (der: Buffer) => number]> = [
    ['GCM tag', { oaep: true, gcm: true }, (der) => der.length - 3],
    // the 256-byte OCTET STRING holding the RSA-2048 OAEP-wrapped content key
    ['OAEP-wrapped key', { oaep: true, gcm: false }, (der) => der.indexOf(Buffer.from([0x04, 0x82, 0x01, 0x00])) + 40],
  ];
  test.each(corruptions)('corrupt encrypted message to our key (%s): permerror/decryption-failed, delivered as received', async (_label, options, where) => {
    const encrypted = opensslEncrypted(f, f.mailboxes.rsa, signedEntity(f.signers.rsa2048, bodyEntity()), addressing(PARTNER), options);
    const text = encrypted.toString('latin1');
    const split = text.indexOf('\r\n\r\n') + 4;
    const der = Buffer.from(text.slice(split), 'base64');
    const at = where(der);
    expect(at).toBeGreaterThan(40);
    der[at] = (der[at] ?? 0) ^ 0x5a;
    const received = pkcs7Mime(addressing(PARTNER), der, options.gcm ? 'authEnveloped-data' : 'enveloped-data');
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'permerror', reason: 'decryption-failed' });
    expect(delivered.subarray(delivered.length - received.length).equals(received)).toBe(true);
    expect(header(delivered, 'X-Siegel-Encrypted')).toEqual([]);
  });

  test('a forged X-Siegel-Encrypted marker is removed; after real decryption only ours is there', async () => {
    const forged = 'X-Siegel-Encrypted: decrypted; content=aes-256-gcm; key=rsa-oaep; for=chef@stadt.example\r\n';
    const plain = Buffer.from(`${forged}From: ${PARTNER}\r\nTo: poststelle@stadt.example\r\nSubject: Unverschluesselt\r\n\r\nklar\r\n`, 'latin1');
    const deliveredPlain = await deliver(plain);
    expect(header(deliveredPlain, 'X-Siegel-Encrypted')).toEqual([]);
    expect(verdictOf(deliveredPlain).result).toBe('none');
    const encrypted = opensslEncrypted(f, f.mailboxes.rsa, signedEntity(f.signers.rsa2048, bodyEntity()), addressing(PARTNER));
    const deliveredEncrypted = await deliver(Buffer.concat([Buffer.from(forged, 'latin1'), encrypted]));
    expect(header(deliveredEncrypted, 'X-Siegel-Encrypted')).toEqual(['decrypted; content=aes-256-cbc; key=rsa-pkcs1; for=poststelle@stadt.example']);
  });
});

/**
 * `siegel inbound` on signed mail made by the real peers (openssl cms and
 * smime, gpgsm, NSS cmsutil, Python cryptography) at a fixed clock: each
 * message gets the right RFC 7281 verdict in our Authentication-Results
 * field, and what it says survives (a detached message keeps its bytes, an
 * opaque one arrives as multipart/signed that OpenSSL still verifies).
 */
import {
  addressing,
  AUTHSERV_ID,
  bodyEntity,
  createGateway,
  header,
  inboundFixtures,
  multipartSigned,
  opensslSigned,
  opensslVerify,
  ourVerdicts,
  PARTNER,
  peerSignature,
  pkcs7Mime,
  removeInboundFixtures,
  verdictOf,
  type Gateway,
  type InboundFixtures,
  type Party,
  type SignPeer,
} from './fixtures.js';

let f: InboundFixtures;
let gw: Gateway;
let tagged: Gateway;

beforeAll(async () => {
  f = await inboundFixtures();
  gw = await createGateway(f);
  tagged = await createGateway(f, ['inbound:', '  subjectTags:', '    pass: "[Signatur geprüft]"', '    fail: "[Signatur ungültig]"', '    none: "[unsigniert]"'].join('\n'));
}, 60_000);

afterAll(async () => {
  gw.remove();
  tagged.remove();
  await removeInboundFixtures();
});

const signer = (name: keyof InboundFixtures['signers']): (() => Party) => () => f.signers[name];

async function deliver(message: Buffer, gateway: Gateway = gw): Promise<Buffer> {
  const { status, out, stderr } = await gateway.inbound(message);
  expect(stderr).toBe('');
  expect(status).toBe(0);
  return out;
}

/** The delivered message minus the fields we put on top: must be the received message byte for byte. */
function afterOurFields(delivered: Buffer, received: Buffer): Buffer {
  return delivered.subarray(delivered.length - received.length);
}

describe('valid signatures from every peer pass, and the text survives', () => {
  test.each([
    ['RSA-2048', signer('rsa2048')],
    ['RSA-3072', signer('rsa3072')],
    ['P-256 (ECDSA)', signer('p256')],
  ])('openssl cms detached, %s: pass, delivered unchanged under the verdict', async (_label, who) => {
    const party = who();
    const entity = bodyEntity();
    const received = opensslSigned(f, party, entity, { to: addressing(party.email) });
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-identifier': party.email } });
    expect(afterOurFields(delivered, received).equals(received)).toBe(true);
    const verified = opensslVerify(f, delivered);
    expect(verified.stderr).toContain('Verification successful');
    expect(verified.content.equals(entity)).toBe(true);
  });

  test.each([
    ['RSA-3072', signer('rsa3072')],
    ['P-256 (ECDSA)', signer('p256')],
  ])('openssl cms opaque (application/pkcs7-mime signed-data), %s: pass, delivered as multipart/signed that openssl smime -verify accepts', async (_label, who) => {
    const party = who();
    const entity = bodyEntity();
    const received = opensslSigned(f, party, entity, { to: addressing(party.email), opaque: true });
    expect(header(received, 'Content-Type')[0]).toMatch(/^application\/pkcs7-mime; smime-type=signed-data/);
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-identifier': party.email } });
    expect(header(delivered, 'Content-Type')[0]).toMatch(/^multipart\/signed;/);
    expect(header(delivered, 'Subject')).toEqual(['Bescheid']);
    const verified = opensslVerify(f, delivered, true);
    expect(verified.stderr).toContain('Verification successful');
    expect(verified.content.equals(entity)).toBe(true);
  });

  test('legacy openssl smime detached (application/x-pkcs7-signature): pass', async () => {
    const entity = bodyEntity();
    const received = opensslSigned(f, f.signers.rsa2048, entity, { to: addressing(PARTNER), legacy: true });
    expect(received.toString('latin1')).toContain('application/x-pkcs7-signature');
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-identifier': PARTNER } });
    expect(afterOurFields(delivered, received).equals(received)).toBe(true);
    expect(opensslVerify(f, delivered, true).content.equals(entity)).toBe(true);
  });

  test('legacy openssl smime opaque (application/x-pkcs7-mime): pass, re-framed and still verifiable', async () => {
    const entity = bodyEntity();
    const received = opensslSigned(f, f.signers.rsa2048, entity, { to: addressing(PARTNER), legacy: true, opaque: true });
    expect(header(received, 'Content-Type')[0]).toMatch(/^application\/x-pkcs7-mime/);
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-identifier': PARTNER } });
    const verified = opensslVerify(f, delivered, true);
    expect(verified.stderr).toContain('Verification successful');
    expect(verified.content.equals(entity)).toBe(true);
  });

  const peers: ReadonlyArray<[SignPeer, string, () => Party, boolean]> = [
    ['gpgsm', 'RSA-2048 detached', signer('rsa2048'), true],
    ['nss', 'RSA-3072 detached', signer('rsa3072'), true],
    ['nss', 'RSA-2048 opaque', signer('rsa2048'), false],
    ['python', 'P-256 detached', signer('p256'), true],
    ['python', 'RSA-2048 opaque', signer('rsa2048'), false],
  ];
  test.each(peers)('%s, %s: pass and the text survives', async (peer, _label, who, detached) => {
    const party = who();
    const entity = bodyEntity();
    const signature = peerSignature(f, peer, party, entity, detached);
    const received = detached ? multipartSigned(addressing(party.email), entity, signature) : pkcs7Mime(addressing(party.email), signature, 'signed-data');
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-identifier': party.email } });
    if (detached) expect(afterOurFields(delivered, received).equals(received)).toBe(true);
    const verified = opensslVerify(f, delivered, !detached);
    expect(verified.stderr).toContain('Verification successful');
    expect(verified.content.equals(entity)).toBe(true);
  }, 30_000);
});

describe('signatures that do not hold get fail or policy, and the message still arrives', () => {
  test('tampered body: fail/digest-mismatch, bytes unchanged', async () => {
    const signed = opensslSigned(f, f.signers.rsa2048, bodyEntity('Betrag: 100 EUR\r\n'), { to: addressing(PARTNER) });
    const received = Buffer.from(signed.toString('latin1').replace('Betrag: 100 EUR', 'Betrag: 900 EUR'), 'latin1');
    expect(received.equals(signed)).toBe(false);
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'fail', reason: 'digest-mismatch' });
    expect(afterOurFields(delivered, received).equals(received)).toBe(true);
    expect(opensslVerify(f, delivered).ok).toBe(false);
  });

  test('tampered opaque content: fail, delivered as received (not re-framed into a seemingly valid form)', async () => {
    const der = peerSignature(f, 'python', f.signers.rsa2048, bodyEntity('Betrag: 100 EUR\r\n'), false);
    const at = der.indexOf('Betrag: 100');
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(der);
    tampered[at + 8] = 0x39; // '1' -> '9'
    const delivered = await deliver(pkcs7Mime(addressing(PARTNER), tampered, 'signed-data'));
    expect(verdictOf(delivered)).toMatchObject({ result: 'fail', reason: 'digest-mismatch' });
    expect(delivered.toString('latin1')).toContain('Authentication-Results');
  });

  test.each([
    ['an untrusted root', 'untrusted-root', signer('stranger')],
    ['a certificate for a known address from an untrusted CA', 'untrusted-root', signer('spoof')],
    ['an expired certificate', 'expired', signer('expired')],
    ['an RSA-1024 key', 'weak-key', signer('rsa1024')],
  ])('%s: policy/%s with the identifier, delivered unchanged', async (_label, reason, who) => {
    const party = who();
    const received = opensslSigned(f, party, bodyEntity(), { to: addressing(party.email) });
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'policy', reason, properties: { 'body.smime-identifier': party.email } });
    expect(afterOurFields(delivered, received).equals(received)).toBe(true);
  });

  test('NSS cmsutil 3.87 P-256: its raw r||s signature value (IEEE P1363, not the DER RFC 5753 asks for) is accepted: pass, where OpenSSL refuses it', async () => {
    const entity = bodyEntity();
    const der = peerSignature(f, 'nss', f.signers.p256, entity, true);
    const received = multipartSigned(addressing(f.signers.p256.email), entity, der);
    expect(verdictOf(await deliver(received))).toMatchObject({ result: 'pass', reason: 'valid' });
    expect(opensslVerify(f, received).ok).toBe(false);
  }, 30_000);

  test('the same raw signature over altered content still fails', async () => {
    const entity = bodyEntity();
    const der = peerSignature(f, 'nss', f.signers.p256, entity, true);
    const altered = Buffer.from(entity.toString('latin1').replace('Bescheid', 'Beschied'), 'latin1');
    const received = multipartSigned(addressing(f.signers.p256.email), altered, der);
    expect(verdictOf(await deliver(received))).toMatchObject({ result: 'fail' });
  }, 30_000);

  test('SHA-1 digest: policy/weak-digest', async () => {
    const received = opensslSigned(f, f.signers.rsa2048, bodyEntity(), { to: addressing(PARTNER), md: 'sha1' });
    expect(header(received, 'Content-Type')[0]).toContain('sha1');
    expect(verdictOf(await deliver(received))).toMatchObject({ result: 'policy', reason: 'weak-digest' });
  });

  test('From not in the certificate: policy/from-mismatch, identifier is the certificate address', async () => {
    const received = opensslSigned(f, f.signers.rsa2048, bodyEntity(), { to: addressing('chef@partner.example') });
    const verdict = verdictOf(await deliver(received));
    expect(verdict).toMatchObject({ result: 'policy', reason: 'from-mismatch', properties: { 'body.smime-identifier': PARTNER } });
  });
});

describe('unsigned and hostile input', () => {
  const plain = (extra = ''): Buffer =>
    Buffer.from(`${extra}From: ${PARTNER}\r\nTo: poststelle@stadt.example\r\nSubject: Frage\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGuten Tag,\r\nwann hat das Amt offen?\r\n`, 'latin1');

  test('unsigned: none, delivered unchanged', async () => {
    const received = plain();
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'none', reason: 'unsigned' });
    expect(afterOurFields(delivered, received).equals(received)).toBe(true);
  });

  test('forged verdict headers with our authserv-id (any case, folded, commented) are removed; others stay', async () => {
    const forged = [
      `Authentication-Results: ${AUTHSERV_ID}; smime=pass body.smime-identifier=${PARTNER}\r\n`,
      `Authentication-Results: (forged)\r\n  SIEGEL.Stadt.Example;\r\n smime=pass\r\n`,
      `Authentication-Results: "${AUTHSERV_ID}"; smime=pass\r\n`,
      'Authentication-Results: mx.partner.example; spf=pass smtp.mailfrom=partner.example\r\n',
    ].join('');
    const delivered = await deliver(plain(forged));
    const ours = ourVerdicts(delivered);
    expect(ours).toHaveLength(1);
    expect(ours[0]?.results).toEqual([{ result: 'none', reason: 'unsigned', properties: {} }]);
    const all = header(delivered, 'Authentication-Results');
    expect(all).toHaveLength(2);
    expect(all[1]).toContain('mx.partner.example; spf=pass');
    expect(delivered.toString('latin1')).not.toMatch(/forged|SIEGEL\.Stadt/);
  });

  test('a forged verdict on a message whose signature fails is replaced by the real one', async () => {
    const signed = opensslSigned(f, f.signers.rsa2048, bodyEntity('Konto: DE01\r\n'), { to: addressing(PARTNER) });
    const tampered = Buffer.from(signed.toString('latin1').replace('Konto: DE01', 'Konto: DE99'), 'latin1');
    const delivered = await deliver(Buffer.concat([Buffer.from(`Authentication-Results: ${AUTHSERV_ID}; smime=pass\r\n`), tampered]));
    expect(ourVerdicts(delivered)).toHaveLength(1);
    expect(verdictOf(delivered).result).toBe('fail');
  });

  test.each([
    ['garbage in application/pkcs7-mime', pkcs7Mime(addressing(PARTNER), Buffer.from('this is not DER at all, just text'), 'signed-data')],
    ['a signature part that is not CMS', multipartSigned(addressing(PARTNER), bodyEntity(), Buffer.from([0x30, 0x82, 0xff, 0xff, 0x06, 0x09]))],
  ])('%s: permerror, delivered with the text', async (_label, received) => {
    const delivered = await deliver(received);
    expect(verdictOf(delivered).result).toBe('permerror');
    expect(afterOurFields(delivered, received).equals(received)).toBe(true);
  });
});

describe('forwarded, stored and tagged messages', () => {
  test('a signed message forwarded as message/rfc822 attachment: verdict with body.smime-part, outer message unchanged', async () => {
    const forwardedEntity = bodyEntity();
    const inner = opensslSigned(f, f.signers.p256, forwardedEntity, { to: addressing(f.signers.p256.email, 'Original') });
    const boundary = 'fwd-boundary-1';
    const received = Buffer.concat([
      Buffer.from(
        `From: ${PARTNER}\r\nTo: poststelle@stadt.example\r\nSubject: Fwd: Original\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsiehe Anhang\r\n--${boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n`,
        'latin1',
      ),
      inner,
      Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1'),
    ]);
    const delivered = await deliver(received);
    const [ours] = ourVerdicts(delivered);
    const forwarded = ours?.results.find((r) => r.properties['body.smime-part'] !== undefined);
    expect(forwarded).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-part': '2', 'body.smime-identifier': f.signers.p256.email } });
    expect(afterOurFields(delivered, received).equals(received)).toBe(true);
    // the forwarded message itself still verifies where it sits
    expect(opensslVerify(f, inner).content.equals(forwardedEntity)).toBe(true);
  });

  test('an LF-only stored message: pass, and the added field uses LF too', async () => {
    const entity = bodyEntity();
    const crlf = opensslSigned(f, f.signers.rsa2048, entity, { to: addressing(PARTNER) });
    const received = Buffer.from(crlf.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const delivered = await deliver(received);
    expect(verdictOf(delivered)).toMatchObject({ result: 'pass', reason: 'valid', properties: { 'body.smime-identifier': PARTNER } });
    const added = delivered.subarray(0, delivered.length - received.length);
    expect(added.includes('\r')).toBe(false);
    expect(afterOurFields(delivered, received).equals(received)).toBe(true);
  });

  test('subject tags: the configured tag of the verdict goes in front of the Subject, others leave it alone', async () => {
    const passed = await deliver(opensslSigned(f, f.signers.rsa2048, bodyEntity(), { to: addressing(PARTNER, 'Antrag') }), tagged);
    expect(header(passed, 'Subject')).toHaveLength(1);
    expect(decodeSubject(header(passed, 'Subject')[0] ?? '')).toBe('[Signatur geprüft] Antrag');
    const failed = opensslSigned(f, f.signers.rsa2048, bodyEntity('Summe 1\r\n'), { to: addressing(PARTNER, 'Antrag') });
    const tampered = await deliver(Buffer.from(failed.toString('latin1').replace('Summe 1', 'Summe 7'), 'latin1'), tagged);
    expect(decodeSubject(header(tampered, 'Subject')[0] ?? '')).toBe('[Signatur ungültig] Antrag');
    const policy = await deliver(opensslSigned(f, f.signers.expired, bodyEntity(), { to: addressing(f.signers.expired.email, 'Antrag') }), tagged);
    expect(verdictOf(policy).result).toBe('policy');
    expect(header(policy, 'Subject')).toEqual(['Antrag']);
    // before an encoded word the space must sit inside the tag's encoded word (RFC 2047 6.2 drops the one between)
    const encodedSubject = await deliver(opensslSigned(f, f.signers.rsa2048, bodyEntity(), { to: addressing(PARTNER, '=?UTF-8?B?w5xiZXJ3ZWlzdW5n?=') }), tagged);
    expect(decodeSubject(header(encodedSubject, 'Subject')[0] ?? '')).toBe('[Signatur geprüft] Überweisung');
    // tagging twice (a second pass through a gateway) adds nothing
    expect(decodeSubject(header(await deliver(passed, tagged), 'Subject')[0] ?? '')).toBe('[Signatur geprüft] Antrag');
    // the tag never breaks the signature: the Subject is outside what is signed
    expect(opensslVerify(f, passed).stderr).toContain('Verification successful');
  });
});

/** RFC 2047 encoded-words (B and Q) to text, for the tagged Subject. */
function decodeSubject(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
}

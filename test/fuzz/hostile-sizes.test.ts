/**
 * Hostile shapes that must stay bounded in the inbound pipeline: a
 * signature with 10,000 certificates, MIME nested 1,000 levels deep, ASN.1
 * length bombs and deep indefinite-length nesting, an envelope with 10,000
 * RecipientInfos. Each gets a verdict within the time bound (checked by
 * the shared checker): permerror where the structure is refused, never pass.
 */
import { createChecker, type Checker } from './check.js';
import { encodeDer, parseDer, type DerNode } from './mutations.js';
import { base64Lines, createSeeds, header, inboundGateway, multipartSigned, pkcs7Mime, removeSeeds, type Gateway, type Seeds } from './seeds.js';

let seeds: Seeds;
let gateway: Gateway;
let checker: Checker;

beforeAll(async () => {
  seeds = await createSeeds();
  gateway = inboundGateway(seeds);
  checker = createChecker(seeds, gateway);
}, 120_000);

afterAll(async () => {
  console.log(`hostile sizes: ${checker.summary()}`);
  await gateway.close();
  removeSeeds(seeds);
});

/** The SEQUENCE inside ContentInfo's [0] (SignedData, EnvelopedData), as a mutable tree. */
function innerOf(der: Buffer): { tree: DerNode[]; body: DerNode[] } {
  const tree = parseDer(der);
  const body = tree?.[0]?.children?.[1]?.children?.[0]?.children;
  if (!tree || !body) throw new Error('not a ContentInfo with content');
  return { tree, body };
}

describe('hostile sizes get a verdict quickly', () => {
  it('a signature carrying 10,000 certificates', async () => {
    const { tree, body } = innerOf(seeds.signedDer);
    const certificates = body.find((n) => n.tag === 0xa0) as DerNode;
    const first = certificates.children?.[0] as DerNode;
    certificates.children = [...(certificates.children ?? []), ...Array.from({ length: 10_000 }, () => first)];
    const der = encodeDer(tree);
    expect(der.length).toBeGreaterThan(10_000 * 300);
    const { results } = await checker.check(multipartSigned(header('Many certificates'), seeds.entity, der));
    expect(results).toEqual(['permerror']);
  });

  it('MIME nested 1,000 levels deep around a signed message', async () => {
    const depth = 1000;
    const open = Array.from({ length: depth }, (_, i) => `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`).join('');
    const close = Array.from({ length: depth }, (_, i) => `\r\n--n${depth - 1 - i}--\r\n`).join('');
    const signed = multipartSigned('', seeds.entity, seeds.signedDer);
    const raw = Buffer.concat([Buffer.from(header('Deep') + open, 'latin1'), signed, Buffer.from(close, 'latin1')]);
    const { results } = await checker.check(raw);
    expect(results).toEqual(['permerror']);
  });

  it('MIME nested 1,000 levels deep through message/rfc822 parts', async () => {
    let inner = multipartSigned(header('Innermost'), seeds.entity, seeds.signedDer);
    for (let i = 0; i < 1000; i++) inner = Buffer.concat([Buffer.from(`${header(`Level ${i}`)}Content-Type: message/rfc822\r\n\r\n`, 'latin1'), inner]);
    // The search for a forwarded signed message stops at limits.mimeDepth: the message itself is unsigned.
    const { results } = await checker.check(inner);
    expect(results).toEqual(['none']);
  });

  it('9,000 parts that are each a multipart whose boundary never comes, before 4 MB of epilogue', async () => {
    // Each inner search must stop at its own part: scanning to the end of the message for every one of them
    // would take 9,000 x 4 MB with the event loop blocked.
    const parts = Array.from({ length: 9000 }, (_, i) => `--outer\r\nContent-Type: multipart/mixed; boundary="never-${i}"\r\n\r\nno delimiter follows\r\n`).join('');
    const raw = Buffer.concat([
      Buffer.from(`${header('Many open multiparts')}Content-Type: multipart/mixed; boundary="outer"\r\n\r\n${parts}--outer--\r\n`, 'latin1'),
      Buffer.alloc(4 * 1024 * 1024, 'epilogue line without delimiters -------------\r\n'),
    ]);
    const { results } = await checker.check(raw);
    expect(results).toEqual(['none']);
  });

  it.each([
    ['a 2 GiB definite length', Buffer.from('30847fffffff06092a864886f70d010702a0847fffffff3084ffffffff020101', 'hex')],
    ['an 8-octet length', Buffer.from('3088ffffffffffffffff06092a864886f70d010702', 'hex')],
    ['100,000 nested indefinite lengths', Buffer.concat([Buffer.from('308006092a864886f70d010702a080', 'hex'), Buffer.alloc(200_000, Buffer.from('3080', 'hex'))])],
    ['100,000 nested definite SEQUENCEs', nestedDefinite(100_000)],
  ])('an ASN.1 length bomb: %s, as opaque signed-data, detached signature and enveloped-data', async (_name, der) => {
    for (const raw of [
      pkcs7Mime(header('Bomb'), 'signed-data', der),
      multipartSigned(header('Bomb'), seeds.entity, der),
      pkcs7Mime(header('Bomb'), 'enveloped-data', der),
      pkcs7Mime(header('Bomb'), 'authEnveloped-data', der),
    ]) {
      const { results } = await checker.check(raw);
      expect(results.every((r) => r === 'permerror')).toBe(true);
    }
  });

  /** The enveloped seed with `count` RecipientInfos for other keys in front of ours. */
  function withForeignRecipients(count: number, foreign: (ours: DerNode) => DerNode): Buffer {
    const { tree, body } = innerOf(seeds.envelopedDer);
    const recipientInfos = body.find((n) => n.tag === 0x31) as DerNode;
    const ours = recipientInfos.children?.[0] as DerNode;
    const other = foreign(ours);
    recipientInfos.children = [...Array.from({ length: count }, () => other), ours];
    return pkcs7Mime(header('Many recipients'), 'enveloped-data', encodeDer(tree));
  }

  it('an envelope with 10,000 compact RecipientInfos (subjectKeyIdentifier, one-byte key) for other keys before ours', async () => {
    // ktri version 2: rid [0] subjectKeyIdentifier, rsaEncryption, a one-byte encryptedKey: 24 bytes each.
    const compact = (ours: DerNode): DerNode => ({
      tag: 0x30,
      content: Buffer.alloc(0),
      children: [
        { tag: 0x02, content: Buffer.from([2]) },
        { tag: 0x80, content: Buffer.from([0x5a]) },
        ours.children?.[2] as DerNode,
        { tag: 0x04, content: Buffer.from([0]) },
      ],
    });
    const { results } = await checker.check(withForeignRecipients(10_000, compact));
    expect(results).toEqual(['permerror']);
  });

  it('an envelope with 10,000 full-size RecipientInfos (issuerAndSerialNumber) for other keys before ours', async () => {
    // Another serial makes the copy somebody else's; 3.4 MB of DER, counted before anything is parsed into objects.
    const otherSerial = (ours: DerNode): DerNode => {
      const copy = cloneDer(ours);
      const serial = copy.children?.[1]?.children?.[1];
      expect(serial?.tag).toBe(0x02);
      (serial as DerNode).content = Buffer.from([0x01, 0x02, 0x03]);
      return copy;
    };
    const { results } = await checker.check(withForeignRecipients(10_000, otherSerial));
    expect(results).toEqual(['permerror']);
  });

  it('a detached signature of 20 MB base64 garbage', async () => {
    const garbage = Buffer.alloc(15 * 1024 * 1024, 0x5a);
    const raw = Buffer.concat([
      Buffer.from(`${header('Garbage')}Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="g"\r\n\r\n--g\r\n`, 'latin1'),
      seeds.entity,
      Buffer.from(`\r\n--g\r\nContent-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(garbage)}\r\n--g--\r\n`, 'latin1'),
    ]);
    const { results } = await checker.check(raw);
    expect(results).toEqual(['permerror']);
  });
});

/** `depth` SEQUENCEs each holding the next, around a NULL; headers built inside out, joined once. */
function nestedDefinite(depth: number): Buffer {
  const headers: Buffer[] = [];
  let length = 2;
  for (let i = 0; i < depth; i++) {
    const header = length < 0x80 ? Buffer.from([0x30, length]) : length < 0x100 ? Buffer.from([0x30, 0x81, length]) : length < 0x10000 ? Buffer.from([0x30, 0x82, length >> 8, length & 0xff]) : Buffer.from([0x30, 0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
    headers.push(header);
    length += header.length;
  }
  return Buffer.concat([...headers.reverse(), Buffer.from('0500', 'hex')]);
}

function cloneDer(node: DerNode): DerNode {
  return { tag: node.tag, content: node.content, ...(node.children ? { children: node.children.map(cloneDer) } : {}) };
}

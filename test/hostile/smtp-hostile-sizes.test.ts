/**
 * Hostile sizes through the real SMTP listeners of an in-process gateway
 * (issue 7): MIME nested 1,000 levels deep, 100,000 tiny parts, one header
 * field of 10 MB (folded and on one line) and 10 MB of header fields, sent
 * by a real client (nodemailer) to the submission listener from an
 * enrolled mailbox and to the inbound listener from outside; then ASN.1
 * length bombs and a signature carrying 10,000 certificates on the inbound
 * listener.
 *
 * Outbound, a structure beyond limits.* cannot be signed: the client gets
 * the catalog's 554 5.6.0 and nothing reaches the next hop. Inbound, mail
 * is never dropped: it is delivered with a verdict (none for an unsigned
 * message, permerror for a signature that cannot be read). Each answer
 * comes while the process's resident memory stays within a generous bound
 * (a message held a few times over, not a blow-up), and the next ordinary
 * message is handled normally.
 */
import { createSeeds, removeSeeds, multipartSigned, pkcs7Mime, type Seeds } from '../fuzz/seeds.js';
import { encodeDer, parseDer, type DerNode } from '../fuzz/mutations.js';
import { sampleMessage, sendMail, type SendOutcome } from '../smtp/helpers.js';
import { hugeField, MAILBOX, manyFields, manyParts, nestedMultipart, PARTNER, startHostileGateway, top, withPeakRss, type HostileGateway } from './hostile-gateway.js';

/** Peak RSS growth allowed for one hostile message of up to ~10 MB: the message held a few times, not a blow-up. */
const MEMORY_BOUND = 400 * 1024 * 1024;

let g: HostileGateway;
let seeds: Seeds;
/** Peak RSS growth per case (MB), printed for the record. */
const peaks: Record<string, number> = {};

beforeAll(async () => {
  [g, seeds] = await Promise.all([startHostileGateway(), createSeeds()]);
}, 120_000);

afterAll(async () => {
  console.log(`peak RSS growth per hostile message (MB): ${JSON.stringify(peaks)}`);
  await g.stop();
  removeSeeds(seeds);
});

const outboundTop = (subject: string): string => top(`Amt <${MAILBOX}>`, 'buerger@example.org', subject);
const inboundTop = (subject: string): string => top(`Partner <${PARTNER}>`, MAILBOX, subject);

async function send(port: number, raw: Buffer, direction: 'outbound' | 'inbound'): Promise<{ outcome: SendOutcome; peakGrowth: number }> {
  const envelope = direction === 'outbound' ? { from: MAILBOX, to: ['buerger@example.org'] } : { from: PARTNER, to: [MAILBOX] };
  const { result, peakGrowth } = await withPeakRss(() => sendMail(port, { ...envelope, raw }));
  const subject = /^Subject: (.*)$/m.exec(raw.subarray(0, 4096).toString('latin1'))?.[1] ?? '?';
  peaks[`${direction}: ${subject}`] = Math.max(peaks[`${direction}: ${subject}`] ?? 0, Math.round(peakGrowth / 1048576));
  return { outcome: result, peakGrowth };
}

/** The ordinary message after a hostile one: relayed (outbound: signed; inbound: with a verdict). */
async function expectNormalService(direction: 'outbound' | 'inbound'): Promise<void> {
  const before = g.hop.received.length;
  const raw = direction === 'outbound' ? sampleMessage() : Buffer.from(`${inboundTop('Normal')}Content-Type: text/plain\r\n\r\nHallo.\r\n`, 'latin1');
  const { outcome } = await send(direction === 'outbound' ? g.submission : g.inbound, raw, direction);
  expect(outcome.response).toMatch(/^250 /);
  expect(g.hop.received).toHaveLength(before + 1);
  const delivered = g.hop.received[before]?.raw.toString('latin1') ?? '';
  if (direction === 'outbound') expect(delivered).toContain('application/pkcs7-signature');
  else expect(delivered).toMatch(/Authentication-Results: mx\.stadt\.example;[^]*smime=none/);
  // What the next hop got is checked: let it go, so the hostile messages do not add up in this process.
  g.hop.received.splice(0);
}

/** The verdicts in the delivered message's Authentication-Results field of ours. */
function verdicts(delivered: Buffer): string[] {
  const head = delivered.subarray(0, 64 * 1024).toString('latin1');
  const field = /^Authentication-Results: mx\.stadt\.example;(?:[^\r\n]*)(?:\r\n[ \t][^\r\n]*)*/m.exec(head)?.[0] ?? '';
  return [...field.matchAll(/smime=([a-z]+)/g)].map((m) => m[1] as string);
}

/**
 * Each hostile shape with the inbound verdict docs/inbound.md promises: a
 * structure beyond limits.mimeDepth or 10,000 parts cannot be searched for
 * a signature (permerror); a big header hides none (none).
 */
const hostile: ReadonlyArray<[string, string, (head: string) => Buffer]> = [
  ['MIME nested 1,000 levels deep', 'permerror', (head) => nestedMultipart(head, 1000)],
  ['100,000 tiny parts', 'permerror', (head) => manyParts(head, 100_000)],
  ['one header field of 10 MB, folded', 'none', (head) => hugeField(head, 10 * 1024 * 1024, true)],
  ['one header field of 10 MB on one line', 'none', (head) => hugeField(head, 10 * 1024 * 1024, false)],
  ['10 MB of header fields', 'none', (head) => manyFields(head, 10 * 1024 * 1024)],
];

describe('hostile sizes on the submission listener (enrolled sender: the message must be signed)', () => {
  it.each(hostile)('%s: 554 5.6.0, nothing relayed, memory bounded, the next message signed', async (name, _verdict, build) => {
    const before = g.hop.received.length;
    const { outcome, peakGrowth } = await send(g.submission, build(outboundTop(name)), 'outbound');
    expect(outcome.ok).toBe(false);
    expect(outcome.response).toMatch(/^554 5\.6\.0 /);
    expect(g.hop.received).toHaveLength(before);
    expect(peakGrowth).toBeLessThan(MEMORY_BOUND);
    await expectNormalService('outbound');
  });
});

describe('hostile sizes on the inbound listener (mail is never dropped: delivered with a verdict)', () => {
  it.each(hostile)('%s: delivered with smime=%s, memory bounded, the next message handled', async (name, verdict, build) => {
    const before = g.hop.received.length;
    const { outcome, peakGrowth } = await send(g.inbound, build(inboundTop(name)), 'inbound');
    expect(outcome.response).toMatch(/^250 /);
    expect(g.hop.received).toHaveLength(before + 1);
    expect(verdicts(g.hop.received[before]?.raw ?? Buffer.alloc(0))).toEqual([verdict]);
    expect(peakGrowth).toBeLessThan(MEMORY_BOUND);
    await expectNormalService('inbound');
  });

  /** The SEQUENCE inside ContentInfo's [0] (SignedData), as a mutable tree. */
  function signedDataOf(der: Buffer): { tree: DerNode[]; body: DerNode[] } {
    const tree = parseDer(der);
    const body = tree?.[0]?.children?.[1]?.children?.[0]?.children;
    if (!tree || !body) throw new Error('not a ContentInfo with content');
    return { tree, body };
  }

  const bombs: ReadonlyArray<[string, () => Buffer]> = [
    ['a 2 GiB definite length', () => Buffer.from('30847fffffff06092a864886f70d010702a0847fffffff3084ffffffff020101', 'hex')],
    ['an 8-octet length', () => Buffer.from('3088ffffffffffffffff06092a864886f70d010702', 'hex')],
    ['100,000 nested indefinite lengths', () => Buffer.concat([Buffer.from('308006092a864886f70d010702a080', 'hex'), Buffer.alloc(200_000, Buffer.from('3080', 'hex'))])],
    [
      'a signature carrying 10,000 certificates',
      () => {
        const { tree, body } = signedDataOf(seeds.signedDer);
        const certificates = body.find((n) => n.tag === 0xa0) as DerNode;
        const first = certificates.children?.[0] as DerNode;
        certificates.children = [...(certificates.children ?? []), ...Array.from({ length: 10_000 }, () => first)];
        return encodeDer(tree);
      },
    ],
  ];

  it.each(bombs)('%s, as detached signature and opaque signed-data: delivered with smime=permerror, memory bounded', async (name, build) => {
    const der = build();
    for (const raw of [multipartSigned(inboundTop(name), seeds.entity, der), pkcs7Mime(inboundTop(name), 'signed-data', der)]) {
      const before = g.hop.received.length;
      const { outcome, peakGrowth } = await send(g.inbound, raw, 'inbound');
      expect(outcome.response).toMatch(/^250 /);
      expect(g.hop.received).toHaveLength(before + 1);
      expect(verdicts(g.hop.received[before]?.raw ?? Buffer.alloc(0))).toEqual(['permerror']);
      expect(peakGrowth).toBeLessThan(MEMORY_BOUND);
    }
    await expectNormalService('inbound');
  });
});

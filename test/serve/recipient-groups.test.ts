/**
 * DESIGN rule 3: one DATA has one answer, so recipients that need another
 * treatment (here: an opaque signature for a partner whose system strips
 * multipart/signed) are answered 452 4.5.3 at RCPT time and sent by the
 * client in a new transaction. Nothing is delivered twice or left out.
 */
import { getHeader, splitHeaderBody } from '../../src/mime/headers.js';
import { sampleMessage, sendMail, startFakeNextHop, type FakeNextHop } from '../smtp/helpers.js';
import { startTestGateway, type TestGateway } from './test-gateway.js';

const mailbox = 'amt@stadt.example';
let hop: FakeNextHop;
let gateway: TestGateway;

beforeAll(async () => {
  hop = await startFakeNextHop();
  gateway = await startTestGateway({
    configTail: () => `smtp:\n  submission:\n    listen: 127.0.0.1:0\n    relay: ${hop.url}\nsigning:\n  opaqueFor: [partner.example]\n`,
    mailboxes: [mailbox],
  });
});

afterAll(async () => {
  await gateway.stop();
  await hop.stop();
});

function contentType(raw: Buffer | undefined): string {
  return getHeader(splitHeaderBody(raw ?? Buffer.alloc(0)).header, 'content-type') ?? '';
}

describe('recipients with different treatment', () => {
  it('accepts only the first group in a transaction; the other recipients get 452 4.5.3 and go in the next one', async () => {
    const raw = sampleMessage(); // From: Amt <amt@stadt.example>
    const first = await sendMail(gateway.server.ports.submission, { from: mailbox, to: ['a@partner.example', 'b@elsewhere.example', 'c@partner.example'], raw });
    expect(first.accepted).toEqual(['a@partner.example', 'c@partner.example']);
    expect(first.rejected).toEqual(['b@elsewhere.example']);
    expect(hop.received).toHaveLength(1);
    expect(hop.received[0]?.rcptTo).toEqual(['a@partner.example', 'c@partner.example']);
    expect(contentType(hop.received[0]?.raw)).toMatch(/^application\/pkcs7-mime; smime-type=signed-data/);

    const second = await sendMail(gateway.server.ports.submission, { from: mailbox, to: first.rejected, raw });
    expect(second.ok).toBe(true);
    expect(hop.received).toHaveLength(2);
    expect(hop.received[1]?.rcptTo).toEqual(['b@elsewhere.example']);
    expect(contentType(hop.received[1]?.raw)).toMatch(/^multipart\/signed;/);
  });
});

/**
 * Fault: the next hop refuses, permanently or temporarily, at each step of
 * the transaction (MAIL, RCPT, DATA, end of data) or before it (greeting).
 * Through a real `siegel serve`, both listeners: a 5xx reaches the client
 * as a 5xx (it bounces), a 4xx as a 4xx (it retries), with the next hop's
 * enhanced status where it gave one and the catalog's class otherwise; a
 * refusal of us rather than of the message (a 5xx greeting) is a 451 4.4.1.
 * When the refused message had its attachment turned into a link, the
 * link is revoked and its file deleted: nothing stays behind and the
 * sender's quota is not used up by retries.
 */
import type { TestGateway } from '../serve/test-gateway.js';
import {
  MAILBOX,
  acceptedCopies,
  expectMailSafe,
  expectStillServing,
  filesBelow,
  gatewayConfig,
  messageWithAttachment,
  send,
  sharesOf,
  status,
  throughBoth,
  withFaultGateway,
} from './fault-gateway.js';
import { reply, type FaultHop, type HopScript } from './fault-hop.js';
import { blobDirectory } from '../../src/transfer/open.js';

let hop: FaultHop;
let gateway: TestGateway;

withFaultGateway(['largeFiles:', '  threshold: 20KB', 'web:', '  publicUrl: https://dateien.stadt.example'].join('\n'), (started, relaying) => {
  hop = started;
  gateway = relaying;
});


const cases: [string, string, HopScript][] = [
  ['550 5.1.1 to RCPT', '550 5.1.1', { rcpt: () => reply('550 5.1.1 No such user') }],
  ['450 4.2.1 to RCPT', '450 4.2.1', { rcpt: () => reply('450 4.2.1 Mailbox busy') }],
  ['553 5.7.1 to MAIL FROM', '553 5.7.1', { mail: reply('553 5.7.1 Sender refused') }],
  ['451 4.3.0 to MAIL FROM', '451 4.3.0', { mail: reply('451 4.3.0 Try again') }],
  ['554 5.7.1 to DATA', '554 5.7.1', { data: reply('554 5.7.1 Not now, not ever') }],
  ['552 5.3.4 after the end of data', '552 5.3.4', { endOfData: reply('552 5.3.4 Too big for us') }],
  ['550 without an enhanced code after the end of data', '550 5.0.0', { endOfData: reply('550 Content rejected') }],
  ['451 4.7.1 after the end of data', '451 4.7.1', { endOfData: reply('451 4.7.1 Greylisted, try later') }],
  ['421 after the end of data (becomes 451: only the next hop went away)', '451 4.3.2', { endOfData: reply('421 4.3.2 Shutting down') }],
  ['a multi-line 554 after the end of data', '554 5.7.1', { endOfData: reply('554-5.7.1 Spam detected\r\n554 5.7.1 see policy') }],
  ['554 as greeting (refuses us, not the message)', '451 4.4.1', { greeting: reply('554 5.7.1 No service for you') }],
];

describe('a next hop refusing', () => {
  it.each(cases)('%s: the client gets %s through both listeners', async (_name, expected, script) => {
    for (const { message, outcome } of await throughBoth(hop, gateway, script)) {
      expect(outcome.ok).toBe(false);
      expect(status(outcome)).toBe(expected);
      expectMailSafe(outcome, hop, message);
      expect(acceptedCopies(hop, message.mark)).toBe(0);
    }
    await expectStillServing(hop, gateway);
  }, 20_000);

  it('revokes the link made for an offloaded attachment and deletes its file when the next hop refuses the message, keeps it when the hop may have it', async () => {
    const files = blobDirectory(gatewayConfig(gateway));
    const before = await sharesOf(gateway, MAILBOX);
    for (const refusal of ['554 5.7.1 Refused', '451 4.3.0 Later']) {
      hop.script = { endOfData: reply(refusal) };
      const message = messageWithAttachment(60_000);
      const outcome = await send(gateway, 'submission', message);
      expect(status(outcome)).toBe(refusal.split(' ').slice(0, 2).join(' '));
      expectMailSafe(outcome, hop, message);
      // The hop did get a message with a link (the offload ran), and refused it.
      const refused = hop.received.find((m) => m.raw.includes(message.mark));
      expect(refused?.raw.toString('latin1')).toContain('https://dateien.stadt.example/');
    }
    hop.script = {};
    const shares = (await sharesOf(gateway, MAILBOX)).filter((s) => !before.some((b) => b.id === s.id));
    expect(shares).toHaveLength(2);
    for (const share of shares) expect(share.state).toBe('revoked');
    expect(filesBelow(files)).toEqual([]);

    // No answer to the final dot (the hop may have the message): 451, but the link stays, so a delivered copy works.
    hop.script = { endOfData: { kind: 'close' } };
    const unanswered = messageWithAttachment(60_000);
    const uncertain = await send(gateway, 'submission', unanswered);
    expect(status(uncertain)).toMatch(/^451 4\.4\./);
    expect(hop.received.some((m) => m.raw.includes(unanswered.mark))).toBe(true);
    hop.script = {};
    const kept = (await sharesOf(gateway, MAILBOX)).filter((s) => !before.some((b) => b.id === s.id) && !shares.some((r) => r.id === s.id));
    expect(kept.map((s) => s.state)).toEqual(['active']);
    expect(filesBelow(files)).toHaveLength(1);

    // Delivered, the link stays.
    const message = messageWithAttachment(60_000);
    const outcome = await send(gateway, 'submission', message);
    expect(outcome.response).toMatch(/^250 /);
    expect(acceptedCopies(hop, message.mark)).toBe(1);
    const active = (await sharesOf(gateway, MAILBOX)).filter((s) => s.state === 'active');
    expect(active).toHaveLength(2);
    expect(filesBelow(files)).toHaveLength(2);
  }, 20_000);
});

/**
 * Fault: a next hop answering with bytes that are not SMTP (an HTTP server
 * on the relay port, binary noise, reply codes outside RFC 5321) at each
 * step of the dialogue. Through a real `siegel serve`, both listeners: the
 * client gets a 4xx (never a 250: garbage after the end of data is not an
 * acceptance), nothing crashes, and the next message is relayed.
 */
import type { TestGateway } from '../serve/test-gateway.js';
import { acceptedCopies, expectMailSafe, expectStillServing, status, throughBoth, withFaultGateway } from './fault-gateway.js';
import { isAcceptance } from '../../src/smtp/next-hop-errors.js';
import { reply, type FaultHop, type HopScript } from './fault-hop.js';

const HTTP = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\n<h1>no</h1>';
/** Binary noise (a fixed pattern over all byte values but CR and LF), then one CRLF: a "line" that is no reply. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) % 256).map((b) => (b === 13 || b === 10 ? 0 : b))), Buffer.from('\r\n')]);

let hop: FaultHop;
let gateway: TestGateway;

withFaultGateway('', (started, relaying) => {
  hop = started;
  gateway = relaying;
});


const cases: [string, HopScript][] = [
  ['an HTTP answer instead of the greeting', { greeting: { kind: 'garbage', bytes: HTTP } }],
  ['binary noise instead of the greeting', { greeting: { kind: 'garbage', bytes: BINARY } }],
  ['a reply code outside 2xx-5xx to RCPT', { rcpt: () => reply('999 9.9.9 what') }],
  ['a reply without a code to DATA', { data: reply('go ahead, send it') }],
  ['an HTTP answer after the end of data', { endOfData: { kind: 'garbage', bytes: `${HTTP}\r\n` } }],
  ['binary noise after the end of data', { endOfData: { kind: 'garbage', bytes: BINARY } }],
  ['"2500 ok" (four digits) after the end of data', { endOfData: reply('2500 ok') }],
  ['"200 OK" (a 2xx that is not 250) after the end of data', { endOfData: reply('200 OK') }],
  ['a 354 after the end of data', { endOfData: reply('354 more please') }],
  ['an unfinished multi-line 250 after the end of data', { endOfData: { kind: 'garbage', bytes: '250-Ok, and then\r\n' } }],
];

describe('a next hop answering garbage', () => {
  it.each(cases)('%s: 4xx through both listeners, never 250; the next message is relayed', async (_name, script) => {
    for (const { message, outcome } of await throughBoth(hop, gateway, script)) {
      expect(outcome.ok).toBe(false);
      expect(status(outcome)).toMatch(/^451 4\.[345]\.\d$/);
      expectMailSafe(outcome, hop, message);
      expect(acceptedCopies(hop, message.mark)).toBe(0);
    }
    await expectStillServing(hop, gateway);
  }, 20_000);
});

describe('what counts as the next hop accepting the message', () => {
  it('only a well-formed 250 reply, single- or multi-line', () => {
    expect(isAcceptance('250 2.0.0 Ok: queued as 4711')).toBe(true);
    expect(isAcceptance('250')).toBe(true);
    expect(isAcceptance('250-Ok\n250 queued')).toBe(true);
    for (const reply of ['2500 ok', '251 ok', '200 OK', '299', '250-Ok', '250-Ok\n251 queued', 'HTTP/1.1 200 OK', '', ' 250 ok']) {
      expect([reply, isAcceptance(reply)]).toEqual([reply, false]);
    }
  });
});

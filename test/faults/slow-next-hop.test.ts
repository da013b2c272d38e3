/**
 * Fault: a next hop slower than smtp.<listener>.nextHop.timeout (the whole
 * delivery: connect, greeting, envelope, data, final answer). Through a
 * real `siegel serve`, both listeners at once: the client gets 451 4.4.2
 * (it keeps the message and retries) instead of waiting, never a 250 —
 * also when the next hop took the whole message and its 250 only comes
 * after our timeout (a duplicate at the client's retry is acceptable, a
 * loss is not). The gateway serves the next message normally.
 */
import type { TestGateway } from '../serve/test-gateway.js';
import type { SendOutcome } from '../smtp/helpers.js';
import { NEXT_HOP_TIMEOUT_MS, acceptedCopies, expectMailSafe, expectStillServing, status, throughBoth, type Marked, withFaultGateway } from './fault-gateway.js';
import { reply, type FaultHop } from './fault-hop.js';

/** Well past the next-hop timeout, and past what the test client waits for itself (10 s socket timeout). */
const LATE_MS = 12_000;

let hop: FaultHop;
let gateway: TestGateway;

withFaultGateway('', (started, relaying) => {
  hop = started;
  gateway = relaying;
});

afterEach(() => {
  hop.script = {};
});

function expectTimedOut(results: { message: Marked; outcome: SendOutcome; elapsed: number }[]): void {
  for (const { message, outcome, elapsed } of results) {
    expect(outcome.ok).toBe(false);
    expect(status(outcome)).toBe('451 4.4.2');
    expectMailSafe(outcome, hop, message);
    expect(acceptedCopies(hop, message.mark)).toBe(0);
    // Answered by our timeout, not by the hop (which would answer only after LATE_MS).
    expect(elapsed).toBeGreaterThanOrEqual(NEXT_HOP_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(LATE_MS);
  }
}

describe('a next hop slower than nextHop.timeout', () => {
  it('greeting late: 451 4.4.2, then the gateway relays the next message', async () => {
    expectTimedOut(await throughBoth(hop, gateway, { greeting: reply('220 fault-hop ESMTP', LATE_MS) }));
    await expectStillServing(hop, gateway);
  }, 20_000);

  it('every answer quick but the whole delivery too long: 451 4.4.2', async () => {
    const step = Math.ceil(NEXT_HOP_TIMEOUT_MS / 4);
    expectTimedOut(
      await throughBoth(hop, gateway, {
        greeting: reply('220 fault-hop ESMTP', step),
        rcpt: () => reply('250 2.1.5 Ok', step),
        data: reply('354 go ahead', step),
        endOfData: reply('250 2.0.0 Ok', step * 2),
      }),
    );
    await expectStillServing(hop, gateway);
  }, 20_000);

  it('no answer to the end of data: 451 4.4.2, not a hang', async () => {
    const results = await throughBoth(hop, gateway, { endOfData: { kind: 'hang' } });
    expectTimedOut(results);
    for (const { message } of results) expect(hop.received.some((m) => m.raw.includes(message.mark))).toBe(true);
    await expectStillServing(hop, gateway);
  }, 20_000);

  it('the hop took the message but its 250 comes after our timeout: 451 4.4.2 (duplicate at retry, never a loss)', async () => {
    const results = await throughBoth(hop, gateway, { endOfData: reply('250 2.0.0 Ok: accepted late', NEXT_HOP_TIMEOUT_MS + 1_000) });
    expectTimedOut(results);
    // The hop has the bytes: the client retrying is a duplicate, which is the safe side.
    for (const { message } of results) expect(hop.received.some((m) => m.raw.includes(message.mark))).toBe(true);
    await expectStillServing(hop, gateway);
  }, 20_000);
});

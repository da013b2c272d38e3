/**
 * Fault: the next hop closes the connection in the middle of DATA (after
 * part of the body) or right after the end-of-data dot without answering.
 * Through a real `siegel serve`, on both listeners: the client gets a 4xx
 * (it keeps the message and retries), never a 250; once the next hop
 * behaves again the next message is relayed.
 */
import type { TestGateway } from '../serve/test-gateway.js';
import { DIRECTIONS, acceptedCopies, expectMailSafe, markedMessage, send, status, withFaultGateway } from './fault-gateway.js';
import type { FaultHop } from './fault-hop.js';

let hop: FaultHop;
let gateway: TestGateway;

withFaultGateway('', (started, relaying) => {
  hop = started;
  gateway = relaying;
});

describe.each(DIRECTIONS)('next hop closing the connection (%s listener)', (direction) => {
  it('mid-DATA after part of the body: 451 4.4.x, nothing accepted; the next message is relayed', async () => {
    hop.script = { closeAfterBodyBytes: 4_096 };
    const started = hop.dataStarted;
    const cut = markedMessage(direction, 200_000);
    const outcome = await send(gateway, direction, cut);
    expect(outcome.ok).toBe(false);
    expect(status(outcome)).toMatch(/^451 4\.4\.[12]$/);
    expectMailSafe(outcome, hop, cut);
    // The fault really happened mid-DATA: the hop got to DATA but never to the dot.
    expect(hop.dataStarted).toBeGreaterThan(started);
    expect(hop.received.some((m) => m.raw.includes(cut.mark))).toBe(false);
    expect(acceptedCopies(hop, cut.mark)).toBe(0);

    hop.script = {};
    const next = markedMessage(direction, 200_000);
    const delivered = await send(gateway, direction, next);
    expect(delivered.response).toMatch(/^250 /);
    expectMailSafe(delivered, hop, next);
    expect(acceptedCopies(hop, next.mark)).toBe(1);
  }, 20_000);

  it('after the end-of-data dot without an answer: 451 4.4.x although the hop has the bytes (a duplicate at retry, never a loss)', async () => {
    hop.script = { endOfData: { kind: 'close' } };
    const unanswered = markedMessage(direction);
    const outcome = await send(gateway, direction, unanswered);
    expect(outcome.ok).toBe(false);
    expect(status(outcome)).toMatch(/^451 4\.4\.[12]$/);
    expectMailSafe(outcome, hop, unanswered);
    expect(hop.received.some((m) => m.raw.includes(unanswered.mark))).toBe(true);
    expect(acceptedCopies(hop, unanswered.mark)).toBe(0);

    hop.script = {};
    const next = markedMessage(direction);
    const delivered = await send(gateway, direction, next);
    expect(delivered.response).toMatch(/^250 /);
    expect(acceptedCopies(hop, next.mark)).toBe(1);
  }, 20_000);
});

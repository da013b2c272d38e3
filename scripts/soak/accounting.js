// Every message of the run, accounted for: what the client was told (the
// gateway's reply, or a lost connection) against what the next hops
// delivered. The classes below are exhaustive; each message lands in one.
import { expectedKind, KINDS } from './messages.js';

/**
 * Classes. The good ones: delivered (250 and delivered exactly once, in the
 * expected form), refused4xx / refused5xx (not delivered: the sender keeps
 * it and retries or bounces), connectionLost (no reply, not delivered: the
 * sender retries). Reported but tolerated only when explained: duplicateRisk
 * (4xx or no reply although the next hop took it: the sender's retry would
 * deliver it twice). Failures: lost (250, never delivered), duplicated
 * (delivered more than once), wrongForm (delivered once, not as expected),
 * falseBounce (5xx although delivered).
 */
export const CLASSES = ['delivered', 'refused4xx', 'refused5xx', 'connectionLost', 'duplicateRisk', 'lost', 'duplicated', 'wrongForm', 'falseBounce'];
export const FAILURES = ['lost', 'duplicated', 'wrongForm', 'falseBounce', 'duplicateRisk'];

/** Why a delivered message does not look as its kind requires, or null. */
function formProblem(message, delivery) {
  const spec = KINDS[expectedKind(message.kind, message.rcptTo)];
  const problems = [];
  const expectedHop = spec.listener;
  if (delivery.hop !== expectedHop) problems.push(`arrived at the ${delivery.hop} next hop`);
  if (delivery.marker !== spec.marker) problems.push(`form ${delivery.marker}, expected ${spec.marker}`);
  if (delivery.smime !== spec.smime) problems.push(`smime=${delivery.smime}, expected ${spec.smime}`);
  if (message.bodyHash && delivery.bodyHash !== message.bodyHash) problems.push('body changed');
  const sent = message.rcptTo.map((r) => r.toLowerCase()).sort().join(',');
  if (delivery.rcptTo.slice().sort().join(',') !== sent) problems.push(`recipients ${delivery.rcptTo.join(',')}`);
  return problems.length > 0 ? problems.join('; ') : null;
}

/**
 * `sent`: transactionKey -> { id, kind, rcptTo, bodyHash, outcome: { code,
 * stage, text } | { lost: reason } }, one entry per transaction (a message
 * split by 452 4.5.3 has two). `hops`: the counting next hops. Returns
 * counts per class (overall and per kind), the refusals by stage and code,
 * how the refusals match the faults the next hops injected, and examples of
 * every failure.
 */
export function account(sent, hops) {
  const deliveries = new Map();
  for (const hop of hops) {
    for (const [key, d] of hop.deliveries) {
      // The same transaction at both next hops would be a double delivery too.
      const other = deliveries.get(key);
      deliveries.set(key, other ? { ...d, count: d.count + other.count } : d);
    }
  }
  const classes = Object.fromEntries(CLASSES.map((c) => [c, 0]));
  const byKind = {};
  const replies = {};
  const examples = [];
  let untied = 0;
  for (const [key, message] of sent) {
    const id = message.id;
    const delivery = deliveries.get(key);
    const count = delivery?.count ?? 0;
    const outcome = message.outcome;
    let cls;
    let detail = null;
    if (count > 1) cls = 'duplicated';
    else if (outcome.lost) cls = count === 0 ? 'connectionLost' : 'duplicateRisk';
    else if (outcome.code === 250) {
      if (count === 0) cls = 'lost';
      else {
        detail = formProblem(message, delivery);
        cls = detail ? 'wrongForm' : 'delivered';
      }
    } else if (outcome.code >= 400 && outcome.code < 500) cls = count === 0 ? 'refused4xx' : 'duplicateRisk';
    else if (outcome.code >= 500) cls = count === 0 ? 'refused5xx' : 'falseBounce';
    else {
      cls = 'lost';
      detail = `unexpected reply ${outcome.code}`;
    }
    classes[cls]++;
    (byKind[message.kind] ??= Object.fromEntries(CLASSES.map((c) => [c, 0])))[cls]++;
    if (!outcome.lost && outcome.code !== 250) {
      // "END 451 4.4.1": the command it answered, the code and the enhanced code.
      const reply = `${outcome.stage} ${outcome.text.split(' ').slice(0, 2).join(' ')}`;
      replies[reply] = (replies[reply] ?? 0) + 1;
      // A refusal no injected fault explains came from the gateway itself.
      if (!hops.some((h) => h.refused.has(key))) untied++;
    }
    if (FAILURES.includes(cls) && examples.length < 20) examples.push({ id, kind: message.kind, class: cls, outcome, delivered: count, detail });
  }
  const injected = {};
  for (const hop of hops) for (const [fault, n] of Object.entries(hop.injected)) injected[fault] = (injected[fault] ?? 0) + n;
  // A 451 to the next hop's DATA command comes before any header, so it cannot name its message: those are counted, not tied.
  const unexplainedRefusals = untied - (injected.dataCommand451 ?? 0);
  const unknownDeliveries = [...deliveries.keys()].filter((key) => !sent.has(key)).length;
  const messages = new Set([...sent.values()].map((m) => m.id)).size;
  const splits = sent.size - messages;
  const accounted = Object.values(classes).reduce((a, b) => a + b, 0);
  return { classes, byKind, replies, injected, unexplainedRefusals, unknownDeliveries, accounted, messagesAccounted: messages, transactions: sent.size, splits, examples };
}

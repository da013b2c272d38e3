/**
 * The inbound side of the policies (src/policy/): which rule applies to a
 * message from outside, and the config its stages run with. The sender is
 * the envelope sender (MAIL FROM; `siegel inbound` takes it from the From
 * field when not given), the recipients are the envelope's. One message has
 * one treatment, so the SMTP edge groups recipients at RCPT time by the rule
 * they match (inboundRecipientGroup); `siegel inbound`, which cannot split,
 * applies the first recipient's rule.
 */
import type { Config } from '../../config/schema.js';
import { defaultDecision, type PolicyDecision } from '../../policy/decision.js';
import type { PolicySet } from '../../policy/load.js';
import { decide, type RecipientDecision } from '../../policy/match.js';
import type { Envelope } from '../types.js';

/** The policy in force, read per message so a reload applies to the next one (PolicyHolder.current). */
export type PolicySource = () => PolicySet;

export interface InboundPolicyChoice {
  readonly decision: PolicyDecision;
  /** The rule that matched; undefined when the default decision applies. */
  readonly rule: RecipientDecision['rule'];
}

/** Name of the default decision in logs and groups (as the outbound log line names it). */
export const DEFAULT_RULE = 'default';

/** The decision for one message (its first recipient's; the SMTP edge made sure all share it). */
export function inboundChoice(policy: PolicySet, config: Config, envelope: Envelope): InboundPolicyChoice {
  const [first] = decide(policy, { direction: 'inbound', from: envelope.mailFrom, to: envelope.rcptTo.slice(0, 1) }, config);
  // No recipient (siegel inbound on a file without To): nothing to match, the default decision.
  if (!first) return { decision: defaultDecision(config), rule: undefined };
  return { decision: first.decision, rule: first.rule };
}

/** The config the inbound stages read, with the decision's RSA floor and subject tags laid over it. */
export function configWithDecision(config: Config, decision: PolicyDecision): Config {
  return { ...config, inbound: { ...config.inbound, minRsaBits: decision.minRsaBits, subjectTags: { ...decision.subjectTags } } };
}

/**
 * The treatment group of a recipient for the inbound listener: the rule it
 * matches. Recipients matching another rule than the first get 452 4.5.3
 * and come again in their own transaction, each getting its rule's tags and
 * fail action.
 */
export function inboundRecipientGroup(policies: PolicySource, config: Config): (mailFrom: string, recipient: string) => string {
  return (mailFrom, recipient) => {
    const [decision] = decide(policies(), { direction: 'inbound', from: mailFrom, to: [recipient] }, config);
    return decision?.rule?.name ?? DEFAULT_RULE;
  };
}

/**
 * Outbound policy (issue 6): the decision of the rules in `policies/` for
 * one message. Rules decide per recipient, but one message has one form
 * (signed or not, encrypted for all or none), so every recipient of a
 * message must share one decision: the SMTP edge keeps recipients of
 * different decisions in separate transactions (outboundPolicyGroup, 452
 * 4.5.3 at RCPT time); the `siegel outbound` filter, which cannot split,
 * refuses a mixed message and asks to split it. Without any outbound rule
 * nothing changes, not even the log line.
 *
 * The policy stage only records the decision (rule and action) for the one
 * log line per message, so an admin can answer "why was this mail not
 * encrypted?"; the sign, encrypt and offload stages act on it.
 */
import type { Config } from '../../config/schema.js';
import { SiegelError } from '../../errors.js';
import { defaultDecision, type PolicyDecision } from '../../policy/decision.js';
import { decide, type RecipientDecision } from '../../policy/match.js';
import type { PolicySet } from '../../policy/load.js';
import type { Envelope, PipelineMessage, Stage, StageResult } from '../types.js';

/** The decision for all recipients of one message, with the rule that made it. */
export interface MessagePolicy {
  readonly decision: PolicyDecision;
  /** Name of the matching rule; undefined: the default decision (config). */
  readonly rule: string | undefined;
  /** Where the rule is written (file:line), for the log. */
  readonly source: string | undefined;
}

/** Where the policy in force comes from: a PolicyHolder, or `siegel serve`'s reloading policies. */
export interface PolicySource {
  current(): PolicySet;
}

export type PolicyConfig = Pick<Config, 'signing' | 'encryption' | 'inbound' | 'largeFiles' | 'internalDomains'>;

/** What makes two recipients' treatment differ: the outbound keys of the decision and the rule that chose them. */
export function policyKey(recipient: RecipientDecision): string {
  const { sign, signAs, encrypt, onMissingCertificate, largeFiles, contentEncryption } = recipient.decision;
  return JSON.stringify([recipient.rule?.name ?? '', sign, signAs ?? '', encrypt, onMissingCertificate, largeFiles.threshold, largeFiles.expiry, contentEncryption]);
}

function governedBy(recipient: RecipientDecision): string {
  return recipient.rule ? `rule "${recipient.rule.name}" (${recipient.rule.file}:${recipient.rule.line})` : 'the default policy';
}

/**
 * The one decision for the envelope's recipients. Recipients with
 * different decisions are a permanent error naming them, so the filter's
 * caller knows to send one message per group.
 */
export function messagePolicy(holder: PolicySource, config: PolicyConfig, envelope: Envelope): MessagePolicy | undefined {
  const policy = holder.current();
  // Without outbound rules the config alone decides: the pipeline runs exactly as before policies (same log line too).
  if (!policy.rules.some(({ rule }) => rule.match.direction === 'outbound')) return undefined;
  const decisions = decide(policy, { direction: 'outbound', from: envelope.mailFrom, to: envelope.rcptTo }, config);
  const first = decisions[0];
  // No recipients (the pipeline refuses nothing for that itself): what the config says.
  if (!first) return { decision: defaultDecision(config), rule: undefined, source: undefined };
  const key = policyKey(first);
  const other = decisions.find((d) => policyKey(d) !== key);
  if (other) {
    throw new SiegelError(
      'POLICY_RECIPIENTS_MIXED',
      `recipients fall under different policies: ${first.recipient} under ${governedBy(first)}, ${other.recipient} under ${governedBy(other)}; split the message into one per policy (siegel policy explain shows which applies)`,
    );
  }
  return { decision: first.decision, rule: first.rule?.name, source: first.rule ? `${first.rule.file}:${first.rule.line}` : undefined };
}

/** The rule's name for log details and refusals. */
export function ruleLabel(policy: MessagePolicy | undefined): string {
  return policy?.rule ?? 'default';
}

/**
 * A refusal the client sees as 550 5.7.1 with the reason in the text
 * (recipient or sender and rule): retrying cannot help, the sender must
 * change the message or the recipients. `logNote` goes to the log only.
 */
export function policyRefusal(text: string, logNote?: string): SiegelError {
  return new SiegelError('POLICY_REFUSED', logNote ? `${text}; ${logNote}` : text, { reply: { code: 550, enhanced: '5.7.1', text } });
}

/** First in the outbound pipeline: records the decision for the log line. */
export function createPolicyStage<M extends PipelineMessage>(policy: MessagePolicy): Stage<M> {
  return {
    name: 'policy',
    run(message: M): Promise<StageResult<M>> {
      const { sign, signAs, encrypt, onMissingCertificate } = policy.decision;
      return Promise.resolve({
        message,
        action: {
          stage: 'policy',
          action: policy.rule ? 'rule' : 'default',
          detail: {
            rule: ruleLabel(policy),
            ...(policy.source ? { source: policy.source } : {}),
            sign,
            ...(signAs ? { signAs } : {}),
            encrypt,
            ...(encrypt === 'required' ? { onMissingCertificate } : {}),
          },
        },
      });
    },
  };
}

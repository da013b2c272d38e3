/**
 * A decision: everything the pipelines need to know about one recipient of
 * one message. The default decision is what the gateway did before
 * policies existed, taken from the config: sign when the sender is enrolled
 * (signing.enabled), encrypt when every recipient's certificate is known
 * and send plain otherwise (encryption.enabled), the configured large-file
 * threshold and expiry, subject tags, RSA floor and content encryption, and
 * inbound failures only tagged. A matching rule overrides the keys it names.
 */
import type { Config } from '../config/schema.js';
import type { ContentEncryption, Direction, EncryptMode, FailAction, MissingCertificateAction, PolicyRule, SignMode, Verdict } from './schema.js';

export interface PolicyDecision {
  readonly sign: SignMode;
  /** Identity to sign with instead of the sender's own (a functional mailbox). */
  readonly signAs?: string;
  readonly encrypt: EncryptMode;
  /** With encrypt: required, what happens to a recipient without a usable certificate. */
  readonly onMissingCertificate: MissingCertificateAction;
  readonly largeFiles: { readonly threshold: number; readonly expiry: number };
  readonly subjectTags: Readonly<Partial<Record<Verdict, string>>>;
  readonly onFail: FailAction;
  readonly minRsaBits: number;
  readonly contentEncryption: ContentEncryption;
}

export type DecisionKey = keyof PolicyDecision;

/** The config keys the default decision is made of. */
export type DecisionConfig = Pick<Config, 'signing' | 'encryption' | 'inbound' | 'largeFiles'>;

export function defaultDecision(config: DecisionConfig): PolicyDecision {
  return {
    sign: config.signing.enabled ? 'if-enrolled' : 'never',
    encrypt: config.encryption.enabled ? 'opportunistic' : 'never',
    // Only read with encrypt: required; refusing is the safe reading of "required".
    onMissingCertificate: 'reject',
    largeFiles: { threshold: config.largeFiles.threshold, expiry: config.largeFiles.defaultExpiry },
    subjectTags: { ...config.inbound.subjectTags },
    onFail: 'tag',
    minRsaBits: config.inbound.minRsaBits,
    contentEncryption: config.encryption.contentEncryption,
  };
}

/** The keys each direction's pipeline reads (explain shows only these). */
export const decisionKeys: Readonly<Record<Direction, readonly DecisionKey[]>> = {
  outbound: ['sign', 'signAs', 'encrypt', 'onMissingCertificate', 'largeFiles', 'minRsaBits', 'contentEncryption'],
  inbound: ['subjectTags', 'onFail', 'minRsaBits'],
};

/** The base decision with the rule's keys laid over it, and which keys the rule set. */
export function applyRule(base: PolicyDecision, rule: PolicyRule): { decision: PolicyDecision; fromRule: DecisionKey[] } {
  const fromRule: DecisionKey[] = [];
  const pick = <K extends DecisionKey>(key: K, value: PolicyDecision[K] | undefined): PolicyDecision[K] => {
    if (value === undefined) return base[key];
    fromRule.push(key);
    return value;
  };
  const decision: PolicyDecision = {
    sign: pick('sign', rule.sign),
    ...(rule.signAs !== undefined ? { signAs: pick('signAs', rule.signAs.toLowerCase()) } : {}),
    encrypt: pick('encrypt', rule.encrypt),
    onMissingCertificate: pick('onMissingCertificate', rule.onMissingCertificate),
    largeFiles: pick(
      'largeFiles',
      rule.largeFiles && { threshold: rule.largeFiles.threshold ?? base.largeFiles.threshold, expiry: rule.largeFiles.expiry ?? base.largeFiles.expiry },
    ),
    // Tags merge per verdict: a rule changing the fail tag keeps the configured pass tag; "" removes one.
    subjectTags: pick('subjectTags', rule.subjectTags && { ...base.subjectTags, ...rule.subjectTags }),
    onFail: pick('onFail', rule.onFail),
    minRsaBits: pick('minRsaBits', rule.minRsaBits),
    contentEncryption: pick('contentEncryption', rule.contentEncryption),
  };
  return { decision, fromRule };
}

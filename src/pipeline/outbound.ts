/**
 * The outbound pipeline: what happens to staff mail on its way out, in order.
 */
import type { Config } from '../config/schema.js';
import type { SigningIdentityResolver } from '../keystore/identity.js';
import type { EncryptionCertificateLookup } from './encryption-lookup.js';
import { leadingBytes } from './message.js';
import { carryingFindings, type OutboundMessage } from './outbound-message.js';
import { runStages } from './run.js';
import { createAuthorizeSenderStage } from './stages/authorize-sender.js';
import { detectClientSmime } from './stages/detect-client-smime.js';
import { createEncryptStage } from './stages/encrypt.js';
import { createLinkDelivery } from './stages/link-delivery.js';
import { createOffloadStage } from './stages/offload.js';
import { createSignStage, signingForm } from './stages/sign.js';
import type { PipelineMessage, PipelineResult, Stage } from './types.js';
import type { Notifier, TransferService } from '../transfer/types.js';
import { decide } from '../policy/match.js';
import { createPolicyStage, messagePolicy, policyKey, type MessagePolicy, type PolicySource } from './stages/policy.js';

export interface OutboundDeps {
  readonly config: Config;
  readonly identities: SigningIdentityResolver;
  /** Recipients' encryption certificates; absent, none is known and nothing is encrypted. */
  readonly encryptionCertificate?: EncryptionCertificateLookup;
  readonly now: () => Date;
  /** The large-file exchange; present, large attachments leave as links (offloading before signing). */
  readonly transfer?: TransferService;
  /** The rules of `policies/` (issue 6); absent, the config alone decides, as before policies. */
  readonly policies?: PolicySource;
  /** Mails senders the password of a message delivered as a link (onMissingCertificate: link); needs `transfer` too. */
  readonly notifier?: Notifier;
}

const NO_CERTIFICATES: EncryptionCertificateLookup = () => Promise.resolve(undefined);

/** `policy`: the decision for the message at hand (one set of stages per message then). */
export function outboundStages(deps: OutboundDeps, policy?: MessagePolicy): Stage<OutboundMessage>[] {
  const { config } = deps;
  const senders = config.smtp.submission.auth.senders;
  const decided = policy ? { policy } : {};
  const sign = createSignStage({ signing: config.signing, limits: config.limits, identities: deps.identities, ...decided });
  // The link notice is signed by the same stage as the message it stands for.
  const linked =
    policy?.decision.onMissingCertificate === 'link' && deps.transfer && deps.notifier
      ? { linkDelivery: createLinkDelivery({ transfer: deps.transfer, notifier: deps.notifier, limits: config.limits, sign, expiresIn: policy.decision.largeFiles.expiry }) }
      : {};
  return [
    // First, so the log line names the rule even when a later stage refuses the message.
    ...(policy ? [createPolicyStage<OutboundMessage>(policy)] : []),
    // Only when logins are bound to senders; otherwise it would add nothing but a log entry.
    ...(senders ? [carryingFindings(createAuthorizeSenderStage({ senders, maxHeaderSize: config.limits.headerSize }))] : []),
    // Before signing, so the notes that replace large attachments are signed too.
    ...(deps.transfer
      ? [
          createOffloadStage({
            threshold: policy?.decision.largeFiles.threshold ?? config.largeFiles.threshold,
            // A rule's expiry; without a policy the service's default (largeFiles.defaultExpiry).
            ...(policy ? { expiresIn: policy.decision.largeFiles.expiry } : {}),
            internalDomains: config.internalDomains,
            limits: config.limits,
            transfer: deps.transfer,
          }),
        ]
      : []),
    carryingFindings(sign),
    createEncryptStage({ encryption: config.encryption, limits: config.limits, certificateFor: deps.encryptionCertificate ?? NO_CERTIFICATES, ...decided, ...linked }),
  ];
}

export function createOutboundPipeline(deps: OutboundDeps): (message: PipelineMessage, queueId: string) => Promise<PipelineResult> {
  const fixed = deps.policies ? undefined : outboundStages(deps);
  const { headerSize } = deps.config.limits;
  const { policies } = deps;
  return async (message, queueId) => {
    // Once, on arrival: after signing, our signature and the client's look alike.
    const arrived: OutboundMessage = { ...message, clientSmime: detectClientSmime(leadingBytes(message, headerSize)) };
    // Decided once per message against the policy in force now (a reload mid-message does not mix two policies).
    const stages = fixed ?? outboundStages(deps, policies && messagePolicy(policies, deps.config, message.envelope));
    return runStages(stages, arrived, { queueId, now: deps.now });
  };
}

/**
 * Recipients that need a different treatment cannot share a transaction;
 * the SMTP edge asks this at RCPT time: the form of the signature (opaque
 * for `signing.opaqueFor`) and whether the recipient's certificate is known
 * (the message is encrypted only when every recipient's is).
 */
export function outboundRecipientGroup(
  config: Config,
  encryptionCertificate?: EncryptionCertificateLookup,
  now: () => Date = () => new Date(),
  policies?: PolicySource,
): (mailFrom: string, recipient: string) => Promise<string> {
  return async (mailFrom, recipient) => {
    const form = signingForm(config.signing, [recipient]);
    // With policies, recipients of different decisions (rule, sign, encrypt, ...) never share a transaction either.
    const decision = policies && decide(policies.current(), { direction: 'outbound', from: mailFrom, to: [recipient] }, config)[0];
    const ruled = decision ? `:${policyKey(decision)}` : '';
    const encrypting = decision ? decision.decision.encrypt !== 'never' : config.encryption.enabled;
    // Not encrypting, certificates make no difference: no look-up, no split.
    if (!encrypting || !encryptionCertificate) return `${form}:plain${ruled}`;
    return `${form}:${(await encryptionCertificate(recipient, now())) ? 'encrypt' : 'plain'}${ruled}`;
  };
}

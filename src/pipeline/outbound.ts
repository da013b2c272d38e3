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
import { createOffloadStage } from './stages/offload.js';
import { createSignStage, signingForm } from './stages/sign.js';
import type { PipelineMessage, PipelineResult, Stage } from './types.js';
import type { TransferService } from '../transfer/types.js';

export interface OutboundDeps {
  readonly config: Config;
  readonly identities: SigningIdentityResolver;
  /** Recipients' encryption certificates; absent, none is known and nothing is encrypted. */
  readonly encryptionCertificate?: EncryptionCertificateLookup;
  readonly now: () => Date;
  /** The large-file exchange; present, large attachments leave as links (offloading before signing). */
  readonly transfer?: TransferService;
}

const NO_CERTIFICATES: EncryptionCertificateLookup = () => Promise.resolve(undefined);

export function outboundStages(deps: OutboundDeps): Stage<OutboundMessage>[] {
  const { config } = deps;
  const senders = config.smtp.submission.auth.senders;
  return [
    // Only when logins are bound to senders; otherwise it would add nothing but a log entry.
    ...(senders ? [carryingFindings(createAuthorizeSenderStage({ senders, maxHeaderSize: config.limits.headerSize }))] : []),
    // Before signing, so the notes that replace large attachments are signed too.
    ...(deps.transfer
      ? [createOffloadStage({ threshold: config.largeFiles.threshold, internalDomains: config.internalDomains, limits: config.limits, transfer: deps.transfer })]
      : []),
    carryingFindings(createSignStage({ signing: config.signing, limits: config.limits, identities: deps.identities })),
    createEncryptStage({ encryption: config.encryption, limits: config.limits, certificateFor: deps.encryptionCertificate ?? NO_CERTIFICATES }),
  ];
}

export function createOutboundPipeline(deps: OutboundDeps): (message: PipelineMessage, queueId: string) => Promise<PipelineResult> {
  const stages = outboundStages(deps);
  const { headerSize } = deps.config.limits;
  return (message, queueId) => {
    // Once, on arrival: after signing, our signature and the client's look alike.
    const arrived: OutboundMessage = { ...message, clientSmime: detectClientSmime(leadingBytes(message, headerSize)) };
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
): (mailFrom: string, recipient: string) => Promise<string> {
  return async (_mailFrom, recipient) => {
    const form = signingForm(config.signing, [recipient]);
    // Disabled, certificates make no difference: no look-up, no split.
    if (!config.encryption.enabled || !encryptionCertificate) return `${form}:plain`;
    return `${form}:${(await encryptionCertificate(recipient, now())) ? 'encrypt' : 'plain'}`;
  };
}

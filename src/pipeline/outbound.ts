/**
 * The outbound pipeline: what happens to staff mail on its way out, in order.
 * Later stages (large-file offloading before signing, encryption after it)
 * slot in here.
 */
import type { Config } from '../config/schema.js';
import type { SigningIdentityResolver } from '../keystore/identity.js';
import { runStages } from './run.js';
import { createAuthorizeSenderStage } from './stages/authorize-sender.js';
import { createSignStage, signingForm } from './stages/sign.js';
import type { PipelineMessage, PipelineResult, Stage } from './types.js';

export interface OutboundDeps {
  readonly config: Config;
  readonly identities: SigningIdentityResolver;
  readonly now: () => Date;
}

export function outboundStages(deps: OutboundDeps): Stage[] {
  const { config } = deps;
  const senders = config.smtp.submission.auth.senders;
  return [
    // Only when logins are bound to senders; otherwise it would add nothing but a log entry.
    ...(senders ? [createAuthorizeSenderStage({ senders, maxHeaderSize: config.limits.headerSize })] : []),
    createSignStage({ signing: config.signing, limits: config.limits, identities: deps.identities }),
  ];
}

export function createOutboundPipeline(deps: OutboundDeps): (message: PipelineMessage, queueId: string) => Promise<PipelineResult> {
  const stages = outboundStages(deps);
  return (message, queueId) => runStages(stages, message, { queueId, now: deps.now });
}

/**
 * Recipients that need a different treatment cannot share a transaction;
 * the SMTP edge asks this at RCPT time. Today the only difference is the
 * form of the signature (opaque for `signing.opaqueFor`).
 */
export function outboundRecipientGroup(config: Config): (mailFrom: string, recipient: string) => string {
  return (_mailFrom, recipient) => signingForm(config.signing, [recipient]);
}

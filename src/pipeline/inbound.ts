/**
 * The inbound pipeline: what happens to mail from outside on its way to
 * the internal mail server, in order. Every message leaves with a verdict;
 * only a local fault (the key store cannot be opened) defers it (4xx).
 */
import { hostname } from 'node:os';
import type { Config } from '../config/schema.js';
import { SiegelError, errorMessage } from '../errors.js';
import type { HarvestedStore } from '../keystore/harvested-store.js';
import type { IssuerStore } from '../keystore/issuer-store.js';
import type { DecryptionKeyResolver } from '../keystore/identity.js';
import type { RevocationChecker } from '../pki/revocation/types.js';
import type { TrustAnchor } from '../pki/trust-store.js';
import { verdictOf } from '../smime/verdict.js';
import { createAnnotateStage } from './inbound/annotate.js';
import { NO_FINDINGS, type InboundMessage } from './inbound/findings.js';
import { createHarvestStage } from './inbound/harvest-signer.js';
import { createOpenLayersStage } from './inbound/open-layers.js';
import { configWithDecision, inboundChoice, type PolicySource } from './inbound/policy.js';
import { applyFailAction } from './inbound/policy-fail.js';
import { emptyPolicy } from '../policy/load.js';
import { createStripForgedStage } from './inbound/strip-forged.js';
import { runStages } from './run.js';
import type { PipelineMessage, PipelineResult, Stage, StageResult } from './types.js';

export interface InboundDeps {
  readonly config: Config;
  readonly anchors: () => readonly TrustAnchor[];
  readonly keys: DecryptionKeyResolver;
  readonly harvested: HarvestedStore;
  /** Where the issuing CAs of harvested certificates are kept (for their revocation checks after a restart). */
  readonly issuers?: IssuerStore;
  readonly now: () => Date;
  /** One checker per process (its caches are shared); no revocation checking when absent. */
  readonly revocation?: RevocationChecker;
  /** The policies in force (read per message, so a reload applies to the next one); absent: the default decision. */
  readonly policies?: PolicySource;
}

/** authservId, else hostname, else the system host name (docs/configuration.md). */
export function authservIdOf(config: Config): string {
  return config.authservId ?? config.hostname ?? hostname();
}

export function inboundStages(deps: InboundDeps): Stage<InboundMessage>[] {
  const { config } = deps;
  return [
    createStripForgedStage(authservIdOf(config)),
    survivingBugs(
      createOpenLayersStage({
        limits: config.limits,
        inbound: config.inbound,
        maxMessageSize: config.smtp.inbound.maxMessageSize,
        anchors: deps.anchors,
        keys: deps.keys,
        ...(deps.revocation ? { revocation: { checker: deps.revocation, mode: config.revocation.mode } } : {}),
      }),
    ),
    createHarvestStage({ inbound: config.inbound, store: deps.harvested, anchors: deps.anchors, ...(deps.issuers ? { issuers: deps.issuers } : {}) }),
    createAnnotateStage({ authservId: authservIdOf(config), subjectTags: config.inbound.subjectTags }),
  ];
}

export function createInboundPipeline(deps: InboundDeps): (message: PipelineMessage, queueId: string) => Promise<PipelineResult<InboundMessage>> {
  const policies = deps.policies ?? (() => emptyPolicy(deps.config.policies));
  return async (message, queueId) => {
    // The rule's RSA floor and subject tags apply to this message's stages (they are cheap to make).
    const choice = inboundChoice(policies(), deps.config, message.envelope);
    const stages = inboundStages({ ...deps, config: configWithDecision(deps.config, choice.decision) });
    const result = await runStages(stages, { ...message, findings: NO_FINDINGS }, { queueId, now: deps.now });
    try {
      return applyFailAction(result, choice);
    } catch (err) {
      // Rejected: the message is not delivered, so what the stages did for it is undone.
      await result.undo?.();
      throw err;
    }
  };
}

/**
 * A defect in the look inside a message must not cost the message: it is
 * delivered as received with `temperror`. Local faults the catalog knows
 * (the key store) still defer it, so the sender retries.
 */
function survivingBugs(stage: Stage<InboundMessage>): Stage<InboundMessage> {
  return {
    name: stage.name,
    async run(message, context): Promise<StageResult<InboundMessage>> {
      try {
        return await stage.run(message, context);
      } catch (err) {
        if (err instanceof SiegelError) throw err;
        const problem = verdictOf('temporary-failure', 'the message could not be checked because of a local error');
        return { message: { ...message, findings: { ...message.findings, problem } }, action: { stage: stage.name, action: 'error', detail: { error: errorMessage(err) } } };
      }
    },
  };
}

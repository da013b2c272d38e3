/**
 * What an inbound `fail` does, per the policy (onFail): `tag` delivers it
 * with its verdict and tag (what the gateway always did), `quarantine`
 * delivers it, verdict header included, to the quarantine Maildir admins
 * review instead of the internal server, `reject` refuses it at DATA with
 * 550 5.7.7, so the sender learns of it (never dropped silently). Only a
 * `fail` counts: policy, temperror and the rest are tagged, because they
 * say nothing about a forged or altered message.
 */
import { SiegelError } from '../../errors.js';
import type { FailAction } from '../../policy/schema.js';
import type { PipelineResult, StageAction } from '../types.js';
import { messageVerdict } from './annotate.js';
import type { InboundMessage } from './findings.js';
import { DEFAULT_RULE, type InboundPolicyChoice } from './policy.js';

export const POLICY_STAGE = 'policy';

/** The policy's action for this result; throws SIGNATURE_REJECTED for a `fail` under onFail: reject. */
export function applyFailAction(result: PipelineResult<InboundMessage>, choice: InboundPolicyChoice): PipelineResult<InboundMessage> {
  const verdict = messageVerdict(result.message.findings);
  const rule = choice.rule?.name ?? DEFAULT_RULE;
  const action: FailAction = verdict.result === 'fail' ? choice.decision.onFail : 'tag';
  if (action === 'reject') {
    throw new SiegelError('SIGNATURE_REJECTED', `policy rule "${rule}" rejects messages whose signature fails (${verdict.reason})`);
  }
  const stageAction: StageAction = { stage: POLICY_STAGE, action, detail: { rule, ...(choice.rule ? { file: choice.rule.file, line: choice.rule.line } : {}) } };
  // The rest of the result (the stages' undo) goes on with it.
  return { ...result, actions: [...result.actions, stageAction], ...(action === 'quarantine' ? { destination: 'quarantine' as const } : {}) };
}

/** True when the policy sent this message to quarantine instead of the next hop. */
export function isQuarantined(result: PipelineResult): boolean {
  return result.destination === 'quarantine';
}

/**
 * `siegel policy explain --from A --to B [--to C ...] [--direction out|in]`:
 * which rule matches each recipient and what it decides, from the policy
 * files as they are on disk now (not what a running gateway loaded), so an
 * admin can test a change before reloading.
 */
import { formatIssue, loadPolicies } from '../policy/load.js';
import { decide } from '../policy/match.js';
import { explanation, explanationText } from '../policy/explain.js';
import type { Direction } from '../policy/schema.js';
import { ExitCode, type CommandContext } from './context.js';

export interface PolicyExplainOptions {
  readonly from: string;
  readonly to: readonly string[];
  /** out|in or outbound|inbound; default out. */
  readonly direction?: string;
  readonly json?: boolean;
}

const directionNames: Readonly<Record<string, Direction>> = { out: 'outbound', outbound: 'outbound', in: 'inbound', inbound: 'inbound' };

export async function policyExplain(ctx: CommandContext, options: PolicyExplainOptions): Promise<number> {
  const direction = directionNames[(options.direction ?? 'out').toLowerCase()];
  if (!direction) {
    ctx.stderr.write(`siegel policy explain: --direction must be out or in, got ${JSON.stringify(options.direction)}\n`);
    return ExitCode.usage;
  }
  if (options.to.length === 0) {
    ctx.stderr.write('siegel policy explain: give at least one --to address\n');
    return ExitCode.usage;
  }
  const result = loadPolicies(ctx.config.policies);
  if (!result.ok) {
    for (const issue of result.issues) ctx.stderr.write(`${formatIssue(issue)}\n`);
    ctx.stderr.write(`policy in ${ctx.config.policies} is not valid: fix it first (siegel policy check)\n`);
    return ExitCode.failure;
  }
  const decisions = decide(result.policy, { direction, from: options.from, to: options.to }, ctx.config);
  const explained = explanation(direction, options.from, decisions);
  ctx.stdout.write(options.json ? `${JSON.stringify(explained, null, 2)}\n` : explanationText(explained));
  return ExitCode.ok;
}

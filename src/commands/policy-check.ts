/**
 * `siegel policy check`: loads the configured policy directory as the
 * gateway would and prints what it found (rules and groups per file) or
 * every problem as `file:line: key: message`. Exit 0 when the policy is
 * good, 1 when not, so admins and scripts can check before a reload.
 */
import { formatIssue, loadPolicies } from '../policy/load.js';
import { ExitCode, type CommandContext } from './context.js';

export async function policyCheck(ctx: CommandContext): Promise<number> {
  const directory = ctx.config.policies;
  const result = loadPolicies(directory);
  if (!result.ok) {
    for (const issue of result.issues) ctx.stderr.write(`${formatIssue(issue)}\n`);
    ctx.stderr.write(`policy in ${directory} is not valid: ${result.issues.length} problem(s)\n`);
    return ExitCode.failure;
  }
  const { policy } = result;
  if (policy.missingDirectory) {
    ctx.stdout.write(`no policy directory at ${directory}: every message gets the default decision\n`);
    return ExitCode.ok;
  }
  for (const file of policy.files) {
    ctx.stdout.write(`${file.file}: ${file.rules} rule(s)${file.groups > 0 ? `, ${file.groups} group(s)` : ''}\n`);
  }
  for (const { rule, file, line } of policy.rules) {
    ctx.stdout.write(`  ${rule.match.direction} ${rule.name} (${file}:${line})\n`);
  }
  ctx.stdout.write(`policy in ${directory} is valid: ${policy.rules.length} rule(s) in ${policy.files.length} file(s)\n`);
  return ExitCode.ok;
}

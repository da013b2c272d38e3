/**
 * Explaining decisions to an admin: per recipient, which rule matched
 * (file and line) or that the default applied, and every decision key the
 * pipeline of that direction reads, marked "rule" or "default". Answers
 * "why was this mail (not) encrypted?" before a change goes live.
 */
import { formatSize } from '../config/units.js';
import { formatDuration } from '../config/format-duration.js';
import { decisionKeys, type DecisionKey, type PolicyDecision } from './decision.js';
import type { RecipientDecision } from './match.js';
import type { Direction } from './schema.js';

export interface Explanation {
  readonly direction: Direction;
  readonly from: string;
  readonly recipients: ReadonlyArray<{
    readonly recipient: string;
    readonly rule: { readonly name: string; readonly file: string; readonly line: number; readonly description?: string } | null;
    /** Only the keys the pipeline of this direction reads. */
    readonly decision: Partial<PolicyDecision>;
    readonly fromRule: readonly DecisionKey[];
  }>;
}

export function explanation(direction: Direction, from: string, decisions: readonly RecipientDecision[]): Explanation {
  return {
    direction,
    from,
    recipients: decisions.map((d) => ({
      recipient: d.recipient,
      rule: d.rule ?? null,
      decision: Object.fromEntries(decisionKeys[direction].filter((key) => d.decision[key] !== undefined).map((key) => [key, d.decision[key]])) as Partial<PolicyDecision>,
      fromRule: d.fromRule.filter((key) => decisionKeys[direction].includes(key)),
    })),
  };
}

function valueText(key: DecisionKey, decision: Partial<PolicyDecision>): string {
  if (key === 'largeFiles' && decision.largeFiles) return `threshold ${formatSize(decision.largeFiles.threshold)}, expiry ${formatDuration(decision.largeFiles.expiry)}`;
  if (key === 'subjectTags' && decision.subjectTags) {
    const tags = Object.entries(decision.subjectTags).filter(([, tag]) => tag !== undefined && tag !== '');
    return tags.length === 0 ? '(none)' : tags.map(([verdict, tag]) => `${verdict} ${JSON.stringify(tag)}`).join(', ');
  }
  return String(decision[key]);
}

/** The text `siegel policy explain` prints. */
export function explanationText(explained: Explanation): string {
  const lines = [`${explained.direction} mail from ${explained.from || '<>'}:`];
  for (const entry of explained.recipients) {
    lines.push(
      entry.rule
        ? `${entry.recipient}: rule "${entry.rule.name}" (${entry.rule.file}:${entry.rule.line})${entry.rule.description ? ` - ${entry.rule.description.trim()}` : ''}`
        : `${entry.recipient}: no rule matched, default decision`,
    );
    for (const key of decisionKeys[explained.direction]) {
      if (entry.decision[key] === undefined) continue;
      lines.push(`  ${key}: ${valueText(key, entry.decision)}${entry.fromRule.includes(key) ? '' : ' (default)'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

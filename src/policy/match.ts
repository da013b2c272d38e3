/**
 * Matching: which rule applies to one recipient of a message. Rules are
 * tried in order (files in name order, rules in file order) and the first
 * whose direction, sender and recipient all match wins; none matching means
 * the default decision (src/policy/decision.ts). Each recipient is matched
 * on its own, because one message may go to a council member (encrypt,
 * required) and to a citizen (opportunistic) at once.
 *
 * Patterns, compared case-insensitively:
 *   a@stadt.example   that address
 *   *@stadt.example   any address at that domain (not its subdomains)
 *   *@*.stadt.example any address at a subdomain of it
 *   internal          any address at one of config.internalDomains
 *   group:NAME        any member of the group (members are the patterns above)
 * A rule without `from` (or `to`) matches any sender (or recipient); the
 * empty sender of bounces (<>) matches only such rules.
 */
import { applyRule, defaultDecision, type DecisionConfig, type DecisionKey, type PolicyDecision } from './decision.js';
import type { LoadedRule, PolicySet } from './load.js';
import type { Direction } from './schema.js';

export interface MatchEnvironment {
  readonly internalDomains: readonly string[];
}

/** `<A@Example.org>` -> `a@example.org` */
export function normalizeAddress(address: string): string {
  return address.trim().replace(/^<(.*)>$/, '$1').trim().toLowerCase();
}

function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf('@');
  return at > 0 ? address.slice(at + 1) : undefined;
}

function simplePatternMatches(pattern: string, address: string, env: MatchEnvironment): boolean {
  const domain = domainOf(address);
  if (pattern === 'internal') return domain !== undefined && env.internalDomains.some((d) => d.trim().toLowerCase().replace(/^@/, '') === domain);
  if (pattern.startsWith('*@*.')) return domain !== undefined && domain.endsWith(`.${pattern.slice(4)}`);
  if (pattern.startsWith('*@')) return domain === pattern.slice(2);
  return pattern === address;
}

function patternMatches(pattern: string, address: string, policy: PolicySet, env: MatchEnvironment): boolean {
  const normalized = pattern.trim().toLowerCase();
  if (normalized.startsWith('group:')) {
    const group = policy.groups.get(normalized.slice('group:'.length));
    return group !== undefined && group.members.some((member) => simplePatternMatches(member, address, env));
  }
  return simplePatternMatches(normalized, address, env);
}

function sideMatches(patterns: readonly string[] | undefined, address: string, policy: PolicySet, env: MatchEnvironment): boolean {
  return patterns === undefined || patterns.some((pattern) => patternMatches(pattern, address, policy, env));
}

/** The first rule for this direction, sender and recipient, if any. */
export function findRule(policy: PolicySet, direction: Direction, from: string, to: string, env: MatchEnvironment): LoadedRule | undefined {
  const sender = normalizeAddress(from);
  const recipient = normalizeAddress(to);
  return policy.rules.find(
    ({ rule }) => rule.match.direction === direction && sideMatches(rule.match.from, sender, policy, env) && sideMatches(rule.match.to, recipient, policy, env),
  );
}

export interface RecipientDecision {
  /** The recipient as given. */
  readonly recipient: string;
  /** The rule that matched; undefined when the default decision applies. */
  readonly rule: { readonly name: string; readonly file: string; readonly line: number; readonly description?: string } | undefined;
  readonly decision: PolicyDecision;
  /** Keys the rule set; the others come from the default decision. */
  readonly fromRule: readonly DecisionKey[];
}

export interface DecideRequest {
  readonly direction: Direction;
  readonly from: string;
  readonly to: readonly string[];
}

/** One decision per recipient, in the order given. */
export function decide(policy: PolicySet, request: DecideRequest, config: DecisionConfig & MatchEnvironment): RecipientDecision[] {
  const base = defaultDecision(config);
  return request.to.map((recipient) => {
    const loaded = findRule(policy, request.direction, request.from, recipient, config);
    if (!loaded) return { recipient, rule: undefined, decision: base, fromRule: [] };
    const { decision, fromRule } = applyRule(base, loaded.rule);
    const { name, description } = loaded.rule;
    return { recipient, rule: { name, file: loaded.file, line: loaded.line, ...(description !== undefined ? { description } : {}) }, decision, fromRule };
  });
}

/**
 * Loading a policy directory: every *.yaml / *.yml file in it (not in
 * subdirectories, not hidden files), in name order, each validated against
 * src/policy/schema.ts, then checked together: rule and group names are
 * unique across the directory and every `group:NAME` is defined. Problems
 * name file, line and key path, so an admin finds them without guessing:
 *
 *   policies/20-tax.yaml:7: rules[0].encrypt: expected one of never, opportunistic, required, got "always"
 *
 * A directory that does not exist is an empty policy (the default decision
 * for all mail), so a fresh install needs none; `siegel policy check` says so.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { policyFileSchema, type PolicyRule } from './schema.js';

export interface PolicyIssue {
  /** Path of the file as given (directory joined with the file name). */
  readonly file: string;
  /** 1-based line, when the problem has a place in the file. */
  readonly line?: number;
  /** Key path such as `rules[2].match.to[0]`; empty for the file as a whole. */
  readonly key: string;
  readonly message: string;
}

export interface LoadedRule {
  readonly rule: PolicyRule;
  readonly file: string;
  readonly line: number;
}

export interface PolicyGroup {
  readonly name: string;
  /** Lower-case patterns: addresses, `*@domain`, `*@*.domain`, `internal`. */
  readonly members: readonly string[];
  readonly file: string;
  readonly line: number;
}

export interface PolicyFileSummary {
  readonly file: string;
  readonly rules: number;
  readonly groups: number;
}

export interface PolicySet {
  readonly directory: string;
  /** True when the directory does not exist: no rules, the default decision applies. */
  readonly missingDirectory: boolean;
  readonly files: readonly PolicyFileSummary[];
  /** All rules in matching order: files in name order, rules in file order. */
  readonly rules: readonly LoadedRule[];
  readonly groups: ReadonlyMap<string, PolicyGroup>;
}

export type PolicyLoadResult = { readonly ok: true; readonly policy: PolicySet } | { readonly ok: false; readonly directory: string; readonly issues: readonly PolicyIssue[] };

/** An empty policy: every message gets the default decision. */
export function emptyPolicy(directory: string, missingDirectory = true): PolicySet {
  return { directory, missingDirectory, files: [], rules: [], groups: new Map() };
}

export function formatIssue(issue: PolicyIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  return issue.key === '' ? `${where}: ${issue.message}` : `${where}: ${issue.key}: ${issue.message}`;
}

const policyFileName = /^[^.].*\.ya?ml$/i;

export function policyFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isFile() && policyFileName.test(entry.name))
    .map((entry) => entry.name)
    // Code-point order, not locale order: the matching order must not depend on the machine's locale.
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => path.join(directory, name));
}

export function loadPolicies(directory: string): PolicyLoadResult {
  if (!existsSync(directory)) return { ok: true, policy: emptyPolicy(directory) };
  let files: string[];
  try {
    if (!statSync(directory).isDirectory()) return { ok: false, directory, issues: [{ file: directory, key: '', message: 'is not a directory' }] };
    files = policyFiles(directory);
  } catch (err) {
    return { ok: false, directory, issues: [{ file: directory, key: '', message: `cannot read the directory: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }] };
  }

  const issues: PolicyIssue[] = [];
  const parsed: ParsedFile[] = [];
  for (const file of files) {
    const result = parseFile(file);
    if ('issues' in result) issues.push(...result.issues);
    else parsed.push(result);
  }

  const rules: LoadedRule[] = [];
  const groups = new Map<string, PolicyGroup>();
  const ruleNames = new Map<string, LoadedRule>();
  for (const file of parsed) {
    for (const [name, members] of Object.entries(file.content.groups ?? {})) {
      const line = file.lineOf(['groups', name]);
      const key = name.toLowerCase();
      const earlier = groups.get(key);
      if (earlier) {
        issues.push({ file: file.file, line, key: `groups.${name}`, message: `group "${name}" is already defined in ${earlier.file}:${earlier.line}` });
        continue;
      }
      groups.set(key, { name, members: members.map((m) => m.trim().toLowerCase()), file: file.file, line: line ?? 1 });
    }
  }
  for (const file of parsed) {
    (file.content.rules ?? []).forEach((rule, index) => {
      const loaded: LoadedRule = { rule, file: file.file, line: file.lineOf(['rules', index]) ?? 1 };
      const earlier = ruleNames.get(rule.name.toLowerCase());
      if (earlier) {
        issues.push({ file: file.file, line: file.lineOf(['rules', index, 'name']), key: `rules[${index}].name`, message: `rule name "${rule.name}" is already used in ${earlier.file}:${earlier.line}` });
      } else {
        ruleNames.set(rule.name.toLowerCase(), loaded);
      }
      for (const side of ['from', 'to'] as const) {
        (rule.match[side] ?? []).forEach((pattern, at) => {
          const ref = pattern.trim().toLowerCase();
          if (ref.startsWith('group:') && !groups.has(ref.slice('group:'.length))) {
            issues.push({
              file: file.file,
              line: file.lineOf(['rules', index, 'match', side, at]),
              key: `rules[${index}].match.${side}[${at}]`,
              message: `unknown group "${pattern.trim().slice('group:'.length)}" (define it under groups: in a file of ${directory})`,
            });
          }
        });
      }
      rules.push(loaded);
    });
  }

  if (issues.length > 0) return { ok: false, directory, issues };
  return {
    ok: true,
    policy: {
      directory,
      missingDirectory: false,
      files: parsed.map((f) => ({ file: f.file, rules: f.content.rules?.length ?? 0, groups: Object.keys(f.content.groups ?? {}).length })),
      rules,
      groups,
    },
  };
}

interface ParsedFile {
  readonly file: string;
  readonly content: z.output<typeof policyFileSchema>;
  lineOf(keyPath: readonly PropertyKey[]): number | undefined;
}

/**
 * Policy files hold a few rules and address groups (kilobytes). The cap
 * bounds the time and memory a broken or hostile file can cost (a group of
 * a million addresses, a generated file gone wrong) at a clear message.
 */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

/** Problems reported per file; the rest are counted. */
const MAX_ISSUES_PER_FILE = 100;

function parseFile(file: string): ParsedFile | { issues: PolicyIssue[] } {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_POLICY_FILE_BYTES) {
      return { issues: [{ file, key: '', message: `the file has ${size} bytes, more than the ${MAX_POLICY_FILE_BYTES} a policy file may have (split large groups over several files)` }] };
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { issues: [{ file, key: '', message: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }] };
  }
  try {
    return parseText(file, text);
  } catch (err) {
    // Whatever the YAML library or the schema did not foresee is still a problem of this file, never a crash.
    return { issues: [{ file, key: '', message: `cannot be read as a policy: ${(err as Error).message}` }] };
  }
}

/** The YAML library reports a stack overflow during composition as an error of the document. */
function yamlErrorText(message: string): string {
  return /maximum call stack size exceeded/i.test(message) ? 'nested too deeply' : message;
}

function parseText(file: string, text: string): ParsedFile | { issues: PolicyIssue[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = text.split(/\r?\n/);
    return {
      issues: doc.errors.map((error) => {
        const line = error.linePos?.[0].line;
        const first = error.message.split('\n')[0] ?? error.message;
        // `*@domain` unquoted reads as a YAML alias: say how to write it.
        const hint = line !== undefined && /(^|[\s[,-])\*@/.test(lines[line - 1] ?? '') ? ' (quote patterns that start with "*": \'*@example.org\')' : '';
        return { file, line, key: '', message: `not valid YAML: ${yamlErrorText(first.replace(/ at line \d+, column \d+:?$/, ''))}${hint}` };
      }),
    };
  }
  const lineOf = (keyPath: readonly PropertyKey[]) => locate(doc, lineCounter, keyPath);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    const alias = unresolvedAlias(doc);
    const line = alias === undefined ? 1 : lineCounter.linePos(alias.offset).line;
    const hint = alias?.source.startsWith('@') ? ' (quote patterns that start with "*": \'*@example.org\')' : '';
    return { issues: [{ file, line, key: '', message: `not valid YAML: ${yamlErrorText((err as Error).message)}${hint}` }] };
  }
  const result = policyFileSchema.safeParse(value);
  if (!result.success) {
    // A file that is wrong everywhere (a generated file gone astray) gets a readable report, not thousands of lines.
    const shown = result.error.issues.slice(0, MAX_ISSUES_PER_FILE).flatMap((issue) => issuesFor(file, issue, doc, lineOf));
    const more = result.error.issues.length - MAX_ISSUES_PER_FILE;
    return { issues: more > 0 ? [...shown, { file, key: '', message: `${more} more problems not shown` }] : shown };
  }
  return { file, content: result.data, lineOf };
}

/** The first alias (`*name`) without an anchor before it: `*@example.org` written unquoted. */
function unresolvedAlias(doc: Document.Parsed): { source: string; offset: number } | undefined {
  const anchors = new Set<string>();
  let found: { source: string; offset: number } | undefined;
  visit(doc, (_key, node) => {
    if (isAlias(node)) {
      if (!anchors.has(node.source)) {
        found = { source: node.source, offset: node.range?.[0] ?? 0 };
        return visit.BREAK;
      }
    } else if ((isScalar(node) || isMap(node) || isSeq(node)) && node.anchor) {
      anchors.add(node.anchor);
    }
    return undefined;
  });
  return found;
}

function issuesFor(file: string, issue: z.core.$ZodIssue, doc: Document.Parsed, lineOf: (keyPath: readonly PropertyKey[]) => number | undefined): PolicyIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ file, line: lineOf([...issue.path, key]), key: keyPath([...issue.path, key]), message: 'unknown key' }));
  }
  const raw: unknown = doc.getIn(issue.path as Iterable<unknown>);
  let message = issue.message;
  if (issue.code === 'invalid_value') {
    message = `expected one of ${issue.values.map(String).join(', ')}, got ${JSON.stringify(raw)}`;
  } else if (issue.code === 'invalid_type' && raw === undefined && !doc.hasIn(issue.path as Iterable<unknown>)) {
    message = 'missing (required)';
  }
  return [{ file, line: lineOf(issue.path), key: keyPath(issue.path), message }];
}

/** `rules[2].match.to[0]` */
function keyPath(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>((out, segment) => (typeof segment === 'number' ? `${out}[${segment}]` : out === '' ? String(segment) : `${out}.${String(segment)}`), '');
}

/**
 * The line of the deepest node on `keyPath` that exists: the key of a map
 * entry (where an admin looks for "encrypt:"), the item of a list. A
 * missing key points at the map that should hold it.
 */
function locate(doc: Document.Parsed, lineCounter: LineCounter, segments: readonly PropertyKey[]): number | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const segment of segments) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: readonly number[] } | null | undefined)?.range;
  return range?.[0];
}

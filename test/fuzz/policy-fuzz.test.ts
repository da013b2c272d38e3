/**
 * Fuzzing of the policy loader (issue 7): random YAML documents built from
 * the policy vocabulary with wrong types, the example policies from
 * policies/*.yaml mutated line by line (deleted, duplicated, re-indented,
 * tokens replaced by anchors, aliases, tags, flow brackets, odd unicode),
 * YAML alias bombs ("billion laughs"), deep nesting and huge lists.
 * Properties: loadPolicies never throws; it returns a policy set or
 * problems that each name the file (and a line inside it, when given) with
 * a message; bounded time and heap; a set that loads answers decide() and
 * explain for any addresses, odd ones included.
 *
 * Reproducible: fixed seed (FUZZ_SEED), bounded runs (FUZZ_RUNS).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { explanation, explanationText } from '../../src/policy/explain.js';
import { formatIssue, loadPolicies, MAX_POLICY_FILE_BYTES, type PolicyLoadResult } from '../../src/policy/load.js';
import { decide } from '../../src/policy/match.js';
import { directions } from '../../src/policy/schema.js';
import { TIME_BOUND_MS } from './check.js';

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const params = { seed: FUZZ_SEED, numRuns: RUNS, endOnFailure: true } as const;

const examplesDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'policies');
const examples = readdirSync(examplesDir)
  .filter((name) => name.endsWith('.yaml'))
  .sort()
  .map((name) => readFileSync(path.join(examplesDir, name), 'utf8'));

let dir: string;
let config: Config;
const tally: Record<string, number> = {};
const count = (key: string): void => {
  tally[key] = (tally[key] ?? 0) + 1;
};

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'siegel-policy-fuzz-'));
  config = loadConfig({ values: { dataDir: dir, trustAnchors: dir, internalDomains: ['stadt.example.org'] }, baseDir: dir, env: {} });
});

afterAll(() => {
  console.log(`policy fuzz (seed ${FUZZ_SEED}, ${RUNS} runs per property): ${JSON.stringify(tally)}`);
  rmSync(dir, { recursive: true, force: true });
});

/** Addresses and patterns, sane and odd: unicode, bidi controls, IDN, empty, angle brackets, group references. */
const oddAddress = fc.oneof(
  fc.constantFrom(
    'anna.berger@example.org',
    'ratsbuero@stadt.example.org',
    '*@stadt.example.org',
    '*@*.example.org',
    'internal',
    'group:council',
    'group:',
    '',
    '<A@Example.ORG>',
    'ä@ö.de',
    '\u202eevil@example.org',
    'a@xn--bcher-kva.example',
    'a@@b',
    '@',
    '*@',
    'a@b..c',
    '\u0000@x.de',
    'x'.repeat(300) + '@example.org',
  ),
  fc.tuple(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 12 })).map(([local, domain]) => `${local}@${domain}`),
);

/** Values of any type where the schema wants a certain one. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('always', 'if-enrolled', 'never', 'opportunistic', 'required', 'reject', 'link', 'tag', 'quarantine', 'outbound', 'inbound', 'gcm', '5MB', '30d', '-1d', '0', 'yes', null, true, Number.POSITIVE_INFINITY, -0, 3072, 1023),
  fc.jsonValue({ maxDepth: 2 }),
  oddAddress,
  fc.array(oddAddress, { maxLength: 5 }),
);

/** A rule from the vocabulary, each key present or not, each value right or wrong. */
const ruleLike = fc.record(
  {
    name: fc.oneof(fc.stringMatching(/^[a-z-]{1,20}$/), anyValue),
    description: anyValue,
    match: fc.oneof(fc.record({ direction: fc.oneof(fc.constantFrom(...directions), anyValue), from: fc.oneof(fc.array(oddAddress, { maxLength: 4 }), anyValue), to: fc.oneof(fc.array(oddAddress, { maxLength: 4 }), anyValue), extra: anyValue }, { requiredKeys: ['direction'] }), anyValue),
    sign: anyValue,
    signAs: fc.oneof(oddAddress, anyValue),
    encrypt: anyValue,
    onMissingCertificate: anyValue,
    largeFiles: fc.oneof(fc.record({ threshold: anyValue, expiry: anyValue }, { requiredKeys: [] }), anyValue),
    subjectTags: fc.oneof(fc.dictionary(fc.constantFrom('pass', 'fail', 'none', 'bogus'), anyValue), anyValue),
    onFail: anyValue,
    minRsaBits: anyValue,
    contentEncryption: anyValue,
    unknownKey: anyValue,
  },
  { requiredKeys: ['name', 'match'] },
);

const policyLike = fc.record(
  {
    groups: fc.oneof(fc.dictionary(fc.oneof(fc.stringMatching(/^[a-z]{1,8}$/), fc.string({ maxLength: 8 })), fc.oneof(fc.array(oddAddress, { maxLength: 6 }), anyValue), { maxKeys: 4 }), anyValue),
    rules: fc.oneof(fc.array(ruleLike, { maxLength: 5 }), anyValue),
    stray: anyValue,
  },
  { requiredKeys: [] },
);

/** Tokens that change what YAML means: anchors, aliases, merge keys, tags, flow brackets, quotes, directives, tabs, bidi and BOM. */
const TOKENS = ['&a ', '*a', '<<: *a', '!!binary ', '!!js/function ', '!custom ', '? ', '- ', '{', '}', '[', ']', "'", '"', '%YAML 1.1', '---', '...', '\t', '\u202e', '\ufeff', '*@', ': ', '#', '|', '>-', 'ä@ö.de', '\r'];

type LineEdit = (lines: string[]) => string[];
const fraction = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const pick = (f: number, n: number): number => Math.min(n - 1, Math.floor(f * n));

const lineEdit: fc.Arbitrary<LineEdit> = fc.oneof(
  fraction.map((f): LineEdit => (lines) => lines.filter((_, i) => i !== pick(f, lines.length))),
  fc.tuple(fraction, fc.integer({ min: 1, max: 20 })).map(([f, times]): LineEdit => (lines) => {
    const i = pick(f, lines.length);
    return [...lines.slice(0, i), ...Array.from({ length: times }, () => lines[i] ?? ''), ...lines.slice(i)];
  }),
  fc.tuple(fraction, fraction).map(([f, g]): LineEdit => (lines) => {
    const out = [...lines];
    const [i, j] = [pick(f, lines.length), pick(g, lines.length)];
    [out[i], out[j]] = [lines[j] ?? '', lines[i] ?? ''];
    return out;
  }),
  fc.tuple(fraction, fc.integer({ min: -4, max: 4 })).map(([f, shift]): LineEdit => (lines) => lines.map((line, i) => (i === pick(f, lines.length) ? (shift > 0 ? ' '.repeat(shift) + line : line.slice(-shift)) : line))),
  fc.tuple(fraction, fraction, fc.constantFrom(...TOKENS)).map(([f, g, token]): LineEdit => (lines) =>
    lines.map((line, i) => {
      if (i !== pick(f, lines.length)) return line;
      const at = Math.floor(g * (line.length + 1));
      return line.slice(0, at) + token + line.slice(at);
    }),
  ),
);

const mutatedExample = fc.tuple(fc.constantFrom(...examples), fc.array(lineEdit, { minLength: 1, maxLength: 4 })).map(([text, edits]) => edits.reduce((lines, edit) => edit(lines), text.split('\n')).join('\n'));

/** "Billion laughs": each level an anchored list of `width` aliases of the previous one. */
const aliasBomb = fc.tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }), fc.constantFrom('rules', 'groups', 'x')).map(([width, depth, key]) => {
  const lines = ['l0: &l0 ["lol@example.org"]'];
  for (let i = 1; i <= depth; i++) lines.push(`l${i}: &l${i} [${Array.from({ length: width }, () => `*l${i - 1}`).join(', ')}]`);
  lines.push(`${key}: *l${depth}`);
  return { text: lines.join('\n'), expansion: width ** depth };
});

/** Deep nesting, flow or block; and long lists. */
const deepOrHuge = fc.oneof(
  fc.integer({ min: 10, max: 5_000 }).map((depth) => `rules: ${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.integer({ min: 10, max: 3_000 }).map((depth) => Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')),
  fc.integer({ min: 10, max: 3_000 }).map((depth) => `groups:\n  g:\n${Array.from({ length: depth }, (_, i) => `${' '.repeat(4 + 2 * i)}-`).join('\n')} x@y.de`),
  fc.integer({ min: 100, max: 5_000 }).map((n) => `groups:\n  big:\n${Array.from({ length: n }, (_, i) => `    - u${i}@stadt.example.org`).join('\n')}\nrules:\n  - name: big\n    match: {direction: outbound, to: [group:big]}\n    encrypt: required\n`),
  // Around the size cap: the loader reads the size before the text.
  fc.integer({ min: MAX_POLICY_FILE_BYTES + 1, max: 4 * MAX_POLICY_FILE_BYTES }).map((size) => `# ${'x'.repeat(size - 3)}\n`),
);

/** Loads `files` as the whole directory and checks the properties; returns the result for further checks. */
function load(files: readonly string[]): PolicyLoadResult {
  for (const name of readdirSync(dir)) rmSync(path.join(dir, name));
  files.forEach((text, i) => writeFileSync(path.join(dir, `${String(i).padStart(2, '0')}-fuzz.yaml`), text));
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const result = loadPolicies(dir);
  expect(performance.now() - t0).toBeLessThan(TIME_BOUND_MS);
  // Generous: an alias bomb or a quadratic blow-up grows the heap by gigabytes.
  expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(512 * 1024 * 1024);
  if (!result.ok) {
    count('refused');
    expect(result.issues.length).toBeGreaterThan(0);
    for (const issue of result.issues) {
      expect(path.dirname(issue.file)).toBe(dir);
      expect(typeof issue.message).toBe('string');
      expect(issue.message.length).toBeGreaterThan(0);
      expect(issue.message).not.toMatch(/\[object Object\]|Maximum call stack/);
      if (issue.line !== undefined) {
        const lines = (readFileSync(issue.file, 'utf8').match(/\r\n|\r|\n/g)?.length ?? 0) + 1;
        expect(Number.isInteger(issue.line) && issue.line >= 1 && issue.line <= lines).toBe(true);
      }
      expect(formatIssue(issue).startsWith(issue.file)).toBe(true);
    }
    return result;
  }
  count(result.policy.rules.length > 0 ? 'loaded-with-rules' : 'loaded-empty');
  for (const { rule, file, line } of result.policy.rules) {
    expect(directions).toContain(rule.match.direction);
    expect(path.dirname(file)).toBe(dir);
    expect(line).toBeGreaterThanOrEqual(1);
  }
  return result;
}

describe('policy loader under fuzzing', () => {
  it('loads the example policies as they are (the mutations start from valid files)', () => {
    const result = load(examples);
    expect(result.ok).toBe(true);
  });

  it('answers random documents of the policy vocabulary with a policy set or located problems', () => {
    fc.assert(
      fc.property(fc.array(policyLike, { minLength: 1, maxLength: 3 }), (documents) => {
        load(documents.map((doc) => stringify(doc)));
      }),
      { ...params, numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('answers mutated example policies with a policy set or located problems; a set that loads decides and explains for any address', () => {
    fc.assert(
      fc.property(fc.array(mutatedExample, { minLength: 1, maxLength: 3 }), fc.constantFrom(...directions), oddAddress, fc.array(oddAddress, { minLength: 1, maxLength: 4 }), (files, direction, from, to) => {
        const result = load(files);
        if (!result.ok) return;
        const decisions = decide(result.policy, { direction, from, to }, config);
        expect(decisions.map((d) => d.recipient)).toEqual(to);
        expect(explanationText(explanation(direction, from, decisions))).toContain(direction);
      }),
      params,
    );
  });

  it('refuses alias bombs quickly, and accepts small alias use', () => {
    fc.assert(
      fc.property(aliasBomb, ({ text, expansion }) => {
        const result = load([text]);
        if (expansion > 10_000) {
          expect(result.ok).toBe(false);
          count('bomb-refused');
        }
      }),
      { ...params, numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it('answers deep nesting, long lists and oversized files within the bounds', () => {
    fc.assert(
      fc.property(deepOrHuge, (text) => {
        const result = load([text]);
        if (Buffer.byteLength(text) > MAX_POLICY_FILE_BYTES) expect(result.ok).toBe(false);
      }),
      { ...params, numRuns: Math.ceil(RUNS / 6) },
    );
  });

  it('reads a file of just under the size cap (a long comment) without refusing it', () => {
    const result = load([`# ${'x'.repeat(MAX_POLICY_FILE_BYTES - 4)}\n`]);
    expect(result.ok).toBe(true);
  });
});

/**
 * Loading policy directories: validation errors name file, line and key;
 * unknown keys, duplicate names and unknown groups are errors; the shipped
 * examples in policies/ load.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatIssue, loadPolicies, type PolicyIssue } from '../../src/policy/load.js';
import { lines, policyDir } from './policy-dir.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shipped = path.resolve(here, '..', '..', 'policies');

function issuesOf(dir: string): PolicyIssue[] {
  const result = loadPolicies(dir);
  if (result.ok) throw new Error(`expected issues, the policy loaded with ${result.policy.rules.length} rule(s)`);
  return [...result.issues];
}

describe('loadPolicies', () => {
  it('reports a bad enum value with the file, the line it is on and the key path', () => {
    const text = lines(
      'rules:', //                       1
      '  - name: first', //              2
      '    match:', //                   3
      '      direction: outbound', //    4
      '    sign: if-enrolled', //        5
      '  - name: second', //             6
      '    match:', //                   7
      '      direction: outbound', //    8
      '      to: [a@example.org]', //    9
      '    encrypt: always', //          10
    );
    const dir = policyDir({ '10-a.yaml': text });
    const issues = issuesOf(dir);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: path.join(dir, '10-a.yaml'), line: 10, key: 'rules[1].encrypt' });
    expect(formatIssue(issues[0]!)).toBe(`${path.join(dir, '10-a.yaml')}:10: rules[1].encrypt: expected one of never, opportunistic, required, got "always"`);
  });

  it('reports unknown keys at their own line, also inside match and largeFiles', () => {
    const dir = policyDir({
      'a.yml': lines(
        'rules:',
        '  - name: r',
        '    match:',
        '      direction: outbound',
        '      recipient: a@example.org', // 5
        '    encrypt: required',
        '    largeFiles:',
        '      threshold: 5MB',
        '      expires: 3d', // 9
        '    encrypt_always: true', // 10
        'rule: []', // 11
      ),
    });
    const issues = issuesOf(dir).map((i) => `${i.line} ${i.key} ${i.message}`).sort();
    expect(issues).toEqual(['10 rules[0].encrypt_always unknown key', '11 rule unknown key', '5 rules[0].match.recipient unknown key', '9 rules[0].largeFiles.expires unknown key']);
  });

  it('reports a missing required key at the rule that lacks it, and bad values of every kind', () => {
    const dir = policyDir({
      'a.yaml': lines(
        'rules:',
        '  - name: no-match', // 2
        '    sign: always',
        '  - name: bad-values', // 4
        '    match:',
        '      direction: sideways', // 6
        '      from: [not-an-address]', // 7
        '    minRsaBits: 512', // 8
        '    largeFiles: { threshold: lots }', // 9
      ),
    });
    const byKey = new Map(issuesOf(dir).map((i) => [i.key, i]));
    expect(byKey.get('rules[0].match')).toMatchObject({ line: 2, message: 'missing (required)' });
    expect(byKey.get('rules[1].match.direction')).toMatchObject({ line: 6, message: 'expected one of outbound, inbound, got "sideways"' });
    expect(byKey.get('rules[1].match.from[0]')?.line).toBe(7);
    expect(byKey.get('rules[1].match.from[0]')?.message).toContain('"not-an-address"');
    expect(byKey.get('rules[1].minRsaBits')?.line).toBe(8);
    expect(byKey.get('rules[1].largeFiles.threshold')?.line).toBe(9);
    expect(byKey.get('rules[1].largeFiles.threshold')?.message).toContain('"lots"');
  });

  it('refuses decisions of the other direction and contradictions', () => {
    const dir = policyDir({
      'a.yaml': lines(
        'rules:',
        '  - name: inbound-signing',
        '    match: { direction: inbound }',
        '    sign: always', // 4
        '  - name: outbound-quarantine',
        '    match: { direction: outbound }',
        '    onFail: quarantine', // 7
        '    onMissingCertificate: link', // 8
      ),
    });
    expect(issuesOf(dir).map((i) => `${i.line} ${i.key}: ${i.message}`)).toEqual([
      '4 rules[0].sign: applies to outbound rules only',
      '7 rules[1].onFail: applies to inbound rules only',
      '8 rules[1].onMissingCertificate: applies only together with encrypt: required',
    ]);
  });

  it('refuses a rule name used twice, also across files, naming where it was first', () => {
    const dir = policyDir({
      '10-a.yaml': lines('rules:', '  - name: partners', '    match: { direction: outbound }'),
      '20-b.yaml': lines('rules:', '  - name: other', '    match: { direction: inbound }', '  - name: Partners', '    match: { direction: inbound }'),
    });
    const issues = issuesOf(dir);
    expect(issues).toHaveLength(1);
    expect(formatIssue(issues[0]!)).toBe(`${path.join(dir, '20-b.yaml')}:4: rules[1].name: rule name "Partners" is already used in ${path.join(dir, '10-a.yaml')}:2`);
  });

  it('refuses unknown groups, groups defined twice and groups inside groups', () => {
    const dir = policyDir({
      '10-groups.yaml': lines('groups:', '  council: [a@example.org]'),
      '30-nested.yaml': lines('groups:', '  staff: [a@example.org]', '  nested: [group:council]'),
      '20-rules.yaml': lines('groups:', '  council: [b@example.org]', 'rules:', '  - name: r', '    match:', '      direction: outbound', '      to: [group:council, group:counsil]'),
    });
    const issues = issuesOf(dir).map((i) => `${path.basename(i.file)}:${i.line} ${i.key}: ${i.message}`);
    expect(issues).toEqual([
      '30-nested.yaml:3 groups.nested[0]: a group cannot contain another group',
      `20-rules.yaml:2 groups.council: group "council" is already defined in ${path.join(path.dirname(issuesOf(dir)[0]!.file), '10-groups.yaml')}:2`,
      `20-rules.yaml:7 rules[0].match.to[1]: unknown group "counsil" (define it under groups: in a file of ${path.dirname(issuesOf(dir)[0]!.file)})`,
    ]);
  });

  it('reports YAML syntax errors with their line, and explains unquoted *@domain patterns', () => {
    const dir = policyDir({
      'a.yaml': lines('rules:', '  - name: r', '    match:', '      direction: outbound', '      to: [*@example.org]'),
      'b.yaml': lines('rules:', '  - name: s', '    name: t'),
    });
    const issues = issuesOf(dir);
    const a = issues.find((i) => i.file.endsWith('a.yaml'));
    const b = issues.find((i) => i.file.endsWith('b.yaml'));
    expect(a?.line).toBe(5);
    expect(a?.message).toMatch(/^not valid YAML: .*quote patterns that start with "\*"/);
    expect(b).toMatchObject({ line: 3 });
    expect(b?.message).toMatch(/^not valid YAML: .*[Mm]ap keys must be unique/);
  });

  it('reads *.yaml and *.yml in name order, skipping hidden files and other files', () => {
    const rule = (name: string) => lines('rules:', `  - name: ${name}`, '    match: { direction: outbound }');
    const dir = policyDir({ 'b.yml': rule('b'), 'a.yaml': rule('a'), '.#c.yaml': 'broken: [', 'notes.txt': 'rules: 1', 'c.yaml~': 'broken: [', '10-z.yaml': rule('z') });
    const result = loadPolicies(dir);
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    expect(result.policy.files.map((f) => path.basename(f.file))).toEqual(['10-z.yaml', 'a.yaml', 'b.yml']);
    expect(result.policy.rules.map((r) => [r.rule.name, path.basename(r.file), r.line])).toEqual([
      ['z', '10-z.yaml', 2],
      ['a', 'a.yaml', 2],
      ['b', 'b.yml', 2],
    ]);
  });

  it('treats a missing directory as an empty policy and an empty file as no rules', () => {
    const missing = loadPolicies(path.join(policyDir({}), 'nowhere'));
    expect(missing.ok && missing.policy.missingDirectory && missing.policy.rules.length === 0).toBe(true);
    const empty = loadPolicies(policyDir({ 'empty.yaml': '# only a comment\n' }));
    expect(empty.ok && !empty.policy.missingDirectory && empty.policy.files.length === 1 && empty.policy.rules.length === 0).toBe(true);
  });

  it('loads the shipped examples in policies/', () => {
    const result = loadPolicies(shipped);
    if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
    const names = result.policy.rules.map((r) => r.rule.name);
    expect(names).toEqual([
      'council-office-to-council',
      'tax-office-internal',
      'tax-office-never-in-clear',
      'partners-encrypted',
      'partners-inbound',
      'newsletter-plain',
      'stadt-default',
      'stadt-inbound-default',
    ]);
    expect([...result.policy.groups.keys()].sort()).toEqual(['council', 'partner-authorities']);
    // They describe example.org addresses only, so they change nothing for real (and demo) mail.
    const patterns = result.policy.rules.flatMap((r) => [...(r.rule.match.from ?? []), ...(r.rule.match.to ?? [])]);
    const members = [...result.policy.groups.values()].flatMap((g) => g.members);
    for (const pattern of [...patterns, ...members]) expect(pattern === 'internal' || pattern.startsWith('group:') || /example\.org$/.test(pattern)).toBe(true);
  });
});

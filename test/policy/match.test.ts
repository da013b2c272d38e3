/**
 * Matching: first match wins across files in name order, groups, internal
 * domains, domain patterns, per-recipient decisions and the default
 * decision taken from the config.
 */
import { configSchema } from '../../src/config/schema.js';
import { defaultDecision } from '../../src/policy/decision.js';
import { formatIssue, loadPolicies, type PolicySet } from '../../src/policy/load.js';
import { decide, findRule } from '../../src/policy/match.js';
import { lines, policyDir } from './policy-dir.js';

const config = configSchema.parse({ dataDir: '/d', trustAnchors: '/t', internalDomains: ['stadt.example'], largeFiles: { threshold: '10MB' } });

function load(files: Record<string, string>): PolicySet {
  const result = loadPolicies(policyDir(files));
  if (!result.ok) throw new Error(result.issues.map(formatIssue).join('\n'));
  return result.policy;
}

const policy = load({
  // Name order puts 10- before 20- although the object lists it second.
  '20-general.yaml': lines(
    'rules:',
    '  - name: to-partners',
    '    match:',
    '      direction: outbound',
    "      to: ['*@partner.example', '*@*.land.example']",
    '    encrypt: required',
    '  - name: internal-mail',
    '    match:',
    '      direction: outbound',
    '      to: [internal]',
    '    sign: never',
    '    encrypt: never',
    '  - name: inbound-partners',
    '    match:',
    '      direction: inbound',
    "      from: ['*@partner.example']",
    '    onFail: reject',
    "    subjectTags: { fail: '[PARTNER FAIL]' }",
  ),
  '10-council.yaml': lines(
    'groups:',
    '  council: [Anna@Rat.Example, josef@rat.example]',
    'rules:',
    '  - name: council',
    '    match:',
    '      direction: outbound',
    '      from: [ratsbuero@stadt.example]',
    '      to: [group:council, chef@partner.example]',
    '    sign: always',
    '    signAs: Ratsbuero@stadt.example',
    '    encrypt: required',
    '    onMissingCertificate: link',
    '    largeFiles: { expiry: 30d }',
  ),
});

describe('findRule', () => {
  it('lets the first matching rule win, files in name order', () => {
    // chef@partner.example matches both council (10-) and to-partners (20-): the earlier file wins.
    expect(findRule(policy, 'outbound', 'ratsbuero@stadt.example', 'chef@partner.example', config)?.rule.name).toBe('council');
    // From another sender the council rule does not match, so to-partners does.
    expect(findRule(policy, 'outbound', 'bauamt@stadt.example', 'chef@partner.example', config)?.rule.name).toBe('to-partners');
  });

  it('matches group members, case-insensitively and with angle brackets', () => {
    expect(findRule(policy, 'outbound', '<RatsBuero@Stadt.Example>', 'anna@rat.example', config)?.rule.name).toBe('council');
    expect(findRule(policy, 'outbound', 'ratsbuero@stadt.example', 'JOSEF@rat.example', config)?.rule.name).toBe('council');
    expect(findRule(policy, 'outbound', 'ratsbuero@stadt.example', 'maria@rat.example', config)).toBeUndefined();
  });

  it('matches internal domains exactly and *@*.domain only for subdomains', () => {
    expect(findRule(policy, 'outbound', 'a@stadt.example', 'b@stadt.example', config)?.rule.name).toBe('internal-mail');
    expect(findRule(policy, 'outbound', 'a@stadt.example', 'b@sub.stadt.example', config)).toBeUndefined();
    expect(findRule(policy, 'outbound', 'a@stadt.example', 'b@amt.land.example', config)?.rule.name).toBe('to-partners');
    expect(findRule(policy, 'outbound', 'a@stadt.example', 'b@land.example', config)).toBeUndefined();
    expect(findRule(policy, 'outbound', 'a@stadt.example', 'b@xpartner.example', config)).toBeUndefined();
  });

  it('keeps directions apart', () => {
    expect(findRule(policy, 'inbound', 'x@partner.example', 'b@stadt.example', config)?.rule.name).toBe('inbound-partners');
    expect(findRule(policy, 'inbound', 'ratsbuero@stadt.example', 'anna@rat.example', config)).toBeUndefined();
    // The empty sender of a bounce matches only rules without `from`.
    expect(findRule(policy, 'outbound', '', 'b@stadt.example', config)?.rule.name).toBe('internal-mail');
    expect(findRule(policy, 'outbound', '<>', 'anna@rat.example', config)).toBeUndefined();
  });
});

describe('decide', () => {
  it('decides per recipient: mixed recipients get different rules', () => {
    const decisions = decide(policy, { direction: 'outbound', from: 'ratsbuero@stadt.example', to: ['anna@rat.example', 'kollege@stadt.example', 'buerger@example.net'] }, config);
    expect(decisions.map((d) => [d.recipient, d.rule?.name])).toEqual([
      ['anna@rat.example', 'council'],
      ['kollege@stadt.example', 'internal-mail'],
      ['buerger@example.net', undefined],
    ]);
    const [council, internal, citizen] = decisions;
    expect(council?.decision).toMatchObject({ sign: 'always', signAs: 'ratsbuero@stadt.example', encrypt: 'required', onMissingCertificate: 'link' });
    // largeFiles: the rule sets the expiry, the threshold stays the configured one.
    expect(council?.decision.largeFiles).toEqual({ threshold: 10 * 1024 * 1024, expiry: 30 * 86_400_000 });
    expect([...(council?.fromRule ?? [])].sort()).toEqual(['encrypt', 'largeFiles', 'onMissingCertificate', 'sign', 'signAs']);
    expect(internal?.decision).toMatchObject({ sign: 'never', encrypt: 'never' });
    expect(citizen?.decision).toEqual(defaultDecision(config));
    expect(citizen?.fromRule).toEqual([]);
  });

  it('merges inbound subject tags per verdict over the configured ones', () => {
    const tagged = configSchema.parse({ dataDir: '/d', trustAnchors: '/t', inbound: { subjectTags: { pass: '[OK]', fail: '[BAD]' } } });
    const [decision] = decide(policy, { direction: 'inbound', from: 'x@partner.example', to: ['b@stadt.example'] }, tagged);
    expect(decision?.decision.subjectTags).toEqual({ pass: '[OK]', fail: '[PARTNER FAIL]' });
    expect(decision?.decision.onFail).toBe('reject');
  });
});

describe('defaultDecision', () => {
  it('is what the gateway does without policies, taken from the config', () => {
    expect(defaultDecision(config)).toEqual({
      sign: 'if-enrolled',
      encrypt: 'opportunistic',
      onMissingCertificate: 'reject',
      largeFiles: { threshold: 10 * 1024 * 1024, expiry: 14 * 86_400_000 },
      subjectTags: {},
      onFail: 'tag',
      minRsaBits: 2048,
      contentEncryption: 'auto',
    });
    const off = configSchema.parse({ dataDir: '/d', trustAnchors: '/t', signing: { enabled: false }, encryption: { enabled: false, contentEncryption: 'cbc' }, inbound: { minRsaBits: 3072 } });
    expect(defaultDecision(off)).toMatchObject({ sign: 'never', encrypt: 'never', contentEncryption: 'cbc', minRsaBits: 3072 });
  });
});

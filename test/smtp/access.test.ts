import { SiegelError } from '../../src/errors.js';
import { createAccessPolicy, listenerConfigProblems } from '../../src/smtp/access.js';
import { createClientNetworks, isLoopback } from '../../src/smtp/client-networks.js';
import { listenerConfig } from './helpers.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof SiegelError ? err.code : 'not a SiegelError';
  }
};

describe('client networks', () => {
  it('matches IPv4, IPv6 and IPv4-mapped IPv6 peers', () => {
    const networks = createClientNetworks(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32']);
    expect(networks.allows('10.1.2.3')).toBe(true);
    expect(networks.allows('::ffff:10.1.2.3')).toBe(true);
    expect(networks.allows('192.0.2.7')).toBe(true);
    expect(networks.allows('192.0.2.8')).toBe(false);
    expect(networks.allows('2001:db8:1::5')).toBe(true);
    expect(networks.allows('2001:db9::5')).toBe(false);
    expect(networks.allows('not an address')).toBe(false);
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });

  it('refuses entries that are not networks', () => {
    expect(codeOf(() => createClientNetworks(['10.0.0.0/33']))).toBe('CONFIG_INVALID');
    expect(codeOf(() => createClientNetworks(['example.org']))).toBe('CONFIG_INVALID');
  });
});

describe('access policy', () => {
  it('refuses outsiders at connect unless they can authenticate', () => {
    const closed = createAccessPolicy(listenerConfig({ clientNetworks: ['10.0.0.0/8'] }));
    expect(codeOf(() => closed.connect('192.0.2.1'))).toBe('CLIENT_NOT_ALLOWED');
    const withAuth = createAccessPolicy(listenerConfig({ clientNetworks: ['10.0.0.0/8'], auth: { credentialsFile: '/x' } }));
    const outsider = withAuth.connect('192.0.2.1');
    expect(codeOf(() => withAuth.checkMail(outsider, true, false))).toBe('AUTH_REQUIRED');
    expect(codeOf(() => withAuth.checkMail(outsider, true, true))).toBeUndefined();
    expect(codeOf(() => withAuth.checkMail(withAuth.connect('10.9.9.9'), false, false))).toBeUndefined();
  });

  it('offers AUTH to remote clients only after STARTTLS, to loopback clients also before', () => {
    const policy = createAccessPolicy(listenerConfig({ clientNetworks: ['0.0.0.0/0'], tls: { cert: '/c', key: '/k' }, auth: { credentialsFile: '/x' } }));
    const remote = policy.connect('192.0.2.1');
    expect(policy.disabledCommands(remote, false)).toContain('AUTH');
    expect(policy.disabledCommands(remote, true)).not.toContain('AUTH');
    expect(policy.disabledCommands(policy.connect('127.0.0.1'), false)).not.toContain('AUTH');
  });

  it('with auth.required everyone must authenticate; requireTls comes first', () => {
    const policy = createAccessPolicy(listenerConfig({ tls: { cert: '/c', key: '/k' }, requireTls: true, auth: { credentialsFile: '/x', required: true } }));
    const local = policy.connect('127.0.0.1');
    expect(codeOf(() => policy.checkMail(local, false, true))).toBe('TLS_REQUIRED');
    expect(codeOf(() => policy.checkMail(local, true, false))).toBe('AUTH_REQUIRED');
    expect(policy.disabledCommands(local, false)).toContain('AUTH');
  });

  it('names configurations that cannot work', () => {
    expect(listenerConfigProblems(listenerConfig({ requireTls: true }))).toHaveLength(1);
    expect(listenerConfigProblems(listenerConfig({ auth: { required: true } }))).toHaveLength(1);
    expect(listenerConfigProblems(listenerConfig({}))).toEqual([]);
  });
});

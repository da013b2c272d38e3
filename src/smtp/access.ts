/**
 * Who may use a listener, decided from the connection alone:
 *
 * - A client may relay when it connects from clientNetworks OR has
 *   authenticated; with auth.required every client must authenticate.
 * - Clients outside clientNetworks are refused at connect (554) unless
 *   the listener has a credentials file, in which case they may connect
 *   and must authenticate before MAIL (530).
 * - AUTH (PLAIN, LOGIN) is offered only on a TLS-protected session, so
 *   passwords never cross the network in clear; loopback clients are
 *   the exception (the password does not leave the host), unless the
 *   listener requires TLS for everything.
 * - requireTls: MAIL before STARTTLS is refused (530 5.7.0).
 */
import type { ListenerConfig } from '../config/schema.js';
import { SiegelError } from '../errors.js';
import { createClientNetworks, isLoopback, normalizeAddress } from './client-networks.js';

export interface ClientState {
  /** Normalised peer address. */
  readonly address: string;
  readonly inNetworks: boolean;
  readonly loopback: boolean;
}

export interface AccessPolicy {
  /** Commands the listener never offers (no TLS configured: STARTTLS; no credentials: AUTH). */
  readonly serverDisabledCommands: readonly string[];
  /** Throws CLIENT_NOT_ALLOWED when the client may not even connect. */
  connect(remoteAddress: string): ClientState;
  /** Commands smtp-server must refuse (and not advertise) for this session now. */
  disabledCommands(client: ClientState, secure: boolean): string[];
  /** Throws the catalog error that answers MAIL FROM, if any. */
  checkMail(client: ClientState, secure: boolean, authenticated: boolean): void;
}

export function createAccessPolicy(config: ListenerConfig): AccessPolicy {
  const networks = createClientNetworks(config.clientNetworks);
  const authAvailable = config.auth.credentialsFile !== undefined;
  const tlsAvailable = config.tls !== undefined;
  const base = [...(tlsAvailable ? [] : ['STARTTLS']), ...(authAvailable ? [] : ['AUTH'])];

  return {
    serverDisabledCommands: base,
    connect(remoteAddress) {
      const address = normalizeAddress(remoteAddress);
      const client = { address, inNetworks: networks.allows(address), loopback: isLoopback(address) };
      if (!client.inNetworks && !authAvailable) {
        throw new SiegelError('CLIENT_NOT_ALLOWED', `client ${address} is outside clientNetworks and the listener has no credentials file`);
      }
      return client;
    },
    disabledCommands(client, secure) {
      const clearAuthAllowed = client.loopback && !config.requireTls;
      return authAvailable && !secure && !clearAuthAllowed ? [...base, 'AUTH'] : base;
    },
    checkMail(client, secure, authenticated) {
      if (config.requireTls && !secure) throw new SiegelError('TLS_REQUIRED', `client ${client.address} sent MAIL before STARTTLS`);
      if (authenticated) return;
      if (client.inNetworks && !config.auth.required) return;
      if (authAvailable) throw new SiegelError('AUTH_REQUIRED', `client ${client.address} must authenticate`);
      throw new SiegelError('CLIENT_NOT_ALLOWED', `client ${client.address} is not allowed to relay`);
    },
  };
}

/** Configuration that cannot work, found before the listener starts. */
export function listenerConfigProblems(config: ListenerConfig): string[] {
  const problems: string[] = [];
  if (config.requireTls && !config.tls) problems.push('requireTls is set but tls (cert, key) is not');
  if (config.auth.required && !config.auth.credentialsFile) problems.push('auth.required is set but auth.credentialsFile is not');
  return problems;
}

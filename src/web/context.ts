/**
 * What every feature router of the web edge shares: the dependencies, the
 * signing key, CSRF tokens and download grants. Feature modules (download
 * links now, the staff area later) take a WebContext and return a Router.
 */
import { CsrfTokens } from './csrf.js';
import type { WebDeps } from './deps.js';
import { DownloadGrants } from './download-grants.js';
import { SigningKey } from './signing-key.js';

export interface WebContext {
  readonly deps: WebDeps;
  readonly key: SigningKey;
  readonly csrf: CsrfTokens;
  readonly grants: DownloadGrants;
}

export function createWebContext(deps: WebDeps): WebContext {
  const key = new SigningKey(deps.cookieSecret);
  return { deps, key, csrf: new CsrfTokens(key), grants: new DownloadGrants(key, deps.now) };
}

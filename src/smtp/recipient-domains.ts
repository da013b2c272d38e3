/**
 * The inbound listener relays only to the administration's own domains, so
 * it is never an open relay even when `clientNetworks` is wide (mail from
 * the internet). An empty list accepts every recipient.
 */
import { SiegelError } from '../errors.js';

export function recipientDomainCheck(domains: readonly string[]): ((recipient: string) => void) | undefined {
  const served = new Set(domains.map((d) => d.trim().toLowerCase().replace(/^@/, '')).filter((d) => d !== ''));
  if (served.size === 0) return undefined;
  return (recipient) => {
    const at = recipient.lastIndexOf('@');
    const domain = at === -1 ? '' : recipient.slice(at + 1).toLowerCase();
    if (!served.has(domain)) throw new SiegelError('RELAY_DENIED', `recipient ${recipient} is not in ${[...served].join(', ')}`);
  };
}

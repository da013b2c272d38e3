/**
 * The client-network allow list of a listener (CIDRs from the config),
 * checked at connect time with node:net's BlockList.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { SiegelError } from '../errors.js';

export interface ClientNetworks {
  /** True when the address lies in one of the configured networks. */
  allows(address: string): boolean;
}

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** Strips the IPv4-mapped IPv6 prefix (::ffff:a.b.c.d) that dual-stack sockets report for IPv4 peers. */
export function normalizeAddress(address: string): string {
  const trimmed = address.trim();
  const mapped = MAPPED_V4.exec(trimmed);
  return mapped?.[1] ?? trimmed.toLowerCase();
}

export function createClientNetworks(cidrs: readonly string[]): ClientNetworks {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [rawAddress = '', rawPrefix] = entry.trim().split('/');
    const address = normalizeAddress(rawAddress);
    const type = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const prefix = rawPrefix === undefined ? undefined : Number(rawPrefix);
    const max = type === 'ipv4' ? 32 : 128;
    if (type === undefined || (prefix !== undefined && (!Number.isInteger(prefix) || prefix < 0 || prefix > max))) {
      throw new SiegelError('CONFIG_INVALID', `clientNetworks: ${JSON.stringify(entry)} is not an IP address or network`);
    }
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return {
    allows(peer: string): boolean {
      const address = normalizeAddress(peer);
      if (isIPv4(address)) {
        // An IPv4 peer may also be listed in its mapped form (::ffff:10.0.0.0/104).
        return list.check(address, 'ipv4') || list.check(`::ffff:${address}`, 'ipv6');
      }
      return isIPv6(address) && list.check(address, 'ipv6');
    },
  };
}

const loopback = createClientNetworks(['127.0.0.0/8', '::1/128']);

/** Loopback peers (127/8, ::1, IPv4-mapped 127/8). */
export function isLoopback(address: string): boolean {
  return loopback.allows(address);
}

/**
 * The search filter for one recipient: the configured template with
 * `{address}` replaced by the address as an RFC 4515 assertion value.
 * The address comes from an SMTP envelope or a To header, i.e. from
 * whoever writes the mail: unescaped, `*)(mail=*` would turn a look-up of
 * one address into a listing of the directory.
 */
import { FilterParser } from 'ldapts';
import { SiegelError } from '../errors.js';

/** Longest address looked up (RFC 5321: 64 + 1 + 255). */
const MAX_ADDRESS_LENGTH = 320;
const PLACEHOLDER = '{address}';

/** RFC 4515 section 3: `*`, `(`, `)`, `\` and NUL are written as `\XX`. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Why an address is not looked up at all, or undefined when it may be. */
export function refusedAddress(address: string): string | undefined {
  if (address.length === 0) return 'the address is empty';
  if (address.length > MAX_ADDRESS_LENGTH) return `the address is longer than ${MAX_ADDRESS_LENGTH} characters`;
  // Control characters (NUL, CR, LF...) have no place in an address; one that has them is an attack or garbage.
  if ([...address].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return 'the address contains control characters';
  return undefined;
}

/** The filter for `address`; throws SiegelError('INTERNAL') for an address refusedAddress() refuses (callers check first). */
export function filterFor(template: string, address: string): string {
  const refused = refusedAddress(address);
  if (refused) throw new SiegelError('INTERNAL', `directory look-up of a refused address: ${refused}`);
  return template.split(PLACEHOLDER).join(escapeFilterValue(address));
}

/** Checks `ldap.filter` at start-up: it names the address and parses as an LDAP filter. */
export function checkFilterTemplate(template: string): void {
  if (!template.includes(PLACEHOLDER)) {
    throw new SiegelError('CONFIG_INVALID', `ldap.filter: ${JSON.stringify(template)} does not contain ${PLACEHOLDER}`);
  }
  try {
    const probe = filterFor(template, 'probe@example.org');
    // ldapts is lenient with unbalanced parentheses; directories are not.
    if (!balanced(probe)) throw new Error('unbalanced parentheses');
    FilterParser.parseString(probe);
  } catch (err) {
    throw new SiegelError('CONFIG_INVALID', `ldap.filter: ${JSON.stringify(template)} is not an LDAP filter (RFC 4515): ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Parentheses (escaped values contain none) open and close in order, and the filter is one parenthesised item. */
function balanced(filter: string): boolean {
  if (!filter.startsWith('(') || !filter.endsWith(')')) return false;
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    if (filter[i] === '(') depth++;
    else if (filter[i] === ')' && --depth < 0) return false;
    if (depth === 0 && i < filter.length - 1) return false;
  }
  return depth === 0;
}

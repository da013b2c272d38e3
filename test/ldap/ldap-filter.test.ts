/** RFC 4515 escaping of the recipient address into the configured filter. */
import { checkFilterTemplate, escapeFilterValue, filterFor, refusedAddress } from '../../src/directory/ldap-filter.js';
import { SiegelError } from '../../src/errors.js';

describe('LDAP filter for an address', () => {
  it('escapes *, (, ), \\ and NUL as \\XX and leaves everything else', () => {
    expect(escapeFilterValue('*)(mail=*')).toBe('\\2a\\29\\28mail=\\2a');
    expect(escapeFilterValue('a\\b\u0000c')).toBe('a\\5cb\\00c');
    expect(escapeFilterValue('jürgen.müller@bauamt.example')).toBe('jürgen.müller@bauamt.example');
  });

  it('puts the escaped address into every {address} of the template', () => {
    expect(filterFor('(|(mail={address})(mailAlternateAddress={address}))', 'a*b@x.example')).toBe('(|(mail=a\\2ab@x.example)(mailAlternateAddress=a\\2ab@x.example))');
  });

  it('refuses addresses with control characters, empty or overlong ones', () => {
    expect(refusedAddress('a@x.example\r\nmail=*')).toBe('the address contains control characters');
    expect(refusedAddress('a\u0000@x.example')).toBe('the address contains control characters');
    expect(refusedAddress('')).toBe('the address is empty');
    expect(refusedAddress(`${'a'.repeat(320)}@x`)).toMatch(/longer than 320/);
    expect(refusedAddress('o(x)*y@partner.example')).toBeUndefined();
    expect(() => filterFor('(mail={address})', 'a\u0007@x.example')).toThrow(SiegelError);
  });

  it('checks the template at start-up', () => {
    expect(() => checkFilterTemplate('(mail={address})')).not.toThrow();
    expect(() => checkFilterTemplate('(&(objectClass=inetOrgPerson)(mail={address}))')).not.toThrow();
    expect(() => checkFilterTemplate('(mail=fixed@x.example)')).toThrow(/does not contain \{address\}/);
    expect(() => checkFilterTemplate('(&(mail={address})')).toThrow(/not an LDAP filter/);
  });
});

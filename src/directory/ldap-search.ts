/**
 * One search on one directory server (ldapts, a maintained TypeScript LDAP
 * client): connect, bind (anonymous, or simple with the configured DN),
 * search the subtree, unbind. A connection per look-up: look-ups are rare
 * (results are cached) and a connection a directory dropped overnight
 * never needs reviving.
 */
import { Client, type Entry } from 'ldapts';

/** Entries read per search: one address has a handful of entries, not a directory's worth. */
export const SIZE_LIMIT = 20;
/** Where issuing CA certificates may be published beside the user's (objectClass pkiCA). */
export const CA_ATTRIBUTE = 'cACertificate;binary';

export interface DirectoryEntry {
  readonly dn: string;
  /** DER values of the configured certificate attribute. */
  readonly certificates: readonly Buffer[];
  /** DER values of cACertificate, the path's intermediates when present. */
  readonly caCertificates: readonly Buffer[];
}

export interface SearchRequest {
  readonly baseDn: string;
  readonly filter: string;
  /** The certificate attribute, e.g. userCertificate;binary. */
  readonly attribute: string;
  readonly bind?: { readonly dn: string; readonly password: string };
  /** For the connection and each operation. */
  readonly timeoutMs: number;
}

export async function searchDirectory(url: string, request: SearchRequest): Promise<DirectoryEntry[]> {
  const client = new Client({
    url,
    timeout: request.timeoutMs,
    connectTimeout: request.timeoutMs,
    // Names come from the directory's configuration; be lenient with what it accepts.
    strictDN: false,
    // ldapts speaks TLS whenever tlsOptions are given, so only for ldaps:// (certificates verified against the system roots).
    ...(/^ldaps:/i.test(url) ? { tlsOptions: { minVersion: 'TLSv1.2' as const } } : {}),
  });
  try {
    if (request.bind) await client.bind(request.bind.dn, request.bind.password);
    const { searchEntries } = await client.search(request.baseDn, {
      scope: 'sub',
      filter: request.filter,
      attributes: [request.attribute, CA_ATTRIBUTE],
      sizeLimit: SIZE_LIMIT,
      timeLimit: Math.max(1, Math.ceil(request.timeoutMs / 1000)),
      // Certificates are binary: read as text they would be mangled.
      explicitBufferAttributes: binaryNames(request.attribute, CA_ATTRIBUTE),
    });
    return searchEntries.map((entry) => ({
      dn: entry.dn,
      certificates: valuesOf(entry, request.attribute),
      caCertificates: valuesOf(entry, CA_ATTRIBUTE),
    }));
  } finally {
    // A failed unbind (connection already gone) changes nothing about the answer.
    await client.unbind().catch(() => undefined);
  }
}

function baseName(attribute: string): string {
  return (attribute.split(';')[0] ?? attribute).toLowerCase();
}

/** A server may answer with or without the ;binary option and in its own case; ldapts matches names exactly. */
function binaryNames(...attributes: string[]): string[] {
  const names = new Set<string>();
  for (const attribute of attributes) {
    const base = attribute.split(';')[0] ?? attribute;
    for (const name of [attribute, base, `${base};binary`]) {
      names.add(name);
      names.add(name.toLowerCase());
    }
  }
  return [...names];
}

/** Buffer values of every returned attribute with the same base name; text values (not requested as binary) are dropped. */
function valuesOf(entry: Entry, attribute: string): Buffer[] {
  const wanted = baseName(attribute);
  const values: Buffer[] = [];
  for (const [name, value] of Object.entries(entry)) {
    if (name === 'dn' || baseName(name) !== wanted) continue;
    for (const item of Array.isArray(value) ? value : [value]) if (Buffer.isBuffer(item)) values.push(item);
  }
  return values;
}

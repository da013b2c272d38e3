/**
 * Trust anchors from a directory (DESIGN: roots of the Behörden-PKI are
 * configured, never taken from the system store).
 *
 * Rule: a certificate becomes an anchor when it is a CA (basicConstraints
 * cA=TRUE) and self-signed (subject equals issuer and its own key verifies
 * its signature), or when it is a CA whose file name the administrator
 * listed in `explicitFiles` (to trust an intermediate directly, e.g. one
 * issuing CA of a large PKI). Everything else in the directory is skipped
 * and reported, never silently trusted; unreadable files do not stop loading.
 */
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { looksLikePem, readPemBlocks } from './pem.js';

export interface TrustAnchor {
  readonly der: Buffer;
  readonly x509: X509Certificate;
  /** SHA-256 over the DER, lower-case hex. */
  readonly fingerprint: string;
  /** File the anchor came from ('' when given in memory). */
  readonly source: string;
}

export interface SkippedFile {
  readonly file: string;
  readonly reason: string;
}

export interface TrustStore {
  readonly anchors: readonly TrustAnchor[];
  readonly skipped: readonly SkippedFile[];
}

export interface LoadTrustOptions {
  /** File names (base names) whose non-self-signed CA certificates are trusted too. */
  readonly explicitFiles?: readonly string[];
}

const EXTENSIONS = new Set(['.pem', '.crt', '.cer', '.der']);
/** A trust directory holds a handful of roots; anything bigger is a mistake. */
const MAX_FILE_BYTES = 1024 * 1024;

export function loadTrustStore(directory: string, options: LoadTrustOptions = {}): TrustStore {
  const anchors: TrustAnchor[] = [];
  const skipped: SkippedFile[] = [];
  const explicit = new Set(options.explicitFiles ?? []);
  for (const name of readdirSync(directory).sort()) {
    if (!EXTENSIONS.has(path.extname(name).toLowerCase())) continue;
    const file = path.join(directory, name);
    try {
      if (statSync(file).size > MAX_FILE_BYTES) throw new Error('file larger than 1 MiB');
      const bytes = readFileSync(file);
      const ders = looksLikePem(bytes)
        ? readPemBlocks(bytes.toString('latin1')).filter((block) => block.label === 'CERTIFICATE' || block.label === 'X509 CERTIFICATE' || block.label === 'TRUSTED CERTIFICATE').map((block) => block.der)
        : [bytes];
      if (ders.length === 0) throw new Error('no CERTIFICATE block');
      ders.forEach((der, index) => {
        const label = ders.length > 1 ? `${name}#${index + 1}` : name;
        const outcome = anchorFrom(der, file, explicit.has(name));
        if (typeof outcome === 'string') skipped.push({ file: label, reason: outcome });
        else if (!anchors.some((a) => a.fingerprint === outcome.fingerprint)) anchors.push(outcome);
      });
    } catch (err) {
      skipped.push({ file: name, reason: `unreadable: ${errorMessage(err)}` });
    }
  }
  return { anchors, skipped };
}

/** Anchors from DER certificates given in memory (tests, configuration); same rule, `explicit` lifts the self-signed requirement. */
export function trustStoreFromDer(certificates: readonly Buffer[], explicit = false): TrustStore {
  const anchors: TrustAnchor[] = [];
  const skipped: SkippedFile[] = [];
  certificates.forEach((der, index) => {
    const outcome = anchorFrom(der, '', explicit);
    if (typeof outcome === 'string') skipped.push({ file: `#${index + 1}`, reason: outcome });
    else anchors.push(outcome);
  });
  return { anchors, skipped };
}

/** The anchor, or why the certificate is not one. */
function anchorFrom(der: Buffer, source: string, explicit: boolean): TrustAnchor | string {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (err) {
    return `not a certificate: ${errorMessage(err)}`;
  }
  if (!x509.ca) return 'not a CA certificate (basicConstraints cA is not TRUE)';
  const selfSigned = x509.subject === x509.issuer && x509.verify(x509.publicKey);
  if (!selfSigned && !explicit) return 'CA certificate is not self-signed and not listed as explicit anchor';
  return { der: Buffer.from(x509.raw), x509, fingerprint: x509.fingerprint256.replace(/:/g, '').toLowerCase(), source };
}

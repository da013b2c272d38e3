/**
 * `siegel enroll import --cert FILE` without --key: the certificate a CA
 * issued for a request made with `siegel enroll request`. The file (PEM,
 * DER or PKCS#7 certs-only) is searched for the certificates whose public
 * key is that of a pending request of the mailbox; everything else in it
 * is a chain candidate. The chain is then completed (file, trust anchors,
 * AIA caIssuers) and the keystore imports with the pending key.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { errorMessage, SiegelError } from '../errors.js';
import { spkiHash, type PendingSummary } from '../keystore/keystore.js';
import { openKeystore } from '../keystore/open.js';
import { httpCaIssuersFetcher } from '../pki/ca-issuers-fetch.js';
import { parseCertificate, roleOf } from '../pki/certificate-info.js';
import { completeChain, type CaIssuersFetcher } from '../pki/chain-completion.js';
import { loadConfiguredAnchors } from '../pki/configured-anchors.js';
import { parseCertificates } from '../pki/key-files.js';
import { isSelfSigned } from '../pki/key-material.js';
import { oneLine, validatePath } from '../pki/path-validation.js';
import type { TrustAnchor } from '../pki/trust-store.js';
import type { CommandContext } from './context.js';

/** A certificate for a pending key with its completed chain; the key stays in the keystore. */
export interface IssuedMaterial {
  readonly certificate: Buffer;
  readonly chain: Buffer[];
}

export interface IssuedFiles {
  readonly mailbox: string;
  /** Contents of --cert and its file name (for messages). */
  readonly cert: { readonly name: string; readonly bytes: Buffer };
  /** Contents of --chain, when given. */
  readonly chain?: Buffer | undefined;
}

/** What a mailbox has: pending requests, and the ids (certificate SHA-256) of its enrolled identities. */
export interface EnrollmentState {
  readonly pending: readonly PendingSummary[];
  readonly enrolled: ReadonlySet<string>;
}

export async function enrollmentStateOf(ctx: CommandContext, mailbox: string): Promise<EnrollmentState> {
  const keystore = openKeystore(ctx.config, ctx.env, ctx.now, ctx.logger);
  try {
    const pending = await keystore.pendingRequests(mailbox);
    const address = mailbox.trim().toLowerCase();
    const enrolled = new Set((await keystore.list()).filter((i) => i.mailbox === address && i.state !== 'pending').map((i) => i.id));
    return { pending, enrolled };
  } finally {
    await keystore.close();
  }
}

export async function readIssued(
  ctx: CommandContext,
  files: IssuedFiles,
  state: EnrollmentState,
  fetch: CaIssuersFetcher = httpCaIssuersFetcher(),
): Promise<IssuedMaterial[]> {
  const { pending, enrolled } = state;
  const all = dedupe([...parseCertificates(files.cert.bytes, 'certificate file'), ...(files.chain ? parseCertificates(files.chain, 'chain file') : [])]);
  const byKey = new Map(pending.map((p) => [p.publicKeySha256, p]));
  // Certificates already enrolled for the mailbox count too: importing the same file twice is no error.
  const leaves = all.filter((der) => byKey.has(spkiHash(new X509Certificate(der))) || enrolled.has(createHash('sha256').update(der).digest('hex')));
  if (leaves.length === 0) throw noMatch(files, all, pending);
  const others = all.filter((der) => !leaves.includes(der));
  const anchors = configuredAnchors(ctx);
  const warn = (text: string) => ctx.stderr.write(`siegel enroll import: warning: ${text}\n`);
  const materials: IssuedMaterial[] = [];
  for (const leaf of leaves) {
    const info = parseCertificate(leaf);
    const label = `"${info.subject}"`;
    const request = byKey.get(spkiHash(new X509Certificate(leaf)));
    const role = roleOf(info);
    if (request && role !== undefined && role !== request.role) warn(`${label} was requested for "${request.role}" but issued for "${role}"`);
    const completed = await completeChain(leaf, others, { anchors, fetch });
    for (const url of completed.fetched) ctx.stdout.write(`Fetched CA certificate from ${url}\n`);
    if (completed.problem !== undefined || completed.anchor === undefined) {
      warn(`the chain of ${label} is incomplete: ${completed.problem ?? 'no trust anchor reached'}; imported anyway, signatures carry the ${completed.chain.length} CA certificate(s) known`);
    } else {
      const check = validatePath(leaf, completed.chain, [completed.anchor], { at: ctx.now() });
      if (!check.ok) warn(`the chain of ${label} reaches "${oneLine(completed.anchor.x509.subject)}" but does not validate: ${check.detail}`);
    }
    // Unlinked CA certificates of the file stay too (not roots): they may be cross-certificates partners need.
    const unlinked = others.filter((der) => !completed.chain.some((c) => c.equals(der)) && isIntermediate(new X509Certificate(der)));
    materials.push({ certificate: leaf, chain: [...completed.chain, ...unlinked] });
  }
  return materials;
}

function isIntermediate(x509: X509Certificate): boolean {
  return x509.ca && !isSelfSigned(x509);
}

function configuredAnchors(ctx: CommandContext): readonly TrustAnchor[] {
  try {
    return loadConfiguredAnchors(ctx.config, ctx.logger);
  } catch (err) {
    ctx.stderr.write(`siegel enroll import: warning: trust anchors not loaded (${errorMessage(err)}); the chain is completed from the file and caIssuers URLs only\n`);
    return [];
  }
}

function noMatch(files: IssuedFiles, certificates: readonly Buffer[], pending: readonly PendingSummary[]): SiegelError {
  const found = certificates.map((der) => {
    const x509 = new X509Certificate(der);
    return `  ${oneLine(x509.subject)} (key ${short(spkiHash(x509))})`;
  });
  const requests = pending.map(
    (p) => `  ${p.id}  ${p.role}  ${p.subject ?? '-'}  requested ${p.createdAt.toISOString().slice(0, 10)} (key ${short(p.publicKeySha256)})`,
  );
  return new SiegelError(
    'ENROLL_REJECTED',
    [
      `${files.cert.name}: no certificate matches a pending request of ${files.mailbox}; was it issued for another request or another mailbox?`,
      'Certificates in the file:',
      ...found,
      `Pending requests of ${files.mailbox}:`,
      ...(requests.length > 0 ? requests : ['  (none)']),
      'For a key made elsewhere, give it with --key FILE.',
    ].join('\n'),
  );
}

function short(sha256: string): string {
  return `sha256:${sha256.slice(0, 16)}`;
}

function dedupe(certificates: readonly Buffer[]): Buffer[] {
  const seen = new Set<string>();
  return certificates.filter((der) => {
    const key = der.toString('base64');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

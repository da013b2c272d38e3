/**
 * `siegel enroll request`: makes a key for a mailbox inside Siegel, keeps
 * it sealed as a pending identity, and writes the PKCS#10 request the
 * registration authority needs. The key never leaves Siegel; the issued
 * certificate comes back with `siegel enroll import --cert FILE`.
 */
import { writeFile } from 'node:fs/promises';
import { errorMessage, SiegelError } from '../errors.js';
import { normalizeMailbox } from '../keystore/import-validation.js';
import { openKeystore } from '../keystore/open.js';
import { buildMailboxRequest, generateRequestKey, requestKeySpecs, requestUsages, type RequestKeySpec, type RequestUsage } from '../pki/csr.js';
import { toPem } from '../pki/pem.js';
import { ExitCode, type CommandContext } from './context.js';

export interface EnrollRequestOptions {
  mailbox: string;
  /** CN of the subject; default the mailbox address. */
  name?: string;
  key?: string;
  usage?: string;
  /** Where the PEM request goes; stdout when absent. */
  out?: string;
}

const KEY_NAMES: Record<RequestKeySpec, string> = { rsa3072: 'RSA 3072 bits', rsa4096: 'RSA 4096 bits', p256: 'ECC P-256' };
const USAGE_NAMES: Record<RequestUsage, string> = { sign: 'signing', encrypt: 'encryption', both: 'signing and encryption' };

class UsageError extends Error {}

export async function enrollRequest(ctx: CommandContext, opts: EnrollRequestOptions): Promise<number> {
  try {
    const keySpec = choice(opts.key ?? 'rsa3072', requestKeySpecs, '--key');
    const usage = choice(opts.usage ?? 'both', requestUsages, '--usage');
    const mailbox = mailboxOf(opts.mailbox);
    const profile = ctx.config.enrollment.profile;
    const commonName = (opts.name ?? '').trim() || mailbox;
    // Open (and load the master key) before spending seconds on an RSA key that could not be stored.
    const keystore = openKeystore(ctx.config, ctx.env, ctx.now, ctx.logger);
    try {
      const privateKey = await generateRequestKey(keySpec);
      const request = buildMailboxRequest(
        privateKey,
        mailbox,
        { country: profile.country, organization: profile.organization, organizationalUnit: profile.organizationalUnit, commonName },
        usage,
      );
      const pending = await keystore.createPending({ mailbox, role: usage, privateKey, request: request.der, subject: request.subject });
      const pem = toPem('CERTIFICATE REQUEST', request.der);
      if (opts.out !== undefined) {
        try {
          await writeFile(opts.out, pem);
        } catch (err) {
          // A stored key without a request anyone can submit is only clutter.
          await keystore.discardPending(pending.id);
          throw new Error(`cannot write ${opts.out}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
        }
      } else {
        ctx.stdout.write(pem);
      }
      const others = (await keystore.pendingRequests(mailbox)).length - 1;
      // The request itself may be on stdout (piped to a file or a portal): the guidance goes to stderr then.
      const guide = opts.out === undefined ? ctx.stderr : ctx.stdout;
      guide.write(
        [
          `Certification request for ${mailbox} (${USAGE_NAMES[usage]}) ${opts.out === undefined ? 'written to standard output' : `written to ${opts.out}`}`,
          `  subject:      ${request.subject}`,
          `  address:      ${mailbox} (subjectAltName)`,
          `  key usage:    ${request.keyUsage.join(', ')}; extended key usage emailProtection`,
          `  key:          ${KEY_NAMES[keySpec]}, made here and stored encrypted (state pending, id ${pending.id})`,
          `  key SHA-256:  ${request.publicKeySha256}`,
          ...(others > 0 ? [`  note:         ${mailbox} has ${others} other pending request(s); each is matched to its certificate by key`] : []),
          'Next steps:',
          '  1. Hand the request to your registration authority (RA) as it asks (portal upload or mail).',
          '  2. When the CA has issued the certificate (PEM, DER or .p7b), import it:',
          `       siegel enroll import --mailbox ${mailbox} --cert FILE`,
          '  3. Check with `siegel certs list`: the mailbox is then "active" instead of "pending".',
          '',
        ].join('\n'),
      );
      return ExitCode.ok;
    } finally {
      await keystore.close();
    }
  } catch (err) {
    ctx.stderr.write(`siegel enroll request: ${errorMessage(err)}\n`);
    if (err instanceof UsageError) return ExitCode.usage;
    if (err instanceof SiegelError && err.code === 'ENROLL_REJECTED') return ExitCode.rejected;
    return ExitCode.failure;
  }
}

function mailboxOf(input: string): string {
  try {
    return normalizeMailbox(input);
  } catch (err) {
    throw new UsageError(`--mailbox: ${errorMessage(err)}`);
  }
}

function choice<T extends string>(value: string, allowed: readonly T[], option: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${option} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
}

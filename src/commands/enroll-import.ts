/**
 * `siegel enroll import`: stores a mailbox identity from a PKCS#12 file or
 * from certificate + key files. Passphrases come from files or the
 * environment only: argv is visible to every user in `ps`.
 */
import { readFile } from 'node:fs/promises';
import { SiegelError, errorMessage } from '../errors.js';
import { openKeystore } from '../keystore/open.js';
import { orderChain, type KeyMaterial } from '../pki/key-material.js';
import { parseCertificates, readKeyFiles } from '../pki/key-files.js';
import { readPkcs12Identities } from '../pki/pkcs12.js';
import { ExitCode, type CommandContext } from './context.js';
import { enrollmentStateOf, readIssued, type IssuedMaterial } from './enroll-import-issued.js';

export const P12_PASSPHRASE_ENV = 'SIEGEL_P12_PASSPHRASE';
const DAY = 86_400_000;
const EXPIRY_WARNING_DAYS = 30;

export interface EnrollImportOptions {
  mailbox: string;
  p12?: string;
  passphraseFile?: string;
  cert?: string;
  key?: string;
  chain?: string;
  keyPassphraseFile?: string;
}

/** Wrong or missing options: exit code 2. */
class UsageError extends Error {}
/** Input file missing or unreadable: exit code 1. */
class InputError extends Error {}

export async function enrollImport(ctx: CommandContext, opts: EnrollImportOptions): Promise<number> {
  try {
    const materials = await readMaterials(ctx, opts);
    const keystore = openKeystore(ctx.config, ctx.env, ctx.now, ctx.logger);
    try {
      // A PKCS#12 file may hold the mailbox's signing and encryption identities together.
      for (const material of materials) {
        // Without a private key the certificate was issued for a pending request: the key is in the keystore.
        const { identity, created } =
          'privateKey' in material
            ? await keystore.importIdentity({ mailbox: opts.mailbox, ...material }, ctx.now())
            : await keystore.importIssued({ mailbox: opts.mailbox, ...material }, ctx.now());
        const notAfter = identity.notAfter ?? ctx.now();
        const daysLeft = Math.floor((notAfter.getTime() - ctx.now().getTime()) / DAY);
        const lines = [
          created ? `Enrolled ${identity.mailbox} (${identity.role})` : `Already enrolled: ${identity.mailbox} (${identity.role}), nothing changed`,
          `  subject:     ${identity.subject ?? '-'}`,
          `  issuer:      ${identity.issuer ?? '-'}`,
          `  serial:      ${identity.serial ?? '-'}`,
          `  valid until: ${notAfter.toISOString().slice(0, 10)} (${daysLeft} days left)`,
          `  chain:       ${material.chain.length} CA certificate(s)`,
        ];
        ctx.stdout.write(`${lines.join('\n')}\n`);
        if (daysLeft < EXPIRY_WARNING_DAYS) {
          ctx.stderr.write(`siegel enroll import: warning: the certificate expires in ${daysLeft} days; plan its renewal\n`);
        }
      }
      return ExitCode.ok;
    } finally {
      await keystore.close();
    }
  } catch (err) {
    ctx.stderr.write(`siegel enroll import: ${errorMessage(err)}\n`);
    if (err instanceof UsageError) return ExitCode.usage;
    if (err instanceof SiegelError && err.code === 'ENROLL_REJECTED') return ExitCode.rejected;
    return ExitCode.failure;
  }
}

async function readMaterials(ctx: CommandContext, opts: EnrollImportOptions): Promise<Array<KeyMaterial | IssuedMaterial>> {
  const pair = opts.cert !== undefined || opts.key !== undefined;
  if (opts.p12 !== undefined && pair) throw new UsageError('give either --p12 or --cert with --key, not both');
  if (opts.p12 !== undefined) {
    const passphrase = await p12Passphrase(ctx, opts);
    const materials = await readPkcs12Identities(await input(opts.p12, 'PKCS#12 file'), passphrase);
    if (opts.chain === undefined) return materials;
    // Files exported without their CA certificates: --chain supplies them.
    const extra = parseCertificates(await input(opts.chain, 'chain file'), 'chain file');
    return materials.map((material) => ({ ...material, chain: orderChain(material.certificate, [...material.chain, ...extra]) }));
  }
  if (opts.cert !== undefined && opts.key === undefined) {
    // A certificate issued for `siegel enroll request`: the key is pending in the keystore.
    const state = await enrollmentStateOf(ctx, opts.mailbox);
    if (state.pending.length === 0 && state.enrolled.size === 0) {
      throw new UsageError(
        `--cert without --key imports a certificate issued for a request made with \`siegel enroll request\`, and ${opts.mailbox} has no pending request; give --key FILE for a key made elsewhere`,
      );
    }
    const chain = opts.chain === undefined ? undefined : await input(opts.chain, 'chain file');
    return readIssued(ctx, { mailbox: opts.mailbox, cert: { name: opts.cert, bytes: await input(opts.cert, 'certificate file') }, chain }, state);
  }
  if (opts.cert === undefined || opts.key === undefined) {
    throw new UsageError(pair ? '--cert and --key go together' : 'give --p12 FILE, or --cert FILE with --key FILE');
  }
  return [
    readKeyFiles({
      certificate: await input(opts.cert, 'certificate file'),
      privateKey: await input(opts.key, 'key file'),
      chain: opts.chain === undefined ? undefined : await input(opts.chain, 'chain file'),
      keyPassphrase: opts.keyPassphraseFile === undefined ? undefined : await passphraseFrom(opts.keyPassphraseFile),
    }),
  ];
}

async function p12Passphrase(ctx: CommandContext, opts: EnrollImportOptions): Promise<string> {
  if (opts.passphraseFile !== undefined) return passphraseFrom(opts.passphraseFile);
  const fromEnv = ctx.env[P12_PASSPHRASE_ENV];
  if (fromEnv !== undefined) return fromEnv;
  throw new UsageError(`the PKCS#12 passphrase is needed: give --passphrase-file FILE or set ${P12_PASSPHRASE_ENV}`);
}

/** The file's content without its final line end: that is an editor's, not the PIN's; spaces are kept. */
async function passphraseFrom(file: string): Promise<string> {
  const text = (await input(file, 'passphrase file')).toString('utf8');
  return text.replace(/\r?\n$/, '');
}

async function input(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new InputError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

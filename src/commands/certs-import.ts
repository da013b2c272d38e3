/**
 * `siegel certs import ADDR FILE [--force] [--json]`: adds a correspondent's
 * encryption certificate handed over by other means, after the validation
 * harvested certificates get (lifecycle/recipient-import.ts). From then on
 * mail to ADDR leaves encrypted, also while `siegel serve` runs (it reads
 * the store on every look-up). Needs no master key: certificates are public.
 */
import { readFile, stat } from 'node:fs/promises';
import { SiegelError, errorMessage } from '../errors.js';
import { SqliteHarvestedStore } from '../keystore/sqlite-harvested-store.js';
import { SqliteIssuerStore } from '../keystore/sqlite-issuer-store.js';
import { importRecipientCertificate, MAX_IMPORT_FILE_BYTES, type RecipientImportResult } from '../lifecycle/recipient-import.js';
import { loadConfiguredAnchors } from '../pki/configured-anchors.js';
import { ExitCode, type CommandContext } from './context.js';

export interface CertsImportOptions {
  readonly address: string;
  readonly file: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

const ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;

export async function certsImport(ctx: CommandContext, opts: CertsImportOptions): Promise<number> {
  const address = opts.address.trim().toLowerCase();
  if (!ADDRESS.test(address)) {
    ctx.stderr.write(`siegel certs import: ${JSON.stringify(opts.address)} is not a mail address (expected local@domain)\n`);
    return ExitCode.usage;
  }
  let bytes: Buffer;
  try {
    // A certificate file is small: a huge file (a mistaken path) is refused before it is read.
    if ((await stat(opts.file)).size > MAX_IMPORT_FILE_BYTES) {
      ctx.stderr.write(`siegel certs import: refused: ${opts.file} is larger than ${MAX_IMPORT_FILE_BYTES} bytes; a certificate file is a few kilobytes\n`);
      return ExitCode.rejected;
    }
    bytes = await readFile(opts.file);
  } catch (err) {
    ctx.stderr.write(`siegel certs import: cannot read ${opts.file}: ${errorMessage(err)}\n`);
    return ExitCode.failure;
  }
  let result: RecipientImportResult;
  try {
    const anchors = loadConfiguredAnchors(ctx.config, ctx.logger);
    const store = SqliteHarvestedStore.open(ctx.config.dataDir, (message) => ctx.logger.warn(message));
    let issuers: SqliteIssuerStore | undefined;
    try {
      // The issuing CAs of the file go beside it: `siegel serve` needs them to check the certificate's revocation.
      issuers = SqliteIssuerStore.open(ctx.config.dataDir, (message) => ctx.logger.warn(message));
      result = await importRecipientCertificate(store, {
        address,
        file: bytes,
        anchors,
        now: ctx.now(),
        minRsaBits: ctx.config.inbound.minRsaBits,
        force: opts.force === true,
        issuers,
      });
    } finally {
      await issuers?.close();
      await store.close();
    }
  } catch (err) {
    ctx.stderr.write(`siegel certs import: ${err instanceof SiegelError && err.code === 'CERTIFICATE_REJECTED' ? 'refused: ' : ''}${errorMessage(err)}\n`);
    return err instanceof SiegelError && err.code === 'CERTIFICATE_REJECTED' ? ExitCode.rejected : ExitCode.failure;
  }
  ctx.logger.info({ address, action: result.action, fingerprint: result.fingerprint, replaced: result.replaced, issuers: result.issuers }, 'recipient certificate imported');
  if (result.issuersNotKept) {
    ctx.logger.warn({ address, error: result.issuersNotKept }, 'issuing CA certificates not kept: the revocation check may not find the issuer');
  }
  ctx.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : render(result));
  return ExitCode.ok;
}

function render(result: RecipientImportResult): string {
  const headline: Record<RecipientImportResult['action'], string> = {
    added: `Imported the certificate for ${result.address}.`,
    superseded: `Imported the certificate for ${result.address}; it replaces the older one.`,
    forced: `Imported the certificate for ${result.address} (--force); the certificate used before is kept as superseded.`,
    unchanged: `This certificate is already the one used for ${result.address}; nothing changed.`,
  };
  const lines = [
    headline[result.action],
    `  subject:      ${result.subject}`,
    `  issuer:       ${result.issuer}`,
    `  serial:       ${result.serial}`,
    `  valid:        ${result.notBefore.slice(0, 10)} to ${result.notAfter.slice(0, 10)}`,
    `  trust anchor: ${result.anchorSubject}`,
    `  fingerprint:  ${result.fingerprint}`,
    ...result.replaced.map((fingerprint) => `  replaces:     ${fingerprint}`),
    ...result.issuers.map((subject) => `  issuing CA:   ${subject} (kept for the revocation check)`),
    ...(result.issuersNotKept ? [`  warning:      the issuing CA certificates could not be kept (${result.issuersNotKept})`] : []),
    `Mail to ${result.address} now leaves encrypted to this certificate (see \`siegel certs show ${result.address}\`).`,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The `siegel` command. Each subcommand is a thin wrapper that loads the
 * config and calls a function in src/commands/.
 */
import { existsSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { loadConfig } from './config/load.js';
import { errorMessage } from './errors.js';
import { createLogger } from './log.js';
import { certsListHarvested } from './commands/certs-harvested.js';
import { certsImport } from './commands/certs-import.js';
import { certsList } from './commands/certs-list.js';
import { certsShow } from './commands/certs-show.js';
import { ExitCode, type CommandContext } from './commands/context.js';
import { defaultDemoDir, prepareDemo } from './commands/demo.js';
import { enrollImport } from './commands/enroll-import.js';
import { enrollRequest, type EnrollRequestOptions } from './commands/enroll-request.js';
import { filesAudit, type FilesAuditOptions } from './commands/files-audit.js';
import { filesList, type FilesListOptions } from './commands/files-list.js';
import { filesOrphans, type FilesOrphansOptions } from './commands/files-orphans.js';
import { filesRevoke } from './commands/files-revoke.js';
import { filesShare, type FilesShareOptions } from './commands/files-share.js';
import { health } from './commands/health.js';
import { EX_CONFIG, outboundFilter } from './commands/outbound.js';
import { inboundFilter } from './commands/inbound.js';
import { passwd } from './commands/passwd.js';
import { policyCheck } from './commands/policy-check.js';
import { policyExplain } from './commands/policy-explain.js';
import { serve } from './commands/serve.js';

export interface CliIo {
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
}

interface ConfigOptions {
  config?: string;
  demo?: boolean | string;
}

export async function main(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const stdin = io.stdin ?? process.stdin;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const now = io.now ?? (() => new Date());
  let exitCode: number = ExitCode.ok;

  const context = async (opts: ConfigOptions, defaultLogLevel = 'info'): Promise<CommandContext> => {
    const file = await configFile(opts, env, now, (line) => stderr.write(`${line}\n`));
    const config = loadConfig({ file, env });
    const level = env.SIEGEL_LOG__LEVEL ? config.log.level : defaultLogLevel === 'info' ? config.log.level : defaultLogLevel;
    return { config, stdin, stdout, stderr, env, now, logger: createLogger(level, stderr) };
  };
  const run =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      exitCode = await fn(...args);
    };

  const program = new Command('siegel')
    .description('S/MIME gateway: signs, verifies and encrypts mail with certificates from the authorities\' PKI')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) })
    .showHelpAfterError();
  const withConfig = (cmd: Command) =>
    cmd
      .option('-c, --config <file>', 'config file (default: $SIEGEL_CONFIG or ./siegel.yaml)')
      .addOption(new Option('--demo [dir]', `use the demo set-up (created on first use in ${defaultDemoDir}/)`));

  withConfig(program.command('serve').description('run the gateway: the submission and inbound SMTP listeners and the web pages'))
    .action(run(async (opts: ConfigOptions) => serve(await context(opts))));

  // A filter's caller (e.g. a Postfix pipe transport) reads sysexits codes: a broken
  // config is EX_CONFIG, which defers the mail instead of bouncing it.
  const filterCommand = (name: 'outbound' | 'inbound', description: string, filter: typeof outboundFilter) =>
    withConfig(program.command(name).description(description))
      .option('--from <addr>', 'envelope sender (default: the From header)')
      .option('--to <addr...>', 'envelope recipients (default: To and Cc headers)')
      .action(
        run(async (opts: ConfigOptions & { from?: string; to?: string[] }) => {
          let ctx: CommandContext;
          try {
            ctx = await context(opts, 'warn');
          } catch (err) {
            stderr.write(`siegel ${name}: ${errorMessage(err)}\n`);
            return EX_CONFIG;
          }
          return filter(ctx, opts);
        }),
      );
  filterCommand('outbound', 'outbound pipeline as a filter: message on stdin, processed message on stdout', outboundFilter);
  filterCommand('inbound', 'inbound pipeline as a filter: message on stdin, message with its verdict on stdout', inboundFilter);

  const enroll = program.command('enroll').description('enroll mailbox identities');
  withConfig(enroll.command('request').description('make a key for a mailbox and write a certification request (PKCS#10) for the registration authority'))
    .requiredOption('--mailbox <addr>', 'mailbox address the certificate is for')
    .option('--name <cn>', 'common name (CN) of the subject, e.g. "Bauamt" (default: the address)')
    .addOption(new Option('--key <type>', 'key type').choices(['rsa3072', 'rsa4096', 'p256']).default('rsa3072'))
    .addOption(new Option('--usage <usage>', 'what the certificate is for').choices(['sign', 'encrypt', 'both']).default('both'))
    .option('--out <file>', 'write the request (PEM) to this file instead of standard output')
    .action(
      run(async (opts: ConfigOptions & EnrollRequestOptions) => {
        const { config: _c, demo: _d, ...rest } = opts;
        return enrollRequest(await context(opts, 'warn'), rest);
      }),
    );
  withConfig(enroll.command('import').description('import a mailbox identity (PKCS#12, certificate + key, or a certificate issued for `enroll request`)'))
    .requiredOption('--mailbox <addr>', 'mailbox address the certificate is for')
    .option('--p12 <file>', 'PKCS#12 file (.p12/.pfx)')
    .option('--passphrase-file <file>', 'file holding the PKCS#12 passphrase (or env SIEGEL_P12_PASSPHRASE)')
    .option('--cert <file>', 'certificate (PEM, DER or PKCS#7 .p7b/.p7c)')
    .option('--key <file>', 'private key (PEM or DER); not needed when the certificate was issued for `siegel enroll request`')
    .option('--key-passphrase-file <file>', 'file holding the passphrase of an encrypted --key')
    .option('--chain <file>', 'issuing CA certificates (PEM)')
    .action(
      run(async (opts: ConfigOptions & Parameters<typeof enrollImport>[1]) => {
        const { config: _c, demo: _d, ...rest } = opts;
        return enrollImport(await context(opts, 'warn'), rest);
      }),
    );

  const certs = program.command('certs').description('show certificates');
  withConfig(certs.command('list').description('list enrolled identities (or, with --harvested, certificates learned from verified mail)'))
    .option('--json', 'machine-readable output')
    .option('--harvested', 'list harvested certificates of correspondents')
    .action(
      run(async (opts: ConfigOptions & { json?: boolean; harvested?: boolean }) =>
        opts.harvested ? certsListHarvested(await context(opts, 'warn'), { json: opts.json }) : certsList(await context(opts, 'warn'), { json: opts.json }),
      ),
    );
  withConfig(certs.command('show').description('everything known about an address: enrolled identities and harvested certificates'))
    .argument('<address>', 'mail address')
    .option('--json', 'machine-readable output')
    .action(
      run(async (address: string, opts: ConfigOptions & { json?: boolean }) => certsShow(await context(opts, 'warn'), { address, json: opts.json })),
    );
  withConfig(certs.command('import').description('add a correspondent\'s encryption certificate handed over by other means (validated like harvested ones)'))
    .argument('<address>', 'mail address the certificate is for')
    .argument('<file>', 'certificate (PEM or DER), optionally followed by its issuing CA certificates (PEM)')
    .option('--force', 'use it even where a kept certificate (other trust anchor, or not older) would win')
    .option('--json', 'machine-readable output')
    .action(
      run(async (address: string, file: string, opts: ConfigOptions & { force?: boolean; json?: boolean }) =>
        certsImport(await context(opts, 'warn'), { address, file, force: opts.force, json: opts.json }),
      ),
    );

  const files = program.command('files').description('large-file exchange: share files as download links, list, audit, revoke, find orphaned files');
  withConfig(files.command('share').description('store a file encrypted and print its download link'))
    .argument('<file>', 'file to share')
    .requiredOption('--owner <addr>', 'staff address that owns the share (quota, revocation, notification)')
    .option('--expires <duration>', 'lifetime such as 14d or 36h (default largeFiles.defaultExpiry, at most largeFiles.maxExpiry)')
    .option('--password-file <file>', 'file whose first line is the download password')
    .option('--max-downloads <n>', 'download limit')
    .option('--content-type <type>', 'media type to serve the file with (default application/octet-stream)')
    .option('--no-notify', 'do not mail the owner on the first download')
    .option('--json', 'machine-readable output')
    .action(
      run(async (file: string, opts: ConfigOptions & FilesShareOptions) => {
        const { config: _c, demo: _d, ...rest } = opts;
        return filesShare(await context(opts, 'warn'), file, rest);
      }),
    );
  withConfig(files.command('list').description('list shares with state, downloads and expiry (--audit: and the audit log)'))
    .option('--owner <addr>', 'only shares of this owner')
    .option('--all', 'include expired, revoked and exhausted shares')
    .option('--audit', 'also print the audit log (see `siegel files audit` for filters)')
    .option('--json', 'machine-readable output')
    .action(
      run(async (opts: ConfigOptions & FilesListOptions) => {
        const { config: _c, demo: _d, ...rest } = opts;
        return filesList(await context(opts, 'warn'), rest);
      }),
    );
  withConfig(files.command('audit').description('audit log: shares, uploads, downloads, revocations, password failures (who, when, size, IP)'))
    .option('--share <id>', 'only entries of this share')
    .option('--since <when>', 'only entries since a duration ago (7d) or a date (2026-11-01)')
    .option('--limit <n>', 'only the newest n entries')
    .option('--json', 'machine-readable output')
    .action(
      run(async (opts: ConfigOptions & FilesAuditOptions) => {
        const { config: _c, demo: _d, ...rest } = opts;
        return filesAudit(await context(opts, 'warn'), rest);
      }),
    );
  withConfig(files.command('revoke').description('revoke a share: the link stops working and the file is deleted'))
    .argument('<id>', 'share ID (from `siegel files list`)')
    .option('--owner <addr>', 'only if the share belongs to this owner')
    .action(
      run(async (id: string, opts: ConfigOptions & { owner?: string }) => filesRevoke(await context(opts, 'warn'), id, opts.owner === undefined ? {} : { owner: opts.owner })),
    );

  withConfig(files.command('orphans').description('files in the store that no share or upload refers to (left by a crash); --delete removes them'))
    .option('--delete', 'remove the orphaned files unchanged for at least --min-age')
    .option('--min-age <duration>', 'keep files changed more recently (a share or upload may be being created); at least 1h', '24h')
    .option('--json', 'machine-readable output')
    .action(
      run(async (opts: ConfigOptions & FilesOrphansOptions) => {
        const { config: _c, demo: _d, ...rest } = opts;
        return filesOrphans(await context(opts, 'warn'), rest);
      }),
    );

  const policy = program.command('policy').description('policy files: validate them, and see which rule decides what for a message');
  withConfig(policy.command('check').description('validate the policy directory (config key policies); exit 1 and file:line: key: message for each problem'))
    .action(run(async (opts: ConfigOptions) => policyCheck(await context(opts, 'warn'))));
  withConfig(policy.command('explain').description('show which rule matches each recipient and the decision'))
    .requiredOption('--from <addr>', 'sender address')
    .requiredOption('--to <addr...>', 'recipient addresses (each is matched on its own)')
    .addOption(new Option('--direction <dir>', 'outbound (out) or inbound (in) mail').choices(['out', 'in', 'outbound', 'inbound']).default('out'))
    .option('--json', 'machine-readable output')
    .action(
      run(async (opts: ConfigOptions & { from: string; to: string[]; direction: string; json?: boolean }) =>
        policyExplain(await context(opts, 'warn'), { from: opts.from, to: opts.to, direction: opts.direction, json: opts.json }),
      ),
    );

  // Needs no config: it only hashes what it reads.
  program
    .command('passwd')
    .description('print a credentials-file line for SMTP AUTH (password read from stdin)')
    .requiredOption('--user <name>', 'login name')
    .action(run(async (opts: { user: string }) => passwd({ stdin, stdout, stderr }, { user: opts.user })));

  withConfig(program.command('health').description('check that the submission and inbound listeners and the web pages answer'))
    .action(run(async (opts: ConfigOptions) => health(await context(opts, 'warn'))));

  try {
    await program.parseAsync([...argv], { from: argv === process.argv ? 'node' : 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    stderr.write(`siegel: ${errorMessage(err)}\n`);
    return ExitCode.failure;
  }
  return exitCode;
}

async function configFile(opts: ConfigOptions, env: NodeJS.ProcessEnv, now: () => Date, say: (line: string) => void): Promise<string> {
  if (opts.demo) return prepareDemo(typeof opts.demo === 'string' ? opts.demo : defaultDemoDir, env, now, say);
  const file = opts.config ?? env.SIEGEL_CONFIG ?? (existsSync('siegel.yaml') ? 'siegel.yaml' : undefined);
  if (!file) {
    throw new Error('no configuration: pass --config FILE, set SIEGEL_CONFIG, put siegel.yaml in the current directory, or try --demo');
  }
  return file;
}

/**
 * `siegel outbound`: the outbound pipeline as a filter (stdin -> stdout).
 * Exit codes follow sysexits so MTAs and scripts can react: 0 written,
 * 75 (EX_TEMPFAIL) try again later, 65 (EX_DATAERR) the input cannot be
 * processed, 78 (EX_CONFIG) the configuration cannot be loaded. Nothing is written on failure, so the caller keeps the message.
 */
import { errorCatalog, errorMessage, SiegelError, smtpReplyFor } from '../errors.js';
import { createOutboundPipeline } from '../pipeline/outbound.js';
import { openKeystore } from '../keystore/open.js';
import { SqliteHarvestedStore } from '../keystore/sqlite-harvested-store.js';
import { SqliteIssuerStore } from '../keystore/sqlite-issuer-store.js';
import { firstFound, harvestedCertificates } from '../pipeline/encryption-lookup.js';
import { openDirectoryLookup } from '../directory/open.js';
import type { DirectoryLookup } from '../directory/directory-lookup.js';
import type { CommandContext } from './context.js';
import { envelopeFromHeaders } from './envelope-from-headers.js';
import { readAll } from './read-stream.js';
import { loadConfiguredAnchors } from '../pki/configured-anchors.js';
import { createRevocationChecker, withRecipientRevocation } from '../pki/revocation/open.js';
import { randomQueueId } from '../pipeline/queue-id.js';
import { pipelineMessage, writeChunks } from '../pipeline/message.js';
import { openTransferService } from '../transfer/open.js';
import type { TransferService } from '../transfer/types.js';
import { PolicyHolder } from '../policy/reload.js';
import { decide } from '../policy/match.js';
import { createMailNotifier } from '../transfer/mail-notifier.js';
import { createNextHop, type NextHop } from '../smtp/next-hop.js';

export const EX_DATAERR = 65;
export const EX_TEMPFAIL = 75;
/** The configuration cannot be loaded; MTAs defer (Postfix: 4.3.5). */
export const EX_CONFIG = 78;

export async function outboundFilter(ctx: CommandContext, opts: { from?: string; to?: string[] }): Promise<number> {
  let keystore: ReturnType<typeof openKeystore> | undefined;
  let harvested: SqliteHarvestedStore | undefined;
  let issuers: SqliteIssuerStore | undefined;
  let transfer: TransferService | undefined;
  let directory: DirectoryLookup | undefined;
  let policies: PolicyHolder;
  let notifierHop: NextHop | undefined;
  try {
    // The rules of policies/ (issue 6); a broken file is a configuration error, the message waits for the fix.
    policies = PolicyHolder.open(ctx.config.policies);
  } catch (err) {
    ctx.stderr.write(`siegel outbound: ${errorMessage(err)}\n`);
    return EX_CONFIG;
  }
  try {
    // Inside the try: a missing master key or an unopenable database is a
    // temporary failure (75) like any other, not an exit 1 outside the
    // sysexits codes that MTA pipe transports act on.
    keystore = openKeystore(ctx.config, ctx.env, ctx.now);
    // Certificates harvested from verified inbound mail: replies to their senders leave encrypted.
    harvested = SqliteHarvestedStore.open(ctx.config.dataDir, (message) => ctx.logger.warn(message));
    // Their issuing CAs, for the revocation check (this process starts with nothing in memory).
    issuers = SqliteIssuerStore.open(ctx.config.dataDir, (message) => ctx.logger.warn(message));
    const anchors = loadConfiguredAnchors(ctx.config, ctx.logger);
    // Recipients without a harvested certificate are looked up in the configured LDAP directories.
    directory = openDirectoryLookup(ctx.config, { logger: ctx.logger, now: ctx.now, anchors });
    const raw = await readAll(ctx.stdin, ctx.config.smtp.submission.maxMessageSize);
    const envelope = envelopeFromHeaders(raw, opts.from, opts.to);
    // Large attachments leave as links; no attachment can be larger than the whole message. A rule with
    // onMissingCertificate: link may store the whole message as a link too.
    const decisions = decide(policies.current(), { direction: 'outbound', from: envelope.mailFrom, to: envelope.rcptTo }, ctx.config);
    const linkRules = decisions.some(({ decision }) => decision.encrypt === 'required' && decision.onMissingCertificate === 'link');
    // A rule may lower the threshold below the configured one.
    const threshold = Math.min(ctx.config.largeFiles.threshold, ...decisions.map(({ decision }) => decision.largeFiles.threshold));
    if (raw.length > threshold || linkRules) transfer = openTransferService(ctx.config, { logger: ctx.logger, now: ctx.now });
    const encryptionCertificate = withRecipientRevocation(firstFound(harvestedCertificates(harvested), directory?.lookup), ctx.config, createRevocationChecker(ctx.config), () => anchors, ctx.logger, issuers);
    // The password of a link delivery reaches the sender as `siegel serve` sends it: a mail through the outbound
    // pipeline (signed when its sender is enrolled) to the submission next hop, not through the caller of the filter.
    notifierHop = linkRules ? createNextHop(ctx.config.smtp.submission.relay, ctx.config.smtp.submission.nextHop, ctx.logger) : undefined;
    const notifier = notifierHop
      ? createMailNotifier({ config: ctx.config, outbound: createOutboundPipeline({ config: ctx.config, identities: keystore, encryptionCertificate, now: ctx.now }), nextHop: notifierHop, logger: ctx.logger, now: ctx.now })
      : undefined;
    const pipeline = createOutboundPipeline({
      config: ctx.config,
      identities: keystore,
      // Revoked recipient certificates are never used (issue 5); the trust anchors give their issuers.
      encryptionCertificate,
      now: ctx.now,
      ...(transfer ? { transfer } : {}),
      ...(notifier ? { notifier } : {}),
      policies,
    });
    const queueId = randomQueueId();
    const result = await pipeline(pipelineMessage(envelope, raw), queueId);
    try {
      await writeChunks(ctx.stdout, result.message.chunks);
    } catch (err) {
      // Not written: the caller keeps the message, so the links made for it go.
      await result.undo?.();
      throw err;
    }
    // Stage details as the SMTP listener logs them (offloading: count and bytes, never names or links).
    const details = Object.fromEntries(result.actions.filter((a) => a.detail).map((a) => [a.stage, a.detail]));
    ctx.logger.info({ queueId, from: envelope.mailFrom, to: envelope.rcptTo, actions: result.actions.map((a) => `${a.stage}:${a.action}`), ...(Object.keys(details).length > 0 ? { details } : {}) }, 'outbound filter');
    return 0;
  } catch (err) {
    // A policy refusal prints the SMTP reply an MTA would give ("550 5.7.1 Policy requires encryption, ..."), as the issue asks.
    const refusal = err instanceof SiegelError && err.code === 'POLICY_REFUSED' ? smtpReplyFor(err) : undefined;
    ctx.stderr.write(`siegel outbound: ${refusal ? `${refusal.code} ${refusal.enhanced} ${refusal.text}` : errorMessage(err)}\n`);
    // The full reason (rule, and a note such as link delivery not built yet) for the log; stderr above stays the one reply line.
    if (refusal) ctx.logger.info({ refused: errorMessage(err) }, 'outbound filter refused by policy');
    const permanent = err instanceof SiegelError && errorCatalog[err.code].smtp >= 500;
    return permanent ? EX_DATAERR : EX_TEMPFAIL;
  } finally {
    await notifierHop?.close();
    await transfer?.close();
    await directory?.close();
    await harvested?.close();
    await issuers?.close();
    await keystore?.close();
  }
}

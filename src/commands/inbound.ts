/**
 * `siegel inbound`: the inbound pipeline as a filter (stdin -> stdout).
 * The message is written with its verdict whatever the verdict is (exit 0);
 * exit codes otherwise as `siegel outbound` (sysexits): 75 try again later,
 * 65 the input cannot be taken, 78 the configuration cannot be loaded.
 * Nothing is written on failure, so the caller keeps the message. Policies
 * (src/policy/) apply as in `siegel serve`: a `fail` under onFail: reject
 * exits 65 with the 550 5.7.7 reply on stderr; under onFail: quarantine the
 * message goes to inbound.quarantine, nothing is written on stdout (exit 0).
 */
import { errorCatalog, errorMessage, SiegelError, smtpReplyFor } from '../errors.js';
import { openKeystore } from '../keystore/open.js';
import { SqliteHarvestedStore } from '../keystore/sqlite-harvested-store.js';
import { SqliteIssuerStore } from '../keystore/sqlite-issuer-store.js';
import { messageVerdict } from '../pipeline/inbound/annotate.js';
import { createInboundPipeline } from '../pipeline/inbound.js';
import { isQuarantined } from '../pipeline/inbound/policy-fail.js';
import { openQuarantineHop, quarantineRelay } from '../pipeline/inbound/policy-quarantine.js';
import { PolicyHolder } from '../policy/reload.js';
import { pipelineMessage, writeChunks } from '../pipeline/message.js';
import { randomQueueId } from '../pipeline/queue-id.js';
import { loadConfiguredAnchors } from '../pki/configured-anchors.js';
import { createRevocationChecker } from '../pki/revocation/open.js';
import type { CommandContext } from './context.js';
import { envelopeFromHeaders } from './envelope-from-headers.js';
import { EX_CONFIG, EX_DATAERR, EX_TEMPFAIL } from './outbound.js';
import { readAll } from './read-stream.js';

export async function inboundFilter(ctx: CommandContext, opts: { from?: string; to?: string[] }): Promise<number> {
  let keystore: ReturnType<typeof openKeystore> | undefined;
  let harvested: SqliteHarvestedStore | undefined;
  let issuers: SqliteIssuerStore | undefined;
  try {
    const anchors = loadConfiguredAnchors(ctx.config, ctx.logger);
    keystore = openKeystore(ctx.config, ctx.env, ctx.now);
    harvested = SqliteHarvestedStore.open(ctx.config.dataDir, (message) => ctx.logger.warn(message));
    issuers = SqliteIssuerStore.open(ctx.config.dataDir, (message) => ctx.logger.warn(message));
    const raw = await readAll(ctx.stdin, ctx.config.smtp.inbound.maxMessageSize);
    const envelope = envelopeFromHeaders(raw, opts.from, opts.to);
    // A broken policy is a configuration error (78, as siegel outbound; the caller keeps the message); none means the default decision.
    let policy;
    try {
      policy = PolicyHolder.open(ctx.config.policies).current();
    } catch (err) {
      ctx.stderr.write(`siegel inbound: ${errorMessage(err)}\n`);
      return EX_CONFIG;
    }
    const pipeline = createInboundPipeline({ config: ctx.config, anchors: () => anchors, keys: keystore, harvested, issuers, now: ctx.now, revocation: createRevocationChecker(ctx.config), policies: () => policy });
    const queueId = randomQueueId();
    const result = await pipeline(pipelineMessage(envelope, raw), queueId);
    const quarantined = isQuarantined(result);
    if (quarantined) {
      // onFail: quarantine: the message goes to inbound.quarantine with its verdict; nothing is written for the next hop.
      const hop = openQuarantineHop(ctx.config, ctx.logger);
      try {
        await hop.deliver(result.message, queueId);
      } finally {
        await hop.close();
      }
      ctx.stderr.write(`siegel inbound: quarantined to ${quarantineRelay(ctx.config)} (queue id ${queueId})\n`);
    } else {
      await writeChunks(ctx.stdout, result.message.chunks);
    }
    const verdict = messageVerdict(result.message.findings);
    const details = Object.fromEntries(result.actions.filter((a) => a.detail).map((a) => [a.stage, a.detail]));
    ctx.logger[quarantined ? 'warn' : 'info'](
      { queueId, from: envelope.mailFrom, to: envelope.rcptTo, smime: verdict.result, reason: verdict.reason, actions: result.actions.map((a) => `${a.stage}:${a.action}`), details },
      quarantined ? 'inbound filter: message quarantined' : 'inbound filter',
    );
    return 0;
  } catch (err) {
    // A policy rejection prints the SMTP reply an MTA would give ("550 5.7.7 ..."), and why.
    const rejected = err instanceof SiegelError && err.code === 'SIGNATURE_REJECTED' ? smtpReplyFor(err) : undefined;
    ctx.stderr.write(`siegel inbound: ${rejected ? `${rejected.code} ${rejected.enhanced} ${rejected.text}: ${errorMessage(err)}` : errorMessage(err)}\n`);
    const permanent = err instanceof SiegelError && errorCatalog[err.code].smtp >= 500;
    return permanent ? EX_DATAERR : EX_TEMPFAIL;
  } finally {
    await harvested?.close();
    await issuers?.close();
    await keystore?.close();
  }
}

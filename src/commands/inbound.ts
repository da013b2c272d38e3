/**
 * `siegel inbound`: the inbound pipeline as a filter (stdin -> stdout).
 * The message is written with its verdict whatever the verdict is (exit 0);
 * exit codes otherwise as `siegel outbound` (sysexits): 75 try again later,
 * 65 the input cannot be taken, 78 the configuration cannot be loaded.
 * Nothing is written on failure, so the caller keeps the message.
 */
import { errorCatalog, errorMessage, SiegelError } from '../errors.js';
import { openKeystore } from '../keystore/open.js';
import { SqliteHarvestedStore } from '../keystore/sqlite-harvested-store.js';
import { messageVerdict } from '../pipeline/inbound/annotate.js';
import { createInboundPipeline } from '../pipeline/inbound.js';
import { pipelineMessage, writeChunks } from '../pipeline/message.js';
import { randomQueueId } from '../pipeline/queue-id.js';
import { loadConfiguredAnchors } from '../pki/configured-anchors.js';
import { createRevocationChecker } from '../pki/revocation/open.js';
import type { CommandContext } from './context.js';
import { envelopeFromHeaders } from './envelope-from-headers.js';
import { EX_DATAERR, EX_TEMPFAIL } from './outbound.js';
import { readAll } from './read-stream.js';

export async function inboundFilter(ctx: CommandContext, opts: { from?: string; to?: string[] }): Promise<number> {
  let keystore: ReturnType<typeof openKeystore> | undefined;
  let harvested: SqliteHarvestedStore | undefined;
  try {
    const anchors = loadConfiguredAnchors(ctx.config, ctx.logger);
    keystore = openKeystore(ctx.config, ctx.env, ctx.now);
    harvested = SqliteHarvestedStore.open(ctx.config.dataDir, (message) => ctx.logger.warn(message));
    const raw = await readAll(ctx.stdin, ctx.config.smtp.inbound.maxMessageSize);
    const envelope = envelopeFromHeaders(raw, opts.from, opts.to);
    const pipeline = createInboundPipeline({ config: ctx.config, anchors: () => anchors, keys: keystore, harvested, now: ctx.now, revocation: createRevocationChecker(ctx.config) });
    const queueId = randomQueueId();
    const result = await pipeline(pipelineMessage(envelope, raw), queueId);
    await writeChunks(ctx.stdout, result.message.chunks);
    const verdict = messageVerdict(result.message.findings);
    ctx.logger.info(
      { queueId, from: envelope.mailFrom, to: envelope.rcptTo, smime: verdict.result, reason: verdict.reason, actions: result.actions.map((a) => `${a.stage}:${a.action}`) },
      'inbound filter',
    );
    return 0;
  } catch (err) {
    ctx.stderr.write(`siegel inbound: ${errorMessage(err)}\n`);
    const permanent = err instanceof SiegelError && errorCatalog[err.code].smtp >= 500;
    return permanent ? EX_DATAERR : EX_TEMPFAIL;
  } finally {
    await harvested?.close();
    await keystore?.close();
  }
}

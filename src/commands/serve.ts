/**
 * `siegel serve`: the submission listener with the outbound pipeline and its
 * next hop. Runs until SIGINT/SIGTERM, then stops gracefully.
 */
import { openKeystore } from '../keystore/open.js';
import { SqliteHarvestedStore } from '../keystore/sqlite-harvested-store.js';
import { createOutboundPipeline, outboundRecipientGroup } from '../pipeline/outbound.js';
import { createNextHop } from '../smtp/next-hop.js';
import { createSmtpListener } from '../smtp/listener.js';
import type { CommandContext } from './context.js';

export interface ServeHandle {
  readonly ports: { readonly submission: number };
  stop(): Promise<void>;
}

/** Starts everything; resolves once listening. */
export async function startServer(ctx: CommandContext): Promise<ServeHandle> {
  const { config, logger } = ctx;
  const keystore = openKeystore(config, ctx.env, ctx.now);
  // Certificates harvested from verified inbound mail, read by reply encryption.
  const harvested = SqliteHarvestedStore.open(config.dataDir, (message) => logger.warn(message));
  const submissionHop = createNextHop(config.smtp.submission.relay, config.smtp.submission.nextHop, logger);
  const submission = createSmtpListener({
    name: 'submission',
    config: config.smtp.submission,
    hostname: config.hostname ?? 'localhost',
    logger,
    process: createOutboundPipeline({ config, identities: keystore, now: ctx.now }),
    recipientGroup: outboundRecipientGroup(config),
    nextHop: submissionHop,
    now: ctx.now,
  });
  let port: number;
  try {
    await keystore.checkReady();
    ({ port } = await submission.start());
  } catch (err) {
    // A failed start (no master key, port taken) must not leave the database open.
    await submissionHop.close();
    await harvested.close();
    await keystore.close();
    throw err;
  }
  logger.info(
    { listener: 'submission', address: `${config.smtp.submission.listen.host}:${port}`, relay: config.smtp.submission.relay },
    'listening',
  );
  return {
    ports: { submission: port },
    async stop() {
      await submission.stop();
      await submissionHop.close();
      await harvested.close();
      await keystore.close();
    },
  };
}

/** Runs until a signal arrives. */
export async function serve(ctx: CommandContext): Promise<number> {
  const handle = await startServer(ctx);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      ctx.logger.info({ signal }, 'stopping');
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await handle.stop();
  return 0;
}

/**
 * `siegel serve`: the submission listener (outbound pipeline, its next hop
 * the smarthost) and the inbound listener (inbound pipeline, its next hop
 * the internal mail server). Runs until SIGINT/SIGTERM, then stops
 * gracefully.
 */
import { openKeystore } from '../keystore/open.js';
import { SqliteHarvestedStore } from '../keystore/sqlite-harvested-store.js';
import { createOutboundPipeline, outboundRecipientGroup } from '../pipeline/outbound.js';
import { harvestedCertificates } from '../pipeline/encryption-lookup.js';
import { createInboundPipeline } from '../pipeline/inbound.js';
import { loadConfiguredAnchors } from '../pki/configured-anchors.js';
import { createNextHop } from '../smtp/next-hop.js';
import { recipientDomainCheck } from '../smtp/recipient-domains.js';
import { createSmtpListener } from '../smtp/listener.js';
import type { CommandContext } from './context.js';

export interface ServeHandle {
  readonly ports: { readonly submission: number; readonly inbound: number };
  stop(): Promise<void>;
}

/** Starts everything; resolves once listening. */
export async function startServer(ctx: CommandContext): Promise<ServeHandle> {
  const { config, logger } = ctx;
  const anchors = loadConfiguredAnchors(config, logger);
  const keystore = openKeystore(config, ctx.env, ctx.now);
  // Certificates harvested from verified inbound mail, read by reply encryption.
  const harvested = SqliteHarvestedStore.open(config.dataDir, (message) => logger.warn(message));
  const submissionHop = createNextHop(config.smtp.submission.relay, config.smtp.submission.nextHop, logger);
  const submission = createSmtpListener({
    name: 'submission',
    config: config.smtp.submission,
    hostname: config.hostname ?? 'localhost',
    logger,
    process: createOutboundPipeline({ config, identities: keystore, encryptionCertificate: harvestedCertificates(harvested), now: ctx.now }),
    recipientGroup: outboundRecipientGroup(config, harvestedCertificates(harvested), ctx.now),
    nextHop: submissionHop,
    now: ctx.now,
  });
  const inboundHop = createNextHop(config.smtp.inbound.relay, config.smtp.inbound.nextHop, logger);
  const inbound = createSmtpListener({
    name: 'inbound',
    config: config.smtp.inbound,
    hostname: config.hostname ?? 'localhost',
    logger,
    process: createInboundPipeline({ config, anchors: () => anchors, keys: keystore, harvested, now: ctx.now }),
    checkRecipient: recipientDomainCheck(config.inbound.recipientDomains ?? config.internalDomains),
    nextHop: inboundHop,
    now: ctx.now,
  });
  let port: number;
  let inboundPort: number;
  try {
    await keystore.checkReady();
    ({ port } = await submission.start());
    try {
      ({ port: inboundPort } = await inbound.start());
    } catch (err) {
      await submission.stop();
      throw err;
    }
  } catch (err) {
    // A failed start (no master key, port taken) must not leave the database open.
    await submissionHop.close();
    await inboundHop.close();
    await harvested.close();
    await keystore.close();
    throw err;
  }
  logger.info(
    { listener: 'submission', address: `${config.smtp.submission.listen.host}:${port}`, relay: config.smtp.submission.relay },
    'listening',
  );
  logger.info(
    { listener: 'inbound', address: `${config.smtp.inbound.listen.host}:${inboundPort}`, relay: config.smtp.inbound.relay, trustAnchors: anchors.length },
    'listening',
  );
  return {
    ports: { submission: port, inbound: inboundPort },
    async stop() {
      await Promise.all([submission.stop(), inbound.stop()]);
      await submissionHop.close();
      await inboundHop.close();
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

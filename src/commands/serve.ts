/**
 * `siegel serve`: the submission listener (outbound pipeline, its next hop
 * the smarthost) and the inbound listener (inbound pipeline, its next hop
 * the internal mail server). Runs until SIGINT/SIGTERM, then stops
 * gracefully.
 */
import path from 'node:path';
import { closeBulkPool } from '../crypto/bulk-pool.js';
import { openKeystore } from '../keystore/open.js';
import { checkDatabaseIntegrity } from '../keystore/sqlite-database.js';
import { SqliteHarvestedStore } from '../keystore/sqlite-harvested-store.js';
import { SqliteIssuerStore } from '../keystore/sqlite-issuer-store.js';
import { createOutboundPipeline, outboundRecipientGroup } from '../pipeline/outbound.js';
import { firstFound, harvestedCertificates } from '../pipeline/encryption-lookup.js';
import { openDirectoryLookup } from '../directory/open.js';
import { createInboundPipeline } from '../pipeline/inbound.js';
import { inboundRecipientGroup } from '../pipeline/inbound/policy.js';
import { openQuarantineHop } from '../pipeline/inbound/policy-quarantine.js';
import { openServePolicies } from '../policy/serve-reload.js';
import { DIGEST_STATE_FILE, startExpiryMonitor } from '../lifecycle/expiry-monitor.js';
import { loadConfiguredAnchors } from '../pki/configured-anchors.js';
import { createRevocationChecker, withRecipientRevocation } from '../pki/revocation/open.js';
import { createNextHop } from '../smtp/next-hop.js';
import { recipientDomainCheck } from '../smtp/recipient-domains.js';
import { createSmtpListener } from '../smtp/listener.js';
import { createMailNotifier } from '../transfer/mail-notifier.js';
import { LocalBlobStore } from '../transfer/local-blob-store.js';
import { blobDirectory, openTransferService } from '../transfer/open.js';
import { SqliteStaffStore } from '../transfer/sqlite-staff-store.js';
import { startSweeper } from '../transfer/sweeper.js';
import { createWebApp } from '../web/app.js';
import { startWebServer, type WebServer } from '../web/server.js';
import type { CommandContext } from './context.js';

export interface ServeHandle {
  readonly ports: { readonly submission: number; readonly inbound: number; readonly web: number };
  stop(): Promise<void>;
}

/** Starts everything; resolves once listening. */
export async function startServer(ctx: CommandContext): Promise<ServeHandle> {
  const { config, logger } = ctx;
  // A damaged siegel.db stops the start here, read-only and before anything could write to it.
  checkDatabaseIntegrity(config.dataDir);
  // The policies first: a broken policy fails the start before anything is opened. Reloaded on SIGHUP and file change.
  const policies = openServePolicies(config.policies, logger);
  const anchors = loadConfiguredAnchors(config, logger);
  // Recipients without a harvested certificate are looked up in the configured LDAP directories (one cache for all
  // listeners); created before anything is opened, as a bad ldap.* config fails the start.
  const directory = openDirectoryLookup(config, { logger, now: ctx.now, anchors });
  const keystore = openKeystore(config, ctx.env, ctx.now);
  // Certificates harvested from verified inbound mail, read by reply encryption.
  const harvested = SqliteHarvestedStore.open(config.dataDir, (message) => logger.warn(message));
  // Their issuing CAs (from harvesting and `siegel certs import`): a restart must not leave their revocation unchecked.
  const issuers = SqliteIssuerStore.open(config.dataDir, (message) => logger.warn(message));
  // One revocation checker for both directions, so its OCSP and CRL caches serve every message.
  const revocation = createRevocationChecker(config);
  const recipientCertificates = withRecipientRevocation(firstFound(harvestedCertificates(harvested), directory?.lookup), config, revocation, () => anchors, logger, issuers);
  const submissionHop = createNextHop(config.smtp.submission.relay, config.smtp.submission.nextHop, logger);
  // The large-file exchange: its own mail (first-download notices) leaves like staff mail, through the outbound pipeline and the submission next hop.
  const notifier = createMailNotifier({
    config,
    outbound: createOutboundPipeline({ config, identities: keystore, encryptionCertificate: recipientCertificates, now: ctx.now }),
    nextHop: submissionHop,
    logger,
    now: ctx.now,
  });
  const transfer = openTransferService(config, { logger, now: ctx.now, notifier });
  // The staff area (sign-in, resumable uploads, upload requests): its records in siegel.db, staging blobs beside the shares'.
  const staffStore = SqliteStaffStore.open(config.dataDir, (message) => logger.warn(message));
  const stagingBlobs = new LocalBlobStore({ directory: blobDirectory(config), minFreeSpace: config.largeFiles.minFreeSpace });
  const submission = createSmtpListener({
    name: 'submission',
    config: config.smtp.submission,
    hostname: config.hostname ?? 'localhost',
    logger,
    // With the exchange: large attachments leave as links (the notifier's own mail above never needs that), and under
    // onMissingCertificate: link whole messages, their passwords mailed to the sender by the notifier.
    process: createOutboundPipeline({ config, identities: keystore, encryptionCertificate: recipientCertificates, now: ctx.now, transfer, policies, notifier }),
    // Recipients of different policy decisions (or signature forms, or certificate known or not) get their own transactions.
    recipientGroup: outboundRecipientGroup(config, recipientCertificates, ctx.now, policies),
    nextHop: submissionHop,
    now: ctx.now,
  });
  const inboundHop = createNextHop(config.smtp.inbound.relay, config.smtp.inbound.nextHop, logger);
  // Mail whose signature fails under a rule with onFail: quarantine goes to inbound.quarantine instead of the internal server.
  const quarantineHop = openQuarantineHop(config, logger);
  const inbound = createSmtpListener({
    name: 'inbound',
    config: config.smtp.inbound,
    hostname: config.hostname ?? 'localhost',
    logger,
    process: createInboundPipeline({ config, anchors: () => anchors, keys: keystore, harvested, issuers, now: ctx.now, revocation, policies: policies.current }),
    checkRecipient: recipientDomainCheck(config.inbound.recipientDomains ?? config.internalDomains),
    // Recipients matching different inbound rules get their own transactions (452 4.5.3).
    recipientGroup: inboundRecipientGroup(policies.current, config),
    nextHop: inboundHop,
    destinations: { quarantine: quarantineHop },
    now: ctx.now,
  });
  let port: number;
  let inboundPort: number;
  let web: WebServer;
  try {
    await keystore.checkReady();
    ({ port } = await submission.start());
    try {
      ({ port: inboundPort } = await inbound.start());
    } catch (err) {
      await submission.stop();
      throw err;
    }
    try {
      web = await startWebServer(
        createWebApp({
          config,
          transfer,
          logger,
          now: ctx.now,
          staff: { store: staffStore, blobs: stagingBlobs, notifier },
          metrics: { identities: () => keystore.list(), warningMs: config.enrollment.expiryWarning },
        }),
        config.web.listen,
      );
    } catch (err) {
      await Promise.all([submission.stop(), inbound.stop()]);
      throw err;
    }
  } catch (err) {
    // A failed start (no master key, port taken) must not leave the database open.
    policies.close();
    await submissionHop.close();
    await inboundHop.close();
    await quarantineHop.close();
    await directory?.close();
    await harvested.close();
    await issuers.close();
    await transfer.close();
    staffStore.close();
    await keystore.close();
    throw err;
  }
  const stopSweeper = startSweeper(transfer, config.largeFiles.sweepInterval, logger);
  // Expiring identities: a warn line each per day, a daily digest mail to the administrator (and GET /metrics above).
  const expiryMonitor = startExpiryMonitor({
    identities: () => keystore.list(),
    warningMs: config.enrollment.expiryWarning,
    adminAddress: config.enrollment.adminAddress,
    notifier,
    logger,
    now: ctx.now,
    stateFile: path.join(config.dataDir, DIGEST_STATE_FILE),
  });
  logger.info(
    { listener: 'submission', address: `${config.smtp.submission.listen.host}:${port}`, relay: config.smtp.submission.relay },
    'listening',
  );
  logger.info(
    { listener: 'inbound', address: `${config.smtp.inbound.listen.host}:${inboundPort}`, relay: config.smtp.inbound.relay, trustAnchors: anchors.length },
    'listening',
  );
  logger.info({ listener: 'web', address: `${config.web.listen.host}:${web.port}`, publicUrl: config.web.publicUrl }, 'listening');
  return {
    ports: { submission: port, inbound: inboundPort, web: web.port },
    async stop() {
      await Promise.all([submission.stop(), inbound.stop(), web.close()]);
      await stopSweeper();
      await expiryMonitor.stop();
      await transfer.close();
      staffStore.close();
      await submissionHop.close();
      await inboundHop.close();
      await quarantineHop.close();
      await directory?.close();
      await harvested.close();
      await issuers.close();
      await keystore.close();
      policies.close();
      // The workers hashing and encrypting large messages (started by the first one); a later job starts new ones.
      await closeBulkPool();
    },
  };
}

/** Runs until a signal arrives. */
export async function serve(ctx: CommandContext): Promise<number> {
  // Listening for the signals before starting: a SIGTERM sent as soon as the "listening" lines
  // appear (a supervisor, a test) must stop the gateway gracefully, not kill it by default action.
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signalled = new Promise<void>((resolve) => {
    onSignal = (signal) => {
      ctx.logger.info({ signal }, 'stopping');
      resolve();
    };
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const handle = await startServer(ctx);
    await signalled;
    await handle.stop();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}

// The soak's world: the gateway's PKI with a few enrolled internal
// mailboxes, a partner PKI the gateway trusts (its root in trustAnchors),
// partner certificates known to the gateway (so mail to them is signed and
// encrypted), and the config of one `siegel serve` with both listeners.
// Everything goes through the built dist/ modules and the real CLI
// (dist/cli.js main, in this process), as an administrator would set it up.
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main as siegelCli } from '../../dist/cli.js';
import { createRootCa, issueCa, issueMailbox } from '../../dist/pki/generate.js';
import { toPem } from '../../dist/pki/pem.js';
import { AUTHSERV_ID, ENROLLED, INTERNAL_DOMAIN, PARTNERS } from './world.js';

function pem(file, der) {
  writeFileSync(file, toPem('CERTIFICATE', der));
  return file;
}

function keyFile(file, issued) {
  writeFileSync(file, issued.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return file;
}

/** Runs a siegel subcommand in this process (the CLI's own code path); throws with its stderr when it fails. */
async function siegel(argv) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = [];
  stderr.on('data', (c) => chunks.push(c));
  stdout.resume();
  const code = await siegelCli([...argv], { stdout, stderr, env: {} });
  if (code !== 0) throw new Error(`siegel ${argv.slice(0, 2).join(' ')} exited ${code}: ${Buffer.concat(chunks).toString('utf8').trim()}`);
}

/**
 * Generates both PKIs under `dir`, writes the config (listeners on the given
 * ports, next hops at the counting servers) and enrolls the mailboxes.
 * Returns the files the run needs later (partner keys for pre-signing,
 * the gateway root and partner keys for spot checks).
 */
export async function setupWorld(dir, { submissionPort, inboundPort, webPort, submissionHop, inboundHop }) {
  // The data directory as an administrator is told to make it: private to the gateway's user.
  for (const d of ['trust', 'data', 'keys', 'policies']) mkdirSync(path.join(dir, d), { recursive: true, mode: d === 'data' ? 0o700 : 0o755 });
  const [gatewayRoot, partnerRoot] = await Promise.all([
    createRootCa({ subject: [['C', 'DE'], ['O', 'Stadt'], ['CN', 'Soak Stadt Root']], keySpec: 'rsa3072' }),
    createRootCa({ subject: [['C', 'DE'], ['O', 'Partner'], ['CN', 'Soak Partner Root']], keySpec: 'p256' }),
  ]);
  const [gatewayCa, partnerCa] = await Promise.all([
    issueCa(gatewayRoot, { subject: [['C', 'DE'], ['O', 'Stadt'], ['CN', 'Soak Stadt CA']], keySpec: 'rsa3072' }),
    issueCa(partnerRoot, { subject: [['C', 'DE'], ['O', 'Partner'], ['CN', 'Soak Partner CA']], keySpec: 'p256' }),
  ]);
  const mailboxes = await Promise.all(
    ENROLLED.map((m) => issueMailbox(gatewayCa, { subject: [['C', 'DE'], ['CN', m.address.split('@')[0]]], email: m.address, keySpec: m.keySpec })),
  );
  const partners = await Promise.all(
    PARTNERS.map((p) => issueMailbox(partnerCa, { subject: [['C', 'DE'], ['CN', p.address.split('@')[0]]], email: p.address, keySpec: p.keySpec })),
  );
  // Both roots are trust anchors: the partner's for inbound verification and the imported partner certificates.
  pem(path.join(dir, 'trust', 'stadt-root.pem'), gatewayRoot.certificate);
  pem(path.join(dir, 'trust', 'partner-root.pem'), partnerRoot.certificate);
  const files = {
    gatewayRoot: path.join(dir, 'trust', 'stadt-root.pem'),
    gatewayCa: pem(path.join(dir, 'keys', 'stadt-ca.pem'), gatewayCa.certificate),
    partnerRoot: path.join(dir, 'trust', 'partner-root.pem'),
    partnerCa: pem(path.join(dir, 'keys', 'partner-ca.pem'), partnerCa.certificate),
    partners: PARTNERS.map((p, i) => ({
      address: p.address,
      cert: pem(path.join(dir, 'keys', `partner-${i}.pem`), partners[i].certificate),
      key: keyFile(path.join(dir, 'keys', `partner-${i}.key`), partners[i]),
    })),
  };
  writeFileSync(path.join(dir, 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
  const listener = (port, hop) =>
    `    listen: 127.0.0.1:${port}\n    relay: smtp://127.0.0.1:${hop}\n    maxMessageSize: 20MB\n    maxConnections: 200\n    nextHop:\n      timeout: 60s\n`;
  const config = path.join(dir, 'siegel.yaml');
  writeFileSync(
    config,
    `dataDir: data\ntrustAnchors: trust\nmasterKeyFile: master.key\npolicies: policies\n` +
      `internalDomains: [${INTERNAL_DOMAIN}]\nauthservId: ${AUTHSERV_ID}\nlog: { level: warn }\n` +
      `smtp:\n  submission:\n${listener(submissionPort, submissionHop)}  inbound:\n${listener(inboundPort, inboundHop)}` +
      `web:\n  listen: 127.0.0.1:${webPort}\n  publicUrl: http://127.0.0.1:${webPort}\n`,
  );
  for (const [i, m] of ENROLLED.entries()) {
    const cert = pem(path.join(dir, 'keys', `mailbox-${i}.pem`), mailboxes[i].certificate);
    const key = keyFile(path.join(dir, 'keys', `mailbox-${i}.key`), mailboxes[i]);
    await siegel(['enroll', 'import', '--config', config, '--mailbox', m.address, '--cert', cert, '--key', key, '--chain', files.gatewayCa]);
  }
  for (const p of files.partners) {
    // The certificate with its issuing CA, as a partner hands it over.
    const bundle = path.join(dir, 'keys', `${p.address}.bundle.pem`);
    writeFileSync(bundle, toPem('CERTIFICATE', partners[files.partners.indexOf(p)].certificate) + toPem('CERTIFICATE', partnerCa.certificate));
    await siegel(['certs', 'import', '--config', config, p.address, bundle]);
  }
  return { config, files };
}

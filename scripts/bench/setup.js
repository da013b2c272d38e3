// The benchmark's PKI and gateway configurations: a root (the gateways'
// only trust anchor), an issuing CA, the sender's mailbox identity (signs
// outbound mail; also the partner whose signed mail the inbound listener
// verifies) and a recipient whose encryption certificate the signing gateway
// knows (imported with `siegel certs import`, as an administrator does).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createRootCa, issueCa, issueMailbox } from '../../dist/pki/generate.js';
import { toPem } from '../../dist/pki/pem.js';
import { freePort, root } from './gateway.js';
import { ENCRYPT_RECIPIENT, SENDER } from './messages.js';

/** Writes root/CA/leaf/recipient certificates and keys into `dir` (trust/ holds the root only). */
export async function createPki(dir, { key, recipientKey }) {
  const rootCa = await createRootCa({ subject: [['C', 'DE'], ['CN', 'Bench Root']], keySpec: 'rsa3072' });
  const ca = await issueCa(rootCa, { subject: [['C', 'DE'], ['CN', 'Bench CA']], keySpec: 'rsa3072' });
  const leaf = await issueMailbox(ca, { subject: [['C', 'DE'], ['CN', 'Poststelle']], email: SENDER, keySpec: key });
  // Issued by the root itself: the gateway knows the issuer of the certificate it encrypts to (a
  // certificate under an intermediate it has never seen gets a revocation warning logged per message).
  const partner = await issueMailbox(rootCa, { subject: [['C', 'DE'], ['CN', 'Partner']], email: ENCRYPT_RECIPIENT, keySpec: recipientKey, usage: 'encrypt' });
  mkdirSync(path.join(dir, 'trust'), { recursive: true });
  const pem = (name, data) => writeFileSync(path.join(dir, name), data);
  pem('trust/root.pem', toPem('CERTIFICATE', rootCa.certificate));
  pem('root.pem', toPem('CERTIFICATE', rootCa.certificate));
  pem('ca.pem', toPem('CERTIFICATE', ca.certificate));
  pem('leaf.pem', toPem('CERTIFICATE', leaf.certificate));
  writeFileSync(path.join(dir, 'leaf.key'), leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  pem('partner.pem', toPem('CERTIFICATE', partner.certificate));
  writeFileSync(path.join(dir, 'partner.key'), partner.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(path.join(dir, 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
}

function siegel(argv) {
  return execFileSync(process.execPath, [path.join(root, 'bin/siegel.js'), ...argv], { encoding: 'utf8' });
}

/**
 * A gateway configuration in `dir`: its own data directory, submission and
 * inbound listeners on free ports, both relaying to `relay`. `signing`
 * gateways get the sender's identity enrolled and the recipient's
 * certificate imported, through the CLI as an administrator would.
 */
export async function gatewayConfig(dir, name, { relay, signing }) {
  const submission = await freePort();
  const inbound = await freePort();
  const web = await freePort();
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `dataDir: data-${name}\ntrustAnchors: trust\nmasterKeyFile: master.key\nlog: { level: warn }\n` +
      `smtp:\n  submission:\n    listen: 127.0.0.1:${submission}\n    relay: ${relay}\n    maxMessageSize: 100MB\n    maxConnections: 200\n` +
      `  inbound:\n    listen: 127.0.0.1:${inbound}\n    relay: ${relay}\n    maxMessageSize: 100MB\n    maxConnections: 200\n` +
      `signing:\n  enabled: ${signing}\ninbound:\n  recipientDomains: [example.org]\n` +
      // Its own web port (two gateways run at once); no attachment is offloaded, so the relay path is what is measured.
      `web:\n  listen: 127.0.0.1:${web}\n  publicUrl: http://127.0.0.1:${web}\nlargeFiles:\n  threshold: 1GB\n`,
  );
  if (signing) {
    siegel(['enroll', 'import', '--config', file, '--mailbox', SENDER, '--cert', path.join(dir, 'leaf.pem'), '--key', path.join(dir, 'leaf.key'), '--chain', path.join(dir, 'ca.pem')]);
    siegel(['certs', 'import', '--config', file, ENCRYPT_RECIPIENT, path.join(dir, 'partner.pem')]);
  }
  return { name, file, submission, inbound };
}

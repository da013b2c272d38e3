/**
 * `--demo`: creates the demo set-up on first use (PKI, keys, config) and
 * enrolls the demo mailbox's signing and encryption identities.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { demoMailbox, ensureDemo } from '../demo/setup.js';
import { openKeystore } from '../keystore/open.js';
import { readPemBlocks } from '../pki/pem.js';

export const defaultDemoDir = '.siegel-demo';

/** Ensures the demo exists under `dir` and returns its config file. */
export async function prepareDemo(dir: string, env: NodeJS.ProcessEnv, now: () => Date, say: (line: string) => void): Promise<string> {
  const { paths, created } = await ensureDemo(path.resolve(dir));
  if (!created) return paths.configFile;
  const config = loadConfig({ file: paths.configFile, env });
  const keystore = openKeystore(config, env, now);
  try {
    const chain = readPemBlocks(readFileSync(path.join(paths.dir, 'pki', 'issuing-ca.pem'), 'utf8')).map((b) => b.der);
    for (const name of ['poststelle-sign', 'poststelle-encrypt']) {
      const certificate = readPemBlocks(readFileSync(path.join(paths.dir, 'pki', `${name}.pem`), 'utf8'))[0]?.der;
      if (!certificate) throw new Error(`demo certificate ${name} missing`);
      const privateKey = createPrivateKey(readFileSync(path.join(paths.dir, 'pki', `${name}.key`)));
      await keystore.importIdentity({ mailbox: demoMailbox, privateKey, certificate, chain }, now());
    }
  } finally {
    await keystore.close();
  }
  say(`Created the demo set-up in ${paths.dir} (test PKI, enrolled mailbox ${demoMailbox}).`);
  return paths.configFile;
}

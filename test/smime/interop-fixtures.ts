/**
 * Signed messages written to a temp directory for the peer tools: one case
 * per key type the Behörden-PKI uses, plus a mailbox with separate signing
 * and encryption certificates.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { SigningIdentity } from '../../src/keystore/identity.js';
import { buildMultipartSigned, buildOpaqueSigned } from '../../src/smime/assemble.js';
import { signContent } from '../../src/smime/sign.js';
import { canonicalEntity, combinedIdentity, createPki, OUTER_HEADERS, splitIdentity, tempDir, writeFile, writePem, type TestPki } from './helpers.js';

export interface InteropCase {
  readonly name: string;
  readonly identity: SigningIdentity;
  /** Detached signature, DER. */
  readonly p7s: string;
  /** Opaque SignedData, DER. */
  readonly p7m: string;
  /** Complete multipart/signed message. */
  readonly multipartEml: string;
  /** Complete application/pkcs7-mime message. */
  readonly opaqueEml: string;
}

export interface InteropFixtures {
  readonly dir: string;
  readonly pki: TestPki;
  readonly rootPem: string;
  readonly entity: Buffer;
  readonly entityFile: string;
  /** The entity with one byte changed: every peer must reject the signatures over it. */
  readonly tamperedFile: string;
  readonly cases: readonly InteropCase[];
  cleanup(): void;
}

export async function createInteropFixtures(prefix: string): Promise<InteropFixtures> {
  const dir = tempDir(prefix);
  const pki = await createPki('rsa3072');
  const entity = canonicalEntity();
  // Peers check the certificates at the signing time (NSS does), so sign "now", in whole seconds.
  const signingTime = new Date(Math.floor(Date.now() / 1000) * 1000);
  const identities: Array<readonly [string, SigningIdentity]> = [
    ['rsa2048', await combinedIdentity(pki, 'rsa2048', 'rsa2048@stadt.example')],
    ['rsa3072', await combinedIdentity(pki, 'rsa3072', 'rsa3072@stadt.example')],
    ['p256', await combinedIdentity(pki, 'p256', 'p256@stadt.example')],
    ['split-rsa3072', (await splitIdentity(pki, 'rsa3072', 'split@stadt.example')).identity],
  ];
  const cases: InteropCase[] = [];
  for (const [name, identity] of identities) {
    const detached = await signContent(entity, identity, { signingTime, detached: true });
    // Opaque signing gets the entity in two chunks to exercise chunked hashing and embedding.
    const opaque = await signContent([entity.subarray(0, 1000), entity.subarray(1000)], identity, { signingTime, detached: false });
    cases.push({
      name,
      identity,
      p7s: writeFile(dir, `${name}.p7s`, detached),
      p7m: writeFile(dir, `${name}.p7m`, opaque),
      multipartEml: writeFile(dir, `${name}-multipart.eml`, buildMultipartSigned(OUTER_HEADERS, entity, detached)),
      opaqueEml: writeFile(dir, `${name}-opaque.eml`, buildOpaqueSigned(OUTER_HEADERS, opaque)),
    });
  }
  const tampered = Buffer.from(entity);
  const at = tampered.indexOf('Ende.');
  tampered[at] = 'e'.charCodeAt(0);
  return {
    dir,
    pki,
    rootPem: writePem(dir, 'root.pem', pki.root.certificate),
    entity,
    entityFile: writeFile(dir, 'entity.txt', entity),
    tamperedFile: writeFile(dir, 'tampered.txt', tampered),
    cases,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function inDir(fixtures: InteropFixtures, name: string): string {
  return path.join(fixtures.dir, name);
}

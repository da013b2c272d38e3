/**
 * findIssuer with the issuer store (keystore/issuer-store.ts): a stored CA
 * is used only when the certificate's signature verifies with its key (a
 * stored certificate with the right subject and another key is passed
 * over), and a store that fails costs nothing: it is reported and the
 * look-up goes on, the recipient certificate then used under soft-fail.
 *
 * The issuers found are remembered in memory (module state), so each test
 * uses its own PKI: a hit in one test must not answer the next.
 */
import { X509Certificate } from 'node:crypto';
import type { EncryptionCertificateLookup } from '../../src/pipeline/encryption-lookup.js';
import { createRootCa, issueCa, issueMailbox, type Issued } from '../../src/pki/generate.js';
import { DefaultRevocationChecker } from '../../src/pki/revocation/checker.js';
import { findIssuer, type StoredIssuers } from '../../src/pki/revocation/issuers.js';
import { revocationCheckedLookup } from '../../src/pki/revocation/recipient.js';
import { trustStoreFromDer } from '../../src/pki/trust-store.js';

const DAY = 86_400_000;
const AT = new Date('2027-01-01T00:00:00Z');
const validity = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') };

interface Partner {
  readonly root: Issued;
  readonly issuing: Issued;
  /** Same subject as `issuing`, another key: what a rollover or an impostor looks like by name. */
  readonly lookalike: Issued;
  readonly leaf: Issued;
}

async function partner(name: string): Promise<Partner> {
  const root = await createRootCa({ subject: [['O', name], ['CN', `${name} Root`]], keySpec: 'p256', ...validity });
  const issuingName = [['O', name], ['CN', `${name} Issuing CA`]] as const;
  const issuing = await issueCa(root, { subject: issuingName, keySpec: 'p256', ...validity });
  const lookalike = await issueCa(root, { subject: issuingName, keySpec: 'p256', ...validity });
  const leaf = await issueMailbox(issuing, { subject: [['CN', 'Rat']], email: 'rat@partner.example', keySpec: 'p256', usage: 'encrypt', ...validity });
  return { root, issuing, lookalike, leaf };
}

/** An issuer store in memory that records what it was asked. */
function storeOf(certificates: readonly Buffer[]): StoredIssuers & { readonly asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    forSubject: async (subject) => {
      asked.push(subject);
      return certificates.filter((der) => new X509Certificate(der).subject === subject);
    },
  };
}

const failing: StoredIssuers = {
  forSubject: () => Promise.reject(new Error('database is locked')),
};

describe('findIssuer with stored issuers', () => {
  it('finds the issuer in the store when no anchor and no memory has it, by the certificate issuer name', async () => {
    const p = await partner('Stored');
    const store = storeOf([p.issuing.certificate]);
    const found = await findIssuer(p.leaf.certificate, trustStoreFromDer([p.root.certificate]).anchors, { timeout: 1000, stored: store });
    expect(found?.equals(p.issuing.certificate)).toBe(true);
    expect(store.asked).toEqual([new X509Certificate(p.leaf.certificate).issuer]);
    // Now in memory: the store is not asked again.
    const again = await findIssuer(p.leaf.certificate, [], { timeout: 1000, stored: store });
    expect(again?.equals(p.issuing.certificate)).toBe(true);
    expect(store.asked).toHaveLength(1);
  });

  it('passes over a stored certificate with the right name and another key; takes the one whose key verifies', async () => {
    const p = await partner('Rollover');
    const onlyLookalike = await findIssuer(p.leaf.certificate, [], { timeout: 1000, stored: storeOf([p.lookalike.certificate]) });
    expect(onlyLookalike).toBeUndefined();
    const both = await findIssuer(p.leaf.certificate, [], { timeout: 1000, stored: storeOf([p.lookalike.certificate, p.issuing.certificate]) });
    expect(both?.equals(p.issuing.certificate)).toBe(true);
  });

  it('prefers a configured anchor that issued the certificate and never asks the store then', async () => {
    const p = await partner('Anchored');
    const store = storeOf([p.issuing.certificate]);
    const found = await findIssuer(p.issuing.certificate, trustStoreFromDer([p.root.certificate]).anchors, { timeout: 1000, stored: store });
    expect(found?.equals(p.root.certificate)).toBe(true);
    expect(store.asked).toEqual([]);
  });

  it('reports a failing store and goes on: no issuer, no exception', async () => {
    const p = await partner('Failing');
    const errors: unknown[] = [];
    const found = await findIssuer(p.leaf.certificate, [], { timeout: 1000, stored: failing, onStoreError: (err) => errors.push(err) });
    expect(found).toBeUndefined();
    expect(errors.map(String)).toEqual(['Error: database is locked']);
  });

  it('a failing store costs no message: under soft-fail the recipient certificate is still used, with a note', async () => {
    const p = await partner('Soft');
    const found: EncryptionCertificateLookup = async (address) => ({ address, certificate: p.leaf.certificate, fingerprint: 'f'.repeat(64), capabilities: [], notAfter: new Date(AT.getTime() + 300 * DAY) });
    const errors: unknown[] = [];
    const notes: string[] = [];
    const lookup = revocationCheckedLookup(found, {
      checker: new DefaultRevocationChecker({ timeout: 1000, ocspMaxAge: 7 * DAY, maxCrlSize: 1024 * 1024 }),
      mode: 'soft',
      anchors: () => trustStoreFromDer([p.root.certificate]).anchors,
      timeout: 1000,
      issuers: failing,
      onStoreError: (err) => errors.push(err),
    });
    const result = await lookup('rat@partner.example', AT, notes);
    expect(result?.certificate.equals(p.leaf.certificate)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(notes).toEqual([expect.stringMatching(/^rat@partner\.example: certificate f{16} used, revocation status could not be checked: the issuer certificate was not found/)]);
  });

  it('answers a repeated look-up from memory, but not with an anchor that is no longer configured', async () => {
    const p = await partner('Remembered');
    // A two-level partner PKI: the leaf's issuer is the configured anchor.
    const leaf = await issueMailbox(p.root, { subject: [['CN', 'Maus']], email: 'maus@partner.example', keySpec: 'p256', usage: 'encrypt', ...validity });
    const anchors = trustStoreFromDer([p.root.certificate]).anchors;
    expect(await findIssuer(leaf.certificate, anchors, { timeout: 1000 })).toEqual(p.root.certificate);
    const store = storeOf([]);
    expect(await findIssuer(leaf.certificate, anchors, { timeout: 1000, stored: store })).toEqual(p.root.certificate);
    // Found again without asking the store: the first answer was remembered.
    expect(store.asked).toEqual([]);
    // The anchor removed from the configuration: the remembered answer does not outlive it.
    expect(await findIssuer(leaf.certificate, [], { timeout: 1000, stored: store })).toBeUndefined();
    expect(store.asked.length).toBe(1);
  });
});


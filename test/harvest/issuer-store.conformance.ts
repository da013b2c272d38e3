/**
 * The behaviour every IssuerStore must show (DESIGN rule 6). A store's test
 * file calls issuerStoreConformance with a factory returning a fresh, empty
 * store (optionally with a lower bound); a PostgreSQL store will reuse this
 * unchanged. The certificates are real (src/pki/generate.ts): the store
 * reads them to key them and to refuse what is not a CA.
 */
import { X509Certificate } from 'node:crypto';
import type { IssuerStore } from '../../src/keystore/issuer-store.js';
import { MAX_ISSUER_CERTIFICATE_BYTES } from '../../src/keystore/issuer-store.js';
import { createRootCa, issueCa, issueMailbox, type Issued } from '../../src/pki/generate.js';

export interface IssuerStoreFactory {
  /** A new, empty store keeping at most `limit` certificates (the default bound when absent). */
  open(options?: { limit?: number }): Promise<IssuerStore>;
  /** A second handle on the same data as `store` (another process, or the gateway after a restart). */
  reopen?(store: IssuerStore): Promise<IssuerStore>;
}

const T0 = new Date('2027-01-01T08:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function at(offset: number): Date {
  return new Date(T0.getTime() + offset);
}

function subjectOf(issued: Issued): string {
  return new X509Certificate(issued.certificate).subject;
}

interface Pki {
  readonly root: Issued;
  /** Four issuing CAs with different subjects. */
  readonly cas: readonly Issued[];
  /** A second CA with the subject of cas[0] and another key (a rollover). */
  readonly rollover: Issued;
  readonly mailbox: Issued;
}

async function pki(): Promise<Pki> {
  const validity = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2032-01-01T00:00:00Z') };
  const root = await createRootCa({ subject: [['C', 'DE'], ['O', 'Partner'], ['CN', 'Partner Root']], keySpec: 'p256', ...validity });
  const ca = (name: string) => issueCa(root, { subject: [['C', 'DE'], ['O', 'Partner'], ['CN', name]], keySpec: 'p256', ...validity });
  const cas = await Promise.all(['Issuing CA 1', 'Issuing CA 2', 'Issuing CA 3', 'Issuing CA 4'].map(ca));
  const rollover = await ca('Issuing CA 1');
  const mailbox = await issueMailbox(cas[0] as Issued, { subject: [['CN', 'Rat']], email: 'rat@partner.example', keySpec: 'p256', usage: 'encrypt', ...validity });
  return { root, cas, rollover, mailbox };
}

export function issuerStoreConformance(name: string, factory: IssuerStoreFactory): void {
  describe(`IssuerStore conformance: ${name}`, () => {
    let certs: Pki;
    let store: IssuerStore;
    const ca = (index: number): Issued => certs.cas[index] as Issued;

    beforeAll(async () => {
      certs = await pki();
    });

    beforeEach(async () => {
      store = await factory.open();
    });

    afterEach(async () => {
      await store.close();
    });

    it('keeps a CA certificate byte for byte and finds it by the subject OpenSSL prints', async () => {
      expect(await store.put(ca(0).certificate, T0)).toBe('added');
      const found = await store.forSubject(subjectOf(ca(0)));
      expect(found).toHaveLength(1);
      expect(Buffer.compare(found[0] as Buffer, ca(0).certificate)).toBe(0);
      // The look-up key is the issuer field of the certificates the CA issued.
      expect(await store.forSubject(new X509Certificate(certs.mailbox.certificate).issuer)).toHaveLength(1);
      expect(await store.count()).toBe(1);
    });

    it('keeps a certificate once, however often it is put', async () => {
      expect(await store.put(ca(1).certificate, T0)).toBe('added');
      expect(await store.put(ca(1).certificate, at(HOUR))).toBe('known');
      expect(await store.put(Buffer.from(ca(1).certificate), at(2 * DAY))).toBe('known');
      expect(await store.count()).toBe(1);
      expect(await store.forSubject(subjectOf(ca(1)))).toHaveLength(1);
    });

    it('refuses what is not a CA certificate: an end-entity certificate, garbage, nothing, an oversized blob', async () => {
      expect(await store.put(certs.mailbox.certificate, T0)).toBe('refused');
      expect(await store.put(Buffer.from('not a certificate'), T0)).toBe('refused');
      expect(await store.put(Buffer.alloc(0), T0)).toBe('refused');
      expect(await store.put(Buffer.concat([ca(0).certificate, Buffer.alloc(MAX_ISSUER_CERTIFICATE_BYTES)]), T0)).toBe('refused');
      expect(await store.count()).toBe(0);
      expect(await store.forSubject(subjectOf(certs.mailbox))).toEqual([]);
    });

    it('returns every CA of a subject (a key rollover), most recently seen first; none for an unknown subject', async () => {
      await store.put(ca(0).certificate, T0);
      await store.put(certs.rollover.certificate, at(HOUR));
      await store.put(ca(2).certificate, at(2 * HOUR));
      const found = await store.forSubject(subjectOf(ca(0)));
      expect(found.map((der) => der.toString('base64'))).toEqual([certs.rollover.certificate, ca(0).certificate].map((der) => der.toString('base64')));
      expect(await store.forSubject('CN=Nobody')).toEqual([]);
      expect(await store.forSubject('')).toEqual([]);
    });

    it('is bounded: beyond the limit the least recently seen goes, and being seen again counts', async () => {
      const small = await factory.open({ limit: 3 });
      try {
        await small.put(ca(0).certificate, T0);
        await small.put(ca(1).certificate, at(HOUR));
        await small.put(ca(2).certificate, at(2 * HOUR));
        // CA 1 (the oldest) is seen again two days later: CA 2, seen at T0+1h, is now the least recently seen and goes.
        expect(await small.put(ca(0).certificate, at(2 * DAY))).toBe('known');
        expect(await small.put(ca(3).certificate, at(2 * DAY + HOUR))).toBe('added');
        expect(await small.count()).toBe(3);
        expect(await small.forSubject(subjectOf(ca(1)))).toEqual([]);
        for (const kept of [ca(0), ca(2), ca(3)]) expect(await small.forSubject(subjectOf(kept))).toHaveLength(1);
      } finally {
        await small.close();
      }
    });

    if (factory.reopen) {
      const reopen = factory.reopen;
      it('still has what was put after a restart (a second handle)', async () => {
        await store.put(ca(0).certificate, T0);
        await store.put(ca(1).certificate, T0);
        const second = await reopen(store);
        try {
          expect(await second.count()).toBe(2);
          expect((await second.forSubject(subjectOf(ca(1))))[0]?.equals(ca(1).certificate)).toBe(true);
        } finally {
          await second.close();
        }
      });
    }

    it('closes idempotently', async () => {
      const other = await factory.open();
      await other.close();
      await expect(other.close()).resolves.toBeUndefined();
    });
  });
}

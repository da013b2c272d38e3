/**
 * The gateway's own identities: import with validation, and the lookup the
 * signing stage uses. The store is asked on every lookup (cheap: one indexed
 * query) so that an identity the CLI enrolls while `siegel serve` runs is
 * used at once; only decrypted keys are cached, in memory.
 */
import { createHash, createPublicKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { SiegelError } from '../errors.js';
import { isValidAt } from '../pki/certificate-info.js';
import { matchesKey, orderChain } from '../pki/key-material.js';
import type { DecryptionKey } from '../smime/envelope-decrypt.js';
import type { DecryptionKeyResolver, SigningIdentity, SigningIdentityResolver } from './identity.js';
import type { IdentityRecord, IdentityRole, IdentityStore } from './identity-store.js';
import { normalizeMailbox, validateImport } from './import-validation.js';
import { decryptPrivateKey, encryptPrivateKey } from './key-encryption.js';
import type { MasterKey } from './master-key.js';

export type Clock = () => Date;

export interface ImportRequest {
  readonly mailbox: string;
  readonly privateKey: KeyObject;
  readonly certificate: Buffer;
  readonly chain: readonly Buffer[];
}

export interface PendingRequest {
  readonly mailbox: string;
  /** The role requested (`--usage`). */
  readonly role: IdentityRole;
  readonly privateKey: KeyObject;
  /** The certification request, DER. */
  readonly request: Buffer;
  /** The subject requested, RFC 4514. */
  readonly subject: string;
}

export interface IssuedImport {
  readonly mailbox: string;
  readonly certificate: Buffer;
  readonly chain: readonly Buffer[];
}

/** An identity for display; holds no key material. */
export type IdentitySummary = Pick<
  IdentityRecord,
  'id' | 'mailbox' | 'role' | 'state' | 'subject' | 'issuer' | 'serial' | 'notBefore' | 'notAfter' | 'createdAt'
>;

/** A pending request for display, with the hash that links it to the certificate to come. */
export type PendingSummary = IdentitySummary & Pick<IdentityRecord, 'publicKeySha256'>;

export interface ImportResult {
  readonly identity: IdentitySummary;
  /** false when the same certificate was already enrolled (re-import is idempotent). */
  readonly created: boolean;
}

export class Keystore implements SigningIdentityResolver, DecryptionKeyResolver {
  readonly #store: IdentityStore;
  readonly #masterKey: () => MasterKey;
  readonly #clock: Clock;
  /** Decrypted keys by record id; a record's key never changes under its id (id = certificate hash). */
  readonly #keys = new Map<string, KeyObject>();

  /**
   * `masterKey` may be a loader: it is called (and must throw a clear error
   * when no key is configured) only when a private key is sealed or opened,
   * so a gateway without enrolled identities runs without a master key.
   */
  constructor(store: IdentityStore, masterKey: MasterKey | (() => MasterKey), clock: Clock) {
    this.#store = store;
    let loaded: MasterKey | undefined = typeof masterKey === 'function' ? undefined : masterKey;
    this.#masterKey = () => (loaded ??= (masterKey as () => MasterKey)());
    this.#clock = clock;
  }

  /**
   * Fails when identities are enrolled but their keys cannot be opened (no
   * or wrong master key), so `siegel serve` stops at start-up instead of
   * deferring every message later.
   */
  async checkReady(): Promise<void> {
    const records = (await this.#store.list()).filter((r) => r.state === 'active' && r.certificate !== null);
    for (const record of records) this.keyOf(record as IdentityRecord & { certificate: Buffer });
  }

  /** Validates and stores an identity; `now` is the time validity is checked at. */
  async importIdentity(request: ImportRequest, now: Date = this.#clock()): Promise<ImportResult> {
    const mailbox = normalizeMailbox(request.mailbox);
    // A renewal may be imported before its notBefore while the mailbox has a valid identity: the
    // current one signs until then, the renewal from then on (signingIdentity picks by validity).
    const renewal = (await this.#store.forMailbox(mailbox)).some(
      (r) => r.state === 'active' && r.notBefore !== null && r.notAfter !== null && isValidAt({ notBefore: r.notBefore, notAfter: r.notAfter }, now),
    );
    const { info, role } = validateImport(mailbox, request.privateKey, request.certificate, now, { allowNotYetValid: renewal });
    const existing = await this.#store.get(info.sha256);
    if (existing) {
      if (existing.mailbox !== mailbox) {
        throw new SiegelError('ENROLL_REJECTED', `certificate for "${info.subject}" (serial ${info.serialHex}) is already enrolled for ${existing.mailbox}`);
      }
      return { identity: summarize(existing), created: false };
    }
    const publicKeySha256 = spkiHash(new X509Certificate(request.certificate));
    const record: IdentityRecord = {
      id: info.sha256,
      mailbox,
      role,
      state: 'active',
      certificate: Buffer.from(request.certificate),
      chain: orderChain(request.certificate, request.chain),
      encryptedKey: encryptPrivateKey(this.#masterKey(), request.privateKey),
      publicKeySha256,
      request: null,
      subject: info.subject,
      issuer: info.issuer,
      serial: info.serialHex,
      notBefore: info.notBefore,
      notAfter: info.notAfter,
      createdAt: this.#clock(),
    };
    await this.#store.put(record);
    // A pending request (`siegel enroll request`) for this key is fulfilled now.
    for (const pending of await this.#store.forPublicKey(publicKeySha256)) {
      if (pending.state === 'pending' && pending.mailbox === mailbox) await this.#store.remove(pending.id);
    }
    return { identity: summarize(record), created: true };
  }

  /**
   * Stores a key generated for a certification request (`siegel enroll
   * request`) as a pending identity: sealed like every key, no certificate
   * yet, linked to the certificate to come by its public key hash.
   */
  async createPending(request: PendingRequest): Promise<IdentitySummary> {
    const mailbox = normalizeMailbox(request.mailbox);
    const publicKeySha256 = createHash('sha256').update(createPublicKey(request.privateKey).export({ type: 'spki', format: 'der' })).digest('hex');
    const record: IdentityRecord = {
      id: `pending-${randomUUID()}`,
      mailbox,
      role: request.role,
      state: 'pending',
      certificate: null,
      chain: [],
      encryptedKey: encryptPrivateKey(this.#masterKey(), request.privateKey),
      publicKeySha256,
      request: Buffer.from(request.request),
      subject: request.subject,
      issuer: null,
      serial: null,
      notBefore: null,
      notAfter: null,
      createdAt: this.#clock(),
    };
    await this.#store.put(record);
    return summarize(record);
  }

  /** The pending requests of a mailbox, oldest first; needs no master key. */
  async pendingRequests(mailbox: string): Promise<PendingSummary[]> {
    return (await this.#store.forMailbox(normalizeMailbox(mailbox)))
      .filter((r) => r.state === 'pending')
      .map((r) => ({ ...summarize(r), publicKeySha256: r.publicKeySha256 }));
  }

  /** Drops a pending request (e.g. when its CSR could not be written). */
  async discardPending(id: string): Promise<boolean> {
    const record = await this.#store.get(id);
    return record?.state === 'pending' ? this.#store.remove(id) : false;
  }

  /**
   * Imports a certificate issued for a pending request of `mailbox`: the key
   * is the pending one (matched by public key hash), the checks are those of
   * importIdentity, and the pending record goes once the identity is stored.
   */
  async importIssued(request: IssuedImport, now: Date = this.#clock()): Promise<ImportResult> {
    const mailbox = normalizeMailbox(request.mailbox);
    let publicKeySha256: string;
    try {
      publicKeySha256 = spkiHash(new X509Certificate(request.certificate));
    } catch (err) {
      throw new SiegelError('ENROLL_REJECTED', 'the certificate cannot be parsed', { cause: err });
    }
    const existing = await this.#store.get(createHash('sha256').update(request.certificate).digest('hex'));
    if (existing && existing.mailbox === mailbox) return { identity: summarize(existing), created: false };
    const pending = (await this.#store.forPublicKey(publicKeySha256)).find((r) => r.state === 'pending' && r.mailbox === mailbox);
    if (!pending) {
      throw new SiegelError('ENROLL_REJECTED', `the certificate's key matches no pending request of ${mailbox}`);
    }
    const privateKey = decryptPrivateKey(this.#masterKey(), pending.encryptedKey, `${mailbox} (${pending.id})`);
    return this.importIdentity({ mailbox, privateKey, certificate: request.certificate, chain: request.chain }, now);
  }

  /**
   * The newest (latest notBefore) active signing identity valid at `at`,
   * with the newest valid encryption-capable certificate of the mailbox.
   */
  async signingIdentity(mailbox: string, at: Date): Promise<SigningIdentity | undefined> {
    const address = mailbox.trim().toLowerCase();
    const usable = (await this.#store.forMailbox(address)).filter(
      (r): r is IdentityRecord & { certificate: Buffer; notBefore: Date; notAfter: Date } =>
        r.state === 'active' && r.certificate !== null && r.notBefore !== null && r.notAfter !== null && isValidAt({ notBefore: r.notBefore, notAfter: r.notAfter }, at),
    );
    const signer = usable.filter((r) => r.role !== 'encrypt').sort(newestFirst)[0];
    if (!signer) return undefined;
    const encryption = usable.filter((r) => r.role !== 'sign').sort(newestFirst)[0];
    return {
      mailbox: address,
      certificate: signer.certificate,
      chain: signer.chain,
      privateKey: this.keyOf(signer),
      encryptionCertificate: encryption?.certificate,
    };
  }

  /**
   * Every enrolled key with its certificate, newest first: active ones and
   * retired ones (mail encrypted to an old certificate must still open
   * after a renewal). Empty without identities, so no master key is needed then.
   */
  async decryptionKeys(): Promise<DecryptionKey[]> {
    const records = (await this.#store.list()).filter(
      (r): r is IdentityRecord & { certificate: Buffer } => r.state !== 'pending' && r.certificate !== null,
    );
    return records.sort(newestFirst).map((record) => ({ certificate: record.certificate, privateKey: this.keyOf(record) }));
  }

  async list(): Promise<IdentitySummary[]> {
    return (await this.#store.list()).map(summarize);
  }

  async close(): Promise<void> {
    this.#keys.clear();
    await this.#store.close();
  }

  private keyOf(record: IdentityRecord & { certificate: Buffer }): KeyObject {
    const cached = this.#keys.get(record.id);
    if (cached) return cached;
    const label = `${record.mailbox} (${record.id.slice(0, 16)})`;
    const key = decryptPrivateKey(this.#masterKey(), record.encryptedKey, label);
    // The sealed key is not bound to its row; a key copied between rows must not sign.
    if (!matchesKey(new X509Certificate(record.certificate), key)) {
      throw new SiegelError('IDENTITY_UNAVAILABLE', `stored key of ${label} does not match its certificate`);
    }
    this.#keys.set(record.id, key);
    return key;
  }
}

export function summarize(record: IdentityRecord): IdentitySummary {
  const { id, mailbox, role, state, subject, issuer, serial, notBefore, notAfter, createdAt } = record;
  return { id, mailbox, role, state, subject, issuer, serial, notBefore, notAfter, createdAt };
}

function newestFirst(a: IdentityRecord, b: IdentityRecord): number {
  return (
    (b.notBefore?.getTime() ?? 0) - (a.notBefore?.getTime() ?? 0) ||
    (b.notAfter?.getTime() ?? 0) - (a.notAfter?.getTime() ?? 0) ||
    a.id.localeCompare(b.id)
  );
}

export function spkiHash(x509: X509Certificate): string {
  return createHash('sha256').update(x509.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

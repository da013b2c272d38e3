/**
 * Which certificate of a correspondent Siegel keeps for encrypting replies,
 * and when a newly seen one replaces the one kept (DESIGN "What is known
 * about the Behörden-PKI", rule 4: harvest only from a `pass`).
 *
 * Choice, per address the signer's certificate vouches for:
 *   1. the certificate the sMIMEEncryptionKeyPreference attribute names,
 *   2. else a certificate in the SignedData for the same address,
 *   3. else the signer's own certificate;
 * each only if its keyUsage allows key transport/agreement (a sign-only
 * certificate is never used to encrypt), it allows emailProtection, it
 * carries the address in subjectAltName and it is valid now.
 *
 * Replacement: a certificate whose path ends at a different trust anchor
 * than the kept one never replaces it while the kept one is unexpired (a
 * second CA that issues for the same address must not hijack replies); a
 * later notBefore under the same anchor supersedes; an expired or
 * not-yet-valid certificate is never chosen at all.
 */
import { SiegelError } from '../errors.js';
import { encryptionUnfitness, isValidAt, parseCertificate, type CertificateInfo } from '../pki/certificate-info.js';
import type { SmimeResult } from '../smime/verdict.js';
import { newestFirst, type HarvestedRecord, type HarvestedStore, type HarvestSource } from './harvested-store.js';

/** Bounds on what one message can make us parse and write (untrusted input). */
export const MAX_CANDIDATES = 16;
export const MAX_ADDRESSES = 16;
export const MAX_CAPABILITIES = 64;
const MAX_CERTIFICATE_BYTES = 64 * 1024;
/** How precisely lastSeen is kept (see keep()). */
export const LAST_SEEN_RESOLUTION_MS = 3_600_000;

export interface HarvestCandidate {
  /** DER, as carried in the SignedData. */
  readonly certificate: Buffer;
  readonly source: HarvestSource;
  /**
   * Trust anchor (SHA-256, lower-case hex) this candidate's own path ended
   * at, when the verifier validated it separately; defaults to the signer's.
   */
  readonly anchorFingerprint?: string;
}

export interface HarvestInput {
  /** The verdict of the message; anything but `pass` is refused. */
  readonly verdict: { readonly result: SmimeResult };
  /** Addresses the signer's certificate vouches for: its rfc822Name SANs that match From. */
  readonly addresses: readonly string[];
  readonly candidates: readonly HarvestCandidate[];
  /** SMIMECapabilities OIDs of the signed attributes, in order; may be empty. */
  readonly capabilities: readonly string[];
  /** Trust anchor (SHA-256 of its DER, lower-case hex) the signer's path ended at. */
  readonly anchorFingerprint: string;
  /** Signed signingTime; claimed by the sender, so never later than now. */
  readonly signingTime?: Date;
}

export type HarvestAction =
  /** First certificate kept for the address. */
  | 'added'
  /** The kept certificate seen again: lastSeen and capabilities updated. */
  | 'refreshed'
  /** A newer certificate replaced the kept one (now 'superseded'). */
  | 'superseded'
  /** Not newer than the kept certificate: nothing changed. */
  | 'kept-current'
  /** Chains to another trust anchor than the kept, unexpired certificate. */
  | 'refused-other-anchor'
  /** No candidate may be encrypted to (sign-only, expired, other address...). */
  | 'no-encryption-certificate';

export interface HarvestOutcome {
  readonly address: string;
  readonly action: HarvestAction;
  /** The chosen certificate, when there was one. */
  readonly fingerprint?: string;
  /** One sentence for the log. */
  readonly detail: string;
}

export interface EncryptionCertificate {
  readonly address: string;
  /** DER. */
  readonly certificate: Buffer;
  readonly fingerprint: string;
  /** The recipient's SMIMECapabilities OIDs, in its order; empty when unknown. */
  readonly capabilities: readonly string[];
  readonly notAfter: Date;
}

interface Chosen {
  readonly info: CertificateInfo;
  readonly der: Buffer;
  readonly source: HarvestSource;
  readonly anchorFingerprint: string;
}

/** 'imported' never occurs among a message's candidates; it is the one candidate of `siegel certs import`. */
const PREFERENCE: readonly HarvestSource[] = ['encryption-preference', 'same-address', 'signer', 'imported'];

/**
 * Applies one verified message to the store. Throws SiegelError('INTERNAL')
 * for a verdict other than pass: the caller promised never to ask.
 */
export async function harvest(store: HarvestedStore, input: HarvestInput, now: Date): Promise<HarvestOutcome[]> {
  if (input.verdict.result !== 'pass') {
    throw new SiegelError('INTERNAL', `refusing to harvest certificates from a message whose verdict is ${String(input.verdict.result)}, not pass`);
  }
  const candidates = parseCandidates(input);
  const seenAt = input.signingTime && input.signingTime.getTime() < now.getTime() ? input.signingTime : now;
  const addresses = [...new Set(input.addresses.map((a) => a.trim().toLowerCase()))].slice(0, MAX_ADDRESSES);
  const outcomes: HarvestOutcome[] = [];
  for (const address of addresses) {
    const chosen = choose(candidates, address, now);
    if (!chosen) {
      outcomes.push({ address, action: 'no-encryption-certificate', detail: `no certificate in the message may be used to encrypt to ${address}` });
      continue;
    }
    outcomes.push(await keep(store, address, chosen, input.capabilities.slice(0, MAX_CAPABILITIES), seenAt, now));
  }
  return outcomes;
}

/** The certificate to encrypt to `address` at `at`, or undefined when none is usable. */
export async function lookupEncryptionCertificate(store: HarvestedStore, address: string, at: Date): Promise<EncryptionCertificate | undefined> {
  const current = (await store.forAddress(address.trim().toLowerCase()))
    .filter((r) => r.state === 'active' && isValidAt(r, at))
    .sort(newestFirst)[0];
  if (!current) return undefined;
  return {
    address: current.address,
    certificate: current.certificate,
    fingerprint: current.fingerprint,
    capabilities: current.capabilities,
    notAfter: current.notAfter,
  };
}

function parseCandidates(input: HarvestInput): Chosen[] {
  const parsed: Chosen[] = [];
  for (const candidate of input.candidates.slice(0, MAX_CANDIDATES)) {
    if (candidate.certificate.length > MAX_CERTIFICATE_BYTES) continue;
    let info: CertificateInfo;
    try {
      info = parseCertificate(candidate.certificate);
    } catch {
      continue; // an unreadable extra certificate is skipped, not fatal: the message verified
    }
    parsed.push({
      info,
      der: Buffer.from(candidate.certificate),
      source: candidate.source,
      anchorFingerprint: (candidate.anchorFingerprint ?? input.anchorFingerprint).toLowerCase(),
    });
  }
  return parsed;
}

function choose(candidates: readonly Chosen[], address: string, now: Date): Chosen | undefined {
  const usable = candidates.filter((c) => encryptionUnfitness(c.info, address, now) === undefined);
  for (const source of PREFERENCE) {
    const best = usable
      .filter((c) => c.source === source)
      .sort((a, b) => b.info.notBefore.getTime() - a.info.notBefore.getTime() || a.info.sha256.localeCompare(b.info.sha256))[0];
    if (best) return best;
  }
  return undefined;
}

async function keep(
  store: HarvestedStore,
  address: string,
  chosen: Chosen,
  capabilities: readonly string[],
  seenAt: Date,
  now: Date,
): Promise<HarvestOutcome> {
  const fingerprint = chosen.info.sha256;
  const existing = await store.forAddress(address);
  const same = existing.find((r) => r.fingerprint === fingerprint);
  if (same) {
    // Only a later message updates what the sender announced (capabilities may change with a client update).
    // lastSeen is kept to the hour: a partner sending all day must not cost a database write per message.
    const changed = same.source !== chosen.source || same.capabilities.length !== capabilities.length || same.capabilities.some((c, i) => c !== capabilities[i]);
    const later = seenAt.getTime() - same.lastSeen.getTime();
    if (later >= 0 && (changed || later >= LAST_SEEN_RESOLUTION_MS)) {
      await store.put({ ...same, lastSeen: seenAt, capabilities: [...capabilities], source: chosen.source });
    }
    return { address, action: 'refreshed', fingerprint, detail: `certificate ${short(fingerprint)} for ${address} seen again` };
  }
  const current = existing.filter((r) => r.state === 'active').sort(newestFirst)[0];
  const record: HarvestedRecord = {
    address,
    certificate: chosen.der,
    fingerprint,
    subject: chosen.info.subject,
    issuer: chosen.info.issuer,
    serial: chosen.info.serialHex,
    notBefore: chosen.info.notBefore,
    notAfter: chosen.info.notAfter,
    capabilities: [...capabilities],
    source: chosen.source,
    firstSeen: seenAt,
    lastSeen: seenAt,
    anchorFingerprint: chosen.anchorFingerprint,
    state: 'active',
  };
  if (!current) {
    await store.put(record);
    return { address, action: 'added', fingerprint, detail: `certificate ${short(fingerprint)} kept for ${address}` };
  }
  const currentExpired = current.notAfter.getTime() < now.getTime();
  if (!currentExpired && current.anchorFingerprint !== chosen.anchorFingerprint) {
    return {
      address,
      action: 'refused-other-anchor',
      fingerprint,
      detail: `certificate ${short(fingerprint)} for ${address} chains to trust anchor ${short(chosen.anchorFingerprint)}, the kept ${short(current.fingerprint)} to ${short(current.anchorFingerprint)}; not replaced`,
    };
  }
  if (!currentExpired && chosen.info.notBefore.getTime() <= current.notBefore.getTime()) {
    return { address, action: 'kept-current', fingerprint, detail: `certificate ${short(fingerprint)} for ${address} is not newer than the kept ${short(current.fingerprint)}` };
  }
  // New one first: should the second write fail, lookups still pick the newest active record.
  await store.put(record);
  for (const old of existing.filter((r) => r.state === 'active')) await store.put({ ...old, state: 'superseded' });
  return { address, action: 'superseded', fingerprint, detail: `certificate ${short(fingerprint)} for ${address} supersedes ${short(current.fingerprint)}` };
}

function short(fingerprint: string): string {
  return fingerprint.slice(0, 16);
}

/**
 * After a `pass` (and only then: DESIGN rule 4), the sender's encryption
 * certificate goes into the harvested store so replies can be encrypted.
 * Candidates are the signer's certificate, the one its
 * sMIMEEncryptionKeyPreference names and others in the message for the
 * same address; each must have its own valid path to a configured anchor,
 * like the signer (DESIGN: "each validated like the signer's"). Only the
 * message's own signature counts, not that of a forwarded attachment.
 * The CA certificates of the kept certificate's validated path go into the
 * issuer store, so its revocation can be checked after a restart too.
 * A store failure is logged and never costs the message.
 */
import type { Config } from '../../config/schema.js';
import { errorMessage } from '../../errors.js';
import { harvest, type HarvestCandidate, type HarvestOutcome } from '../../keystore/harvest.js';
import type { HarvestedStore } from '../../keystore/harvested-store.js';
import { keepPathIssuers, type IssuerStore } from '../../keystore/issuer-store.js';
import { certificateRef } from '../../smime/certificate-ref.js';
import { encryptionUnfitness, parseCertificate } from '../../pki/certificate-info.js';
import { readCertificate, validatePath } from '../../pki/path-validation.js';
import type { TrustAnchor } from '../../pki/trust-store.js';
import type { Stage, StageResult } from '../types.js';
import type { InboundMessage, SignatureFinding } from './findings.js';

export interface HarvestStageOptions {
  readonly inbound: Config['inbound'];
  readonly store: HarvestedStore;
  readonly anchors: () => readonly TrustAnchor[];
  /** Where the issuing CAs of kept certificates go (absent: not kept beyond memory). */
  readonly issuers?: IssuerStore;
}

/** Outcomes for which the certificate is the one kept for the address: its issuers are worth keeping. */
const KEPT: ReadonlySet<HarvestOutcome['action']> = new Set(['added', 'refreshed', 'superseded']);

export function createHarvestStage(options: HarvestStageOptions): Stage<InboundMessage> {
  return {
    name: 'harvest',
    async run(message, context): Promise<StageResult<InboundMessage>> {
      const result = (action: string, detail?: Record<string, string | number>): StageResult<InboundMessage> => ({
        message,
        action: { stage: 'harvest', action, ...(detail ? { detail } : {}) },
      });
      if (!options.inbound.harvest) return result('disabled');
      const passed = message.findings.signatures.filter((s) => s.part === undefined && s.verdict.result === 'pass');
      if (passed.length === 0) return result('skipped');
      const now = context.now();
      const outcomes: HarvestOutcome[] = [];
      const issuerPaths: Array<readonly Buffer[]> = [];
      try {
        for (const signature of passed) {
          const one = await harvestOne(signature, options, now);
          outcomes.push(...one.outcomes);
          issuerPaths.push(...one.keptPaths);
        }
      } catch (err) {
        return result('failed', { error: errorMessage(err) });
      }
      const detail: Record<string, string | number> = {};
      for (const o of outcomes) detail[o.address] = o.action;
      const { error: issuersError } = await keepPathIssuers(options.issuers, issuerPaths, now);
      if (issuersError) detail.issuers = `not kept: ${issuersError}`;
      return result(outcomes.some((o) => o.action === 'added' || o.action === 'superseded') ? 'stored' : 'unchanged', detail);
    },
  };
}

/**
 * Whether harvest() could choose this certificate for one of the addresses
 * (the shared rule, encryptionUnfitness): the message's CA certificates and
 * others' certificates then need no path validation of their own.
 */
function mayBeChosen(der: Buffer, addresses: readonly string[], now: Date): boolean {
  try {
    const info = parseCertificate(der);
    return addresses.some((a) => encryptionUnfitness(info, a.trim().toLowerCase(), now) === undefined);
  } catch {
    return false; // unreadable: harvest() skips it too
  }
}

interface HarvestedSignature {
  readonly outcomes: HarvestOutcome[];
  /** Validated paths (leaf first, anchor last) of the certificates kept for an address. */
  readonly keptPaths: Array<readonly Buffer[]>;
}

async function harvestOne(signature: SignatureFinding, options: HarvestStageOptions, now: Date): Promise<HarvestedSignature> {
  const { outcome, verdict } = signature;
  const signer = outcome.signerCertificate;
  const nothing: HarvestedSignature = { outcomes: [], keptPaths: [] };
  if (!signer || !verdict.signer) return nothing;
  const anchors = options.anchors();
  const pathOptions = { at: now, minRsaBits: options.inbound.minRsaBits, ...(verdict.signingTime ? { signingTime: verdict.signingTime } : {}) };
  /** Validated paths by the fingerprint of their leaf. */
  const paths = new Map<string, readonly Buffer[]>();
  const anchorOf = (der: Buffer): string | undefined => {
    const path = validatePath(der, outcome.certificates, anchors, pathOptions);
    if (!path.ok) return undefined;
    const fingerprint = readCertificate(der)?.fingerprint;
    if (fingerprint) paths.set(fingerprint, path.path);
    return path.anchor.fingerprint;
  };
  // The verification just validated the signer's path to this anchor (the last element); candidates get their own.
  const validatedAnchor = outcome.path?.at(-1);
  const signerAnchor = validatedAnchor ? readCertificate(validatedAnchor)?.fingerprint : anchorOf(signer);
  if (!signerAnchor) return nothing;
  const signerFingerprint = readCertificate(signer)?.fingerprint;
  if (outcome.path && signerFingerprint) paths.set(signerFingerprint, outcome.path);
  const from = new Set(signature.fromAddresses.map((a) => a.toLowerCase()));
  const addresses = verdict.signer.emails.filter((a) => from.has(a));
  const preference = outcome.encryptionKeyPreference;
  const candidates: HarvestCandidate[] = [{ certificate: signer, source: 'signer', anchorFingerprint: signerAnchor }];
  for (const der of outcome.certificates) {
    if (der.equals(signer) || !mayBeChosen(der, addresses, now)) continue;
    let source: HarvestCandidate['source'] = 'same-address';
    try {
      if (preference) {
        // The attribute names issuer and serial (RFC 8551 2.5.3); serials compared as OpenSSL prints them.
        const serial = readCertificate(der)?.x509.serialNumber;
        if (serial === undefined) continue; // unreadable extra certificate
        const sameSerial = serial.toUpperCase() === preference.serialHex.toUpperCase();
        if (sameSerial && certificateRef(der).issuer.equals(preference.issuer)) source = 'encryption-preference';
      }
    } catch {
      continue; // unreadable extra certificate
    }
    const anchor = anchorOf(der);
    if (anchor) candidates.push({ certificate: der, source, anchorFingerprint: anchor });
  }
  const outcomes = await harvest(
    options.store,
    {
      verdict,
      addresses,
      candidates,
      capabilities: outcome.smimeCapabilities ?? [],
      anchorFingerprint: signerAnchor,
      ...(verdict.signingTime ? { signingTime: verdict.signingTime } : {}),
    },
    now,
  );
  const keptPaths = outcomes.flatMap((o) => {
    const path = KEPT.has(o.action) && o.fingerprint ? paths.get(o.fingerprint) : undefined;
    return path ? [path] : [];
  });
  return { outcomes, keptPaths };
}

/**
 * After a `pass` (and only then: DESIGN rule 4), the sender's encryption
 * certificate goes into the harvested store so replies can be encrypted.
 * Candidates are the signer's certificate, the one its
 * sMIMEEncryptionKeyPreference names and others in the message for the
 * same address; each must have its own valid path to a configured anchor,
 * like the signer (DESIGN: "each validated like the signer's"). Only the
 * message's own signature counts, not that of a forwarded attachment.
 * A store failure is logged and never costs the message.
 */
import { X509Certificate } from 'node:crypto';
import type { Config } from '../../config/schema.js';
import { errorMessage } from '../../errors.js';
import { harvest, type HarvestCandidate, type HarvestOutcome } from '../../keystore/harvest.js';
import type { HarvestedStore } from '../../keystore/harvested-store.js';
import { certificateRef } from '../../smime/certificate-ref.js';
import { validatePath } from '../../pki/path-validation.js';
import type { TrustAnchor } from '../../pki/trust-store.js';
import type { Stage, StageResult } from '../types.js';
import type { InboundMessage, SignatureFinding } from './findings.js';

export interface HarvestStageOptions {
  readonly inbound: Config['inbound'];
  readonly store: HarvestedStore;
  readonly anchors: () => readonly TrustAnchor[];
}

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
      try {
        for (const signature of passed) outcomes.push(...(await harvestOne(signature, options, now)));
      } catch (err) {
        return result('failed', { error: errorMessage(err) });
      }
      const detail: Record<string, string | number> = {};
      for (const o of outcomes) detail[o.address] = o.action;
      return result(outcomes.some((o) => o.action === 'added' || o.action === 'superseded') ? 'stored' : 'unchanged', detail);
    },
  };
}

async function harvestOne(signature: SignatureFinding, options: HarvestStageOptions, now: Date): Promise<HarvestOutcome[]> {
  const { outcome, verdict } = signature;
  const signer = outcome.signerCertificate;
  if (!signer || !verdict.signer) return [];
  const anchors = options.anchors();
  const pathOptions = { at: now, minRsaBits: options.inbound.minRsaBits, ...(verdict.signingTime ? { signingTime: verdict.signingTime } : {}) };
  const anchorOf = (der: Buffer): string | undefined => {
    const path = validatePath(der, outcome.certificates, anchors, pathOptions);
    return path.ok ? path.anchor.fingerprint : undefined;
  };
  const signerAnchor = anchorOf(signer);
  if (!signerAnchor) return [];
  const from = new Set(signature.fromAddresses.map((a) => a.toLowerCase()));
  const addresses = verdict.signer.emails.filter((a) => from.has(a));
  const preference = outcome.encryptionKeyPreference;
  const candidates: HarvestCandidate[] = [{ certificate: signer, source: 'signer', anchorFingerprint: signerAnchor }];
  for (const der of outcome.certificates) {
    if (der.equals(signer)) continue;
    let source: HarvestCandidate['source'] = 'same-address';
    try {
      if (preference) {
        // The attribute names issuer and serial (RFC 8551 2.5.3); serials compared as OpenSSL prints them.
        const sameSerial = new X509Certificate(der).serialNumber.toUpperCase() === preference.serialHex.toUpperCase();
        if (sameSerial && certificateRef(der).issuer.equals(preference.issuer)) source = 'encryption-preference';
      }
    } catch {
      continue; // unreadable extra certificate
    }
    const anchor = anchorOf(der);
    if (anchor) candidates.push({ certificate: der, source, anchorFingerprint: anchor });
  }
  return harvest(
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
}

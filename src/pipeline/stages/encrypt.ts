/**
 * Reply encryption: when every envelope recipient has a known, valid
 * encryption certificate, the message (signed by the signing stage, or
 * unsigned when the sender has no identity) leaves as one CMS envelope all
 * of them can open. Otherwise it passes unchanged: a message to several
 * recipients is encrypted for all or for none (the SMTP edge keeps
 * recipients with and without certificates in separate transactions).
 *
 * Mail the client signed or encrypted itself is never altered (DESIGN
 * rule 9); a later policy may add encryption around a client's signature.
 */
import { certificatePublicKey } from '../../pki/certificate-info.js';
import type { Config } from '../../config/schema.js';
import { SiegelError, errorMessage } from '../../errors.js';
import type { EncryptionCertificate } from '../../keystore/harvest.js';
import type { KeyManagement } from '../../smime/envelope-algorithms.js';
import { encryptEnvelopeChunks, type EnvelopeChunks } from '../../smime/envelope-encrypt.js';
import { buildEnvelopedMime } from '../../smime/envelope-mime.js';
import { ENV_OID } from '../../smime/envelope-oids.js';
import type { EncryptionCertificateLookup } from '../encryption-lookup.js';
import { leadingBytes, pipelineMessage } from '../message.js';
import type { OutboundMessage } from '../outbound-message.js';
import type { Stage, StageResult } from '../types.js';
import { detectClientSmime } from './detect-client-smime.js';
import type { LinkDelivery } from './link-delivery.js';
import { canonicalEntity, splitSignedMessage, type EncryptableEntity } from './encryptable-entity.js';
import { policyRefusal, ruleLabel, type MessagePolicy } from './policy.js';

export interface EncryptStageOptions {
  readonly encryption: Config['encryption'];
  readonly limits: Config['limits'];
  readonly certificateFor: EncryptionCertificateLookup;
  /** The policy decision for this message (issue 6); absent, `encryption.enabled` decides as before policies. */
  readonly policy?: MessagePolicy;
  /** onMissingCertificate: link (needs the large-file exchange and a notifier); absent, such a message is refused. */
  readonly linkDelivery?: LinkDelivery;
}

type Detail = Record<string, string | number>;

export function createEncryptStage(options: EncryptStageOptions): Stage<OutboundMessage> {
  const { encryption, limits, certificateFor, policy, linkDelivery } = options;
  const mode = policy?.decision.encrypt;
  const ruled: Detail = policy ? { rule: ruleLabel(policy) } : {};
  return {
    name: 'encrypt',
    async run(message, context): Promise<StageResult<OutboundMessage>> {
      const unchanged = (action: string, detail?: Detail): StageResult<OutboundMessage> => ({
        message,
        action: { stage: 'encrypt', action, ...(detail || policy ? { detail: { ...detail, ...ruled } } : {}) },
      });
      if (mode === 'never') return unchanged('policy-never');
      if (!policy && !encryption.enabled) return unchanged('disabled');
      if (message.clientSmime) {
        // The client's own S/MIME is never altered (rule 9); "required" then needs the client to have encrypted.
        if (mode === 'required' && message.clientSmime !== 'enveloped') {
          throw policyRefusal(`Policy requires encryption, the client signed the message without encrypting it (rule ${ruleLabel(policy)})`);
        }
        return unchanged('client-smime', { form: message.clientSmime });
      }
      const addresses = [...new Set(message.envelope.rcptTo.map((a) => a.trim().toLowerCase()))];
      if (addresses.length === 0) return unchanged('no-recipients');

      const at = context.now();
      const notes: string[] = [];
      const looked = await Promise.all(addresses.map((address) => certificateFor(address, at, notes)));
      // The policy's algorithm floor (issue 6): an RSA key below it is not encrypted to, as if there were no certificate.
      const floor = policy?.decision.minRsaBits;
      const found = looked.map((certificate, i) => {
        if (!certificate || floor === undefined || rsaBits(certificate.certificate) >= floor) return certificate;
        notes.push(`${addresses[i] ?? '?'}: RSA key of ${rsaBits(certificate.certificate)} bits is below the policy's ${floor}`);
        return undefined;
      });
      const certificates = found.filter((c): c is EncryptionCertificate => c !== undefined);
      const without = addresses.length - certificates.length;
      // Why a found certificate was refused (revoked) or used with an unknown revocation status.
      const revocation: Detail = notes.length > 0 ? { revocation: notes.join('; ') } : {};
      if (without > 0 && mode === 'required') {
        const missing = addresses.filter((_, i) => found[i] === undefined);
        const link = policy?.decision.onMissingCertificate === 'link';
        if (link && linkDelivery) {
          const delivered = await linkDelivery(message, missing, context);
          return { ...delivered, action: { ...delivered.action, detail: { ...delivered.action.detail, ...revocation, ...ruled } } };
        }
        const text = `Policy requires encryption, no certificate for ${missing.join(', ')} (rule ${ruleLabel(policy)})`;
        // Without the exchange (or a way to give the sender the password) there is no link: refusing keeps "required" true.
        throw policyRefusal(text, link ? 'onMissingCertificate: link needs the large-file exchange and a notifier, refused instead' : undefined);
      }
      if (without > 0) return unchanged('no-certificate', { without, recipients: addresses.length, ...revocation });

      const parts = await encryptable(message, limits);
      const recipients = uniqueByFingerprint(certificates).map((c) => ({ certificate: c.certificate, capabilities: c.capabilities }));
      let envelope: EnvelopeChunks;
      try {
        envelope = await encryptEnvelopeChunks(parts.entity, recipients, { prefer: policy?.decision.contentEncryption ?? encryption.contentEncryption });
      } catch (err) {
        // 451: the client keeps the message and retries; the detail names the cause for the admin.
        throw new SiegelError('ENCRYPTION_FAILED', `cannot encrypt to ${addresses.join(', ')}: ${errorMessage(err)}`, { cause: err });
      }
      const { authenticated } = envelope;
      return {
        message: { ...pipelineMessage(message.envelope, buildEnvelopedMime(parts.outerHeaders, envelope.der, authenticated)), clientSmime: message.clientSmime },
        action: {
          stage: 'encrypt',
          action: 'encrypted',
          detail: { content: authenticated ? 'aes-256-gcm' : 'aes-256-cbc', recipients: addresses.length, ...keyManagementCounts(recipients), ...revocation, ...ruled },
        },
      };
    },
  };
}

/** Our own signature (the client's was excluded above) is split as it is; anything else is canonicalised first. */
function encryptable(message: OutboundMessage, limits: Config['limits']): Promise<EncryptableEntity> | EncryptableEntity {
  const signedHere = detectClientSmime(leadingBytes(message, limits.headerSize)) !== undefined;
  return signedHere
    ? splitSignedMessage(message, limits.headerSize)
    : canonicalEntity(message, { maxDepth: limits.mimeDepth, maxParts: limits.mimeParts, maxHeaderSize: limits.headerSize });
}

/** Two addresses may share a certificate (aliases); one RecipientInfo each is enough. */
function uniqueByFingerprint(certificates: readonly EncryptionCertificate[]): EncryptionCertificate[] {
  const seen = new Set<string>();
  return certificates.filter((c) => !seen.has(c.fingerprint) && seen.add(c.fingerprint));
}

/** Per recipient kind, for the log: the rule of envelope-encrypt.ts (OAEP only when advertised, ECDH for EC keys). */
function keyManagementCounts(recipients: ReadonlyArray<{ certificate: Buffer; capabilities: readonly string[] }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const recipient of recipients) {
    const keyType = certificatePublicKey(recipient.certificate).asymmetricKeyType;
    const kind: KeyManagement = keyType === 'ec' ? 'ecdh' : recipient.capabilities.includes(ENV_OID.rsaesOaep) ? 'rsa-oaep' : 'rsa-pkcs1';
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/** Modulus size of an RSA certificate key; Infinity for other key types (the floor is about RSA). */
function rsaBits(certificate: Buffer): number {
  const key = certificatePublicKey(certificate);
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss') return Number.POSITIVE_INFINITY;
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

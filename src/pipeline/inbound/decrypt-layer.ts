/**
 * Opens an enveloped or authEnveloped layer with the enrolled keys and
 * says why when it cannot: a message for somebody else's key is normal
 * (the recipient's client decrypts it), anything else is the sender's
 * problem, reported with the one generic text envelope-decrypt gives for
 * every cryptographic failure (no padding oracle).
 */
import { parseCertificate } from '../../pki/certificate-info.js';
import { decryptEnvelope, type DecryptionKey } from '../../smime/envelope-decrypt.js';
import { EnvelopeError } from '../../smime/envelope-errors.js';
import { verdictOf, type Verdict } from '../../smime/verdict.js';
import type { DecryptionFinding } from './findings.js';

export type DecryptLayerResult =
  | { readonly ok: true; readonly content: Buffer; readonly finding: DecryptionFinding }
  | { readonly ok: false; readonly verdict: Verdict };

export async function decryptLayer(der: Buffer, keys: readonly DecryptionKey[], maxBytes: number): Promise<DecryptLayerResult> {
  if (keys.length === 0) return { ok: false, verdict: verdictOf('encrypted-for-others', 'the message is encrypted, and no mailbox key is enrolled here to open it') };
  try {
    const opened = await decryptEnvelope(der, keys, { maxBytes });
    let recipientAddresses: readonly string[] = [];
    try {
      recipientAddresses = parseCertificate(opened.recipient).emailAddresses;
    } catch {
      // our own enrolled certificate: readable, but the addresses are only for the header
    }
    return {
      ok: true,
      content: opened.content,
      finding: { contentEncryption: opened.contentEncryption, keyManagement: opened.keyManagement, recipientAddresses },
    };
  } catch (err) {
    if (!(err instanceof EnvelopeError)) throw err;
    switch (err.reason) {
      case 'no-recipient':
        return { ok: false, verdict: verdictOf('encrypted-for-others', 'the message is encrypted for a key not held here; the recipient\'s client opens it') };
      case 'unsupported-algorithm':
        return { ok: false, verdict: verdictOf('unsupported-algorithm', `the message cannot be decrypted: ${err.message}`) };
      case 'too-large':
        return { ok: false, verdict: verdictOf('too-large', `the encrypted content exceeds the limits: ${err.message}`) };
      case 'decryption-failed':
        return { ok: false, verdict: verdictOf('decryption-failed', 'the message is addressed to an enrolled key but does not decrypt (damaged or forged)') };
      default:
        return { ok: false, verdict: verdictOf('malformed', `the encrypted message cannot be read: ${err.message}`) };
    }
  }
}

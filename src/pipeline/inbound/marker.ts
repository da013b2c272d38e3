/**
 * The header field that tells the recipient (and filters) that Siegel
 * decrypted the message, e.g.
 * `X-Siegel-Encrypted: decrypted; content=aes-256-gcm; key=rsa-oaep; for=poststelle@stadt.example`.
 * Part of the product's contract (docs/inbound.md).
 */
import type { DecryptionFinding } from './findings.js';

export const ENCRYPTED_MARKER = 'X-Siegel-Encrypted';

export function encryptedMarker(decryption: DecryptionFinding): Buffer {
  const recipient = decryption.recipientAddresses.find((a) => /^[\x21-\x7e]+$/.test(a) && a.length < 200);
  const value = `decrypted; content=${decryption.contentEncryption}; key=${decryption.keyManagement}${recipient ? `; for=${recipient}` : ''}`;
  return Buffer.from(`${ENCRYPTED_MARKER}: ${value}\r\n`, 'latin1');
}

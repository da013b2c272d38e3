/**
 * Verifies one signed layer found by detection: a multipart/signed over
 * the exact received bytes of its first part (and, for a message stored
 * LF-only, over the CRLF form senders sign), or an opaque signed-data over
 * its embedded content. The From addresses come from the header of the
 * message the layer belongs to (the message itself, or a forwarded one).
 */
import { getHeader, parseAddressList, splitHeaderBody } from '../../mime/headers.js';
import type { MultipartSigned, Pkcs7Mime } from '../../smime/detect.js';
import { verifySignedData, type TrustContext, type VerifyOutcome } from '../../smime/verify-signed-data.js';
import { withRevocation, type RevocationPolicy } from '../../pki/revocation/signer-verdict.js';
import type { SignatureFinding } from './findings.js';

export interface VerifyLayerOptions {
  readonly trust: Omit<TrustContext, 'fromAddresses' | 'senderAddress'>;
  /** When given, a passing signer's path is checked for revocation (issue 5). */
  readonly revocation?: RevocationPolicy;
}

/** The From addresses and the Sender address of the message whose header starts at `start` in raw. */
export function authorsAt(raw: Buffer, start: number): { fromAddresses: string[]; senderAddress?: string } {
  const { header } = splitHeaderBody(raw.subarray(start));
  const from = getHeader(header, 'from');
  const sender = getHeader(header, 'sender');
  const senderAddress = sender === undefined ? undefined : parseAddressList(sender)[0];
  return { fromAddresses: from === undefined ? [] : parseAddressList(from), ...(senderAddress ? { senderAddress } : {}) };
}

/** RFC 7281 body.smime-part of a layer inside message/rfc822 parts (1-based part numbers), undefined at top level. */
export function partNumber(path: readonly number[]): string | undefined {
  return path.length === 0 ? undefined : path.map((index) => String(index + 1)).join('.');
}

export async function verifyDetached(raw: Buffer, layer: MultipartSigned, options: VerifyLayerOptions): Promise<SignatureFinding> {
  const authors = authorsAt(raw, layer.location.start);
  const { fromAddresses } = authors;
  const trust = { ...options.trust, ...authors };
  let outcome: VerifyOutcome = await verifySignedData({ signedData: layer.signature, content: [layer.signedEntity] }, trust);
  if (outcome.verdict.reason === 'digest-mismatch' && layer.signedEntityCanonical) {
    outcome = await verifySignedData({ signedData: layer.signature, content: [layer.signedEntityCanonical] }, trust);
  }
  outcome = await withRevocation(outcome, options.revocation, options.trust.at);
  return finding(outcome, 'detached', layer.location.path, fromAddresses);
}

export async function verifyOpaque(raw: Buffer, layer: Pkcs7Mime, options: VerifyLayerOptions): Promise<SignatureFinding> {
  const authors = authorsAt(raw, layer.location.start);
  const { fromAddresses } = authors;
  const verified = await verifySignedData({ signedData: layer.der }, { ...options.trust, ...authors });
  const outcome = await withRevocation(verified, options.revocation, options.trust.at);
  return finding(outcome, 'opaque', layer.location.path, fromAddresses);
}

function finding(outcome: VerifyOutcome, form: SignatureFinding['form'], path: readonly number[], fromAddresses: readonly string[]): SignatureFinding {
  const part = partNumber(path);
  return { verdict: outcome.verdict, form, fromAddresses, outcome, ...(part ? { part } : {}) };
}

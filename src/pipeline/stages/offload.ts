/**
 * Large-file offloading (issue 4): before signing, every attachment larger
 * than `largeFiles.threshold` (decoded) is stored in the large-file exchange
 * and replaced by a short note with its name, size, SHA-256, expiry and
 * link. Every other byte of the message stays as it was; the note is then
 * signed (and encrypted) with the rest.
 *
 * Mail the client signed or encrypted itself is never altered (DESIGN rule
 * 9), and only staff of the internal domains get their files stored. A file
 * that cannot be stored (quota, size, disk space, scan) fails the message
 * with the service's SiegelError: the client is told and keeps the mail,
 * rather than a message the next hop would refuse going out.
 */
import type { Config } from '../../config/schema.js';
import { SiegelError } from '../../errors.js';
import { decodedContent, decodedSize, findAttachments, type AttachmentPart } from '../../mime/attachment-parts.js';
import { getHeader, parseAddressList, splitHeaderBody } from '../../mime/headers.js';
import type { MimeLimits } from '../../mime/limits.js';
import { notePart, type LineEnding } from '../../transfer/offload-part.js';
import type { CreatedShare, TransferService } from '../../transfer/types.js';
import { contiguous, leadingBytes, pipelineMessage } from '../message.js';
import type { OutboundMessage } from '../outbound-message.js';
import type { Stage, StageAction, StageResult } from '../types.js';

export interface OffloadStageOptions {
  readonly threshold: number;
  /**
   * Lifetime of the links in ms (a rule's largeFiles.expiry); absent,
   * largeFiles.defaultExpiry. The service caps it at largeFiles.maxExpiry.
   */
  readonly expiresIn?: number;
  /** Only senders of these domains offload; empty: every sender. */
  readonly internalDomains: readonly string[];
  readonly limits: Config['limits'];
  readonly transfer: TransferService;
}

interface Offload {
  readonly part: AttachmentPart;
  readonly size: number;
}

export function createOffloadStage(options: OffloadStageOptions): Stage<OutboundMessage> {
  const { threshold, transfer, expiresIn } = options;
  const internal = new Set(options.internalDomains.map((d) => d.trim().toLowerCase().replace(/^@/, '')).filter((d) => d !== ''));
  const mimeLimits: MimeLimits = { maxDepth: options.limits.mimeDepth, maxParts: options.limits.mimeParts, maxHeaderSize: options.limits.headerSize };

  return {
    name: 'offload',
    async run(message): Promise<StageResult<OutboundMessage>> {
      const unchanged = (action: string, detail?: StageAction['detail']): StageResult<OutboundMessage> => ({
        message,
        action: { stage: 'offload', action, ...(detail ? { detail } : {}) },
      });
      // No part can be larger than the whole message: small mail costs no parsing.
      if (message.size <= threshold) return unchanged('none');
      if (message.clientSmime) return unchanged('skipped', { reason: 'client-smime', form: message.clientSmime });
      const owner = senderAddress(leadingBytes(message, options.limits.headerSize));
      if (!owner) return unchanged('skipped', { reason: 'no-single-from-address' });
      if (internal.size > 0 && !internal.has(owner.slice(owner.lastIndexOf('@') + 1))) {
        return unchanged('skipped', { reason: 'sender-not-internal' });
      }

      const input = contiguous(message);
      let parts: AttachmentPart[];
      try {
        parts = await findAttachments(input, mimeLimits);
      } catch (err) {
        // Not ours to refuse: the message goes on as it came, the signing stage judges its structure.
        const reason = err instanceof SiegelError && err.code === 'MESSAGE_LIMITS_EXCEEDED' ? 'limits-exceeded' : 'malformed';
        return unchanged('skipped', { reason });
      }
      const large: Offload[] = [];
      for (const part of parts) {
        // Decoding never makes content larger than its encoded form.
        if (part.end - part.bodyStart <= threshold) continue;
        const size = await decodedSize(input, part);
        if (size > threshold) large.push({ part, size });
      }
      if (large.length === 0) return unchanged('none');

      const shares = await storeAll(transfer, input, large, owner, expiresIn);
      const eol = lineEnding(input);
      const chunks: Buffer[] = [];
      let at = 0;
      large.forEach(({ part }, index) => {
        const share = shares[index] as CreatedShare;
        chunks.push(input.subarray(at, part.start));
        const file = { fileName: share.fileName, size: share.size, sha256: share.sha256, expiresAt: share.expiresAt, url: share.url };
        chunks.push(notePart(file, { eol, ...(part.root ? { rootHeader: input.subarray(part.start, part.bodyStart) } : {}) }));
        at = part.end;
      });
      chunks.push(input.subarray(at));
      const bytes = shares.reduce((sum, s) => sum + s.size, 0);
      return {
        message: { ...pipelineMessage(message.envelope, chunks), clientSmime: message.clientSmime },
        action: { stage: 'offload', action: 'offloaded', detail: { attachments: shares.length, bytes } },
        undo: async () => {
          await Promise.all(shares.map((s) => transfer.revoke(s.id, owner).catch(() => false)));
        },
      };
    },
  };
}

/**
 * Stores the files one after the other. If one fails, the links already
 * made are revoked (the client sends the message again and gets new ones)
 * and the service's error goes to the client.
 */
async function storeAll(transfer: TransferService, input: Buffer, large: readonly Offload[], owner: string, expiresIn: number | undefined): Promise<CreatedShare[]> {
  const shares: CreatedShare[] = [];
  try {
    for (const { part, size } of large) {
      const content = decodedContent(input, part);
      try {
        shares.push(
          await transfer.share(content, {
            owner,
            fileName: part.fileName === '' ? fallbackName(part.contentType) : part.fileName,
            contentType: part.contentType,
            ...(expiresIn !== undefined ? { expiresIn } : {}),
            origin: 'offload',
            expectedSize: size,
          }),
        );
      } finally {
        content.destroy();
      }
    }
  } catch (err) {
    await Promise.all(shares.map((s) => transfer.revoke(s.id, owner).catch(() => false)));
    throw err;
  }
  return shares;
}

/** A name for an attachment that gives none (a forwarded message, a bare file part). */
function fallbackName(contentType: string): string {
  return contentType === 'message/rfc822' ? 'message.eml' : 'attachment.bin';
}

/** The owner of the shares: the single From address, lower-cased. */
function senderAddress(head: Buffer): string | undefined {
  const from = getHeader(splitHeaderBody(head).header, 'from');
  if (!from) return undefined;
  const addresses = parseAddressList(from);
  return addresses.length === 1 ? addresses[0] : undefined;
}

/** The message's own line ending, so the note does not mix CRLF into an LF-only message. */
function lineEnding(input: Buffer): LineEnding {
  const lf = input.indexOf(0x0a);
  return lf > 0 && input[lf - 1] === 0x0d ? '\r\n' : '\n';
}

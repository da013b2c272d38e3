/**
 * First inbound stage: header fields only Siegel may write are removed
 * when they arrive from outside, so a sender cannot forge a verdict
 * (RFC 8601 section 5): Authentication-Results with our authserv-id and
 * our X-Siegel-Encrypted marker. Every other byte stays as received.
 */
import { authservIdOf } from '../../mime/authentication-results.js';
import type { HeaderField } from '../../mime/headers.js';
import { splitTopLevel, withHeaderFields } from '../../mime/top-level.js';
import { contiguous, pipelineMessage } from '../message.js';
import type { Stage, StageResult } from '../types.js';
import type { InboundMessage } from './findings.js';
import { ENCRYPTED_MARKER } from './marker.js';

export function createStripForgedStage(authservId: string): Stage<InboundMessage> {
  const ours = authservId.toLowerCase();
  const forged = (field: HeaderField): boolean => {
    const name = field.name.toLowerCase();
    if (name === ENCRYPTED_MARKER.toLowerCase()) return true;
    if (name !== 'authentication-results') return false;
    const colon = field.raw.indexOf(0x3a);
    return authservIdOf(field.raw.subarray(colon + 1).toString('latin1'))?.toLowerCase() === ours;
  };
  return {
    name: 'strip-forged',
    run(message): Promise<StageResult<InboundMessage>> {
      const raw = contiguous(message);
      const { header, fields } = splitTopLevel(raw);
      const removed = fields.filter(forged).length;
      if (removed === 0) return Promise.resolve({ message, action: { stage: 'strip-forged', action: 'none' } });
      const kept = fields.filter((f) => !forged(f)).map((f) => f.raw);
      return Promise.resolve({
        message: { ...pipelineMessage(message.envelope, withHeaderFields(raw, header, kept)), findings: message.findings },
        action: { stage: 'strip-forged', action: 'removed', detail: { fields: removed } },
      });
    },
  };
}

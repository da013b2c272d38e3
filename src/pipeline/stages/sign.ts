/**
 * Outbound signing: mail whose From address is an enrolled mailbox leaves
 * signed (RFC 8551). Everything else passes unchanged.
 */
import type { Config } from '../../config/schema.js';
import type { SigningIdentityResolver } from '../../keystore/identity.js';
import { getHeader, parseAddressList, splitFields, splitHeaderBody } from '../../mime/headers.js';
import { SiegelError } from '../../errors.js';
import { prepareForSigning } from '../../mime/prepare-for-signing.js';
import { buildMultipartSigned, buildOpaqueSigned } from '../../smime/assemble.js';
import { signContent } from '../../smime/sign.js';
import { contiguous, leadingBytes, pipelineMessage } from '../message.js';
import type { Stage, StageResult } from '../types.js';
import { detectClientSmime } from './detect-client-smime.js';
import { policyRefusal, ruleLabel, type MessagePolicy } from './policy.js';

export interface SignStageOptions {
  readonly signing: Config['signing'];
  readonly limits: Config['limits'];
  readonly identities: SigningIdentityResolver;
  /** The policy decision for this message (issue 6); absent, `signing.enabled` decides as before policies. */
  readonly policy?: MessagePolicy;
}

export function createSignStage(options: SignStageOptions): Stage {
  const { signing, limits, identities, policy } = options;
  const mode = policy?.decision.sign;
  // The rule's name in every outcome, so the log line says why a message was (not) signed.
  const ruled: Record<string, string> = policy ? { rule: ruleLabel(policy) } : {};
  return {
    name: 'sign',
    async run(message, context): Promise<StageResult> {
      const unchanged = (action: string, detail?: Record<string, string>): StageResult => ({
        message,
        action: { stage: 'sign', action, ...(detail || policy ? { detail: { ...detail, ...ruled } } : {}) },
      });
      if (mode === 'never') return unchanged('policy-never');
      if (!policy && !signing.enabled) return unchanged('disabled');
      const head = leadingBytes(message, limits.headerSize);
      const clientSmime = detectClientSmime(head);
      if (clientSmime) return unchanged('client-smime', { form: clientSmime });

      // signAs: a staff member's mail signed with the functional mailbox's identity it is sent for.
      const sender = policy?.decision.signAs ?? senderMailbox(head);
      if (!sender) {
        if (mode === 'always') throw policyRefusal(`Policy requires a signature, the From field names no single sender (rule ${ruleLabel(policy)})`);
        return unchanged('no-sender');
      }
      const now = context.now();
      const identity = await identities.signingIdentity(sender, now);
      if (!identity) {
        // Permanent: retrying does not enrol the mailbox; the sender learns at once instead of after days of retries.
        if (mode === 'always') throw policyRefusal(`Policy requires a signature, no signing identity for ${sender} (rule ${ruleLabel(policy)})`);
        return unchanged('no-identity', { sender });
      }

      checkHeaderFields(head);
      const prepared = await prepareForSigning(contiguous(message), {
        maxDepth: limits.mimeDepth,
        maxParts: limits.mimeParts,
        maxHeaderSize: limits.headerSize,
      });
      const opaque = signingForm(signing, message.envelope.rcptTo) === 'opaque';
      // includeChain: false leaves the issuing CAs out (for partners that have them installed).
      const signer = signing.includeChain ? identity : { ...identity, chain: [] };
      const signature = await signContent(prepared.entity, signer, { signingTime: now, detached: !opaque });
      const chunks = opaque
        ? buildOpaqueSigned(prepared.outerHeaders, signature)
        : buildMultipartSigned(prepared.outerHeaders, prepared.entity, signature);
      return {
        message: pipelineMessage(message.envelope, chunks),
        action: {
          stage: 'sign',
          action: opaque ? 'signed-opaque' : 'signed',
          detail: { signer: identity.mailbox, converted: prepared.changed, ...ruled },
        },
      };
    },
  };
}

/**
 * A header line that is not a field cannot be kept outside the signature
 * nor moved into it without changing what the sender wrote; a permanent
 * refusal tells the sender at once (a temporary one would be retried for
 * days). An mbox "From " line usually means a pipe transport adds it.
 */
function checkHeaderFields(head: Buffer): void {
  const fields = splitFields(splitHeaderBody(head).header);
  const index = fields.findIndex((f) => f.name === '');
  if (index < 0) return;
  const line = fields[index]?.raw.subarray(0, 5).toString('latin1') ?? '';
  throw new SiegelError(
    'MESSAGE_MALFORMED',
    index === 0 && line === 'From '
      ? 'message starts with an mbox "From " line, not a header field (a pipe transport adding it? Postfix: drop the F flag)'
      : `header line ${index + 1} is not a header field ("Name: value")`,
  );
}

/** The mailbox whose identity signs: the single From address (RFC 8550 matches it against the certificate). */
function senderMailbox(head: Buffer): string | undefined {
  const { header } = splitHeaderBody(head);
  const from = getHeader(header, 'from');
  if (!from) return undefined;
  const addresses = parseAddressList(from);
  return addresses.length === 1 ? addresses[0] : undefined;
}

/**
 * The form of signature for these recipients: opaque when configured for all
 * mail, or when any recipient (address or domain) is in `opaqueFor` (systems
 * that strip multipart/signed); multipart/signed otherwise. The SMTP edge
 * keeps the two groups in separate transactions; the `siegel outbound`
 * filter, which cannot split, signs opaquely if any recipient needs it.
 */
export function signingForm(signing: Config['signing'], recipients: readonly string[]): 'opaque' | 'multipart' {
  if (signing.mode === 'opaque') return 'opaque';
  if (signing.opaqueFor.length === 0) return 'multipart';
  const targets = new Set(signing.opaqueFor.map((t) => t.toLowerCase()));
  const needsOpaque = recipients.some((rcpt) => {
    const address = rcpt.toLowerCase();
    return targets.has(address) || targets.has(address.slice(address.lastIndexOf('@') + 1));
  });
  return needsOpaque ? 'opaque' : 'multipart';
}

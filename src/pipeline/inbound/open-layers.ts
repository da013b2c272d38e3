/**
 * The inbound look inside a message: layer by layer, decrypt what is
 * encrypted to an enrolled key, verify every signature, and hand the
 * recipient a message any client can read:
 *
 * - enveloped / authEnveloped (top level): replaced by the decrypted entity
 *   under the original outer header fields (the plain, still signed message);
 * - multipart/signed: verified over the received bytes and left as it is,
 *   unless what it signs is itself encrypted (encrypt-then-sign), which is
 *   then opened;
 * - opaque signed-data (top level): verified and re-framed as
 *   multipart/signed with the same signature, or opened further when the
 *   signed content is encrypted (triple wrapping, RFC 2634);
 * - a signed message/rfc822 attachment (a forwarded signed mail): verified
 *   against its own From and reported with its part number; left unchanged.
 *
 * Never throws for anything the sender controls: every problem becomes a
 * verdict and the message goes on (issue 3: mail is never dropped because
 * of a verdict). Bounded: at most MAX_LAYERS layers are opened.
 */
import type { Config } from '../../config/schema.js';
import { SiegelError, errorMessage } from '../../errors.js';
import type { DecryptionKeyResolver } from '../../keystore/identity.js';
import { splitTopLevel, withHeaderFields } from '../../mime/top-level.js';
import type { RevocationPolicy } from '../../pki/revocation/signer-verdict.js';
import type { TrustAnchor } from '../../pki/trust-store.js';
import { detectSmime, type SmimeLimits, type SmimeStructure } from '../../smime/detect.js';
import type { DecryptionKey } from '../../smime/envelope-decrypt.js';
import { detachSignedData, reframeAsMultipartSigned } from '../../smime/reframe-opaque.js';
import { verdictOf, type Verdict } from '../../smime/verdict.js';
import { contiguous, pipelineMessage } from '../message.js';
import type { Stage, StageContext, StageResult } from '../types.js';
import { decryptLayer } from './decrypt-layer.js';
import type { DecryptionFinding, InboundMessage, SignatureFinding } from './findings.js';
import { verifyDetached, verifyOpaque } from './verify-layer.js';

/** Triple wrapping is three layers; one more for a signature on top of it. */
const MAX_LAYERS = 4;

export interface OpenLayersOptions {
  readonly limits: Config['limits'];
  readonly inbound: Config['inbound'];
  readonly maxMessageSize: number;
  /** The configured trust anchors (a function, so a reload can swap them). */
  readonly anchors: () => readonly TrustAnchor[];
  readonly keys: DecryptionKeyResolver;
  /** Revocation checking of passing signers (issue 5); none when absent. */
  readonly revocation?: RevocationPolicy;
}

interface Walk {
  raw: Buffer;
  changed: boolean;
  readonly signatures: SignatureFinding[];
  readonly decryptions: DecryptionFinding[];
  problem?: Verdict;
  keys?: readonly DecryptionKey[];
}

export function createOpenLayersStage(options: OpenLayersOptions): Stage<InboundMessage> {
  return {
    name: 'open',
    async run(message, context): Promise<StageResult<InboundMessage>> {
      const walk: Walk = { raw: contiguous(message), changed: false, signatures: [], decryptions: [] };
      await openLayers(walk, options, context);
      const findings = { signatures: walk.signatures, decryptions: walk.decryptions, ...(walk.problem ? { problem: walk.problem } : {}) };
      const base = walk.changed ? pipelineMessage(message.envelope, walk.raw) : message;
      return {
        message: { ...base, findings },
        action: { stage: 'open', action: actionOf(walk), detail: detailOf(walk) },
      };
    },
  };
}

async function openLayers(walk: Walk, options: OpenLayersOptions, context: StageContext): Promise<void> {
  const limits = { maxDepth: options.limits.mimeDepth, maxSize: options.maxMessageSize, maxParts: options.limits.mimeParts };
  const trust = { trust: { anchors: options.anchors(), at: context.now(), minRsaBits: options.inbound.minRsaBits }, ...(options.revocation ? { revocation: options.revocation } : {}) };
  /** What to deliver if opening an inner encrypted layer fails: the form before it was unwrapped. */
  let fallback: Buffer | undefined;
  for (let layer = 0; layer < MAX_LAYERS; layer++) {
    const found: SmimeStructure = detectSmime(walk.raw, limits);
    const topLevel = found.kind !== 'none' && found.kind !== 'malformed' && found.location.path.length === 0;
    switch (found.kind) {
      case 'none':
        return;
      case 'malformed':
        walk.problem ??= verdictOf(found.reason === 'too-large' ? 'too-large' : 'malformed', `the S/MIME structure cannot be read (${found.reason})`);
        return restore(walk, fallback);
      case 'multipart-signed': {
        walk.signatures.push(await verifyDetached(walk.raw, found, trust));
        if (!topLevel) return;
        const inner = withOuter(walk.raw, found.signedEntity);
        if (!isEncrypted(inner, limits)) return;
        fallback = walk.raw;
        replace(walk, inner);
        continue;
      }
      case 'opaque-signed': {
        const signature = await verifyOpaque(walk.raw, found, trust);
        walk.signatures.push(signature);
        // An unreadable SignedData is reported once, by its verdict; there is nothing to re-frame.
        if (!topLevel || signature.verdict.result === 'permerror') return;
        let opaque: ReturnType<typeof detachSignedData>;
        try {
          opaque = detachSignedData(found.der);
        } catch (err) {
          // verified above, so readable; a SignedData without content was reported by the verdict
          walk.problem ??= verdictOf('malformed', `the signed content cannot be taken out: ${errorMessage(err)}`);
          return;
        }
        const { outer } = splitTopLevel(walk.raw);
        const reframed = Buffer.concat(reframeAsMultipartSigned(outer, opaque));
        const inner = withOuter(walk.raw, opaque.content);
        if (isEncrypted(inner, limits)) {
          fallback = reframed;
          replace(walk, inner);
          continue;
        }
        replace(walk, reframed);
        return;
      }
      case 'enveloped':
      case 'auth-enveloped': {
        if (!topLevel) {
          walk.problem ??= verdictOf('encrypted-for-others', `an attached message (part ${found.location.path.map((i) => i + 1).join('.')}) is encrypted and left as it is`);
          return restore(walk, fallback);
        }
        const opened = await decryptLayer(found.der, await keysOf(walk, options), options.maxMessageSize);
        if (!opened.ok) {
          walk.problem ??= opened.verdict;
          return restore(walk, fallback);
        }
        walk.decryptions.push(opened.finding);
        fallback = undefined;
        replace(walk, withOuter(walk.raw, opened.content));
        continue;
      }
      case 'compressed':
        walk.problem ??= verdictOf('unsupported-layer', 'compressed-data (RFC 3274) is not opened here');
        return restore(walk, fallback);
      case 'certs-only':
        return restore(walk, fallback);
    }
  }
  walk.problem ??= verdictOf('malformed', `more than ${MAX_LAYERS} S/MIME layers`);
}

/**
 * The top-level outer fields of `raw` followed by an entity (its own Content-* fields and body).
 * An entity with its own MIME-Version (OpenSSL writes one into what it signs) loses it when the
 * outer fields have one: a message carries the field once (RFC 2045 section 4). No signature covers it.
 */
function withOuter(raw: Buffer, entity: Buffer): Buffer {
  const { outer, fields } = splitTopLevel(raw);
  const isVersion = (f: { name: string }): boolean => f.name.toLowerCase() === 'mime-version';
  const inner = splitTopLevel(entity);
  if (!fields.some(isVersion) || !inner.fields.some(isVersion)) return Buffer.concat([outer, entity]);
  return Buffer.concat([outer, ...withHeaderFields(entity, inner.header, inner.fields.filter((f) => !isVersion(f)).map((f) => f.raw))]);
}

function isEncrypted(candidate: Buffer, limits: SmimeLimits): boolean {
  const found = detectSmime(candidate, limits);
  return (found.kind === 'enveloped' || found.kind === 'auth-enveloped') && found.location.path.length === 0;
}

function replace(walk: Walk, raw: Buffer): void {
  walk.raw = raw;
  walk.changed = true;
}

function restore(walk: Walk, fallback: Buffer | undefined): void {
  if (fallback) replace(walk, fallback);
}

async function keysOf(walk: Walk, options: OpenLayersOptions): Promise<readonly DecryptionKey[]> {
  if (walk.keys) return walk.keys;
  try {
    walk.keys = await options.keys.decryptionKeys();
  } catch (err) {
    // The key store, not the message, is the problem: the sender retries later.
    throw new SiegelError('DECRYPTION_FAILED', `enrolled keys cannot be opened: ${errorMessage(err)}`, { cause: err });
  }
  return walk.keys;
}

function actionOf(walk: Walk): string {
  if (walk.decryptions.length > 0) return 'decrypted';
  if (walk.signatures.length > 0) return walk.changed ? 'reframed' : 'verified';
  if (walk.problem) return 'unreadable';
  return 'unsigned';
}

function detailOf(walk: Walk): Record<string, string | number> {
  const detail: Record<string, string | number> = {};
  walk.signatures.forEach((s, i) => {
    detail[i === 0 ? 'smime' : `smime${i + 1}`] = `${s.verdict.result}:${s.verdict.reason}`;
  });
  const decryption = walk.decryptions[0];
  if (decryption) detail.decrypted = `${decryption.contentEncryption}/${decryption.keyManagement}`;
  if (walk.problem) detail.problem = walk.problem.reason;
  return detail;
}

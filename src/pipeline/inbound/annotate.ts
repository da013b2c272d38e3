/**
 * Last inbound stage: the verdicts become one Authentication-Results field
 * (RFC 8601 with the RFC 7281 smime method) under our authserv-id, the
 * X-Siegel-Encrypted marker tells that the message was decrypted, and the
 * Subject gets the configured tag of the message's verdict. Added fields go
 * on top (trace-field order); the rest of the message keeps its bytes.
 */
import type { Config } from '../../config/schema.js';
import { formatAuthenticationResults, type SmimeResultInfo } from '../../mime/authentication-results.js';
import { taggedSubject } from '../../mime/subject-tag.js';
import { splitTopLevel, withHeaderFields } from '../../mime/top-level.js';
import { verdictOf, type Verdict } from '../../smime/verdict.js';
import { contiguous, pipelineMessage } from '../message.js';
import type { Stage, StageResult } from '../types.js';
import type { InboundFindings, InboundMessage, SignatureFinding } from './findings.js';
import { encryptedMarker } from './marker.js';

export interface AnnotateOptions {
  readonly authservId: string;
  readonly subjectTags: Config['inbound']['subjectTags'];
}

export function createAnnotateStage(options: AnnotateOptions): Stage<InboundMessage> {
  return {
    name: 'annotate',
    run(message): Promise<StageResult<InboundMessage>> {
      const { findings } = message;
      const verdict = messageVerdict(findings);
      const raw = contiguous(message);
      const added = [formatAuthenticationResults(options.authservId, resultsOf(findings)), ...findings.decryptions.slice(0, 1).map(encryptedMarker)];
      // A message stored LF-only (siegel inbound on a file) keeps one line-ending style.
      const fields = lfOnly(raw) ? added.map(toLf) : added;
      const { header, fields: existing } = splitTopLevel(raw);
      const tag = options.subjectTags[verdict.result];
      let chunks: Buffer[];
      let tagged = false;
      const subjectIndex = existing.findIndex((f) => f.name.toLowerCase() === 'subject');
      const subject = tag === undefined ? undefined : taggedSubject(existing[subjectIndex], tag);
      const newSubject = subject && lfOnly(raw) ? toLf(subject) : subject;
      if (newSubject) {
        tagged = true;
        const rest = existing.map((f) => f.raw);
        if (subjectIndex >= 0) rest[subjectIndex] = newSubject;
        else rest.push(newSubject);
        chunks = withHeaderFields(raw, header, [...fields, ...rest]);
      } else {
        chunks = [...fields, ...message.chunks];
      }
      return Promise.resolve({
        message: { ...pipelineMessage(message.envelope, chunks), findings },
        action: { stage: 'annotate', action: verdict.result, detail: { reason: verdict.reason, ...(tagged ? { tagged } : {}) } },
      });
    },
  };
}

function lfOnly(raw: Buffer): boolean {
  const firstLf = raw.indexOf(0x0a);
  return firstLf !== -1 && (firstLf === 0 || raw[firstLf - 1] !== 0x0d);
}

function toLf(field: Buffer): Buffer {
  return Buffer.from(field.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
}

/**
 * The verdict about the message itself: that of its innermost signature
 * (the one over the content the recipient reads), else why it could not be
 * looked into, else none.
 */
export function messageVerdict(findings: InboundFindings): Verdict {
  const own = findings.signatures.filter((s) => s.part === undefined);
  const innermost = own[own.length - 1];
  if (innermost) return innermost.verdict;
  if (findings.problem) return findings.problem;
  return verdictOf('unsigned', findings.decryptions.length > 0 ? 'the message was encrypted but is not signed' : 'the message is not signed');
}

function resultsOf(findings: InboundFindings): SmimeResultInfo[] {
  const results = findings.signatures.map(signatureResult);
  if (findings.problem) results.push(info(findings.problem));
  if (results.length === 0) results.push(info(messageVerdict(findings)));
  return results;
}

function signatureResult(signature: SignatureFinding): SmimeResultInfo {
  const { verdict } = signature;
  const signer = verdict.signer;
  const from = new Set(signature.fromAddresses);
  const identifier = signer?.emails.find((e) => from.has(e)) ?? signer?.emails[0];
  return {
    ...info(verdict),
    properties: {
      ...(identifier ? { 'body.smime-identifier': identifier } : {}),
      ...(signature.part ? { 'body.smime-part': signature.part } : {}),
      ...(signer ? { 'body.smime-serial': signer.serialHex, 'body.smime-issuer': signer.issuer } : {}),
    },
  };
}

function info(verdict: Verdict): SmimeResultInfo {
  return { result: verdict.result, reason: verdict.reason, comment: verdict.detail };
}

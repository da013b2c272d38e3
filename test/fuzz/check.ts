/**
 * What every message through the inbound pipeline must satisfy, whatever
 * was done to it: the pipeline resolves in bounded time, the output starts
 * with exactly one Authentication-Results field of ours carrying RFC 7281
 * smime results, the received bytes follow unchanged unless a layer was
 * opened or re-framed, and a pass is only ever for the signer's exact
 * content.
 */
import { X509Certificate } from 'node:crypto';
import type { InboundMessage } from '../../src/pipeline/inbound/findings.js';
import { contiguous } from '../../src/pipeline/message.js';
import { detectSmime } from '../../src/smime/detect.js';
import { detachSignedData } from '../../src/smime/reframe-opaque.js';
import { AUTHSERV_ID, SENDER, SMIME_RESULTS, verdictsOf, type Gateway, type Seeds } from './seeds.js';

/** Generous: a hang fails, a slow shared CI machine does not. */
export const TIME_BOUND_MS = 5000;

export const DETECT_LIMITS = { maxDepth: 50, maxSize: 52_428_800 };

export interface Checked {
  readonly output: Buffer;
  readonly message: InboundMessage;
  readonly results: string[];
  readonly actions: Readonly<Record<string, string>>;
  readonly ms: number;
}

export interface Checker {
  check(input: Buffer): Promise<Checked>;
  /** One line for the log: how many messages, latency percentiles, verdict counts. */
  summary(): string;
}

export function createChecker(seeds: Seeds, gateway: Gateway): Checker {
  const signerFingerprint = new X509Certificate(seeds.signer.certificate).fingerprint256.replace(/:/g, '').toLowerCase();
  const timings: number[] = [];
  const tally: Record<string, number> = {};

  /**
   * A pass must mean: our signer, From still the signer's address, and the
   * entity the recipient reads as signed is byte for byte what was signed
   * (or its CRLF form, for a message stored with bare LF).
   */
  const assertPassIsGenuine = (output: Buffer, message: InboundMessage): void => {
    const passed = message.findings.signatures.filter((s) => s.verdict.result === 'pass');
    if (passed.length === 0) return;
    for (const s of passed) {
      expect(s.verdict.signer?.fingerprint).toBe(signerFingerprint);
      expect(s.fromAddresses).toContain(SENDER);
    }
    const found = detectSmime(output, DETECT_LIMITS);
    let signed: Buffer[] = [];
    if (found.kind === 'multipart-signed') signed = [found.signedEntity, ...(found.signedEntityCanonical ? [found.signedEntityCanonical] : [])];
    else if (found.kind === 'opaque-signed') signed = [detachSignedData(found.der).content];
    expect(signed.some((b) => b.equals(seeds.entity))).toBe(true);
  };

  return {
    async check(input) {
      const t0 = performance.now();
      const result = await gateway.run(input).catch((err: unknown) => {
        throw new Error(`the pipeline rejected (${String(err)}) for input starting ${JSON.stringify(input.subarray(0, 300).toString('latin1'))}`);
      });
      const ms = performance.now() - t0;
      timings.push(ms);
      expect(ms).toBeLessThan(TIME_BOUND_MS);
      const output = contiguous(result.message);
      const prefix = `Authentication-Results: ${AUTHSERV_ID};`;
      expect(output.subarray(0, prefix.length).toString('latin1')).toBe(prefix);
      const { results, ourFields, field } = verdictsOf(output);
      // FUZZ_DEBUG=1 prints every verdict field, to see what the mutations lead to.
      if (process.env.FUZZ_DEBUG) console.log(field.slice(0, 300));
      expect(ourFields).toBe(1);
      expect(results.length).toBeGreaterThan(0);
      for (const r of results) {
        expect(SMIME_RESULTS.has(r)).toBe(true);
        tally[r] = (tally[r] ?? 0) + 1;
      }
      const actions = Object.fromEntries(result.actions.map((a) => [a.stage, a.action]));
      const added = output.length - input.length;
      if (['verified', 'unsigned', 'unreadable'].includes(actions.open ?? '') && actions['strip-forged'] === 'none') {
        // Nothing was opened or re-framed: the received bytes follow our field unchanged.
        expect(output.subarray(added).equals(input)).toBe(true);
        expect(added).toBeLessThan(4096);
      } else {
        // Decrypted (smaller), re-framed (the content no longer base64) or forged fields removed.
        expect(added).toBeLessThan(8192);
      }
      assertPassIsGenuine(output, result.message);
      return { output, message: result.message, results, actions, ms };
    },
    summary() {
      const sorted = [...timings].sort((a, b) => a - b);
      const pct = (p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0).toFixed(1);
      return `${sorted.length} messages, p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${pct(100)} ms; results ${JSON.stringify(tally)}`;
    },
  };
}

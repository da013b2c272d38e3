/**
 * The byte-preserving splitter (@zone-eu/mailsplit) as used by Siegel.
 * Splitting and joining without changes must reproduce the input exactly;
 * `splitAndJoin` exists so tests can prove that for every fixture.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Joiner, Splitter } from '@zone-eu/mailsplit';
import type { SplitterChunk, SplitterOptions } from '@zone-eu/mailsplit';
import type { MimeLimits } from './limits.js';

/**
 * The splitter's header budget as a multiple of ours. mailsplit counts each
 * header line as at least 64 bytes, and parsing costs about 1 KB of memory
 * per line, so its limit is what bounds memory for a header of many short
 * lines: 10 MB of 60-byte fields parsed under a budget of 32 times ours
 * cost 200 MB. With twice ours, a header whose lines average 32 bytes or
 * more meets our exact byte limit first; one of shorter lines meets the
 * splitter's, which is the same refusal (MESSAGE_LIMITS_EXCEEDED), and at
 * most 32k lines per MiB of our limit get parsed.
 */
const HEAD_COST_FACTOR = 2;

/**
 * Splitter options for canonicalisation. Embedded messages stay leaves: we
 * recurse into them ourselves, also when they are attachments, which
 * mailsplit would not parse. The splitter's own size limits are set above
 * ours, so that normally our exact checks fire, while its limits bound
 * memory (HEAD_COST_FACTOR).
 */
export function splitterOptions(limits: MimeLimits): SplitterOptions {
  return {
    ignoreEmbedded: true,
    maxHeadSize: limits.maxHeaderSize * HEAD_COST_FACTOR + 1024,
    maxChildNodes: limits.maxParts + 1,
  };
}

/**
 * Starts splitting the chunks (one continuous message). They are written as
 * they are, so body chunks the splitter emits are views of them, not copies.
 */
export function split(chunks: readonly Buffer[], options?: SplitterOptions): AsyncIterable<SplitterChunk> & Splitter {
  const splitter = new Splitter(options);
  for (const chunk of chunks) splitter.write(chunk);
  splitter.end();
  return splitter as Splitter & AsyncIterable<SplitterChunk>;
}

/** Splits and joins again without changes; the result must equal `raw` byte for byte. */
export async function splitAndJoin(raw: Buffer, options?: SplitterOptions): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([raw]), new Splitter(options), new Joiner(), async (source: AsyncIterable<Buffer>) => {
    for await (const b of source) out.push(b);
  });
  return Buffer.concat(out);
}

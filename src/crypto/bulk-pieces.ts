/**
 * Cuts a job's input (a list of chunks) into pieces a worker can read
 * without the message being copied as a whole.
 *
 * A chunk on a SharedArrayBuffer is posted as views of that memory: no copy.
 * Any other chunk must be copied, since a worker cannot see the main
 * thread's ordinary ArrayBuffers (and posting a view would clone its whole
 * backing store, for a subarray of a message that is the whole message).
 * Those bytes are packed into the worker's copy slots: a few SharedArrayBuffers
 * of one piece each, allocated once per worker and used in turn (the pool
 * never has more pieces in flight than there are slots, so a slot is free
 * again when its turn comes). Reused memory costs neither allocation, nor
 * page faults, nor garbage collection per message.
 */

/** Bytes per piece: large enough that posting costs little per byte, small enough that a copy is a short turn of the event loop. */
export const PIECE_BYTES = 1024 * 1024;

/** Shared chunks smaller than this are packed with their neighbours (a message per tiny chunk would cost more than the copy). */
const MIN_SHARED_VIEW = 16 * 1024;

export interface Piece {
  readonly bytes: Uint8Array;
  /** The bytes were copied into a slot (false: a view of the caller's shared memory). */
  readonly copied: boolean;
}

/** The memory for the n-th copied piece (n = 0, 1, ...), at least pieceBytes long. */
export type SlotFor = (n: number) => Uint8Array;

export function totalLength(chunks: readonly Uint8Array[]): number {
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  return total;
}

/** Lazy: a piece is copied only when taken, so the pool decides how many copies exist at once. */
export function* pieces(chunks: readonly Uint8Array[], slotFor: SlotFor, pieceBytes = PIECE_BYTES): Generator<Piece> {
  let copies = 0;
  let pack: Uint8Array | undefined;
  let packed = 0;
  const flushPack = (): Piece | undefined => {
    if (!pack || packed === 0) return undefined;
    const piece = { bytes: pack.subarray(0, packed), copied: true };
    pack = undefined;
    packed = 0;
    return piece;
  };
  // Consecutive views of one SharedArrayBuffer that follow each other in memory (a message's parts kept as
  // received) are posted as one view: one message per piece, not one per chunk.
  let view: Uint8Array | undefined;
  const flushView = (): Piece | undefined => {
    const piece = view ? { bytes: view, copied: false } : undefined;
    view = undefined;
    return piece;
  };
  for (const chunk of chunks) {
    if (sharedView(chunk)) {
      const before = flushPack();
      if (before) yield before;
      for (let offset = 0; offset < chunk.byteLength; ) {
        const take = Math.min(chunk.byteLength - offset, pieceBytes - (view?.byteLength ?? 0));
        const part = chunk.subarray(offset, offset + take);
        offset += take;
        if (view && !follows(view, part)) yield flushView() as Piece;
        view = view ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength + part.byteLength) : part;
        if (view.byteLength >= pieceBytes) yield flushView() as Piece;
      }
      continue;
    }
    const before = flushView();
    if (before) yield before;
    for (let offset = 0; offset < chunk.byteLength; ) {
      pack ??= slotFor(copies++).subarray(0, pieceBytes);
      const take = Math.min(chunk.byteLength - offset, pack.byteLength - packed);
      pack.set(chunk.subarray(offset, offset + take), packed);
      packed += take;
      offset += take;
      if (packed === pack.byteLength) yield flushPack() as Piece;
    }
  }
  const last = flushPack() ?? flushView();
  if (last) yield last;
}

function sharedView(chunk: Uint8Array): boolean {
  return chunk.buffer instanceof SharedArrayBuffer && chunk.byteLength >= MIN_SHARED_VIEW;
}

/** `next` starts where `view` ends, in the same SharedArrayBuffer. */
function follows(view: Uint8Array, next: Uint8Array): boolean {
  return next.buffer === view.buffer && next.byteOffset === view.byteOffset + view.byteLength;
}

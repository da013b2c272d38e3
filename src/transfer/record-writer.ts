/**
 * Cuts a plaintext stream into records, seals them and appends them to a
 * blob file, hashing the plaintext on the way (DESIGN rule 7: memory is one
 * record plus a small write batch, whatever the file size).
 */
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { BlobCipher } from './file-crypto.js';

/** Sealed records are written in batches of about this many bytes (fewer system calls). */
const WRITE_BATCH = 1024 * 1024;

export class RecordWriter {
  private readonly file: FileHandle;
  private readonly cipher: BlobCipher;
  private readonly hash: Hash;
  private readonly pending: Buffer;
  private pendingLength: number;
  private sealedRecords: number;
  private position: number;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  /** The batch being written while the next one is sealed (at most one: memory stays bounded). */
  private inFlight: Promise<void> | undefined;

  /**
   * Continues after `records` full records (already in `file` and in
   * `hash`) with `tail` as the start of the next record.
   */
  constructor(file: FileHandle, cipher: BlobCipher, start: { readonly records: number; readonly tail: Buffer; readonly hash: Hash }) {
    this.file = file;
    this.cipher = cipher;
    this.hash = start.hash;
    this.pending = Buffer.alloc(cipher.recordSize);
    start.tail.copy(this.pending);
    this.pendingLength = start.tail.length;
    this.sealedRecords = start.records;
    this.position = cipher.recordPosition(start.records);
  }

  /** Full records sealed so far (all not final). */
  get records(): number {
    return this.sealedRecords;
  }

  /** Plaintext bytes taken so far. */
  get offset(): number {
    return this.sealedRecords * this.cipher.recordSize + this.pendingLength;
  }

  /** A copy of the plaintext of the unfinished record. */
  tail(): Buffer {
    return Buffer.from(this.pending.subarray(0, this.pendingLength));
  }

  async push(chunk: Buffer): Promise<void> {
    let used = 0;
    while (used < chunk.length) {
      const taken = chunk.copy(this.pending, this.pendingLength, used);
      used += taken;
      this.pendingLength += taken;
      if (this.pendingLength === this.pending.length) {
        this.hash.update(this.pending);
        this.enqueue(this.cipher.sealRecordParts(this.sealedRecords, false, this.pending));
        this.sealedRecords += 1;
        this.pendingLength = 0;
        if (this.batchBytes >= WRITE_BATCH) await this.dispatch();
      }
    }
  }

  /** Writes everything sealed so far to the file (not synced). */
  async flush(): Promise<void> {
    await this.dispatch();
    await this.settle();
  }

  /** Waits for a write still under way, ignoring its failure: before the file is cut back after an error. */
  async abandon(): Promise<void> {
    this.batch = [];
    this.batchBytes = 0;
    await this.settle().catch(() => undefined);
  }

  /** Waits for the previous batch, then starts writing the current one without waiting for it. */
  private async dispatch(): Promise<void> {
    await this.settle();
    if (this.batch.length === 0) return;
    const batch = this.batch;
    const total = this.batchBytes;
    const position = this.position;
    this.batch = [];
    this.batchBytes = 0;
    this.position += total;
    const write = this.writeBatch(batch, total, position);
    // Observed now so a failure is never unhandled; thrown by the next settle().
    write.catch(() => undefined);
    this.inFlight = write;
  }

  private async settle(): Promise<void> {
    const write = this.inFlight;
    this.inFlight = undefined;
    if (write) await write;
  }

  /** One batch in one gathered call rather than copied into one buffer. */
  private async writeBatch(batch: Buffer[], total: number, position: number): Promise<void> {
    const { bytesWritten } = await this.file.writev(batch, position);
    if (bytesWritten < total) {
      // A short write (rare for files): the rest in one piece.
      const rest = Buffer.concat(batch, total).subarray(bytesWritten);
      let written = 0;
      while (written < rest.length) {
        const result = await this.file.write(rest, written, rest.length - written, position + bytesWritten + written);
        written += result.bytesWritten;
      }
    }
  }

  /** Seals the unfinished record as the final one and writes it; the blob is complete after a sync. */
  async writeFinal(): Promise<void> {
    const last = this.pending.subarray(0, this.pendingLength);
    this.hash.update(last);
    this.enqueue(this.cipher.sealRecordParts(this.sealedRecords, true, last));
    await this.flush();
  }

  private enqueue(parts: readonly Buffer[]): void {
    for (const part of parts) {
      this.batch.push(part);
      this.batchBytes += part.length;
    }
  }
}

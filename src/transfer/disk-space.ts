/**
 * Refuses uploads cleanly instead of filling the disk: free space on the
 * file system of the blob directory must stay above a minimum before a
 * write starts and, checked every few megabytes, while it runs.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SiegelError } from '../errors.js';

/** The part of fs.statfs the guard needs; injectable for tests. */
export type StatFsFunction = (path: string) => Promise<{ readonly bavail: number; readonly bsize: number }>;

export const DEFAULT_SPACE_CHECK_INTERVAL = 8 * 1024 * 1024;

export class DiskSpaceGuard {
  private readonly directory: string;
  private readonly minFreeSpace: number;
  private readonly statfsFunction: StatFsFunction;
  private readonly checkInterval: number;

  constructor(options: {
    readonly directory: string;
    readonly minFreeSpace: number;
    readonly statfs?: StatFsFunction;
    /** Bytes written between two checks. */
    readonly checkInterval?: number;
  }) {
    this.directory = options.directory;
    this.minFreeSpace = options.minFreeSpace;
    this.statfsFunction = options.statfs ?? ((path) => statfs(path));
    this.checkInterval = options.checkInterval ?? DEFAULT_SPACE_CHECK_INTERVAL;
  }

  /** Bytes available to unprivileged users. */
  async freeSpace(): Promise<number> {
    // Before the first blob the directory may not exist yet: ask for the file system that will hold it.
    let path = this.directory;
    for (;;) {
      try {
        const stats = await this.statfsFunction(path);
        return stats.bavail * stats.bsize;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(path) === path) throw error;
        path = dirname(path);
      }
    }
  }

  /** Throws STORAGE_FAILED when free space is below the minimum. */
  async check(): Promise<void> {
    const free = await this.freeSpace();
    if (free < this.minFreeSpace) {
      throw new SiegelError('STORAGE_FAILED', `free space ${free} bytes below the minimum of ${this.minFreeSpace} bytes`);
    }
  }

  /** Counts written bytes and checks again every checkInterval bytes. */
  meter(): (bytes: number) => Promise<void> {
    let sinceCheck = 0;
    return async (bytes) => {
      sinceCheck += bytes;
      if (sinceCheck < this.checkInterval) return;
      sinceCheck = 0;
      await this.check();
    };
  }
}

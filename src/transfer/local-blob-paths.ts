/**
 * Where the local blob store keeps a blob: `<directory>/<shard>/<id>` with
 * the shard the first byte of SHA-256(id) in hex (256 sub-directories, even
 * for ids that are not hex themselves). Ids are hex or base64url only, so a
 * name can never leave its directory or collide with the suffixed working
 * files (`.part`, `.tail`, `.w-*`, `.tmp-*`: ids contain no dot).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { SiegelError } from '../errors.js';

const BLOB_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function isBlobId(id: string): boolean {
  return BLOB_ID.test(id);
}

export function validateBlobId(id: string): void {
  if (typeof id !== 'string' || !BLOB_ID.test(id)) throw new SiegelError('INTERNAL', 'invalid blob id');
}

export class LocalBlobPaths {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
  }

  /** Throws INTERNAL for an id that is not hex or base64url. */
  shard(id: string): string {
    validateBlobId(id);
    return join(this.directory, createHash('sha256').update(id).digest('hex').slice(0, 2));
  }

  /** The sealed, readable blob. */
  sealed(id: string): string {
    return join(this.shard(id), id);
  }

  /** Header and committed full records of an unfinished blob. */
  part(id: string): string {
    return join(this.shard(id), `${id}.part`);
  }

  /** The encrypted unfinished record of an unfinished blob. */
  tail(id: string): string {
    return join(this.shard(id), `${id}.tail`);
  }

  /** Prefix of the temporary files of one-shot writes. */
  writePrefix(id: string): string {
    return `${id}.w-`;
  }
}

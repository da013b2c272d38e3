/**
 * The tus DataStore of the staff area: every byte goes through
 * Uploads (BlobStore.openAppender, encrypted at rest under a key derived
 * from the upload token in the URL), never to a plain file. HEAD asks the
 * appender for the offset, so an interrupted upload resumes, also after a
 * restart of the server. Creation itself happens in the server's
 * onUploadCreate hook, which sees the request (owner, limits).
 */
import type { Readable } from 'node:stream';
import { DataStore, ERRORS, Upload } from '@tus/server';
import type { Uploads } from '../../transfer/uploads.js';

export class EncryptedUploadStore extends DataStore {
  constructor(private readonly uploads: Uploads) {
    super();
    this.extensions = ['creation', 'creation-with-upload', 'termination'];
  }

  override async create(upload: Upload): Promise<Upload> {
    return upload;
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    return this.uploads.append(id, offset, stream);
  }

  override async getUpload(id: string): Promise<Upload> {
    const state = await this.uploads.state(id);
    if (!state) throw ERRORS.FILE_NOT_FOUND;
    return new Upload({ id, size: state.size, offset: state.offset, creation_date: state.createdAt.toISOString() });
  }

  override async remove(id: string): Promise<void> {
    await this.uploads.abort(id);
  }
}

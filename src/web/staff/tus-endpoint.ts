/**
 * A tus endpoint (@tus/server v2) over the encrypted upload store. Express
 * authorises each request first (staff session, or an open upload
 * request) and binds it to what it may do; the tus hooks then read that
 * binding: who owns the share, where it came from, and what happens when
 * the last byte arrived. Errors from the catalog become their HTTP status
 * (413 limits, 507 disk space) with a short plain body. PATCH to an upload
 * skips @tus/server (tus-patch.ts: straight from the Node request, same
 * locker, same completion path).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MemoryLocker, Server, type Upload } from '@tus/server';
import { errorMessage, httpStatusFor, SiegelError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ShareOrigin } from '../../transfer/types.js';
import { newSecret, type UploadResult, type Uploads, type UploadShareOptions } from '../../transfer/uploads.js';
import { handleTusPatch, type TusAnswer } from './tus-patch.js';
import { EncryptedUploadStore } from './tus-store.js';

export interface TusBinding {
  readonly owner: string;
  readonly origin: ShareOrigin;
  readonly requestId?: string;
  readonly clientIp?: string;
  /** Share options from the upload's metadata; called once at creation. */
  readonly options: (metadata: Record<string, string | null>) => UploadShareOptions;
  /** After the share was made (e.g. mail the owner); failures are logged, the upload still succeeded. */
  readonly finished?: (result: UploadResult) => Promise<void>;
}

export interface TusEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, binding: TusBinding): Promise<void>;
}

/** The Node request behind the web Request the tus hooks get. */
function nodeRequest(req: Request): IncomingMessage | undefined {
  return (req as Request & { runtime?: { node?: { req?: IncomingMessage } } }).runtime?.node?.req;
}

/** The upload token at the end of a PATCH's path; anything else is left to @tus/server (which answers 404). */
function uploadIdOf(req: IncomingMessage): string | undefined {
  const path = (req.url ?? '').split('?')[0] ?? '';
  const id = /\/([A-Za-z0-9_-]{43})\/?$/.exec(path)?.[1];
  return id;
}

/** A tus error object ({ status_code, body }) as thrown inside @tus/server; anything else is a 500. */
function tusAnswer(err: unknown): TusAnswer {
  const { status_code: status, body } = (err ?? {}) as { status_code?: unknown; body?: unknown };
  return typeof status === 'number' && typeof body === 'string' ? { status, body } : { status: 500, body: 'Internal error\n' };
}

export function createTusEndpoint(options: { readonly path: string; readonly uploads: Uploads; readonly maxSize: number; readonly logger: Logger; readonly locker?: MemoryLocker }): TusEndpoint {
  const { uploads, logger } = options;
  const bindings = new WeakMap<IncomingMessage, TusBinding>();
  const bindingOf = (req: Request): TusBinding => {
    const node = nodeRequest(req);
    const binding = node ? bindings.get(node) : undefined;
    if (!binding) throw { status_code: 403, body: 'Forbidden\n' };
    return binding;
  };
  /** What the last byte of an upload leads to, whichever request carried it. */
  const finishUpload = async (id: string, binding: TusBinding): Promise<void> => {
    const result = await uploads.finish(id, binding.origin, binding.clientIp);
    logger.info({ share: result.shareId, owner: binding.owner, size: result.size, origin: binding.origin }, 'upload became a share');
    if (binding.finished) {
      try {
        await binding.finished(result);
      } catch (err) {
        // The owner learns the link only from that mail: a share nobody can reach would just use up the quota.
        // Withdrawn with its upload: the uploader sees the failure and starts again, instead of a success nobody hears of.
        logger.error({ share: result.shareId, err }, 'after-upload action failed; the share is withdrawn');
        await uploads.withdraw(id, result);
        throw err instanceof SiegelError ? err : new SiegelError('INTERNAL', `after the upload: ${errorMessage(err)}`, { cause: err });
      }
    }
  };
  /** Catalog errors become their status; other errors a logged 500; tus' own error objects are left to it (undefined). */
  const answerFor = (err: unknown): TusAnswer | undefined => {
    if (err instanceof SiegelError) {
      const status = httpStatusFor(err);
      if (status >= 500 && status !== 507) logger.error({ code: err.code, err }, 'upload failed');
      else logger.info({ code: err.code, detail: err.message }, 'upload refused');
      return { status, body: `${err.code}\n` };
    }
    if (err instanceof Error) {
      logger.error({ err }, 'upload failed');
      return { status: 500, body: 'Internal error\n' };
    }
    return undefined;
  };
  const locker = options.locker ?? new MemoryLocker();
  const server = new Server({
    path: options.path,
    datastore: new EncryptedUploadStore(uploads),
    locker,
    maxSize: options.maxSize,
    // Same origin only: no Access-Control-Allow-Origin at all.
    allowedOrigins: [],
    // Relative to the endpoint the client posted to (the upload-request endpoints differ per request).
    generateUrl: (req, { id }) => `${new URL(req.url).pathname.replace(/\/+$/, '')}/${id}`,
    namingFunction: () => newSecret(),
    onUploadCreate: async (req: Request, upload: Upload) => {
      const binding = bindingOf(req);
      const metadata = upload.metadata ?? {};
      if (upload.size === undefined) throw { status_code: 400, body: 'Upload-Length required\n' };
      await uploads.create({
        token: upload.id,
        owner: binding.owner,
        size: upload.size,
        options: binding.options(metadata),
        ...(binding.requestId !== undefined ? { requestId: binding.requestId } : {}),
        ...(binding.clientIp !== undefined ? { clientIp: binding.clientIp } : {}),
      });
      return {};
    },
    onUploadFinish: async (req: Request, upload: Upload) => {
      await finishUpload(upload.id, bindingOf(req));
      return {};
    },
    onResponseError: (_req, err) => {
      const answer = answerFor(err);
      return answer === undefined ? undefined : { status_code: answer.status, body: answer.body };
    },
  });
  return {
    async handle(req, res, binding) {
      const id = req.method === 'PATCH' ? uploadIdOf(req) : undefined;
      if (id !== undefined) {
        await handleTusPatch(req, res, id, {
          uploads,
          locker,
          answerFor: (err) => answerFor(err) ?? tusAnswer(err),
          finished: (upload) => finishUpload(upload, binding),
        });
        return;
      }
      bindings.set(req, binding);
      await server.handle(req, res);
    },
  };
}

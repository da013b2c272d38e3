/**
 * The one definition of a share's state; SqliteTransferStore's SQL
 * (activeBytes, countDownload, sweepCandidates) says the same in SQL and
 * the conformance suite checks that the two agree.
 */
import type { ShareRecord } from './transfer-store.js';
import type { ShareInfo, ShareState } from './types.js';

/** Revocation wins over everything, then an exhausted limit, then expiry. */
export function shareState(record: ShareRecord, now: Date): ShareState {
  if (record.revokedAt !== null) return 'revoked';
  if (record.maxDownloads !== null && record.downloads >= record.maxDownloads) return 'exhausted';
  if (record.expiresAt.getTime() <= now.getTime()) return 'expired';
  // A blob deleted by other means (an administrator, a failed scan) is gone as well.
  if (record.blobDeletedAt !== null) return 'expired';
  return 'active';
}

export function shareInfo(record: ShareRecord, now: Date): ShareInfo {
  return {
    id: record.id,
    owner: record.owner,
    fileName: record.fileName,
    contentType: record.contentType,
    size: record.size,
    sha256: record.sha256,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    downloads: record.downloads,
    ...(record.maxDownloads === null ? {} : { maxDownloads: record.maxDownloads }),
    passwordRequired: record.passwordHash !== null,
    origin: record.origin,
    state: shareState(record, now),
  };
}

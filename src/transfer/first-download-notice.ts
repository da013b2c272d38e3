/**
 * The mail an owner gets when a shared file is downloaded for the first
 * time. It names the file, when and from where, never the link: the mail
 * may be read by more people than the link was meant for.
 */
import type { ShareRecord } from './transfer-store.js';

export function firstDownloadNotice(record: ShareRecord, at: Date, clientIp: string | undefined): { to: string; subject: string; text: string } {
  const when = `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
  const from = clientIp === undefined ? '' : ` from ${clientIp}`;
  const limit = record.maxDownloads === null ? '' : ` (limit: ${record.maxDownloads} downloads)`;
  return {
    to: record.owner,
    subject: `Downloaded: ${record.fileName}`,
    text: [
      `Your shared file "${record.fileName}" (${record.size} bytes) was downloaded for the first time on ${when}${from}.`,
      '',
      `Share ID: ${record.id}`,
      `SHA-256:  ${record.sha256}`,
      `The link stays valid until ${record.expiresAt.toISOString().slice(0, 19).replace('T', ' ')} UTC${limit}.`,
      `To revoke it: siegel files revoke ${record.id}`,
      '',
      '-- ',
      'Siegel large-file exchange (automatic message)',
    ].join('\n'),
  };
}

/**
 * The daily mail to enrollment.adminAddress about identities that expire
 * soon (or have expired) without a renewal: German first, then English,
 * one entry per identity, and what to do. Plain text, no secrets: mailbox,
 * role, subject, serial and dates are public certificate data.
 */
import { DAY_MS, type IdentityLifecycle } from './identity-status.js';

export interface ExpiryDigest {
  readonly subject: string;
  readonly text: string;
}

const ROLE_DE: Record<string, string> = { sign: 'Signatur', encrypt: 'Verschlüsselung', both: 'Signatur und Verschlüsselung' };
const ROLE_EN: Record<string, string> = { sign: 'signing', encrypt: 'encryption', both: 'signing and encryption' };

/** `expiring` are lifecycles with expiring = true (identity-status.ts); never called with none. */
export function expiryDigest(expiring: readonly IdentityLifecycle[], warningMs: number): ExpiryDigest {
  const count = expiring.length;
  const warningDays = Math.round(warningMs / DAY_MS);
  const sorted = [...expiring].sort((a, b) => (a.msLeft ?? 0) - (b.msLeft ?? 0) || a.identity.mailbox.localeCompare(b.identity.mailbox));
  const subject = `Siegel: ${count} ${count === 1 ? 'Zertifikat läuft ab' : 'Zertifikate laufen ab'} / ${count} ${count === 1 ? 'certificate expiring' : 'certificates expiring'}`;
  const german = [
    'Guten Tag,',
    '',
    `${count === 1 ? 'dieses Zertifikat' : 'diese Zertifikate'} von Siegel ${count === 1 ? 'läuft' : 'laufen'} in den nächsten ${warningDays} Tagen ab oder ${count === 1 ? 'ist' : 'sind'} bereits abgelaufen, und noch ist kein Nachfolger eingespielt:`,
    '',
    ...sorted.flatMap((entry) => entryLines(entry, 'de')),
    'Was zu tun ist: Für jedes Postfach rechtzeitig ein neues Zertifikat beantragen',
    '(siegel enroll request --mailbox ADRESSE) und das ausgestellte Zertifikat mit',
    'siegel enroll import --mailbox ADRESSE --cert DATEI einspielen, oder eine neue',
    'PKCS#12-Datei mit siegel enroll import --mailbox ADRESSE --p12 DATEI.',
    'Das neue Zertifikat wird ab seinem Gültigkeitsbeginn zum Signieren verwendet;',
    'der alte Schlüssel bleibt zum Entschlüsseln älterer Nachrichten erhalten.',
    'Überblick: siegel certs list. Ohne gültiges Zertifikat verlässt die Post',
    'eines Postfachs Siegel nicht mehr signiert.',
  ];
  const english = [
    'Hello,',
    '',
    `${count === 1 ? 'this Siegel certificate expires' : 'these Siegel certificates expire'} within the next ${warningDays} days or ${count === 1 ? 'has' : 'have'} already expired, and no successor has been imported yet:`,
    '',
    ...sorted.flatMap((entry) => entryLines(entry, 'en')),
    'What to do: request a new certificate for each mailbox in time',
    '(siegel enroll request --mailbox ADDRESS) and import the issued certificate',
    'with siegel enroll import --mailbox ADDRESS --cert FILE, or import a new',
    'PKCS#12 file with siegel enroll import --mailbox ADDRESS --p12 FILE.',
    'The new certificate signs from its notBefore date on; the old key stays to',
    'decrypt older messages. Overview: siegel certs list. Without a valid',
    'certificate, mail of a mailbox no longer leaves Siegel signed.',
  ];
  const text = [...german, '', '-- English --', '', ...english, '', '-- ', 'Siegel (automatische Nachricht / automatic message)', ''].join('\n');
  return { subject, text };
}

function entryLines({ identity, msLeft }: IdentityLifecycle, language: 'de' | 'en'): string[] {
  const notAfter = identity.notAfter as Date;
  const expired = (msLeft ?? 0) < 0;
  const days = Math.floor(Math.abs(msLeft ?? 0) / DAY_MS);
  const date = `${notAfter.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  if (language === 'de') {
    const left = expired ? `seit ${days} ${days === 1 ? 'Tag' : 'Tagen'} abgelaufen` : `noch ${days} ${days === 1 ? 'Tag' : 'Tage'}`;
    return [
      `- ${identity.mailbox} (${ROLE_DE[identity.role] ?? identity.role})`,
      `  Inhaber:      ${identity.subject ?? '-'}`,
      `  Seriennummer: ${identity.serial ?? '-'}`,
      `  Gültig bis:   ${date} (${left})`,
      '',
    ];
  }
  const left = expired ? `expired ${days} ${days === 1 ? 'day' : 'days'} ago` : `${days} ${days === 1 ? 'day' : 'days'} left`;
  return [
    `- ${identity.mailbox} (${ROLE_EN[identity.role] ?? identity.role})`,
    `  Subject:      ${identity.subject ?? '-'}`,
    `  Serial:       ${identity.serial ?? '-'}`,
    `  Expires:      ${date} (${left})`,
    '',
  ];
}

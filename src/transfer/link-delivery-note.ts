/**
 * The texts of secure link delivery (onMissingCertificate: link): the
 * notice the recipient gets instead of the message, and the mail that gives
 * the sender the password to pass on by another channel. The recipient's
 * language is unknown, so the notice says it in German first, then in
 * English (as the offload note does); times in UTC.
 */
import { bilingualHtml, bilingualText, escapeHtml, formatExpiry, type Language } from './bilingual-note.js';

export interface LinkNotice {
  /** The sender as shown (the From address). */
  readonly sender: string;
  readonly url: string;
  readonly expiresAt: Date;
}

/** Prefix of the notice's Subject, so the recipient sees at once that this is not the message itself. */
export const NOTICE_SUBJECT_PREFIX = '[Sichere Nachricht] ';


const WORDING: Record<Language, { readonly sentence: (n: LinkNotice) => string[]; readonly link: string }> = {
  de: {
    sentence: (n) => [
      `${n.sender} hat Ihnen eine vertrauliche Nachricht gesendet. Sie liegt verschlüsselt zum Abruf bereit:`,
      `Das Passwort erhalten Sie getrennt von dieser E-Mail vom Absender (zum Beispiel telefonisch).`,
      `Der Link ist gültig bis ${formatExpiry(n.expiresAt, 'de')}.`,
    ],
    link: 'Link',
  },
  en: {
    sentence: (n) => [
      `${n.sender} sent you a confidential message. It is stored encrypted for you to open:`,
      `The password reaches you separately from this e-mail, from the sender (by phone, for example).`,
      `The link expires on ${formatExpiry(n.expiresAt, 'en')}.`,
    ],
    link: 'Link',
  },
};

/** The text/plain notice (LF line endings; the caller encodes it). */
export function linkNoticeText(notice: LinkNotice): string {
  const section = (language: Language): string => {
    const [intro, password, expiry] = WORDING[language].sentence(notice);
    return [intro, '', notice.url, '', password, expiry].join('\n');
  };
  return bilingualText(section);
}

/** The text/html notice: a small self-contained document, no external resources. */
export function linkNoticeHtml(notice: LinkNotice): string {
  const href = escapeHtml(notice.url);
  const section = (language: Language): string => {
    const [intro, password, expiry] = WORDING[language].sentence(notice).map(escapeHtml);
    return `<div lang="${language}">\n<p>${intro}</p>\n<p><a href="${href}">${href}</a></p>\n<p>${password}</p>\n<p>${expiry}</p>\n</div>`;
  };
  return bilingualHtml('Vertrauliche Nachricht / Confidential message', section);
}

/** The mail to the sender: the password, to be passed on by phone or another channel, never by e-mail. */
export function passwordMail(input: { recipients: readonly string[]; subject: string; password: string; expiresAt: Date }): { subject: string; text: string } {
  const to = input.recipients.join(', ');
  const wording: Record<Language, readonly [string, string, string]> = {
    de: [
      `Ihre Nachricht „${input.subject}“ an ${to} wurde als sicherer Link zugestellt, weil kein Zertifikat für die Verschlüsselung vorliegt.`,
      'Bitte geben Sie dem Empfänger dieses Passwort telefonisch oder auf einem anderen Weg weiter, nicht per E-Mail:',
      `Der Link ist gültig bis ${formatExpiry(input.expiresAt, 'de')}.`,
    ],
    en: [
      `Your message "${input.subject}" to ${to} was sent as a secure link, as no certificate for encryption is known.`,
      'Please pass this password to the recipient by phone or another channel, not by e-mail:',
      `The link expires on ${formatExpiry(input.expiresAt, 'en')}.`,
    ],
  };
  const text = bilingualText((language) => {
    const [sent, pass, expiry] = wording[language];
    return [sent, pass, '', `    ${input.password}`, '', expiry].join('\n');
  });
  return { subject: `Passwort für Ihre sichere Nachricht / Password for your secure message: ${input.subject}`, text };
}

/**
 * The pages of a download link (/d/<token>) in German and English. The
 * not-found page is the same for malformed and unknown tokens, and neither
 * it nor the gone page says anything about other links.
 */
import type { ShareInfo } from '../transfer/types.js';
import { csrfField } from './csrf.js';
import { formatDateTime, formatInteger, formatSize } from './format.js';
import { defineMessages, type Lang } from './i18n.js';
import { html, SafeHtml } from './html.js';
import type { PageContent } from './respond.js';

const text = defineMessages({
  de: {
    downloadTitle: 'Datei herunterladen',
    intro: 'Ihnen wurde eine Datei bereitgestellt. Sie wird verschlüsselt übertragen.',
    fileName: 'Dateiname',
    size: 'Größe',
    sizeValue: (human: string, exact: string) => `${human} (${exact} Bytes)`,
    sha256: 'SHA-256',
    expires: 'Gültig bis',
    download: 'Herunterladen',
    downloadLabel: (name: string) => `${name} herunterladen`,
    checksumHint: 'Mit der SHA-256-Prüfsumme können Sie prüfen, ob die Datei unverändert angekommen ist.',
    passwordTitle: 'Passwort erforderlich',
    passwordIntro: 'Diese Datei ist mit einem Passwort geschützt. Sie haben es vom Absender auf einem anderen Weg erhalten.',
    passwordLabel: 'Passwort',
    passwordSubmit: 'Weiter',
    passwordWrong: 'Das Passwort ist nicht richtig. Bitte versuchen Sie es erneut.',
    passwordEmpty: 'Bitte geben Sie das Passwort ein.',
    errorPrefix: 'Fehler:',
    lockedTitle: 'Zu viele Versuche',
    lockedText: 'Nach zu vielen falschen Passwörtern ist dieser Link vorübergehend gesperrt. Bitte versuchen Sie es später erneut.',
    formExpiredTitle: 'Formular abgelaufen',
    formExpiredText: 'Das Formular konnte nicht überprüft werden. Bitte öffnen Sie den Link erneut und geben Sie das Passwort noch einmal ein.',
    backToLink: 'Zurück zum Link',
    notFoundTitle: 'Link nicht gefunden',
    notFoundText: 'Unter dieser Adresse ist keine Datei zu finden. Bitte prüfen Sie, ob Sie den Link vollständig übernommen haben, oder fragen Sie beim Absender nach.',
    goneTitle: 'Link nicht mehr gültig',
    goneText: 'Dieser Link ist abgelaufen, wurde zurückgezogen oder wurde so oft verwendet wie vorgesehen. Die Datei ist nicht mehr abrufbar. Bitte fragen Sie beim Absender nach.',
    rangeTitle: 'Bereich nicht verfügbar',
    rangeText: 'Der angeforderte Teil der Datei existiert nicht. Bitte laden Sie die Datei vollständig neu herunter.',
  },
  en: {
    downloadTitle: 'Download file',
    intro: 'A file has been shared with you. It is transferred encrypted.',
    fileName: 'File name',
    size: 'Size',
    sizeValue: (human: string, exact: string) => `${human} (${exact} bytes)`,
    sha256: 'SHA-256',
    expires: 'Available until',
    download: 'Download',
    downloadLabel: (name: string) => `Download ${name}`,
    checksumHint: 'The SHA-256 checksum lets you check that the file arrived unchanged.',
    passwordTitle: 'Password required',
    passwordIntro: 'This file is protected by a password. The sender gave it to you by another channel.',
    passwordLabel: 'Password',
    passwordSubmit: 'Continue',
    passwordWrong: 'The password is not correct. Please try again.',
    passwordEmpty: 'Please enter the password.',
    errorPrefix: 'Error:',
    lockedTitle: 'Too many attempts',
    lockedText: 'After too many wrong passwords this link is locked for a while. Please try again later.',
    formExpiredTitle: 'Form expired',
    formExpiredText: 'The form could not be verified. Please open the link again and enter the password once more.',
    backToLink: 'Back to the link',
    notFoundTitle: 'Link not found',
    notFoundText: 'There is no file at this address. Please check that you copied the complete link, or ask the sender.',
    goneTitle: 'Link no longer valid',
    goneText: 'This link has expired, was withdrawn, or has been used as often as intended. The file can no longer be downloaded. Please ask the sender.',
    rangeTitle: 'Range not available',
    rangeText: 'The requested part of the file does not exist. Please download the whole file again.',
  },
});

export function linkPath(token: string): string {
  return `/d/${token}`;
}

export function downloadPage(lang: Lang, token: string, info: ShareInfo, timeZone?: string): PageContent {
  const t = text[lang];
  return {
    title: t.downloadTitle,
    body: html`<p>${t.intro}</p>
<dl class="file-details">
<dt>${t.fileName}</dt><dd>${info.fileName}</dd>
<dt>${t.size}</dt><dd>${t.sizeValue(formatSize(info.size, lang), formatInteger(info.size, lang))}</dd>
<dt>${t.sha256}</dt><dd class="hash">${info.sha256}</dd>
<dt>${t.expires}</dt><dd><time datetime="${info.expiresAt.toISOString()}">${formatDateTime(info.expiresAt, lang, timeZone)}</time></dd>
</dl>
<p><a class="button" href="${linkPath(token)}/download" download aria-label="${t.downloadLabel(info.fileName)}">${t.download}</a></p>
<p class="hint">${t.checksumHint}</p>`,
  };
}

export type PasswordProblem = 'wrong' | 'empty' | undefined;

export function passwordPage(lang: Lang, token: string, csrfToken: string, problem: PasswordProblem): PageContent {
  const t = text[lang];
  const message = problem === 'wrong' ? t.passwordWrong : problem === 'empty' ? t.passwordEmpty : undefined;
  const describedBy = message ? new SafeHtml(' aria-describedby="password-error" aria-invalid="true"') : '';
  return {
    title: t.passwordTitle,
    body: html`<p>${t.passwordIntro}</p>
<form method="post" action="${linkPath(token)}" novalidate>
<input type="hidden" name="${csrfField}" value="${csrfToken}">
<label for="password">${t.passwordLabel}</label>
${message ? html`<p id="password-error" class="error" role="alert"><span class="visually-prefix">${t.errorPrefix}</span> ${message}</p>` : ''}
<input type="password" id="password" name="password" autocomplete="current-password" required${describedBy}${message ? new SafeHtml(' autofocus') : ''}>
<button type="submit">${t.passwordSubmit}</button>
</form>`,
  };
}

function simplePage(title: string, paragraph: string, back?: { href: string; label: string }): PageContent {
  return { title, body: html`<p>${paragraph}</p>${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}` };
}

export const notFoundPage = (lang: Lang): PageContent => simplePage(text[lang].notFoundTitle, text[lang].notFoundText);
export const gonePage = (lang: Lang): PageContent => simplePage(text[lang].goneTitle, text[lang].goneText);
export const lockedPage = (lang: Lang): PageContent => simplePage(text[lang].lockedTitle, text[lang].lockedText);
export const rangePage = (lang: Lang, token: string): PageContent =>
  simplePage(text[lang].rangeTitle, text[lang].rangeText, { href: linkPath(token), label: text[lang].backToLink });
export const formExpiredPage = (lang: Lang, token: string): PageContent =>
  simplePage(text[lang].formExpiredTitle, text[lang].formExpiredText, { href: linkPath(token), label: text[lang].backToLink });

/**
 * The staff area's pages (German and English). Forms label every field,
 * tie error text to its field (aria-describedby, aria-invalid), and post
 * with a CSRF token; upload progress is a <progress> element plus a live
 * region, driven by /static/staff-upload.js (no inline script).
 */
import type { ShareInfo } from '../../transfer/types.js';
import type { UploadRequestRecord } from '../../transfer/staff-records.js';
import type { UploadResult } from '../../transfer/uploads.js';
import { csrfField } from '../csrf.js';
import { formatDateTime, formatInteger, formatSize } from '../format.js';
import { html, SafeHtml } from '../html.js';
import type { Lang } from '../i18n.js';
import type { PageContent } from '../respond.js';
import { staffText } from './messages.js';

export interface StaffFrame {
  readonly address: string;
  /** CSRF token for the sign-out form. */
  readonly signOutCsrf: string;
}

function staffNav(lang: Lang, frame: StaffFrame): SafeHtml {
  const t = staffText[lang];
  return html`<nav class="staff-nav" aria-label="${t.staffNav}">
<ul>
<li><a href="/staff">${t.homeLink}</a></li>
<li><a href="/staff/upload">${t.uploadLink}</a></li>
<li><a href="/staff/requests">${t.requestsLink}</a></li>
</ul>
<form method="post" action="/staff/sign-out" class="inline-form">
<input type="hidden" name="${csrfField}" value="${frame.signOutCsrf}">
<span class="hint">${t.signedInAs(frame.address)}</span>
<button type="submit" class="secondary">${t.signOut}</button>
</form>
</nav>`;
}

function fieldError(id: string, lang: Lang, message: string | undefined): SafeHtml | '' {
  return message ? html`<p id="${id}" class="error"><span class="visually-prefix">${staffText[lang].errorPrefix}</span> ${message}</p>` : '';
}

function invalidAttrs(id: string, message: string | undefined): SafeHtml | '' {
  return message ? new SafeHtml(` aria-describedby="${id}" aria-invalid="true" autofocus`) : '';
}

export function signInPage(lang: Lang, csrf: string, address: string, problem?: 'invalid'): PageContent {
  const t = staffText[lang];
  const error = problem === 'invalid' ? t.addressInvalid : undefined;
  return {
    title: t.signInTitle,
    body: html`<p>${t.signInIntro}</p>
<form method="post" action="/staff/sign-in" novalidate>
<input type="hidden" name="${csrfField}" value="${csrf}">
<label for="address">${t.addressLabel}</label>
${fieldError('address-error', lang, error)}
<input type="email" id="address" name="address" autocomplete="email" required value="${address}"${invalidAttrs('address-error', error)}>
<button type="submit">${t.signInSubmit}</button>
</form>`,
  };
}

export function simpleStaffPage(title: string, paragraph: string, back?: { href: string; label: string }): PageContent {
  return { title, body: html`<p>${paragraph}</p>${back ? html`<p><a href="${back.href}">${back.label}</a></p>` : ''}` };
}

export const linkSentPage = (lang: Lang): PageContent => simpleStaffPage(staffText[lang].linkSentTitle, staffText[lang].linkSentText);
export const tooManyPage = (lang: Lang): PageContent => simpleStaffPage(staffText[lang].tooManyTitle, staffText[lang].tooManyText);
export const linkInvalidPage = (lang: Lang): PageContent =>
  simpleStaffPage(staffText[lang].linkInvalidTitle, staffText[lang].linkInvalidText, { href: '/staff/sign-in', label: staffText[lang].requestNewLink });
export const formExpiredPage = (lang: Lang, back: string): PageContent =>
  simpleStaffPage(staffText[lang].formExpiredTitle, staffText[lang].formExpiredText, { href: back, label: staffText[lang].back });
export const requestGonePage = (lang: Lang): PageContent => simpleStaffPage(staffText[lang].requestGoneTitle, staffText[lang].requestGoneText);

export function confirmPage(lang: Lang, action: string, csrf: string): PageContent {
  const t = staffText[lang];
  return {
    title: t.confirmTitle,
    body: html`<p>${t.confirmText}</p>
<form method="post" action="${action}">
<input type="hidden" name="${csrfField}" value="${csrf}">
<button type="submit">${t.confirmSubmit}</button>
</form>`,
  };
}

export function homePage(lang: Lang, frame: StaffFrame, shares: readonly ShareInfo[], revokeCsrf: (id: string) => string, notice?: string): PageContent {
  const t = staffText[lang];
  const rows = shares.map(
    (share) => html`<tr>
<td>${share.fileName}</td>
<td>${formatSize(share.size, lang)}</td>
<td><time datetime="${share.expiresAt.toISOString()}">${formatDateTime(share.expiresAt, lang)}</time></td>
<td>${formatInteger(share.downloads, lang)}${share.maxDownloads !== undefined ? ` / ${formatInteger(share.maxDownloads, lang)}` : ''}</td>
<td>${t[`state_${share.state}`]}</td>
<td>${share.state === 'active'
      ? html`<form method="post" action="/staff/shares/${share.id}/revoke" class="inline-form">
<input type="hidden" name="${csrfField}" value="${revokeCsrf(share.id)}">
<button type="submit" class="secondary" aria-label="${t.revokeLabel(share.fileName)}">${t.revoke}</button>
</form>`
      : ''}</td>
</tr>`,
  );
  return {
    title: t.homeTitle,
    body: html`${staffNav(lang, frame)}
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<p><a class="button" href="/staff/upload">${t.uploadLink}</a></p>
${shares.length === 0
      ? html`<p>${t.noShares}</p>`
      : html`<div class="table-wrap"><table>
<caption>${t.sharesCaption}</caption>
<thead><tr><th scope="col">${t.colName}</th><th scope="col">${t.colSize}</th><th scope="col">${t.colExpires}</th><th scope="col">${t.colDownloads}</th><th scope="col">${t.colState}</th><th scope="col">${t.colAction}</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`}`,
  };
}

/** Expiry choices in days: the usual steps up to largeFiles.maxExpiry (and the default, if it is not one of them). */
export function expiryChoices(defaultExpiry: number, maxExpiry: number): { days: number[]; chosen: number } {
  const day = 86_400_000;
  const maxDays = Math.max(1, Math.floor(maxExpiry / day));
  const chosen = Math.min(maxDays, Math.max(1, Math.round(defaultExpiry / day)));
  const days = [...new Set([1, 3, 7, 14, 30, 60, 90, 180, 365, chosen].filter((d) => d <= maxDays))].sort((a, b) => a - b);
  return { days, chosen };
}

function expirySelect(lang: Lang, choices: { days: number[]; chosen: number }): SafeHtml {
  const t = staffText[lang];
  const options = choices.days.map((d) => html`<option value="${d}"${d === choices.chosen ? new SafeHtml(' selected') : ''}>${t.days(d)}</option>`);
  return html`<label for="expires">${t.expiryLabel}</label>
<select id="expires" name="expires">${options}</select>`;
}

/** The progress bar, its live region and the error area shared by both upload pages. */
function progressBlock(lang: Lang): SafeHtml {
  const t = staffText[lang];
  return html`<div class="upload-progress" hidden>
<label for="progress">${t.progressLabel}</label>
<progress id="progress" max="100" value="0" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"></progress>
<p id="progress-text" role="status" aria-live="polite"></p>
</div>
<p id="upload-error" class="error" role="alert" tabindex="-1" hidden></p>
<noscript><p class="error">${t.noScript}</p></noscript>`;
}

/** Messages the upload script shows, handed over as data attributes (no inline script). */
function scriptTexts(lang: Lang): SafeHtml {
  const t = staffText[lang];
  return html` data-text-missing="${t.fileMissing}" data-text-failed="${t.uploadFailed}" data-text-too-large="${t.uploadTooLarge}" data-text-no-space="${t.uploadNoSpace}" data-text-done="${t.uploadDone}" data-text-resuming="${t.resuming}" data-text-max-downloads="${t.maxDownloadsInvalid}" data-text-show-link="${t.showLink}"`;
}

export function uploadPage(lang: Lang, frame: StaffFrame, csrf: string, choices: { days: number[]; chosen: number }): PageContent {
  const t = staffText[lang];
  return {
    title: t.uploadTitle,
    body: html`${staffNav(lang, frame)}
<p>${t.uploadIntro}</p>
<form id="upload-form" class="upload-form" data-endpoint="/staff/tus" data-csrf="${csrf}" data-done="/staff/uploads/" data-lang="${lang}"${scriptTexts(lang)} novalidate>
<label for="file">${t.fileLabel}</label>
<p id="file-error" class="error" hidden></p>
<input type="file" id="file" name="file" required>
${expirySelect(lang, choices)}
<label for="password">${t.passwordLabel}</label>
<p id="password-hint" class="hint">${t.passwordHint}</p>
<input type="password" id="password" name="password" autocomplete="new-password" aria-describedby="password-hint">
<label for="max-downloads">${t.maxDownloadsLabel}</label>
<p id="max-downloads-error" class="error" hidden></p>
<input type="number" id="max-downloads" name="maxDownloads" min="1" max="1000" step="1" inputmode="numeric">
<button type="submit">${t.uploadSubmit}</button>
</form>
${progressBlock(lang)}`,
  };
}

export function uploadedPage(lang: Lang, frame: StaffFrame, result: UploadResult): PageContent {
  const t = staffText[lang];
  return {
    title: t.uploadedTitle,
    body: html`${staffNav(lang, frame)}
<p>${t.uploadedIntro}</p>
<dl class="file-details">
<dt>${t.colName}</dt><dd>${result.fileName}</dd>
<dt>${t.colSize}</dt><dd>${formatSize(result.size, lang)}</dd>
<dt>${t.sha256}</dt><dd class="hash">${result.sha256}</dd>
<dt>${t.colExpires}</dt><dd><time datetime="${result.expiresAt.toISOString()}">${formatDateTime(result.expiresAt, lang)}</time></dd>
<dt>${t.linkLabel}</dt><dd><a id="share-link" href="${result.url}">${result.url}</a></dd>
</dl>
<p><a href="/staff/upload">${t.uploadAnother}</a></p>`,
  };
}

function requestState(t: (typeof staffText)['de'], request: UploadRequestRecord, now: Date): string {
  if (request.closedAt) return t.requestClosed;
  return request.expiresAt <= now ? t.requestExpired : t.requestOpen;
}

export interface RequestForm {
  readonly partner: string;
  readonly note: string;
  readonly problem?: 'partner' | 'note';
}

export function requestsPage(
  lang: Lang,
  frame: StaffFrame,
  csrf: string,
  choices: { days: number[]; chosen: number },
  requests: readonly UploadRequestRecord[],
  closeCsrf: (id: string) => string,
  now: Date,
  form: RequestForm = { partner: '', note: '' },
): PageContent {
  const t = staffText[lang];
  const partnerError = form.problem === 'partner' ? t.addressInvalid : undefined;
  const noteError = form.problem === 'note' ? t.noteTooLong : undefined;
  const rows = requests.map((request) => {
    const open = !request.closedAt && request.expiresAt > now;
    const what = request.partner ?? formatDateTime(request.createdAt, lang);
    return html`<tr>
<td>${request.partner ?? '–'}</td>
<td>${request.note ?? ''}</td>
<td><time datetime="${request.expiresAt.toISOString()}">${formatDateTime(request.expiresAt, lang)}</time></td>
<td>${formatInteger(request.files, lang)}</td>
<td>${requestState(t, request, now)}</td>
<td>${open
      ? html`<form method="post" action="/staff/requests/${request.id}/close" class="inline-form">
<input type="hidden" name="${csrfField}" value="${closeCsrf(request.id)}">
<button type="submit" class="secondary" aria-label="${t.closeLabel(what)}">${t.close}</button>
</form>`
      : ''}</td>
</tr>`;
  });
  return {
    title: t.requestsTitle,
    body: html`${staffNav(lang, frame)}
<p>${t.requestsIntro}</p>
<form method="post" action="/staff/requests" novalidate>
<input type="hidden" name="${csrfField}" value="${csrf}">
<label for="partner">${t.partnerLabel}</label>
${fieldError('partner-error', lang, partnerError)}
<input type="email" id="partner" name="partner" autocomplete="off" value="${form.partner}"${invalidAttrs('partner-error', partnerError)}>
<label for="note">${t.noteLabel}</label>
${fieldError('note-error', lang, noteError)}
<textarea id="note" name="note" rows="3" maxlength="1000"${invalidAttrs('note-error', noteError)}>${form.note}</textarea>
${expirySelect(lang, choices)}
<button type="submit">${t.requestSubmit}</button>
</form>
${requests.length === 0
      ? html`<p>${t.noRequests}</p>`
      : html`<div class="table-wrap"><table>
<caption>${t.requestsCaption}</caption>
<thead><tr><th scope="col">${t.colPartner}</th><th scope="col">${t.colNote}</th><th scope="col">${t.colExpires}</th><th scope="col">${t.colFiles}</th><th scope="col">${t.colState}</th><th scope="col">${t.colAction}</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`}`,
  };
}

export function requestCreatedPage(lang: Lang, frame: StaffFrame, url: string, expiresAt: Date): PageContent {
  const t = staffText[lang];
  return {
    title: t.requestCreatedTitle,
    body: html`${staffNav(lang, frame)}
<p>${t.requestCreatedIntro}</p>
<dl class="file-details">
<dt>${t.linkLabel}</dt><dd><a id="request-link" href="${url}">${url}</a></dd>
<dt>${t.colExpires}</dt><dd><time datetime="${expiresAt.toISOString()}">${formatDateTime(expiresAt, lang)}</time></dd>
</dl>
<p><a href="/staff/requests">${t.requestsLink}</a></p>`,
  };
}

export function publicUploadPage(lang: Lang, token: string, request: UploadRequestRecord): PageContent {
  const t = staffText[lang];
  return {
    title: t.publicUploadTitle,
    body: html`<p>${t.publicUploadIntro(request.owner)}</p>
${request.note ? html`<h2>${t.noteFrom}</h2><blockquote class="note">${request.note}</blockquote>` : ''}
<p class="hint">${t.validUntil(formatDateTime(request.expiresAt, lang))}</p>
<form id="upload-form" class="upload-form" data-endpoint="/u/${token}/tus" data-lang="${lang}"${scriptTexts(lang)} novalidate>
<label for="file">${t.fileLabel}</label>
<p id="file-error" class="error" hidden></p>
<input type="file" id="file" name="file" required>
<button type="submit">${t.uploadSubmit}</button>
</form>
${progressBlock(lang)}
<h2>${t.sentFiles}</h2>
<ul id="sent-files" data-text-sent="${t.partnerDone('{name}')}"></ul>`,
  };
}

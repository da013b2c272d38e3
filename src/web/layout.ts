/**
 * The page frame every page shares: skip link, header with the product
 * name and a language switch, <main id="main">, footer. One stylesheet
 * (/static/siegel.css), no scripts here, nothing inline, nothing external,
 * so the strict CSP holds. Accessibility (WCAG 2.1 AA / BITV 2.0): the
 * document language is set, the skip link is the first focusable element,
 * the current language is marked with aria-current.
 */
import { escapeHtml, html, SafeHtml } from './html.js';
import { defineMessages, languages, type Lang } from './i18n.js';

export { escapeHtml, html, SafeHtml };

const text = defineMessages({
  de: {
    product: 'Siegel – sicherer Dateiaustausch',
    skip: 'Zum Inhalt springen',
    languageNav: 'Sprache',
    footer: 'Dateien werden verschlüsselt gespeichert und nach Ablauf gelöscht.',
    de: 'Deutsch',
    en: 'English',
  },
  en: {
    product: 'Siegel – secure file exchange',
    skip: 'Skip to content',
    languageNav: 'Language',
    footer: 'Files are stored encrypted and deleted when they expire.',
    de: 'Deutsch',
    en: 'English',
  },
});

export interface PageOptions {
  readonly lang: Lang;
  /** Page title (without the product name). */
  readonly title: string;
  readonly body: SafeHtml;
  /** Path of the page (without query), for the language switch. */
  readonly path: string;
  /** Extra scripts from /static/ (the staff pages' upload code); never inline. */
  readonly scripts?: readonly string[];
}

export function renderPage(options: PageOptions): string {
  const { lang, title, body, path } = options;
  const t = text[lang];
  const switcher = languages.map((other) => {
    const current = other === lang;
    return html`<li><a href="${path}?lang=${other}" hreflang="${other}" lang="${other}"${current ? new SafeHtml(' aria-current="true"') : ''}>${t[other]}</a></li>`;
  });
  const scripts = (options.scripts ?? []).map((src) => html`<script src="${src}" defer></script>`);
  return `<!DOCTYPE html>\n${html`<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} – ${t.product}</title>
<link rel="stylesheet" href="/static/siegel.css">
${scripts}
</head>
<body>
<a class="skip-link" href="#main">${t.skip}</a>
<header class="site-header">
<p class="product">${t.product}</p>
<nav aria-label="${t.languageNav}"><ul class="language-switch">${switcher}</ul></nav>
</header>
<main id="main" tabindex="-1">
<h1>${title}</h1>
${body}
</main>
<footer class="site-footer"><p>${t.footer}</p></footer>
</body>
</html>
`.value}`;
}

/**
 * The note that takes an offloaded attachment's place in the mail: file
 * name, size, SHA-256 (so the recipient can check what arrives), expiry
 * and the link. The recipient's language is unknown, so one note says it in
 * German first, then in English. Times are given in UTC: the recipient's
 * time zone is unknown too.
 */
import { bilingualHtml, bilingualText, escapeHtml, formatExpiry, type Language } from './bilingual-note.js';

export interface OffloadedFile {
  readonly fileName: string;
  /** Bytes. */
  readonly size: number;
  /** Lower-case hex. */
  readonly sha256: string;
  readonly expiresAt: Date;
  readonly url: string;
}

const UNITS = ['Bytes', 'KB', 'MB', 'GB', 'TB'];

/** "30,0 MB" / "30.0 MB": binary multiples, as the size settings (10MB = 10 MiB) count. */
export function humanSize(bytes: number, language: Language): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} ${language === 'de' ? 'Bytes' : 'bytes'}`;
  return `${value.toFixed(1).replace('.', language === 'de' ? ',' : '.')} ${UNITS[unit] as string}`;
}

/** The exact count with digit grouping: "31.457.280" / "31,457,280". */
function exactBytes(bytes: number, language: Language): string {
  const grouped = String(bytes).replace(/\B(?=(\d{3})+(?!\d))/g, language === 'de' ? '.' : ',');
  return language === 'de' ? `${grouped} Bytes` : `${grouped} bytes`;
}

/**
 * A file name as shown: control characters and bidirectional overrides
 * (which can make "gpj.exe" read as "exe.jpg") become U+FFFD.
 */
export function displayName(fileName: string): string {
  // eslint-disable-next-line no-control-regex
  const shown = fileName.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\uFFFD');
  return shown === '' ? 'Anhang / attachment' : shown;
}

interface Wording {
  readonly intro: (name: string, size: string) => string;
  readonly labels: { readonly name: string; readonly size: string; readonly expiry: string; readonly link: string };
}

const WORDING: Record<Language, Wording> = {
  de: {
    intro: (name, size) =>
      `Der Anhang „${name}“ (${size}) war zu groß für den Versand per E-Mail. Er liegt verschlüsselt zum Herunterladen bereit:`,
    labels: { name: 'Dateiname', size: 'Größe', expiry: 'Abrufbar bis', link: 'Link' },
  },
  en: {
    intro: (name, size) => `The attachment "${name}" (${size}) was too large to send by e-mail. It is stored encrypted for download:`,
    labels: { name: 'File name', size: 'Size', expiry: 'Available until', link: 'Link' },
  },
};

function rows(file: OffloadedFile, language: Language): Array<[string, string]> {
  const { labels } = WORDING[language];
  return [
    [labels.name, displayName(file.fileName)],
    [labels.size, `${humanSize(file.size, language)} (${exactBytes(file.size, language)})`],
    ['SHA-256', file.sha256],
    [labels.expiry, formatExpiry(file.expiresAt, language)],
    [labels.link, file.url],
  ];
}

/** The text/plain note (LF line endings; the caller encodes it). */
export function noteText(file: OffloadedFile): string {
  const section = (language: Language): string => {
    const intro = WORDING[language].intro(displayName(file.fileName), humanSize(file.size, language));
    return [intro, '', file.url, '', ...rows(file, language).map(([label, value]) => `${label}: ${value}`)].join('\n');
  };
  return bilingualText(section);
}

/** The text/html note: a small self-contained document, no external resources. */
export function noteHtml(file: OffloadedFile): string {
  const href = escapeHtml(file.url);
  const section = (language: Language): string => {
    const intro = WORDING[language].intro(displayName(file.fileName), humanSize(file.size, language));
    const table = rows(file, language)
      .map(([label, value]) => {
        const cell = label === WORDING[language].labels.link ? `<a href="${href}">${escapeHtml(value)}</a>` : escapeHtml(value);
        return `<tr><th scope="row" style="text-align:left;padding-right:1em">${escapeHtml(label)}</th><td style="font-family:monospace;word-break:break-all">${cell}</td></tr>`;
      })
      .join('\n');
    return `<div lang="${language}">\n<p>${escapeHtml(intro)}</p>\n<p><a href="${href}">${href}</a></p>\n<table>\n${table}\n</table>\n</div>`;
  };
  return bilingualHtml('Anhang als Link / Attachment as link', section);
}

/** Sizes and dates as the reader's language writes them. */
import type { Lang } from './i18n.js';

const locales: Record<Lang, string> = { de: 'de-DE', en: 'en-GB' };

const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte', 'terabyte'] as const;

/** "1,5 MB" / "1.5 MB" (binary multiples, as the configuration's sizes). */
export function formatSize(bytes: number, lang: Lang): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return new Intl.NumberFormat(locales[lang], {
    style: 'unit',
    unit: units[unit],
    unitDisplay: 'short',
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}

/** "1.572.864" / "1,572,864" */
export function formatInteger(value: number, lang: Lang): string {
  return new Intl.NumberFormat(locales[lang], { maximumFractionDigits: 0 }).format(value);
}

/** "7. Dezember 2026 um 14:30 MEZ" / "7 December 2026 at 14:30 CET" in the server's time zone (or the one given). */
export function formatDateTime(date: Date, lang: Lang, timeZone?: string): string {
  return new Intl.DateTimeFormat(locales[lang], { dateStyle: 'long', timeStyle: 'short', ...(timeZone ? { timeZone } : {}) }).format(date) +
    ' ' + timeZoneName(date, lang, timeZone);
}

function timeZoneName(date: Date, lang: Lang, timeZone?: string): string {
  const parts = new Intl.DateTimeFormat(locales[lang], { timeZoneName: 'short', ...(timeZone ? { timeZone } : {}) }).formatToParts(date);
  return parts.find((part) => part.type === 'timeZoneName')?.value ?? '';
}

/**
 * The frame every notice mail of the large-file exchange shares: the German
 * text first, then the English one, in a text/plain part (separated by a
 * "----" line) and a self-contained text/html document (separated by a
 * rule), so each reader finds their language without a client feature.
 */
export type Language = 'de' | 'en';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** "07.12.2026, 13:57 UTC" / "2026-12-07 13:57 UTC": unambiguous in each language (the reader's time zone is unknown). */
export function formatExpiry(date: Date, language: Language): string {
  const d = pad(date.getUTCDate());
  const m = pad(date.getUTCMonth() + 1);
  const y = date.getUTCFullYear();
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
  return language === 'de' ? `${d}.${m}.${y}, ${time}` : `${y}-${m}-${d} ${time}`;
}

/** The text/plain body (LF line endings; the caller encodes it). */
export function bilingualText(section: (language: Language) => string): string {
  return `${section('de')}\n\n----\n\n${section('en')}\n`;
}

/** The text/html body: `title` is plain text (escaped here), each section an HTML fragment. */
export function bilingualHtml(title: string, section: (language: Language) => string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="de">',
    `<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>`,
    '<body>',
    section('de'),
    '<hr>',
    section('en'),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Language choice and message tables. */
import { acceptLanguage, defineMessages } from '../../src/web/i18n.js';
import { formatDateTime, formatSize } from '../../src/web/format.js';
import { escapeHtml, html } from '../../src/web/html.js';

describe('Accept-Language', () => {
  test.each([
    ['de-DE,de;q=0.9,en;q=0.8', 'de'],
    ['en-GB,en;q=0.9', 'en'],
    ['fr-FR, en;q=0.5, de;q=0.4', 'en'],
    ['en;q=0.3, DE-at;q=0.7', 'de'],
    ['fr, *;q=0.1', 'de'],
    ['fr, it', undefined],
    ['en;q=0, de;q=0.1', 'de'],
    ['', undefined],
    [undefined, undefined],
    ['en;q=abc', 'en'],
  ])('%s -> %s', (header, expected) => {
    expect(acceptLanguage(header)).toBe(expected);
  });
});

describe('message tables', () => {
  test('both languages have the same keys; a missing one does not compile', () => {
    const table = defineMessages({
      de: { hello: 'Hallo', files: (n: number) => `${n} Dateien` },
      en: { hello: 'Hello', files: (n: number) => `${n} files` },
    });
    expect(table.en.files(2)).toBe('2 files');
    expect(table.de.hello).toBe('Hallo');
    const incomplete = defineMessages({
      de: { hello: 'Hallo', bye: 'Tschüss' },
      // @ts-expect-error -- 'bye' is missing in English: tsc --noEmit fails if this ever compiles
      en: { hello: 'Hello' },
    });
    expect(Object.keys(incomplete.en)).toEqual(['hello']);
  });
});

describe('formatting', () => {
  test('sizes and dates per language', () => {
    expect(formatSize(512, 'de')).toBe('512 Byte');
    expect(formatSize(512, 'en')).toBe('512 byte');
    expect(formatSize(10_485_760, 'de')).toBe('10 MB');
    expect(formatSize(5 * 1024 ** 3 + 1024 ** 3 / 2, 'en')).toBe('5.5 GB');
    expect(formatDateTime(new Date('2026-12-07T13:30:00Z'), 'de', 'Europe/Berlin')).toBe('7. Dezember 2026 um 14:30 MEZ');
    expect(formatDateTime(new Date('2026-12-07T13:30:00Z'), 'en', 'Europe/Berlin')).toBe('7 December 2026 at 14:30 CET');
  });

  test('escaping covers text and attributes', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\``)).toBe('&#60;a href=&#34;x&#34; onclick=&#39;y&#39;&#62;&#38;&#96;');
    expect(html`<p title="${'"><script>'}">${'<b>'}</p>`.value).toBe('<p title="&#34;&#62;&#60;script&#62;">&#60;b&#62;</p>');
  });
});

/**
 * The staff upload in a real browser: Debian's headless Chromium through
 * playwright-core signs in with the link the mail notifier delivered,
 * uploads a few MB with tus-js-client while the progress bar climbs to
 * 100 %, opens the link page and downloads the file, whose SHA-256 must
 * match, once in German and once in English (switched with the page's
 * language links). The strict CSP stays on throughout: every script is
 * served from /static.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { patternBytes } from '../web/helpers.js';
import { linkIn, mailText, startStaffTest, waitForMails, type StaffTest } from '../web/staff-helpers.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

const texts = {
  de: { linkSent: 'Bitte prüfen Sie Ihr Postfach', signIn: 'Anmelden', upload: 'Datei hochladen', submit: 'Hochladen', showLink: 'Link anzeigen', download: 'Herunterladen', shared: 'Datei bereitgestellt', address: 'Dienstliche E-Mail-Adresse', file: 'Datei' },
  en: { linkSent: 'Please check your mailbox', signIn: 'Sign in', upload: 'Upload a file', submit: 'Upload', showLink: 'Show the link', download: 'Download', shared: 'File shared', address: 'Work e-mail address', file: 'File' },
} as const;

describe('staff upload in headless Chromium', () => {
  let test: StaffTest;
  let browser: Browser;

  beforeAll(async () => {
    test = await startStaffTest();
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], headless: true });
  });

  afterAll(async () => {
    await browser?.close();
    await test?.stop();
  });

  async function run(lang: 'de' | 'en', address: string, size: number): Promise<void> {
    const t = texts[lang];
    const context = await browser.newContext({ locale: 'de-DE', acceptDownloads: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    // Every script and stylesheet must load under the CSP (the browser's own favicon probe aside).
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 404/.test(message.text())) problems.push(message.text());
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) problems.push(`${response.status()} ${response.url()}`);
    });
    try {
      await page.goto(`${test.base}/staff/sign-in`);
      expect(await page.getAttribute('html', 'lang')).toBe('de');
      if (lang === 'en') {
        await page.getByRole('link', { name: 'English' }).click();
        await page.waitForURL(/lang=en/);
      }
      expect(await page.getAttribute('html', 'lang')).toBe(lang);

      const before = test.mails().length;
      await page.getByLabel(t.address).fill(address);
      await page.getByLabel(t.address).press('Enter');
      await page.getByRole('heading', { name: t.linkSent }).waitFor();
      const mail = (await waitForMails(test, before + 1))[before]!;
      // The mail speaks the language the page was in.
      expect(mailText(mail)).toContain(lang === 'de' ? 'mit diesem Link melden Sie sich' : 'use this link to sign in');
      const link = linkIn(mailText(mail), '/staff/sign-in/');

      await page.goto(link);
      await page.getByRole('button', { name: t.signIn }).click();
      await page.waitForURL(`${test.base}/staff`);
      await page.getByRole('navigation', { name: lang === 'de' ? 'Bereich für Mitarbeitende' : 'Staff area' }).getByRole('link', { name: t.upload }).click();
      await page.waitForURL(`${test.base}/staff/upload`);

      const data = patternBytes(size, lang === 'de' ? 11 : 12);
      const fileName = lang === 'de' ? 'Bebauungsplan.pdf' : 'Site plan.pdf';
      await page.getByLabel(t.file, { exact: true }).setInputFiles({ name: fileName, mimeType: 'application/pdf', buffer: data });
      // Record every value the bar announces to assistive technology.
      await page.evaluate(() => {
        const bar = document.getElementById('progress')!;
        const seen: string[] = [];
        (window as unknown as { seen: string[] }).seen = seen;
        new MutationObserver(() => seen.push(bar.getAttribute('aria-valuenow') ?? '')).observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
      });
      await page.getByRole('button', { name: t.submit, exact: true }).click();

      // The bar climbs to 100 % and the live region says so.
      const progress = page.locator('#progress');
      await page.waitForFunction(() => document.getElementById('progress')?.getAttribute('aria-valuenow') === '100', undefined, { timeout: 30_000 });
      expect(await progress.evaluate((el) => (el as HTMLProgressElement).value)).toBe(100);
      expect(await page.locator('#progress-text').textContent()).toContain('100\u00a0%');
      expect(await page.locator('#progress-text').getAttribute('aria-live')).toBe('polite');
      const seen = (await page.evaluate(() => (window as unknown as { seen: string[] }).seen)).map(Number);
      expect(seen[seen.length - 1]).toBe(100);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      expect(await page.locator('.upload-progress').isVisible()).toBe(true);

      // Focus is on the result link: Enter opens it.
      const resultLink = page.getByRole('link', { name: t.showLink });
      expect(await resultLink.evaluate((el) => el === document.activeElement)).toBe(true);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: t.shared }).waitFor();
      const shareUrl = await page.locator('#share-link').getAttribute('href');
      expect(shareUrl).toMatch(new RegExp(`^${test.base}/d/[A-Za-z0-9_-]{43}$`));

      await page.goto(shareUrl!);
      expect(await page.locator('.file-details').textContent()).toContain(sha256(data));
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: lang === 'de' ? `${fileName} herunterladen` : `Download ${fileName}` }).click()]);
      expect(download.suggestedFilename()).toBe(fileName);
      const saved = await download.path();
      expect(sha256(readFileSync(saved))).toBe(sha256(data));
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  }

  it('signs in, uploads with progress and downloads the same bytes in German', async () => {
    await run('de', 'stadtplanung@stadt.example', 4 * 1024 * 1024 + 123);
  });

  it('does the same in English after switching with the language link', async () => {
    await run('en', 'building@stadt.example', 3 * 1024 * 1024 + 7);
  });
});

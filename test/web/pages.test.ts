/**
 * The link page over real HTTP: German and English (Accept-Language,
 * ?lang= and its cookie), the security headers, the stylesheet, and the
 * friendly 404/410 pages that do not tell which links exist.
 */
import { httpStatusFor } from '../../src/errors.js';
import { linkPathOf, patternBytes, startWebTest, type WebTest } from './helpers.js';

let web: WebTest;

beforeAll(async () => {
  web = await startWebTest();
});

afterAll(async () => {
  await web.stop();
});

async function page(path: string, headers: Record<string, string> = {}): Promise<{ response: Response; body: string }> {
  const response = await fetch(web.base + path, { headers, redirect: 'manual' });
  return { response, body: await response.text() };
}

describe('link page', () => {
  test('shows name, size, SHA-256 and expiry in German by default', async () => {
    const share = await web.share(patternBytes(1_572_864), { fileName: 'Bauplan Süd.pdf', expiresIn: 14 * 86_400_000 });
    const { response, body } = await page(linkPathOf(share));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
    expect(body).toMatch(/^<!DOCTYPE html>\n<html lang="de">/);
    expect(body).toContain('<title>Datei herunterladen – Siegel');
    expect(body).toContain('Bauplan Süd.pdf');
    expect(body).toContain('1,5 MB (1.572.864 Bytes)');
    expect(body).toContain(share.sha256);
    expect(body).toContain(`datetime="${share.expiresAt.toISOString()}"`);
    expect(body).toContain('7. Dezember 2026');
    expect(body).toContain(`href="${linkPathOf(share)}/download"`);
    expect(body).toContain('<a class="skip-link" href="#main">Zum Inhalt springen</a>');
    expect(body).toContain('<main id="main"');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  test('speaks English when Accept-Language prefers it, with locale formatting', async () => {
    const share = await web.share(patternBytes(1_572_864), { expiresIn: 14 * 86_400_000 });
    const { body } = await page(linkPathOf(share), { 'Accept-Language': 'fr-CH, en-US;q=0.8, de;q=0.5' });
    expect(body).toContain('<html lang="en">');
    expect(body).toContain('Download file');
    expect(body).toContain('1.5 MB (1,572,864 bytes)');
    expect(body).toContain('7 December 2026');
    const german = await page(linkPathOf(share), { 'Accept-Language': 'en;q=0.4, de-AT;q=0.9' });
    expect(german.body).toContain('<html lang="de">');
  });

  test('?lang= switches the language and is remembered in a cookie', async () => {
    const share = await web.share(patternBytes(10));
    const path = linkPathOf(share);
    const { response, body } = await page(`${path}?lang=en`, { 'Accept-Language': 'de' });
    expect(body).toContain('<html lang="en">');
    const setCookie = response.headers.getSetCookie().find((line) => line.startsWith('lang='));
    expect(setCookie).toMatch(/^lang=en; Max-Age=\d+; Path=\/; Expires=.*; SameSite=Lax$/);
    const remembered = await page(path, { 'Accept-Language': 'de', Cookie: 'lang=en' });
    expect(remembered.body).toContain('<html lang="en">');
    // The language switch keeps the path and marks the current language.
    expect(remembered.body).toContain(`<a href="${path}?lang=de" hreflang="de" lang="de">Deutsch</a>`);
    expect(remembered.body).toContain(`<a href="${path}?lang=en" hreflang="en" lang="en" aria-current="true">English</a>`);
    const unknownLang = await page(`${path}?lang=xx`, { 'Accept-Language': 'en' });
    expect(unknownLang.body).toContain('<html lang="en">');
    expect(unknownLang.response.headers.getSetCookie().some((line) => line.startsWith('lang='))).toBe(false);
  });

  test('every page carries the strict security headers', async () => {
    const share = await web.share(patternBytes(10));
    for (const path of [linkPathOf(share), '/d/unknown-token-aaaaaaaaaaaaaaaa', '/nowhere', '/static/siegel.css']) {
      const { response } = await page(path);
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(csp.split(';').map((d) => d.trim()).sort()).toEqual(
        ["base-uri 'none'", "connect-src 'self'", "default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "img-src 'self'", "script-src 'self'", "style-src 'self'"],
      );
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
  });

  test('pages use only the local stylesheet: no inline style or script, nothing external', async () => {
    const share = await web.share(patternBytes(10), { password: 'geheim' });
    for (const path of [linkPathOf(share), '/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
      const { body } = await page(path);
      expect(body).toContain('<link rel="stylesheet" href="/static/siegel.css">');
      expect(body).not.toMatch(/<style|style=|<script(?![^>]*src="\/static\/)|\son[a-z]+=|https?:\/\//i);
    }
  });

  test('the stylesheet is served with cache headers', async () => {
    const { response, body } = await page('/static/siegel.css');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/css/);
    expect(response.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(response.headers.get('etag')).toBeTruthy();
    expect(body).toContain(':focus-visible');
    const missing = await page('/static/../package.json');
    expect(missing.response.status).toBe(404);
  });
});

describe('links that do not work', () => {
  test('unknown and malformed tokens get the same 404 page, in both languages', async () => {
    const unknown = await page('/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    const malformed = await page('/d/%3Cscript%3E');
    const deeper = await page('/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/other');
    for (const answer of [unknown, malformed, deeper]) {
      expect(answer.response.status).toBe(404);
      expect(answer.body).toContain('Link nicht gefunden');
    }
    const main = (body: string) => body.slice(body.indexOf('<main'), body.indexOf('</main>'));
    expect(main(malformed.body)).toBe(main(unknown.body));
    const english = await page('/d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { 'Accept-Language': 'en' });
    expect(english.body).toContain('Link not found');
    expect(english.body).not.toContain('<script>');
  });

  test('expired and revoked links get 410 with a page that names no detail', async () => {
    const expiring = await web.share(patternBytes(10), { expiresIn: 60_000 });
    const revoked = await web.share(patternBytes(10));
    await web.transfer.revoke(revoked.id);
    const revokedPage = await page(linkPathOf(revoked));
    expect(revokedPage.response.status).toBe(410);
    expect(revokedPage.body).toContain('Link nicht mehr gültig');
    web.advance(120_000);
    const expiredPage = await page(linkPathOf(expiring), { 'Accept-Language': 'en' });
    expect(expiredPage.response.status).toBe(410);
    expect(expiredPage.body).toContain('Link no longer valid');
    expect(expiredPage.body).not.toContain('plan.pdf');
    const download = await page(`${linkPathOf(revoked)}/download`);
    expect(download.response.status).toBe(410);
  });

  test('other paths get a friendly 404 page without internals', async () => {
    const { response, body } = await page('/nowhere?lang=en');
    expect(response.status).toBe(404);
    expect(body).toContain('Page not found');
    expect(body).not.toMatch(/at .*\.(ts|js):\d+/);
  });
});

describe('failures inside', () => {
  test('an error in the service becomes a friendly 5xx page (status from the catalog) without internals, logged', async () => {
    const broken = await startWebTest();
    try {
      const share = await broken.share(patternBytes(10));
      await broken.transfer.close();
      // Whatever the closed service throws, the page's status is the catalog's for it.
      const thrown: unknown = await broken.transfer.lookup(share.token).then(() => undefined, (err: unknown) => err);
      expect(thrown).toBeInstanceOf(Error);
      const response = await fetch(`${broken.base}${linkPathOf(share)}?lang=en`);
      expect(response.status).toBe(httpStatusFor(thrown));
      expect(response.status).toBeGreaterThanOrEqual(500);
      const body = await response.text();
      expect(body).toMatch(/<html lang="en">[\s\S]*<h1>[A-Z][a-z ]+<\/h1>\n<p>[^<]*Please try again later\.<\/p>/);
      expect(body).not.toMatch(/Error:|node_modules|\.ts:\d+|sqlite/i);
      expect(broken.logs()).toContain('web request failed');
      expect(broken.logs()).not.toContain(share.token);
    } finally {
      await broken.stop().catch(() => undefined);
    }
  });
});

/**
 * The password flow of /d/<token>: the form first, a CSRF token bound to a
 * cookie and to the form, a grant cookie after the right password (scoped,
 * HttpOnly, SameSite=Strict, never the password), wrong passwords without
 * a count of attempts left, and the lockout page (429).
 */
import { cookieHeader, cookiesFrom, linkPathOf, patternBytes, startWebTest, type WebTest } from './helpers.js';

let web: WebTest;

beforeAll(async () => {
  web = await startWebTest({ values: { largeFiles: { passwordAttempts: 3 } } });
});

afterAll(async () => {
  await web.stop();
});

interface Form {
  readonly csrf: string;
  readonly jar: Map<string, string>;
}

async function openForm(path: string, jar = new Map<string, string>()): Promise<Form & { body: string; status: number }> {
  const response = await fetch(web.base + path, { headers: { Cookie: cookieHeader(jar) }, redirect: 'manual' });
  const body = await response.text();
  for (const [name, value] of cookiesFrom(response)) jar.set(name, value);
  const csrf = /name="csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';
  return { csrf, jar, body, status: response.status };
}

function post(path: string, fields: Record<string, string>, jar: ReadonlyMap<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(web.base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookieHeader(jar), ...headers },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

test('the right password leads through a grant cookie to the file', async () => {
  const content = patternBytes(5000);
  const share = await web.share(content, { password: 'Sommer-2026!', fileName: 'geheim.pdf' });
  const path = linkPathOf(share);
  const form = await openForm(path);
  expect(form.status).toBe(200);
  expect(form.body).toContain('<label for="password">Passwort</label>');
  expect(form.body).not.toContain('geheim.pdf');
  expect(form.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect([...form.jar.keys()]).toContain('siegel_csrf');

  // Without the grant, the download goes back to the form.
  const early = await fetch(`${web.base}${path}/download`, { redirect: 'manual' });
  expect(early.status).toBe(303);
  expect(early.headers.get('location')).toBe(path);

  const answer = await post(path, { csrf: form.csrf, password: 'Sommer-2026!' }, form.jar);
  expect(answer.status).toBe(303);
  expect(answer.headers.get('location')).toBe(path);
  const grantLine = answer.headers.getSetCookie().find((line) => line.startsWith('siegel_grant='))!;
  expect(grantLine).toMatch(new RegExp(`; Path=${path}; Expires=[^;]+; HttpOnly; SameSite=Strict$`));
  expect(grantLine).toMatch(/Max-Age=3600/);
  expect(grantLine).not.toContain('Sommer');
  expect(Buffer.from(grantLine, 'latin1').toString('base64')).not.toContain(Buffer.from('Sommer-2026!').toString('base64'));
  for (const [name, value] of cookiesFrom(answer)) form.jar.set(name, value);

  const details = await fetch(web.base + path, { headers: { Cookie: cookieHeader(form.jar) } });
  expect(await details.text()).toContain('geheim.pdf');
  const download = await fetch(`${web.base}${path}/download`, { headers: { Cookie: cookieHeader(form.jar), Range: 'bytes=100-' } });
  expect(download.status).toBe(206);
  expect(Buffer.from(await download.arrayBuffer()).equals(content.subarray(100))).toBe(true);

  // A grant for one link opens no other link, and a forged grant opens nothing.
  const other = await web.share(patternBytes(10), { password: 'Sommer-2026!' });
  const elsewhere = await fetch(`${web.base}${linkPathOf(other)}/download`, { headers: { Cookie: cookieHeader(form.jar) }, redirect: 'manual' });
  expect(elsewhere.status).toBe(303);
  const [id, expiry] = form.jar.get('siegel_grant')!.split('.');
  const forged = await fetch(`${web.base}${path}/download`, { headers: { Cookie: `siegel_grant=${id}.${Number(expiry) + 1e9}.AAAA` }, redirect: 'manual' });
  expect(forged.status).toBe(303);

  // The grant is short-lived.
  web.advance(3_600_001);
  const late = await fetch(`${web.base}${path}/download`, { headers: { Cookie: cookieHeader(form.jar) }, redirect: 'manual' });
  expect(late.status).toBe(303);
});

test('a wrong password shows an error tied to the field, without attempts left', async () => {
  const share = await web.share(patternBytes(10), { password: 'richtig' });
  const path = linkPathOf(share);
  const form = await openForm(`${path}?lang=en`);
  const answer = await post(path, { csrf: form.csrf, password: 'falsch' }, form.jar);
  expect(answer.status).toBe(401);
  const body = await answer.text();
  expect(body).toContain('<p id="password-error" class="error" role="alert">');
  expect(body).toContain('The password is not correct.');
  expect(body).toMatch(/<input type="password" id="password" name="password" autocomplete="current-password" required aria-describedby="password-error" aria-invalid="true"/);
  expect(body).not.toMatch(/attempt|remaining|left|Versuch/i);
  expect(answer.headers.getSetCookie().some((line) => line.startsWith('siegel_grant='))).toBe(false);
  const empty = await post(path, { csrf: form.csrf, password: '' }, form.jar);
  expect(empty.status).toBe(400);
  expect(await empty.text()).toContain('Please enter the password.');
});

test('posts without the right CSRF token are refused before the password is checked', async () => {
  const share = await web.share(patternBytes(10), { password: 'richtig' });
  const path = linkPathOf(share);
  const form = await openForm(path);
  const otherShare = await web.share(patternBytes(10), { password: 'richtig' });
  const otherForm = await openForm(linkPathOf(otherShare), new Map(form.jar));
  const attempts: Array<[string, Record<string, string>, Map<string, string>]> = [
    ['no token', { password: 'richtig' }, form.jar],
    ['no cookie', { csrf: form.csrf, password: 'richtig' }, new Map()],
    ['another browser\'s cookie', { csrf: form.csrf, password: 'richtig' }, new Map([['siegel_csrf', 'AAAAAAAAAAAAAAAAAAAAAAAA']])],
    ['token of another form', { csrf: otherForm.csrf, password: 'richtig' }, form.jar],
  ];
  for (const [what, fields, jar] of attempts) {
    const answer = await post(path, fields, jar);
    expect([what, answer.status]).toEqual([what, 403]);
    expect(await answer.text()).toContain('Formular abgelaufen');
    expect(answer.headers.getSetCookie().some((line) => line.startsWith('siegel_grant='))).toBe(false);
  }
  // None of these counted as a password attempt: the right password still works.
  const answer = await post(path, { csrf: form.csrf, password: 'richtig' }, form.jar);
  expect(answer.status).toBe(303);
});

test('too many wrong passwords lock the link (429) in both languages', async () => {
  const share = await web.share(patternBytes(10), { password: 'richtig' });
  const path = linkPathOf(share);
  const form = await openForm(path);
  const statuses: number[] = [];
  for (let i = 0; i < 3; i += 1) statuses.push((await post(path, { csrf: form.csrf, password: `falsch-${i}` }, form.jar)).status);
  expect(statuses.slice(0, 2)).toEqual([401, 401]);
  const locked = await post(path, { csrf: form.csrf, password: 'richtig' }, form.jar, { 'Accept-Language': 'en' });
  expect(locked.status).toBe(429);
  expect(await locked.text()).toContain('Too many attempts');
  const lockedDe = await post(path, { csrf: form.csrf, password: 'richtig' }, form.jar);
  expect(lockedDe.status).toBe(429);
  expect(await lockedDe.text()).toContain('Zu viele Versuche');
});

test('an oversized form is refused with a friendly 413 page', async () => {
  const share = await web.share(patternBytes(10), { password: 'richtig' });
  const path = linkPathOf(share);
  const form = await openForm(path);
  const answer = await post(path, { csrf: form.csrf, password: 'x'.repeat(10_000) }, form.jar);
  expect(answer.status).toBe(413);
  const body = await answer.text();
  expect(body).toContain('Zu groß');
  expect(body).not.toMatch(/PayloadTooLargeError|node_modules|at .*:\d+:\d+/);
});

test('behind an https reverse proxy the cookies are Secure and the audit log has the client address', async () => {
  const proxied = await startWebTest({ values: { web: { trustProxy: true, publicUrl: 'https://dateien.stadt.example' } } });
  try {
    const share = await proxied.share(patternBytes(10), { password: 'richtig' });
    const path = new URL(share.url).pathname;
    expect(share.url).toBe(`https://dateien.stadt.example${path}`);
    const viaProxy = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-For': '198.51.100.7' };
    const page = await fetch(proxied.base + path, { headers: viaProxy });
    const csrfLine = page.headers.getSetCookie().find((line) => line.startsWith('siegel_csrf='))!;
    expect(csrfLine).toMatch(/; Secure; SameSite=Strict$/);
    const jar = cookiesFrom(page);
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const answer = await fetch(proxied.base + path, {
      method: 'POST',
      headers: { ...viaProxy, 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookieHeader(jar) },
      body: new URLSearchParams({ csrf, password: 'falsch' }).toString(),
      redirect: 'manual',
    });
    expect(answer.status).toBe(401);
    const ok = await fetch(proxied.base + path, {
      method: 'POST',
      headers: { ...viaProxy, 'Content-Type': 'application/x-www-form-urlencoded', Cookie: cookieHeader(jar) },
      body: new URLSearchParams({ csrf, password: 'richtig' }).toString(),
      redirect: 'manual',
    });
    expect(ok.headers.getSetCookie().find((line) => line.startsWith('siegel_grant='))).toMatch(/; HttpOnly; Secure; SameSite=Strict$/);
    const audit = await proxied.transfer.audit({ shareId: share.id });
    expect(audit.find((entry) => entry.event === 'password-failed')?.clientIp).toBe('198.51.100.7');
  } finally {
    await proxied.stop();
  }
});

// The sign-in page (`/signin/{flow_id}`) and the end-user dashboard (`/app`) in real headless
// Chromium, as a person uses them: no request is made except by the page.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';
import { LAUNCH, startDemo } from './server.mjs';

let server;
let browser;

before(async () => {
  server = await startDemo();
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh browser profile with a page that records console errors and CSP violations. */
async function freshPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().includes('/api/v1/flows/')) problems.push(`${r.status()} ${r.url()}`); });
  return { context, page, problems };
}

/** RFC 6238 (SHA-1, 6 digits, 30 s), independent of the server's implementation. */
function totp(base32, now = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30000)));
  const h = createHmac('sha1', key).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

async function submit(page) {
  await page.locator('#content form button[type=submit]').click();
}

test('alice signs in to /app with her login and password and sees her authenticators', async () => {
  const { context, page, problems } = await freshPage();
  const first = await page.goto(`${server.base}/app`);
  assert.match(page.url(), /\/signin\/[^/]+$/, 'an unsigned visitor is sent to the sign-in page');
  const csp = first.headers()['content-security-policy'] ?? '';
  assert.match(csp, /script-src 'self'/, 'the sign-in page has a strict CSP');
  assert.doesNotMatch(csp, /unsafe-inline/);

  await page.locator('input[name=login]').fill('alice');
  await submit(page);
  await page.locator('input[name=password]').fill('correct-horse-battery');
  await submit(page);

  await page.waitForURL(`${server.base}/app`);
  assert.equal(await page.locator('h1').textContent(), 'Hello, Alice Example');
  assert.match(await page.locator('#login').textContent(), /alice/);
  assert.equal(await page.locator('#authenticators li[data-authenticator=totp]').count(), 1, 'her TOTP is listed');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'gh_session');
  assert.ok(session, 'a gh_session cookie is set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Lax');
  assert.deepEqual(problems, [], 'no console errors or CSP violations');
  await context.close();
});

test('a wrong password shows an error on the page and lets the person try again', async () => {
  const { context, page, problems } = await freshPage();
  await page.goto(`${server.base}/app`);
  await page.locator('input[name=login]').fill('bob');
  await submit(page);
  await page.locator('input[name=password]').fill('not-the-password');
  await submit(page);
  const message = page.locator('#messages .error');
  await message.waitFor();
  const text = await message.textContent();
  assert.ok(text.length > 0);
  assert.doesNotMatch(text, /bob/, 'the message does not echo the login');

  await page.locator('input[name=password]').fill('bob-password-123');
  await submit(page);
  await page.waitForURL(`${server.base}/app`);
  assert.match(await page.locator('#login').textContent(), /bob/);
  assert.deepEqual(problems, []);
  await context.close();
});

test('an unknown login sees the same screens as a known one (no user enumeration)', async () => {
  const screens = [];
  for (const login of ['bob', 'nobody-here']) {
    const { context, page } = await freshPage();
    await page.goto(`${server.base}/app`);
    await page.locator('input[name=login]').fill(login);
    await submit(page);
    await page.locator('input[name=password]').waitFor();
    const afterIdentify = await page.locator('#content').innerText();
    await page.locator('input[name=password]').fill('wrong-password-1');
    await submit(page);
    await page.locator('#messages .error').waitFor();
    const error = await page.locator('#messages').innerText();
    screens.push({ afterIdentify: afterIdentify.replaceAll(login, 'LOGIN'), error });
    await context.close();
  }
  assert.deepEqual(screens[0], screens[1]);
});

test('signing out of /app ends the session: the next visit asks to sign in again', async () => {
  const { context, page } = await freshPage();
  await page.goto(`${server.base}/app`);
  await page.locator('input[name=login]').fill('admin');
  await submit(page);
  await page.locator('input[name=password]').fill('admin-password-123');
  await submit(page);
  await page.waitForURL(`${server.base}/app`);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.goto(`${server.base}/app`);
  assert.match(page.url(), /\/signin\//);
  await context.close();
});

test('on /app a person renames an authenticator, sees their apps and sessions, and signs out everywhere', async () => {
  const { context, page, problems } = await freshPage();
  const other = await freshPage();
  for (const p of [page, other.page]) {
    await p.goto(`${server.base}/app`);
    await p.locator('input[name=login]').fill('alice');
    await submit(p);
    await p.locator('input[name=password]').fill('correct-horse-battery');
    await submit(p);
    await p.waitForURL(`${server.base}/app`);
  }
  await page.reload();
  assert.equal(await page.locator('#apps a', { hasText: 'Finance' }).getAttribute('href'), 'http://127.0.0.1:9001/');
  assert.ok(await page.locator('#sessions li').count() >= 2, 'both browsers are listed');
  assert.equal(await page.locator('#sessions li', { hasText: '(this browser)' }).count(), 1);
  await page.getByLabel(/Name for Authenticator app/).fill('Work phone');
  await page.locator('#authenticators li[data-authenticator=totp]').getByRole('button', { name: 'Rename' }).click();
  await page.locator('#notice').waitFor();
  assert.match(await page.locator('#authenticators li[data-authenticator=totp]').innerText(), /Work phone/);
  await page.setViewportSize({ width: 360, height: 800 });
  assert.ok(
    await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    'no sideways scrolling at phone width',
  );
  await page.screenshot({ path: '../target/screenshots/dashboard.png', fullPage: true });
  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  for (const p of [page, other.page]) {
    await p.goto(`${server.base}/app`);
    assert.match(p.url(), /\/signin\//, 'every browser must sign in again');
  }
  assert.deepEqual(problems, []);
  await other.context.close();
  await context.close();
});

test('setting up an authenticator app from /app shows a QR code and the key, and the code from it completes the setup', async () => {
  const { context, page, problems } = await freshPage();
  await page.goto(`${server.base}/app`);
  await page.locator('input[name=login]').fill('admin');
  await submit(page);
  await page.locator('input[name=password]').fill('admin-password-123');
  await submit(page);
  await page.waitForURL(`${server.base}/app`);
  await page.getByRole('button', { name: 'Add authenticator app code' }).click();
  const qr = page.getByRole('img', { name: /QR code/ });
  await qr.waitFor();
  assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth >= 200), 'the QR code image renders');
  const secret = (await page.locator('code.secret').textContent()).trim();
  await page.screenshot({ path: '../target/screenshots/totp-setup-qr.png' });
  await page.locator('input[name=code]').fill(totp(secret));
  await submit(page);
  await page.waitForURL(`${server.base}/app`);
  assert.equal(await page.locator('#authenticators li[data-authenticator=totp]').count(), 1);
  assert.deepEqual(problems, []);
  await context.close();
});

test('an unknown flow id shows a page that says so, not a blank screen', async () => {
  const { context, page } = await freshPage();
  await page.goto(`${server.base}/signin/no-such-flow`);
  await page.locator('#messages').getByText(/does not exist/).waitFor();
  await context.close();
});

test('alice completes finance in the browser through its demo app: password, then a TOTP code', async () => {
  const { context, page, problems } = await freshPage();
  // `serve --demo` runs the finance app on its callback port, 9001 (DESIGN section 12).
  await page.goto('http://127.0.0.1:9001/');
  await page.getByRole('link', { name: 'Sign in with Gatehouse' }).click();
  await page.waitForURL(/\/signin\//);
  await page.locator('input[name=login]').fill('alice');
  await submit(page);
  await page.locator('input[name=password]').fill('correct-horse-battery');
  await submit(page);
  await page.locator('input[name=code]').fill(totp('GATEHOUSEDEMOALICETOTPSECRET2345'));
  await submit(page);
  await page.waitForURL(/127\.0\.0\.1:9001\/callback/);
  assert.match(await page.locator('#signed-in').textContent(), /Signed in as/);
  const claims = await page.locator('#claims').innerText();
  assert.match(claims, /amr\s+\["pwd","otp","mfa"\]/);
  await page.screenshot({ path: '../target/screenshots/finance-signed-in.png' });
  assert.deepEqual(problems.filter((p) => !p.includes('9001')), []);
  await context.close();
});

// The admin console (`/admin`) in real headless Chromium, as an administrator uses it: signing in
// through a Gatehouse flow, the rule editor and the policy simulator, device lifecycle and
// sessions. The console reaches the server only through the public admin API; the test reads
// the API itself (with the demo's admin token) only to check what was, or was not, saved.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { LAUNCH, startDemo } from './server.mjs';

const SCREENSHOTS = fileURLToPath(new URL('../../target/screenshots/', import.meta.url));
const ADMIN_TOKEN = 'browser-admin-token'; // what server.mjs sets as GATEHOUSE_ADMIN_TOKEN

let server;
let browser;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  server = await startDemo();
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function adminApi(method, apiPath, body) {
  const res = await fetch(`${server.base}/api/v1${apiPath}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res.status === 204 ? null : res.json();
}

/** A fresh browser profile whose page records script errors and CSP violations. */
async function freshPage(viewport) {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    // An API refusal the console shows inline is logged by Chromium as a failed resource.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  return { context, page, problems };
}

async function signIn(page, login, password, where = '/admin') {
  await page.goto(`${server.base}${where}`);
  await page.waitForURL(/\/signin\//);
  await typeLoginAndPassword(page, login, password);
  await page.waitForURL(`${server.base}${where}`);
}

/** Answers identify and the password challenge (Enter submits each step's own form). */
async function typeLoginAndPassword(page, login, password) {
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=login]').press('Enter');
  await page.locator('input[name=password]').fill(password);
  await page.locator('input[name=password]').press('Enter');
}

async function openSection(page, name) {
  await page.locator('#nav').getByRole('link', { name, exact: true }).click();
  await page.locator('main h1').filter({ hasText: new RegExp(name === 'Policies' ? 'policies' : name, 'i') }).waitFor();
}

async function simulate(page, { user, app, verified }) {
  await openSection(page, 'Simulator');
  await page.getByLabel('User', { exact: true }).selectOption({ label: user });
  await page.getByLabel('App', { exact: true }).selectOption(app);
  const record = page.getByRole('group', { name: `What ${user} already verified in this sign-in` }).getByLabel(verified, { exact: true });
  await record.waitFor();
  await record.check();
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.locator('#decision').waitFor();
  return {
    decision: await page.locator('#decision').textContent(),
    rule: await page.locator('#decision-rule').textContent(),
    options: await page.locator('#decision-options li').allTextContents(),
  };
}

test('an admin builds a two-step chain in the rule editor and the simulator shows the new decision; an invalid duration is refused inline', async () => {
  const { context, page, problems } = await freshPage();
  const first = await page.goto(`${server.base}/admin`);
  assert.match(page.url(), /\/signin\//, 'the console starts a Gatehouse sign-in');
  assert.ok(first);
  await signIn(page, 'admin', 'admin-password-123');
  await page.locator('#who').getByText('admin').waitFor();

  // Before: the dashboard's catch-all lets alice in with her password alone.
  const before = await simulate(page, { user: 'alice', app: 'dashboard', verified: 'password (password)' });
  assert.deepEqual([before.decision, before.rule], ['allow', 'catch-all']);

  // The rule editor: employees need a password, then a TOTP code or a Verify push.
  await openSection(page, 'Policies');
  await page.getByRole('link', { name: 'Add rule to dashboard' }).click();
  await page.getByLabel('Rule name').fill('employees-two-step');
  await page.getByRole('group', { name: 'Groups included' }).getByLabel('employees').check();
  await page.getByLabel('Requirement', { exact: true }).selectOption('chains');
  await page.getByRole('button', { name: 'Add step to chain 1' }).click();
  await page.getByLabel('Authenticator of step 2 alternative 1').selectOption('totp');
  await page.getByRole('button', { name: 'Add alternative to step 2' }).click();
  await page.getByLabel('Authenticator of step 2 alternative 2').selectOption('device');
  await page.getByLabel('Method of step 2 alternative 2').selectOption('push');
  await page.getByLabel('User verification of step 2 alternative 2').selectOption('any');
  const reauth = page.getByLabel('Chain 1 reauthenticate');
  await reauth.fill('PT4X');
  await page.getByRole('button', { name: 'Save rule' }).click();

  // The API's refusal is shown next to the duration, and nothing was saved.
  const error = page.locator('.field-error');
  await error.waitFor();
  assert.match(await error.textContent(), /ISO-8601 duration/);
  assert.equal(await reauth.getAttribute('aria-invalid'), 'true');
  const describedBy = await reauth.getAttribute('aria-describedby');
  assert.ok(describedBy.split(' ').includes(await error.getAttribute('id')), 'the error describes the field');
  const dashboard = (await adminApi('GET', '/policies')).items.find((p) => p.name === 'dashboard');
  assert.deepEqual(dashboard.rules.map((r) => r.name), ['catch-all'], 'nothing was saved');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-rule-invalid-duration.png'), fullPage: true });

  await reauth.fill('PT4H');
  await page.getByRole('button', { name: 'Save rule' }).click();
  await page.getByText('Saved rule employees-two-step in dashboard.').waitFor();
  const saved = (await adminApi('GET', '/policies')).items.find((p) => p.name === 'dashboard');
  assert.deepEqual(saved.rules[0].require, {
    chains: [{
      reauthenticate: 'PT4H',
      steps: [[{ authenticator: 'password' }],
        [{ authenticator: 'totp' }, { authenticator: 'device', method: 'push', user_verification: 'any' }]],
    }],
  });
  assert.deepEqual(saved.rules[0].when, { groups: { include: ['employees'], exclude: [] } });

  // After: the same sign-in now needs the second step.
  const afterSave = await simulate(page, { user: 'alice', app: 'dashboard', verified: 'password (password)' });
  assert.deepEqual([afterSave.decision, afterSave.rule], ['continue', 'employees-two-step']);
  assert.ok(afterSave.options.some((o) => o.startsWith('totp')), `a TOTP code is offered: ${afterSave.options}`);
  assert.match(await page.locator('#trace').innerText(), /employees-two-step/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-simulator.png'), fullPage: true });

  // Leave the demo as it was for the other tests: delete the rule from the console.
  await openSection(page, 'Policies');
  await page.getByRole('button', { name: 'Delete rule employees-two-step' }).click();
  await page.locator('[data-rule="employees-two-step"]').waitFor({ state: 'detached' });
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
  await context.close();
});

test('an admin deactivates a device and ends a user\'s sessions from the console', async () => {
  // Alice enrolls Gatehouse Verify on this machine, and signs in to her dashboard in a browser.
  const verifyBin = process.env.GATEHOUSE_VERIFY_BIN ?? path.join(path.dirname(process.env.GATEHOUSE_BIN), 'gatehouse-verify');
  const home = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-console-verify-'));
  try {
    await new Promise((resolve, reject) => {
      const child = execFile(verifyBin, ['--home', home, 'enroll', '--server', server.base, '--login', 'alice', '--password-stdin'],
        { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err}\n${stdout}\n${stderr}`)) : resolve(stdout)));
      child.stdin.end('correct-horse-battery\n');
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
  const alice = await freshPage();
  await signIn(alice.page, 'alice', 'correct-horse-battery', '/app');

  const { context, page, problems } = await freshPage();
  await signIn(page, 'admin', 'admin-password-123');
  await openSection(page, 'Devices');
  const row = page.locator('tr', { hasText: 'alice' });
  await row.getByText('active', { exact: true }).waitFor();
  await row.getByRole('button', { name: 'Deactivate' }).click();
  await page.getByText(/^Deactivated the device .* of alice\.$/).waitFor();
  await row.getByText('deactivated', { exact: true }).waitFor();
  assert.equal(await row.getByRole('button', { name: 'Reactivate' }).count(), 1, 'it can be reactivated');
  const devices = await adminApi('GET', '/devices?user=alice');
  assert.deepEqual(devices.items.map((d) => d.status), ['deactivated']);
  assert.ok(devices.items[0].enrollments.every((e) => e.status === 'inactive'), 'its enrollments are deactivated');

  await openSection(page, 'Sessions');
  await page.getByLabel('User', { exact: true }).selectOption('alice');
  await page.getByRole('button', { name: 'Show sessions' }).click();
  await page.getByRole('heading', { name: 'Live sessions of alice' }).waitFor();
  const live = await page.locator('main table tbody tr').count();
  assert.ok(live >= 1, 'her browser session is listed');
  await page.getByRole('button', { name: 'End all sessions of alice' }).click();
  await page.getByText(/^Ended \d+ sessions? of alice\.$/).waitFor();
  await page.getByText('alice has no live sessions.').waitFor();
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-sessions-ended.png'), fullPage: true });

  // Alice notices: her dashboard asks her to sign in again.
  await alice.page.goto(`${server.base}/app`);
  assert.match(alice.page.url(), /\/signin\//, 'alice is signed out everywhere');
  const ended = await adminApi('GET', '/logs?type=user.session.end&user=alice');
  assert.ok(ended.items.some((e) => e.details.reason === 'admin_revoked'), 'the system log has it');
  assert.deepEqual(problems, []);
  await alice.context.close();
  await context.close();
});

test('an admin creates an app, sees its secret once, and finds the change in the system log', async () => {
  const { context, page, problems } = await freshPage();
  await signIn(page, 'admin', 'admin-password-123');
  await openSection(page, 'Apps');
  await page.getByLabel('Name', { exact: true }).fill('Payroll');
  await page.getByLabel('Client id').fill('payroll');
  await page.getByLabel('Redirect URIs', { exact: true }).fill('https://payroll.example/callback');
  await page.getByRole('button', { name: 'Create app' }).click();
  const secret = await page.locator('#app-secret').textContent();
  assert.match(secret, /^ghs_[A-Za-z0-9_-]{43}$/, 'the generated secret is shown');
  await page.getByText('it is shown only once').waitFor();
  const stored = (await adminApi('GET', '/apps?limit=500')).items.find((a) => a.client_id === 'payroll');
  assert.equal(stored.has_secret, true);
  assert.equal(stored.client_secret, undefined, 'the API never shows it again');
  await openSection(page, 'Users');
  await openSection(page, 'Apps');
  await page.locator('tr[data-client-id=payroll]').waitFor();
  assert.equal(await page.locator('#app-secret').count(), 0, 'not shown again');

  await openSection(page, 'System log');
  await page.getByLabel('Event type').fill('app.lifecycle.*');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.locator('#log tbody tr[data-type="app.lifecycle.create"]', { hasText: 'payroll' }).waitFor();
  const types = await page.locator('#log tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.type));
  assert.ok(types.length > 0 && types.every((t) => t.startsWith('app.lifecycle.')), `only app.lifecycle events: ${types}`);
  assert.doesNotMatch(await page.locator('#log').innerText(), new RegExp(secret), 'the secret is not in the log');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-system-log.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test('someone who is not an administrator gets a page that says so, also at phone width', async () => {
  const { context, page, problems } = await freshPage({ width: 390, height: 844 });
  await signIn(page, 'bob', 'bob-password-123');
  await page.getByRole('heading', { name: 'You are not an administrator' }).waitFor();
  assert.match(await page.locator('#login').textContent(), /bob/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-not-an-administrator.png'), fullPage: true });
  await page.getByRole('button', { name: 'Sign in as someone else' }).click();
  await page.waitForURL(/\/signin\//);

  // The administrator's console fits a phone: navigation and content without sideways scrolling.
  await typeLoginAndPassword(page, 'admin', 'admin-password-123');
  await page.waitForURL(`${server.base}/admin`);
  await page.locator('main h1', { hasText: 'Users' }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling at phone width (${overflow}px too wide)`);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-phone.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

// The admin console (`/admin`) in real headless Chromium, as an administrator uses it: signing in
// through a Gatehouse flow, the rule editor and the policy simulator, device lifecycle and
// sessions, and the editors of a user's profile, an app's settings, the global session policy
// and the enrollment policy. The console reaches the server only through the public admin API; the test reads
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

/** Saves the form and waits for the API's refusal next to a field; returns the error's text. */
async function refusedNextTo(page, control, button) {
  await page.getByRole('button', { name: button }).click();
  const error = page.locator('.field-error');
  await error.waitFor();
  assert.equal(await error.count(), 1, 'one error is shown');
  assert.equal(await control.getAttribute('aria-invalid'), 'true', 'the field is marked invalid');
  const describedBy = (await control.getAttribute('aria-describedby')) ?? '';
  assert.ok(describedBy.split(' ').includes(await error.getAttribute('id')), 'the error describes the field');
  assert.ok(await control.evaluate((el) => el === document.activeElement), 'the field has the focus');
  return error.textContent();
}

test('an admin edits a user\'s profile on the user\'s page; an invalid email is refused inline and nothing is saved', async () => {
  const carol = await adminApi('POST', '/users', {
    login: 'carol', email: 'carol@example.com', display_name: 'Carol', profile: { department: 'Finance' },
  });
  const { context, page, problems } = await freshPage();
  await signIn(page, 'admin', 'admin-password-123');
  await openSection(page, 'Users');
  await page.getByRole('link', { name: 'carol', exact: true }).click();
  await page.locator('main h1', { hasText: 'User carol' }).waitFor();
  await page.getByRole('button', { name: 'Edit profile' }).click();
  const login = page.getByLabel('Login', { exact: true });
  assert.ok(await login.evaluate((el) => el === document.activeElement), 'the form opens with the focus on its first field');
  assert.equal(await page.getByLabel('Other attributes (JSON)').inputValue(), '{\n  "department": "Finance"\n}');

  const email = page.getByLabel('Email', { exact: true });
  await email.fill('carol-at-example');
  await page.getByLabel('First name').fill('Carol');
  assert.match(await refusedNextTo(page, email, 'Save profile'), /email `carol-at-example` is not valid/);
  const unchanged = await adminApi('GET', `/users/${carol.id}`);
  assert.deepEqual([unchanged.email, unchanged.profile], ['carol@example.com', { department: 'Finance' }], 'nothing was saved');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-user-invalid-email.png'), fullPage: true });

  await email.fill('carol.danvers@example.com');
  await login.fill('carol.danvers');
  await page.getByLabel('Display name').fill('Carol Danvers');
  await page.getByLabel('Last name').fill('Danvers');
  await page.getByLabel('Phone').fill('+1 555 0100');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await page.getByText('Saved the profile of carol.danvers.').waitFor();
  await page.locator('main h1', { hasText: 'User carol.danvers' }).waitFor();
  assert.equal(await page.locator('.field-error').count(), 0);
  const shown = await page.locator('#profile').innerText();
  for (const text of ['carol.danvers@example.com', 'Carol Danvers', 'Danvers', '+1 555 0100']) assert.ok(shown.includes(text), `the page shows ${text}`);

  const saved = await adminApi('GET', `/users/${carol.id}`);
  assert.deepEqual(
    [saved.login, saved.email, saved.display_name, saved.profile],
    ['carol.danvers', 'carol.danvers@example.com', 'Carol Danvers',
      { department: 'Finance', given_name: 'Carol', family_name: 'Danvers', phone_number: '+1 555 0100' }],
  );
  const logged = await adminApi('GET', `/logs?type=user.lifecycle.update&user=${carol.id}`);
  assert.equal(logged.items.length, 1, 'one change, one event');
  assert.deepEqual([...logged.items[0].details.fields].sort(), ['display_name', 'email', 'login', 'profile']);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-user-profile-saved.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test('an admin edits an app\'s redirect URIs; an invalid URI is refused inline and nothing is saved', async () => {
  const crm = await adminApi('POST', '/apps', { client_id: 'crm', name: 'CRM', redirect_uris: ['https://crm.example/callback'] });
  const { context, page, problems } = await freshPage();
  await signIn(page, 'admin', 'admin-password-123');
  await openSection(page, 'Apps');
  await page.getByRole('link', { name: 'Edit app crm' }).click();
  await page.locator('main h1', { hasText: 'App CRM' }).waitFor();
  const uris = page.getByLabel('Redirect URIs', { exact: true });
  assert.equal(await uris.inputValue(), 'https://crm.example/callback');

  await uris.fill('https://crm.example/callback\nhttps://crm.example/oauth/callback#done');
  await page.getByLabel('Back-channel logout URI').fill('https://crm.example/backchannel-logout');
  assert.match(await refusedNextTo(page, uris, 'Save app'), /redirect URI `https:\/\/crm\.example\/oauth\/callback#done` is not allowed: it has a fragment/);
  const unchanged = await adminApi('GET', `/apps/${crm.id}`);
  assert.deepEqual([unchanged.redirect_uris, unchanged.backchannel_logout_uri], [['https://crm.example/callback'], null], 'nothing was saved');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-app-invalid-redirect.png'), fullPage: true });

  await uris.fill('https://crm.example/callback\nhttps://crm.example/oauth/callback');
  await page.getByRole('button', { name: 'Save app' }).click();
  await page.getByText('Saved app CRM (crm).').waitFor();
  assert.equal(await page.locator('.field-error').count(), 0);
  assert.equal(await uris.inputValue(), 'https://crm.example/callback\nhttps://crm.example/oauth/callback', 'the page shows what was saved');
  const saved = await adminApi('GET', `/apps/${crm.id}`);
  assert.deepEqual(saved.redirect_uris, ['https://crm.example/callback', 'https://crm.example/oauth/callback']);
  assert.equal(saved.backchannel_logout_uri, 'https://crm.example/backchannel-logout');
  assert.deepEqual([saved.name, saved.grant_types, saved.assignments.groups.map((g) => g.name)], ['CRM', ['authorization_code'], ['everyone']], 'the rest is untouched');

  await openSection(page, 'Apps');
  await page.locator('tr[data-client-id=crm]', { hasText: 'https://crm.example/oauth/callback' }).waitFor();
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-app-saved.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test('an admin changes the global session policy\'s idle timeout: an invalid duration is refused inline, a valid one applies to new sessions', async () => {
  const policyOf = async () => (await adminApi('GET', '/policies')).items.find((p) => p.type === 'global_session');
  const before = await policyOf();
  const { context, page, problems } = await freshPage();
  await signIn(page, 'admin', 'admin-password-123');
  await openSection(page, 'Policies');
  await page.getByRole('link', { name: 'Edit global session policy' }).click();
  await page.locator('main h1', { hasText: 'Global session policy' }).waitFor();
  const idle = page.getByLabel('Maximum idle time');
  assert.equal(await idle.inputValue(), 'PT2H');
  assert.equal(await page.getByLabel('Sign-in flow').inputValue(), 'identifier_first');

  await idle.fill('30 minutes');
  assert.match(await refusedNextTo(page, idle, 'Save global session policy'), /ISO-8601 duration such as PT4H, found `30 minutes`/);
  const unchanged = await adminApi('GET', `/policies/${before.id}`);
  assert.equal(unchanged.rules[0].max_idle, 'PT2H', 'nothing was saved');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-session-policy-invalid.png'), fullPage: true });

  await idle.fill('PT30M');
  await page.getByRole('button', { name: 'Save global session policy' }).click();
  await page.getByText('Saved the global session policy.').waitFor();
  assert.equal(await page.locator('.field-error').count(), 0);
  assert.equal(await page.getByLabel('Maximum idle time').inputValue(), 'PT30M', 'the page shows what was saved');
  const saved = await adminApi('GET', `/policies/${before.id}`);
  const { id, position, ...rule } = saved.rules[0];
  assert.deepEqual(rule, {
    name: 'default', flow: 'identifier_first', max_lifetime: 'P1D', max_idle: 'PT30M', keep_signed_in: 'allowed', user_enumeration_prevention: true,
  });
  await openSection(page, 'Policies');
  assert.match(await page.locator('#global-session-policy tbody').innerText(), /PT30M/);

  // A user who signs in now gets a session that ends after 30 idle minutes.
  const alice = await freshPage();
  await signIn(alice.page, 'alice', 'correct-horse-battery', '/app');
  const aliceId = (await adminApi('GET', '/users?q=alice')).items.find((u) => u.login === 'alice').id;
  const sessions = (await adminApi('GET', `/users/${aliceId}/sessions`)).items;
  const newest = sessions.reduce((a, b) => (Date.parse(a.created_at) >= Date.parse(b.created_at) ? a : b));
  assert.equal(Date.parse(newest.idle_expires_at) - Date.parse(newest.last_seen_at), 30 * 60 * 1000);
  await alice.context.close();

  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-session-policy-saved.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
  // Leave the demo's policy as it was for the tests after this one.
  await adminApi('PUT', `/policies/${before.id}`, { type: 'global_session', name: 'default', rules: before.rules });
});

test('an admin limits the authenticators users may enroll, and a user finds only those on their page', async () => {
  const offered = async (p) => {
    await p.goto(`${server.base}/app`);
    return p.locator('form[action^="/app/enroll/"]').evaluateAll((forms) => forms.map((f) => f.getAttribute('action').split('/').pop()));
  };
  const alice = await freshPage();
  await signIn(alice.page, 'alice', 'correct-horse-battery', '/app');
  assert.deepEqual((await offered(alice.page)).sort(), ['email', 'phone', 'totp', 'webauthn'], 'without a policy everything is offered');

  const { context, page, problems } = await freshPage();
  await signIn(page, 'admin', 'admin-password-123');
  await openSection(page, 'Policies');
  assert.equal(await page.locator('#enrollment-allowed').textContent(), 'every authenticator');
  await page.getByRole('link', { name: 'Create enrollment policy' }).click();
  await page.locator('main h1', { hasText: 'New enrollment policy' }).waitFor();
  const every = page.getByLabel('Every authenticator');
  assert.equal(await every.isChecked(), true);
  const email = page.getByRole('checkbox', { name: /^Email/ });
  assert.equal(await email.isDisabled(), true, 'the list is off while every authenticator is allowed');

  await page.getByLabel('Only the authenticators checked below').check();
  await email.uncheck();
  await page.getByRole('checkbox', { name: /^Phone/ }).uncheck();
  await page.getByRole('button', { name: 'Save enrollment policy' }).click();
  await page.getByText('Saved the enrollment policy.').waitFor();
  await page.locator('main h1', { hasText: /^Enrollment policy$/ }).waitFor();
  const stored = async () => (await adminApi('GET', '/policies')).items.find((p) => p.type === 'enrollment');
  assert.deepEqual((await stored()).allowed, ['password', 'totp', 'webauthn', 'device']);
  assert.equal(await email.isChecked(), false, 'the page shows what was saved');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-enrollment-policy-saved.png'), fullPage: true });
  assert.deepEqual((await offered(alice.page)).sort(), ['totp', 'webauthn'], 'alice is no longer offered email or phone');

  // Back to every authenticator: a PUT of the existing policy without a list.
  await page.getByLabel('Every authenticator').check();
  await page.getByRole('button', { name: 'Save enrollment policy' }).click();
  await page.locator('input[name=allowed][value=email]:disabled:checked').waitFor();
  await page.getByText('Saved the enrollment policy.').waitFor();
  assert.equal((await stored()).allowed, null);
  await openSection(page, 'Policies');
  assert.equal(await page.locator('#enrollment-allowed').textContent(), 'every authenticator');
  assert.deepEqual((await offered(alice.page)).sort(), ['email', 'phone', 'totp', 'webauthn']);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'console-enrollment-policy.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await alice.context.close();
  await context.close();
});

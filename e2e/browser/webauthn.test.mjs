// WebAuthn in real headless Chromium with its virtual authenticator (CDP `WebAuthn.*`): a passkey
// set up from /app, passwordless sign-in with it, and a rule demanding user verification refusing
// an authenticator that does not verify its user. The issuer is `localhost`: WebAuthn refuses an
// IP address as the relying-party ID.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { LAUNCH, startDemo } from './server.mjs';

const SHOTS = '../target/screenshots';
let server;
let browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startDemo([], { host: 'localhost' });
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A fresh profile with a virtual platform authenticator (resident keys; UV as asked). */
async function withAuthenticator({ verifiesUser }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: verifiesUser,
      isUserVerified: verifiesUser,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  const addCredential = (credential) => cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
  return { context, page, problems, credentials, addCredential };
}

async function submit(page) {
  await page.locator('#content form button[type=submit]').click();
}

/** Signs alice in to /app with her password and sets up a passkey there. */
async function enrollPasskeyFromApp(page) {
  await page.goto(`${server.base}/app`);
  await page.locator('input[name=login]').fill('alice');
  await submit(page);
  await page.locator('input[name=password]').fill('correct-horse-battery');
  await submit(page);
  await page.waitForURL(`${server.base}/app`);
  const before = await page.locator('#authenticators li[data-authenticator=webauthn]').count();
  await page.getByRole('button', { name: /add security key or passkey/i }).click();
  await page.waitForURL(/\/signin\//);
  await page.locator('#webauthn-enroll-authenticator').click();
  await page.waitForURL(`${server.base}/app`);
  assert.equal(
    await page.locator('#authenticators li[data-authenticator=webauthn]').count(),
    before + 1,
    'the new passkey is listed on /app',
  );
}

test('alice enrolls a passkey from /app, signs out, and signs in passwordless with it; amr shows it', async () => {
  const { context, page, problems, credentials } = await withAuthenticator({ verifiesUser: true });
  await enrollPasskeyFromApp(page);
  const stored = await credentials();
  assert.equal(stored.length, 1, 'the authenticator holds one credential');
  assert.equal(stored[0].isResidentCredential, true, 'it is a discoverable credential (passkey)');
  // Administrators see it among alice's enrollments, named by its credential id.
  const admin = { authorization: 'Bearer browser-admin-token' };
  const users = await (await fetch(`${server.probe}/api/v1/users?q=alice`, { headers: admin })).json();
  const alice = users.items.find((u) => u.login === 'alice');
  const listed = await (await fetch(`${server.probe}/api/v1/users/${alice.id}/enrollments`, { headers: admin })).json();
  const passkeys = listed.items.filter((e) => e.authenticator === 'webauthn');
  assert.equal(passkeys.length, 1);
  assert.equal(passkeys[0].credential_id, Buffer.from(stored[0].credentialId, 'base64').toString('base64url'));

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.goto(`${server.base}/app`);
  assert.match(page.url(), /\/signin\//, 'signed out: /app asks to sign in again');

  // The demo dashboard app (DESIGN 12) starts an OIDC sign-in; no login is typed.
  await page.goto('http://127.0.0.1:9000/');
  await page.getByRole('link', { name: 'Sign in with Gatehouse' }).click();
  await page.waitForURL(/\/signin\//);
  await page.locator('#webauthn-challenge-authenticator').click();
  await page.waitForURL(/127\.0\.0\.1:9000\/callback/);
  assert.match(await page.locator('#signed-in').textContent(), /Signed in as/);
  const claims = await page.locator('#claims').innerText();
  const amr = JSON.parse(claims.match(/amr\s+(\[[^\]]*\])/)[1]);
  assert.ok(amr.includes('swk'), `amr ${JSON.stringify(amr)} names a software-held key`);
  assert.ok(amr.includes('user'), `amr ${JSON.stringify(amr)} says the user was verified`);
  assert.ok(!amr.includes('pwd'), 'no password was used');
  assert.ok((await credentials())[0].signCount >= 2, 'the authenticator signed twice (enroll, sign in)');
  await page.screenshot({ path: `${SHOTS}/webauthn-passkey-signed-in.png` });
  assert.deepEqual(problems.filter((p) => !p.includes('9000')), []);
  await context.close();
});

test('a rule requiring user_verification: any refuses an assertion from an authenticator that did not verify the user', async () => {
  const { context, page, problems } = await withAuthenticator({ verifiesUser: false });
  await enrollPasskeyFromApp(page);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();

  // finance (DESIGN 12): password, then totp | webauthn with user_verification: any | push.
  await page.goto('http://127.0.0.1:9001/');
  await page.getByRole('link', { name: 'Sign in with Gatehouse' }).click();
  await page.waitForURL(/\/signin\//);
  await page.locator('input[name=login]').fill('alice');
  await submit(page);
  await page.locator('input[name=password]').fill('correct-horse-battery');
  await submit(page);
  const useKey = page.locator('#webauthn-challenge-authenticator');
  await Promise.race([useKey.waitFor(), page.locator('input[name=code]').waitFor()]);
  if (!(await useKey.isVisible())) {
    await page.getByRole('button', { name: 'Security key or passkey' }).click();
  }
  await useKey.click();
  const error = page.locator('#messages .error');
  await error.waitFor();
  const text = await error.textContent();
  assert.match(text, /PIN or biometrics/, `the refusal says why: ${text}`);
  assert.match(page.url(), /\/signin\//, 'the sign-in is still in progress, not completed');
  assert.equal(await useKey.count(), 1, 'the person may try again or choose another way');
  await page.screenshot({ path: `${SHOTS}/webauthn-uv-required-refused.png` });
  assert.deepEqual(problems, []);
  await context.close();
});

test('a copied passkey whose signature counter lags behind is refused as a possible clone', async () => {
  const original = await withAuthenticator({ verifiesUser: true });
  await enrollPasskeyFromApp(original.page);
  const [snapshot] = (await original.credentials()).filter((c) => c.isResidentCredential);
  await original.page.getByRole('button', { name: 'Sign out', exact: true }).click();
  // The original signs in once more: the server's counter moves past the snapshot's.
  await original.page.goto(`${server.base}/app`);
  await original.page.locator('#webauthn-challenge-authenticator').click();
  await original.page.waitForURL(`${server.base}/app`);
  await original.context.close();

  const copy = await withAuthenticator({ verifiesUser: true });
  await copy.addCredential(snapshot);
  await copy.page.goto(`${server.base}/app`);
  await copy.page.locator('#webauthn-challenge-authenticator').click();
  const error = copy.page.locator('#messages .error');
  await error.waitFor();
  assert.match(await error.textContent(), /copied/, 'the refusal says the key may have been copied');
  assert.match(copy.page.url(), /\/signin\//, 'not signed in');
  await copy.page.screenshot({ path: `${SHOTS}/webauthn-clone-refused.png` });
  await copy.context.close();
});

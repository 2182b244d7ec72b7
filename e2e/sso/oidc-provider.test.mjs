// The SSO gateway against an independent OpenID provider (Node's `oidc-provider`, RS256 ID
// tokens, PKCE, client_secret_basic): nothing in the gateway is Gatehouse-specific.
// Run by e2e/suites/sso.sh with GATEHOUSE_SSO_BIN set to the release binary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, admin, freePort, startGateway } from './lib.mjs';
import { POLICY_FAILED, startOidcProvider } from './idp.mjs';

const TENANT = 'customer-co';
let gw;
let idp;

before(async () => {
  gw = await startGateway();
  idp = await startOidcProvider({ port: await freePort(), redirectUris: [`${gw.url}/okta-login/${TENANT}`] });
});

after(async () => {
  await gw?.stop();
  await idp?.stop();
});

/** Walks the redirect dance up to the gateway's callback URL (not yet visited). */
async function toCallback(browser, tenant, login, { deny = false } = {}) {
  const start = await browser.fetch(`${gw.url}/sso/start`, { method: 'POST', json: { tenant } });
  assert.equal(start.status, 303, start.text);
  const authorize = new URL(start.location);
  assert.equal(authorize.origin, idp.issuer);
  assert.equal(authorize.searchParams.get('redirect_uri'), `${gw.url}/okta-login/${tenant}`);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  const atIdp = await browser.follow(start.location, (loc) => loc.startsWith(idp.issuer));
  assert.equal(atIdp.status, 200, `expected the IdP's sign-in interaction, got ${atIdp.status} ${atIdp.text}`);
  assert.match(atIdp.url, /\/interaction\//);
  const action = deny ? 'deny' : 'login';
  const back = await browser.follow(
    `${atIdp.url}/${action}`,
    (loc) => loc.startsWith(idp.issuer),
    { method: 'POST', form: { login } },
  );
  assert.ok(back.status >= 300 && back.status < 400, `IdP did not redirect back: ${back.status} ${back.text}`);
  assert.ok(back.location.startsWith(`${gw.url}/okta-login/${tenant}?`), back.location);
  return back.location;
}

async function signIn(browser, tenant, login) {
  const callback = await toCallback(browser, tenant, login);
  const done = await browser.fetch(callback);
  assert.equal(done.status, 303, done.text);
  assert.equal(done.location, `${gw.url}/dashboard`);
  const me = await browser.fetch(`${gw.url}/dashboard`, { headers: { accept: 'application/json' } });
  assert.equal(me.status, 200, me.text);
  return { callback, me: me.json };
}

test('registering the tenant shows the exact redirect URI, and the connection test passes', async () => {
  const reg = await admin(gw, 'POST', '/admin/tenants', {
    slug: TENANT,
    company_name: 'Customer Co',
    issuer: idp.issuer,
    client_id: idp.clientId,
    client_secret: idp.clientSecret,
    allowed_origins: ['https://app.customer.example'],
  });
  assert.equal(reg.status, 201, reg.text);
  assert.equal(reg.json.redirect_uri, `${gw.url}/okta-login/${TENANT}`);
  assert.match(reg.json.redirect_uri_instructions, new RegExp(`${gw.url}/okta-login/${TENANT}`));
  const check = await admin(gw, 'POST', `/admin/tenants/${TENANT}/test`);
  assert.equal(check.status, 200);
  assert.equal(check.json.ok, true, JSON.stringify(check.json, null, 2));
  assert.match(check.json.checks[0].message, /RS256/);
});

test('first login provisions the workspace; the next user joins it as member', async () => {
  const alice = new Browser();
  const { me } = await signIn(alice, TENANT, 'alice');
  assert.equal(me.user.email, 'alice@customer.example');
  assert.equal(me.user.name, 'User alice');
  assert.equal(me.user.role, 'partner');
  assert.equal(me.user.project_role, 'owner');
  assert.equal(me.tenant.slug, TENANT);
  assert.ok(me.project_id, JSON.stringify(me));
  assert.equal(me.subscription.plan, 'advanced');

  const bob = new Browser();
  const bobView = (await signIn(bob, TENANT, 'bob')).me;
  assert.equal(bobView.user.project_role, 'member');
  assert.equal(bobView.project_id, me.project_id);

  const page = await alice.fetch(`${gw.url}/dashboard`, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200);
  assert.ok(page.text.includes(me.project_id) && page.text.includes('Customer Co'));
});

test('a used state is refused with 401 invalid or expired sso state', async () => {
  const browser = new Browser();
  const { callback } = await signIn(browser, TENANT, 'carol');
  const replay = await browser.fetch(callback);
  assert.equal(replay.status, 401);
  assert.equal(replay.json.message, 'invalid or expired sso state');
});

test('an unknown tenant is 404 SSO config not found', async () => {
  const browser = new Browser();
  const r = await browser.fetch(`${gw.url}/sso/start`, { method: 'POST', json: { tenant: 'no-such-tenant' } });
  assert.equal(r.status, 404);
  assert.equal(r.json.message, 'SSO config not found');
});

test('access_denied from the IdP is passed through with advice', async () => {
  const browser = new Browser();
  const callback = await toCallback(browser, TENANT, 'dave', { deny: true });
  const json = await browser.fetch(callback, { headers: { accept: 'application/json' } });
  assert.equal(json.status, 403, json.text);
  assert.equal(json.json.error, 'access_denied');
  assert.equal(json.json.error_description, POLICY_FAILED);
  assert.equal(json.json.who_must_act, 'idp_admin');
  // A browser gets the error page (a fresh sign-in: the first one's state is used up).
  const again = await toCallback(browser, TENANT, 'dave', { deny: true });
  const page = await browser.fetch(again, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 403);
  assert.ok(page.text.includes(POLICY_FAILED));
  assert.ok(page.text.includes('identity provider administrator'));
});

test('CORS answers only the tenant\'s registered origins', async () => {
  const preflight = (origin) => fetch(`${gw.url}/sso/start?tenant=${TENANT}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  const ok = await preflight('https://app.customer.example');
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.customer.example');
  const refused = await preflight('https://evil.example');
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
});

test('a redirect URI the IdP does not know fails the connection test with the URI to register', async () => {
  const reg = await admin(gw, 'POST', '/admin/tenants', {
    slug: 'unregistered-co',
    company_name: 'Unregistered',
    issuer: idp.issuer,
    client_id: idp.clientId,
    client_secret: idp.clientSecret,
  });
  assert.equal(reg.status, 201, reg.text);
  const check = await admin(gw, 'POST', '/admin/tenants/unregistered-co/test');
  assert.equal(check.json.ok, false);
  const redirect = check.json.checks.find((c) => c.name === 'redirect_uri');
  assert.equal(redirect.ok, false, JSON.stringify(check.json, null, 2));
  assert.ok(redirect.expected.includes(`${gw.url}/okta-login/unregistered-co`));
  const wrongSecret = await admin(gw, 'POST', '/admin/tenants/unregistered-co/rotate-secret', { client_secret: 'wrong' });
  assert.equal(wrongSecret.status, 200);
  const again = await admin(gw, 'POST', '/admin/tenants/unregistered-co/test');
  const creds = again.json.checks.find((c) => c.name === 'client_credentials');
  assert.equal(creds.ok, false, JSON.stringify(again.json, null, 2));
});

test('audit events record logins, provisioning and tenant changes', async () => {
  const r = await admin(gw, 'GET', `/admin/audit?tenant=${TENANT}&limit=1000`);
  const kinds = new Set(r.json.events.map((e) => e.kind));
  for (const k of ['tenant.created', 'tenant.tested', 'sso.started', 'sso.login.succeeded', 'sso.idp_error', 'sso.state.rejected', 'provision.succeeded']) {
    assert.ok(kinds.has(k), `missing ${k}: ${[...kinds].join(', ')}`);
  }
});

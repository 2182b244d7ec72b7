// Gatehouse's OpenID Connect provider driven by an independent relying-party library, the npm
// package openid-client (v6), against `gatehouse serve --demo` (DESIGN.md sections 5, 8 and 12).
// The sign-in runs through the flow interaction API as a browser-less client would; tokens are
// checked by openid-client (with non-repudiation checks: ID token signatures against the JWKS)
// and again with jose. Run by e2e/suites/oidc.sh, which starts the server and sets GATEHOUSE_URL
// and GATEHOUSE_DB.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import * as jose from 'jose';
import {
  DEMO, Agent, server, signIn, flowIdOf, flowStep, flowState, remediation, ageFlow, freshTotp,
} from './lib.mjs';

const { url: BASE, db: DB } = server();
const insecure = { execute: [oidc.allowInsecureRequests] }; // the test server speaks plain HTTP

/** An openid-client configuration for a demo client (client_secret_basic, as the demo registers). */
async function configFor(clientId, secret = DEMO.clients[clientId].secret) {
  const auth = secret === undefined ? oidc.None() : oidc.ClientSecretBasic(secret);
  const config = await oidc.discovery(new URL(BASE), clientId, secret === undefined ? undefined : { client_secret: secret }, auth, insecure);
  oidc.enableNonRepudiationChecks(config);
  return config;
}

let jwks;
let issuer;

/**
 * Authorize as `clientId`, sign `login` in through the flow API and return everything the
 * relying party holds before redeeming the code: the callback URL, verifier, state and nonce.
 */
async function authorize(clientId, login, { answers, params = {}, agent = new Agent(BASE) } = {}) {
  const config = await configFor(clientId);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: DEMO.clients[clientId].redirect,
    scope: 'openid profile email offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  const res = await agent.get(url.href, { headers: { accept: 'text/html' } });
  const flowId = flowIdOf(res);
  const final = await signIn(agent, flowId, login, answers);
  return { config, verifier, state, nonce, flowId, final, agent };
}

/** `authorize`, then redeem the code with openid-client; returns the tokens and the context. */
async function signInAndRedeem(clientId, login, opts) {
  const a = await authorize(clientId, login, opts);
  assert.equal(a.final.status, 'success', `sign-in did not succeed: ${JSON.stringify(a.final)}`);
  const callback = new URL(a.final.redirect);
  assert.equal(callback.origin + callback.pathname, DEMO.clients[clientId].redirect);
  assert.equal(callback.searchParams.get('iss'), issuer, 'RFC 9207 iss in the authorization response');
  const tokens = await oidc.authorizationCodeGrant(a.config, callback, {
    pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce, idTokenExpected: true,
  });
  return { ...a, callback, tokens };
}

/** Verifies an ID token with jose against the JWKS and returns its claims. */
async function verifyIdToken(idToken, clientId) {
  const { payload, protectedHeader } = await jose.jwtVerify(idToken, jwks, { issuer, audience: clientId });
  assert.equal(protectedHeader.alg, 'ES256');
  return payload;
}

/** Expects `promise` to fail with an OAuth error `code` (and HTTP `status` when given). */
async function rejectsWith(promise, code, status) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.error ?? e.cause?.error, code, `expected ${code}, got ${e.name}: ${e.message} ${JSON.stringify(e.cause ?? {})}`);
    if (status !== undefined) assert.equal(e.status, status, `HTTP status of ${code}`);
    return true;
  });
}

before(async () => {
  const doc = await (await fetch(`${BASE}/.well-known/openid-configuration`)).json();
  issuer = doc.issuer;
  assert.equal(issuer, BASE);
  jwks = jose.createRemoteJWKSet(new URL(doc.jwks_uri));
});

describe('discovery', () => {
  it('publishes the endpoints of DESIGN 8 and a JWKS with an ES256 key', async () => {
    const config = await configFor('dashboard');
    const m = config.serverMetadata();
    assert.equal(m.issuer, BASE);
    for (const [field, path] of [
      ['authorization_endpoint', '/oauth2/authorize'], ['token_endpoint', '/oauth2/token'],
      ['userinfo_endpoint', '/oauth2/userinfo'], ['jwks_uri', '/oauth2/jwks'],
      ['revocation_endpoint', '/oauth2/revoke'], ['introspection_endpoint', '/oauth2/introspect'],
      ['end_session_endpoint', '/oauth2/logout'],
    ]) assert.equal(m[field], BASE + path, field);
    assert.ok(m.code_challenge_methods_supported.includes('S256'));
    assert.ok(m.id_token_signing_alg_values_supported.includes('ES256'));
    const keys = (await (await fetch(m.jwks_uri)).json()).keys;
    assert.ok(keys.some((k) => k.kty === 'EC' && k.crv === 'P-256' && k.kid), JSON.stringify(keys));
    assert.ok(keys.every((k) => k.d === undefined), 'the JWKS must not publish private keys');
  });
});

describe('authorization code + PKCE', () => {
  it('alice on dashboard: password, ID token, userinfo, refresh', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { config, tokens, nonce, final } = await signInAndRedeem('dashboard', 'alice');
    assert.deepEqual(final.steps, ['identify', 'challenge-authenticator:password']);
    const claims = tokens.claims();
    assert.equal(claims.iss, issuer);
    assert.equal(claims.aud, 'dashboard');
    assert.equal(claims.nonce, nonce);
    const verified = await verifyIdToken(tokens.id_token, 'dashboard');
    assert.deepEqual(verified.amr, ['pwd']);
    assert.equal(verified.acr, 'urn:gatehouse:loa:1fa:any');
    assert.equal(verified.nonce, nonce);
    assert.ok(verified.auth_time >= before - 1 && verified.auth_time <= Math.floor(Date.now() / 1000) + 1, `auth_time ${verified.auth_time}`);
    assert.ok(tokens.access_token && tokens.refresh_token, 'access and refresh tokens');
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');

    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.sub, claims.sub);
    assert.equal(info.preferred_username, 'alice');

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'refresh tokens rotate');
    if (refreshed.id_token) {
      const again = await verifyIdToken(refreshed.id_token, 'dashboard');
      assert.equal(again.sub, claims.sub);
      assert.equal(again.auth_time, verified.auth_time, 'a refresh is not a new sign-in');
    }
    const info2 = await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub);
    assert.equal(info2.sub, claims.sub);
  });

  it('alice on finance: password then TOTP, amr [pwd, otp, mfa], acr 2fa', async () => {
    const { config, tokens, final } = await signInAndRedeem('finance', 'alice');
    assert.deepEqual(final.steps, ['identify', 'challenge-authenticator:password', 'challenge-authenticator:totp']);
    const verified = await verifyIdToken(tokens.id_token, 'finance');
    assert.deepEqual(verified.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(verified.acr, 'urn:gatehouse:loa:2fa:any');
    assert.equal(typeof verified.auth_time, 'number');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, verified.sub);
    assert.equal(info.preferred_username, 'alice');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(refreshed.access_token && refreshed.refresh_token);
  });

  it('the public client cli signs in with PKCE and no secret', async () => {
    const { tokens } = await signInAndRedeem('cli', 'alice');
    const verified = await verifyIdToken(tokens.id_token, 'cli');
    assert.deepEqual(verified.amr, ['pwd']);
  });

  it('bob is denied finance by its policy: the flow ends with error=access_denied', async () => {
    const { final } = await authorize('finance', 'bob');
    assert.equal(final.status, 'denied', JSON.stringify(final));
    const back = new URL(final.redirect);
    assert.equal(back.origin + back.pathname, DEMO.clients.finance.redirect);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.ok(back.searchParams.get('error_description'), 'the reason is named');
  });
});

describe('revocation, introspection, prompt=none', () => {
  it('introspection reports live tokens; a revoked refresh token is inactive and refused', async () => {
    const { config, tokens } = await signInAndRedeem('dashboard', 'alice');
    const live = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(live.active, true);
    assert.equal(live.client_id, 'dashboard');
    await oidc.tokenRevocation(config, tokens.refresh_token);
    const revoked = await oidc.tokenIntrospection(config, tokens.refresh_token);
    assert.equal(revoked.active, false);
    await rejectsWith(oidc.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant', 400);
    assert.equal((await oidc.tokenIntrospection(config, 'not-a-token')).active, false);
  });

  it('prompt=none without a session is sent back with login_required', async () => {
    const config = await configFor('dashboard');
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: DEMO.clients.dashboard.redirect, scope: 'openid', state: 'none-state', prompt: 'none',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const res = await new Agent(BASE).get(url.href, { headers: { accept: 'text/html' } });
    const back = new URL(res.location);
    assert.equal(back.origin + back.pathname, DEMO.clients.dashboard.redirect);
    assert.equal(back.searchParams.get('error'), 'login_required');
    assert.equal(back.searchParams.get('state'), 'none-state');
  });

  it('prompt=none with the gh_session of an earlier sign-in returns a code at once', async () => {
    const agent = new Agent(BASE);
    const first = await authorize('dashboard', 'alice', { agent });
    assert.equal(first.final.status, 'success');
    assert.ok(agent.cookies.has('gh_session'), 'the sign-in set gh_session');
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(first.config, {
      redirect_uri: DEMO.clients.dashboard.redirect, scope: 'openid', state: 'silent', prompt: 'none', nonce: 'silent-nonce',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const res = await agent.get(url.href, { headers: { accept: 'text/html' } });
    assert.ok(res.location?.startsWith(DEMO.clients.dashboard.redirect), `Location ${res.location}`);
    const tokens = await oidc.authorizationCodeGrant(first.config, new URL(res.location), {
      pkceCodeVerifier: verifier, expectedState: 'silent', expectedNonce: 'silent-nonce',
    });
    const claims = await verifyIdToken(tokens.id_token, 'dashboard');
    assert.equal(claims.sub, tokens.claims().sub);
  });
});

describe('client credentials', () => {
  it('reports-service gets an ES256 JWT access token', async () => {
    const config = await configFor('reports-service');
    const tokens = await oidc.clientCredentialsGrant(config, {});
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.expires_in > 0);
    assert.equal(tokens.refresh_token, undefined, 'no refresh token for client credentials');
    assert.equal(tokens.id_token, undefined, 'no ID token for client credentials');
    const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, { issuer, typ: 'at+jwt' });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.client_id, 'reports-service');
  });

  it('a wrong client secret is 401 invalid_client', async () => {
    // openid-client surfaces the 401's `WWW-Authenticate: Basic` challenge (RFC 6749 5.2) as its
    // own error; the body is checked with a plain request below.
    const config = await configFor('reports-service', 'not-the-secret');
    await assert.rejects(oidc.clientCredentialsGrant(config, {}), (e) => {
      assert.equal(e.status, 401, `${e.name}: ${e.message}`);
      return true;
    });
    for (const [id, secret] of [['reports-service', 'not-the-secret'], ['dashboard', DEMO.clients.finance.secret], ['no-such-client', 'x']]) {
      const res = await fetch(config.serverMetadata().token_endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      assert.equal(res.status, 401, id);
      assert.equal((await res.json()).error, 'invalid_client', id);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/i, id);
    }
  });

  it('a client without the grant (dashboard) is refused', async () => {
    const config = await configFor('dashboard');
    await rejectsWith(oidc.clientCredentialsGrant(config, {}), 'unauthorized_client', 400);
  });
});

describe('negative protocol tests', () => {
  it('a code is single-use: the second redemption is invalid_grant', async () => {
    const { config, callback, verifier, state, nonce } = await signInAndRedeem('dashboard', 'alice');
    await rejectsWith(oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
    }), 'invalid_grant', 400);
  });

  it('a wrong PKCE verifier is invalid_grant', async () => {
    const a = await authorize('dashboard', 'alice');
    assert.equal(a.final.status, 'success');
    await rejectsWith(oidc.authorizationCodeGrant(a.config, new URL(a.final.redirect), {
      pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: a.state, expectedNonce: a.nonce,
    }), 'invalid_grant', 400);
  });

  it('the public client cli without PKCE is sent back with invalid_request', async () => {
    const q = new URLSearchParams({
      response_type: 'code', client_id: 'cli', redirect_uri: DEMO.clients.cli.redirect,
      scope: 'openid', state: 'no-pkce-state', nonce: 'n',
    });
    const res = await new Agent(BASE).get(`/oauth2/authorize?${q}`, { headers: { accept: 'text/html' } });
    assert.ok([302, 303].includes(res.status), `HTTP ${res.status} ${res.text.slice(0, 200)}`);
    const back = new URL(res.location);
    assert.equal(back.origin + back.pathname, DEMO.clients.cli.redirect);
    assert.equal(back.searchParams.get('error'), 'invalid_request');
    assert.equal(back.searchParams.get('state'), 'no-pkce-state');
    assert.equal(back.searchParams.get('code'), null);
  });

  it('a redirect URI that is not registered exactly gets an error page, never a redirect', async () => {
    for (const redirect of [
      'http://127.0.0.1:9000/callback/', 'http://127.0.0.1:9000/callback?x=1', 'http://127.0.0.1:9000/CALLBACK',
      'http://evil.example/callback', DEMO.clients.finance.redirect,
    ]) {
      const q = new URLSearchParams({
        response_type: 'code', client_id: 'dashboard', redirect_uri: redirect, scope: 'openid',
        state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      });
      const res = await new Agent(BASE).get(`/oauth2/authorize?${q}`, { headers: { accept: 'text/html' } });
      assert.equal(res.status, 400, `${redirect}: HTTP ${res.status}`);
      assert.equal(res.location, null, `${redirect}: must not redirect`);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    }
  });

  it('a refresh token used twice revokes the family: the rotated token stops working too', async () => {
    const { config, tokens } = await signInAndRedeem('dashboard', 'alice');
    const first = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(first.refresh_token);
    await rejectsWith(oidc.refreshTokenGrant(config, tokens.refresh_token), 'invalid_grant', 400);
    await rejectsWith(oidc.refreshTokenGrant(config, first.refresh_token), 'invalid_grant', 400);
  });

  it('a refresh token is bound to its client', async () => {
    const { tokens } = await signInAndRedeem('dashboard', 'alice');
    const finance = await configFor('finance');
    await rejectsWith(oidc.refreshTokenGrant(finance, tokens.refresh_token), 'invalid_grant', 400);
  });

  it('a TOTP code is accepted once: the same code is refused on a second sign-in', async () => {
    const code = await freshTotp(DEMO.users.alice.totp);
    const first = await authorize('finance', 'alice', { answers: { totp: async () => code } });
    assert.equal(first.final.status, 'success', JSON.stringify(first.final));
    const second = await authorize('finance', 'alice', { answers: { totp: async () => code } });
    assert.equal(second.final.status, 'in_progress');
    assert.deepEqual(second.final.messages.map((m) => m.code), ['invalid_code'], JSON.stringify(second.final));
    assert.equal(remediation(second.final, 'challenge-authenticator')?.authenticator?.key, 'totp', 'still asks for a code');
  });

  it('a flow idle for more than 10 minutes has expired (410) and cannot be continued', async () => {
    // serve has no clock control: the flow's timestamps are moved 11 minutes back in the database,
    // which is exactly what 11 idle minutes look like to any node that reads the flow.
    const config = await configFor('dashboard');
    const q = oidc.buildAuthorizationUrl(config, {
      redirect_uri: DEMO.clients.dashboard.redirect, scope: 'openid', prompt: 'login',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256',
    });
    const fresh = new Agent(BASE);
    const flowId = flowIdOf(await fresh.get(q.href, { headers: { accept: 'text/html' } }));
    await flowStep(fresh, flowId, 'identify', { login: 'alice' });
    ageFlow(DB, flowId, 9 * 60 * 1000);
    assert.equal((await fresh.get(`/api/v1/flows/${flowId}`)).status, 200, 'nine idle minutes: still alive');
    ageFlow(DB, flowId, 2 * 60 * 1000);
    const gone = await fresh.get(`/api/v1/flows/${flowId}`);
    assert.equal(gone.status, 410);
    assert.equal(gone.json.status, 'expired');
    const post = await fresh.post(`/api/v1/flows/${flowId}/challenge-authenticator`, { json: { password: DEMO.users.alice.password } });
    assert.equal(post.status, 410);
    assert.equal(post.json.status, 'expired');
    assert.equal(post.json.redirect, undefined, 'an expired flow issues no code');
  });

  it('an unknown flow id is 404 for GET and POST', async () => {
    const agent = new Agent(BASE);
    for (const id of ['00000000-0000-0000-0000-000000000000', 'not-a-flow']) {
      assert.equal((await agent.get(`/api/v1/flows/${id}`)).status, 404);
      const post = await agent.post(`/api/v1/flows/${id}/identify`, { json: { login: 'alice' } });
      assert.equal(post.status, 404);
      assert.ok(post.json?.error, `a JSON error: ${post.text}`);
    }
  });

  it('user enumeration: an unknown login sees the same screens and messages as alice with a wrong password', async () => {
    const run = async (login) => {
      const a = await authorize('dashboard', login, { answers: { password: 'wrong-password-1' } });
      return a.final;
    };
    // The shape of a state without its ids, the login echoed back, or the flow id.
    const shape = (s) => JSON.parse(JSON.stringify(s, (k, v) => (['flow_id', 'id', 'steps'].includes(k) ? '<id>' : k === 'user' ? '<user>' : v)));
    const known = await run('alice');
    const unknown = await run('nobody-here');
    assert.equal(known.status, 'in_progress');
    assert.deepEqual(known.messages.map((m) => m.code), ['invalid_credentials']);
    assert.deepEqual(known.messages[0].text, 'The username or password is not correct.');
    assert.deepEqual(unknown.steps, known.steps, 'the same screens');
    assert.deepEqual(shape(unknown), shape(known), 'the same state, ids and login aside');
    const keysOf = (s) => JSON.stringify(s, (k, v) => (Array.isArray(v) || typeof v !== 'object' || v === null ? v : Object.fromEntries(Object.keys(v).sort().map((x) => [x, v[x]]))));
    const withoutValues = (s) => keysOf(JSON.parse(JSON.stringify(s, (k, v) => (typeof v === 'string' ? '' : v))));
    assert.equal(withoutValues(unknown), withoutValues(known), 'not even which fields are present may differ');
  });

  it('blocked-app: access_denied with "Policy evaluation failed for this request."', async () => {
    const config = await configFor('blocked-app');
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: DEMO.clients['blocked-app'].redirect, scope: 'openid', state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const agent = new Agent(BASE);
    const res = await agent.get(url.href, { headers: { accept: 'text/html' } });
    let redirect = res.location;
    if (/\/signin\//.test(redirect ?? '')) {
      // The policy may also be evaluated once the user is known: sign in, then expect the denial.
      const final = await signIn(agent, flowIdOf(res), 'alice');
      assert.equal(final.status, 'denied', JSON.stringify(final));
      redirect = final.redirect;
    }
    const back = new URL(redirect);
    assert.equal(back.origin + back.pathname, DEMO.clients['blocked-app'].redirect);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('error_description'), 'Policy evaluation failed for this request.');
    assert.equal(back.searchParams.get('state'), state);
    assert.equal(back.searchParams.get('code'), null);
    await assert.rejects(oidc.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state }), (e) => {
      assert.equal(e.error, 'access_denied');
      assert.equal(e.error_description, 'Policy evaluation failed for this request.');
      return true;
    });
  });
});

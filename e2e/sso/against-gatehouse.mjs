// The SSO gateway against the real Gatehouse demo (DESIGN.md section 12): `gatehouse serve --demo`
// on http://localhost:8080 and `gatehouse-sso serve --demo` on 127.0.0.1:8090, whose tenant
// `acme-corp` uses the demo client `sso-gateway`. The sign-in at Gatehouse is driven through its
// flow JSON API (DESIGN.md section 5), as any client may: identify, then answer the challenges
// until the flow succeeds and hands back the redirect to the gateway's callback.
//
// Usage: GATEHOUSE_BIN=… GATEHOUSE_SSO_BIN=… node e2e/sso/against-gatehouse.mjs
// Exit status: 0 passed, 3 the engine cannot sign in yet (its OIDC or flow routes answer 404; the
// suite prints a SKIPPED banner), anything else failed.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { Browser, admin, startGateway } from './lib.mjs';

const ENGINE = 'http://localhost:8080';
const DEMO = {
  alice: { password: 'correct-horse-battery', totp: 'GATEHOUSEDEMOALICETOTPSECRET2345' },
  bob: { password: 'bob-password-123' },
};

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

/** Exit code telling e2e/suites/sso.sh that the engine cannot sign in yet (part skipped). */
const SKIPPED = 3;

class EngineNotReady extends Error {}

/** Waits until anything answers HTTP at `url` (any status); returns that answer. */
async function firstAnswer(url, exited, logs, timeoutMs = 60000) {
  const start = Date.now();
  let gone = false;
  exited.then(() => { gone = true; });
  for (;;) {
    try {
      return await fetch(url, { redirect: 'manual' });
    } catch { /* not listening yet */ }
    if (gone) throw new Error(`gatehouse serve --demo exited before answering:\n${logs.join('')}`);
    if (Date.now() - start > timeoutMs) throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${logs.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startEngine() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-e2e-'));
  const logs = [];
  const child = spawn(process.env.GATEHOUSE_BIN, ['serve', '--demo'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => logs.push(d.toString()));
  child.stderr.on('data', (d) => logs.push(d.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const engine = {
    logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    const discovery = await firstAnswer(`${ENGINE}/.well-known/openid-configuration`, exited, logs);
    if (discovery.status === 404) throw new EngineNotReady('GET /.well-known/openid-configuration answers 404');
    assert.equal(discovery.status, 200, `discovery: HTTP ${discovery.status}`);
  } catch (e) {
    await engine.stop();
    throw e;
  }
  return engine;
}

/**
 * Whether the engine can run a sign-in: its authorize endpoint sends the `sso-gateway` client to
 * `/signin/{flow_id}`, and the flow API answers for that flow. A missing route (404) means that
 * part of the engine is not built yet; anything else wrong is a failure, reported by the run.
 */
async function probeSignIn() {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: 'sso-gateway',
    redirect_uri: 'http://127.0.0.1:8090/okta-login/acme-corp',
    scope: 'openid',
    state: 'probe-state',
    nonce: 'probe-nonce',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  const authorize = await fetch(`${ENGINE}/oauth2/authorize?${q}`, { redirect: 'manual' });
  if (authorize.status === 404) throw new EngineNotReady('GET /oauth2/authorize answers 404');
  const location = authorize.headers.get('location') ?? '';
  const flow = location.match(/\/signin\/([^/?#]+)/);
  if (!flow) return; // not the expected redirect: let the real run fail with the details
  const state = await fetch(`${ENGINE}/api/v1/flows/${flow[1]}`, { headers: { accept: 'application/json' } });
  const text = await state.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  if (state.status === 404 && json === undefined) throw new EngineNotReady(`GET /api/v1/flows/{id} answers 404 (${text || 'no body'})`);
}

/** Drives a Gatehouse sign-in flow until it succeeds; returns its redirect. */
async function completeFlow(browser, flowId, login) {
  const api = (p) => `${ENGINE}/api/v1/flows/${flowId}${p}`;
  let state = (await browser.fetch(api(''), { headers: { accept: 'application/json' } })).json;
  for (let step = 0; step < 10 && state?.status === 'in_progress'; step += 1) {
    const rems = state.remediation ?? [];
    const named = (n) => rems.find((r) => r.name === n);
    let name;
    let body;
    if (named('identify')) {
      name = 'identify'; body = { login };
    } else if (named('identify-password')) {
      name = 'identify-password'; body = { login, password: DEMO[login].password };
    } else if (named('challenge-authenticator')) {
      const r = named('challenge-authenticator');
      name = 'challenge-authenticator';
      const key = r.authenticator?.key;
      if (key === 'password') body = { password: DEMO[login].password };
      else if (key === 'totp') body = { code: totp(DEMO[login].totp) };
      else throw new Error(`cannot answer a ${key} challenge: ${JSON.stringify(state)}`);
    } else if (named('select-authenticator')) {
      const r = named('select-authenticator');
      const option = (r.options ?? []).find((o) => (o.authenticator?.key ?? o.authenticator ?? o.key) === 'password');
      if (!option) throw new Error(`no password option: ${JSON.stringify(state)}`);
      // The choice names the authenticator by key (and method, and enrollment id when given).
      name = 'select-authenticator';
      body = { authenticator: 'password' };
      if (option.authenticator?.method ?? option.method) body.method = option.authenticator?.method ?? option.method;
      if (option.id) body.id = option.id;
    } else if (named('skip')) {
      name = 'skip'; body = {};
    } else {
      throw new Error(`unexpected flow state: ${JSON.stringify(state)}`);
    }
    const r = await browser.fetch(api(`/${name}`), { method: 'POST', json: body, headers: { accept: 'application/json' } });
    assert.equal(r.status, 200, `${name}: ${r.status} ${r.text}`);
    state = r.json;
  }
  assert.equal(state?.status, 'success', `flow did not succeed: ${JSON.stringify(state)}`);
  return state.redirect;
}

async function signIn(gw, login) {
  const browser = new Browser();
  const start = await browser.fetch(`${gw.url}/sso/start`, { method: 'POST', json: { tenant: 'acme-corp' } });
  assert.equal(start.status, 303, start.text);
  assert.ok(start.location.startsWith(`${ENGINE}/oauth2/authorize?`), start.location);
  const atEngine = await browser.follow(start.location, (loc) => loc.startsWith(ENGINE));
  const match = atEngine.url.match(/\/signin\/([^/?#]+)/);
  assert.ok(match, `expected the Gatehouse sign-in page, got ${atEngine.status} at ${atEngine.url}`);
  const redirect = await completeFlow(browser, match[1], login);
  assert.ok(redirect.startsWith(`${gw.url}/okta-login/acme-corp?`), redirect);
  const done = await browser.fetch(redirect);
  assert.equal(done.status, 303, done.text);
  const me = await browser.fetch(`${gw.url}/dashboard`, { headers: { accept: 'application/json' } });
  assert.equal(me.status, 200, me.text);
  return me.json;
}

async function main() {
  for (const bin of ['GATEHOUSE_BIN', 'GATEHOUSE_SSO_BIN']) {
    if (!process.env[bin]) throw new Error(`${bin} is not set`);
  }
  const engine = await startEngine();
  let gw;
  try {
    await probeSignIn();
    gw = await startGateway({ port: 8090, args: ['--demo'] });
    const check = await admin(gw, 'POST', '/admin/tenants/acme-corp/test');
    assert.equal(check.json?.ok, true, `connection test: ${check.text}`);
    const alice = await signIn(gw, 'alice');
    assert.equal(alice.tenant.slug, 'acme-corp');
    assert.equal(alice.user.project_role, 'owner');
    assert.equal(alice.user.role, 'partner');
    assert.ok(alice.project_id, JSON.stringify(alice));
    assert.equal(alice.subscription.plan, 'advanced');
    const bob = await signIn(gw, 'bob');
    assert.equal(bob.user.project_role, 'member');
    assert.equal(bob.project_id, alice.project_id);
    console.log(`ok: alice (owner) and bob (member) signed in through Gatehouse; project ${alice.project_id}`);
  } catch (e) {
    if (!(e instanceof EngineNotReady)) {
      console.error(`gatehouse-sso logs:\n${gw?.logs.join('') ?? ''}\ngatehouse logs:\n${engine.logs.join('')}`);
    }
    throw e;
  } finally {
    await gw?.stop();
    await engine.stop();
  }
}

main().catch((e) => {
  if (e instanceof EngineNotReady) {
    console.error(`the Gatehouse engine cannot sign in yet: ${e.message}`);
    process.exit(SKIPPED);
  }
  console.error(e);
  process.exit(1);
});

// Helpers of the OIDC end-to-end suite: a browser-less user agent with a cookie jar, an RFC 6238
// TOTP independent of Gatehouse's, and a driver of the sign-in flow API (DESIGN.md section 5,
// docs/flows.md) that answers each remediation the way a person would.
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';

/** The demo organisation (DESIGN.md section 12). */
export const DEMO = {
  users: {
    alice: { password: 'correct-horse-battery', totp: 'GATEHOUSEDEMOALICETOTPSECRET2345' },
    bob: { password: 'bob-password-123' },
  },
  clients: {
    dashboard: { secret: 'demo-dashboard-secret', redirect: 'http://127.0.0.1:9000/callback' },
    finance: { secret: 'demo-finance-secret', redirect: 'http://127.0.0.1:9001/callback' },
    cli: { redirect: 'http://127.0.0.1:9002/callback' },
    'blocked-app': { secret: 'demo-blocked-secret', redirect: 'http://127.0.0.1:9003/callback' },
    'reports-service': { secret: 'demo-reports-secret' },
  },
};

/** The server under test, from the environment `e2e/suites/oidc.sh` sets. */
export function server() {
  const url = process.env.GATEHOUSE_URL;
  assert.ok(url, 'GATEHOUSE_URL must name the running server (e2e/suites/oidc.sh sets it)');
  return { url: url.replace(/\/$/, ''), db: process.env.GATEHOUSE_DB };
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret at time step `counter`. */
export function totpAt(base32, counter) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = createHmac('sha1', key).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

const step = () => Math.floor(Date.now() / 30_000);
let lastStep = -1;

/**
 * A TOTP code Gatehouse has not seen yet. The server accepts ±1 step and never a step at or before
 * the last one it accepted for the enrollment, so each sign-in takes the next unused step among
 * the current and the next one (waiting for the clock when both are used).
 */
export async function freshTotp(secret) {
  for (;;) {
    const now = step();
    const counter = Math.max(now, lastStep + 1);
    if (counter <= now + 1) {
      lastStep = counter;
      return totpAt(secret, counter);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A user agent with its own cookie jar that never follows redirects by itself. */
export class Agent {
  constructor(base) {
    this.base = base;
    this.cookies = new Map();
  }

  async request(method, url, { json, form, headers = {} } = {}) {
    const h = { accept: 'application/json', ...headers };
    let body;
    if (json !== undefined) { h['content-type'] = 'application/json'; body = JSON.stringify(json); }
    if (form !== undefined) { h['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(form).toString(); }
    const target = new URL(url, this.base);
    if (this.cookies.size && target.origin === new URL(this.base).origin) {
      h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const res = await fetch(target, { method, headers: h, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name); else this.cookies.set(name, value);
    }
    const text = await res.text();
    let parsed;
    try { parsed = JSON.parse(text); } catch { parsed = undefined; }
    return { status: res.status, headers: res.headers, location: res.headers.get('location'), text, json: parsed };
  }

  get(url, opts) { return this.request('GET', url, opts); }

  post(url, opts) { return this.request('POST', url, opts); }
}

/** The flow id of an authorize answer that sends the browser to `/signin/{flow_id}`. */
export function flowIdOf(res) {
  const m = (res.location ?? '').match(/\/signin\/([^/?#]+)/);
  assert.ok(m, `authorize did not send the browser to the sign-in page: HTTP ${res.status} Location ${res.location} ${res.text.slice(0, 300)}`);
  return decodeURIComponent(m[1]);
}

/** One step of a flow: POST the remediation, expect 200, return the new state. */
export async function flowStep(agent, flowId, name, body) {
  const r = await agent.post(`/api/v1/flows/${encodeURIComponent(flowId)}/${name}`, { json: body });
  assert.equal(r.status, 200, `${name}: HTTP ${r.status} ${r.text}`);
  assert.ok(r.json && typeof r.json === 'object', `${name}: not JSON: ${r.text}`);
  return r.json;
}

export async function flowState(agent, flowId) {
  const r = await agent.get(`/api/v1/flows/${encodeURIComponent(flowId)}`);
  assert.equal(r.status, 200, `GET flow: HTTP ${r.status} ${r.text}`);
  return r.json;
}

export const remediation = (state, name) => (state.remediation ?? []).find((r) => r.name === name);

/**
 * Signs `login` in through the flow until it ends; returns the final state. `answers` may override
 * how a challenge is answered: `{ password, totp: async () => code }`.
 */
export async function signIn(agent, flowId, login, answers = {}) {
  const user = DEMO.users[login] ?? {};
  const password = answers.password ?? user.password;
  const seen = [];
  let state = await flowState(agent, flowId);
  for (let i = 0; i < 8 && state.status === 'in_progress'; i += 1) {
    let name;
    let body;
    const challenge = remediation(state, 'challenge-authenticator');
    if (remediation(state, 'identify')) {
      name = 'identify'; body = { login };
    } else if (remediation(state, 'identify-password')) {
      name = 'identify-password'; body = { login, password };
    } else if (challenge && challenge.authenticator?.key === 'password') {
      name = 'challenge-authenticator'; body = { password };
    } else if (challenge && challenge.authenticator?.key === 'totp') {
      name = 'challenge-authenticator';
      body = { code: answers.totp ? await answers.totp() : await freshTotp(user.totp) };
    } else if (remediation(state, 'select-authenticator')?.options?.some((o) => o.authenticator?.key === 'totp')) {
      name = 'select-authenticator'; body = { authenticator: 'totp' };
    } else {
      throw new Error(`cannot answer this state: ${JSON.stringify(state)}`);
    }
    seen.push(body.code !== undefined ? `${name}:${challenge?.authenticator?.key}` : name === 'challenge-authenticator' ? `${name}:password` : name);
    state = await flowStep(agent, flowId, name, body);
    const errors = (state.messages ?? []).filter((m) => m.level === 'error');
    if (errors.length && state.status === 'in_progress') {
      state.steps = seen;
      return state; // a refused answer: the caller decides whether that was expected
    }
  }
  state.steps = seen;
  return state;
}

/**
 * Ages a flow by `ms` in the database, as if nobody had touched it for that long: Gatehouse keeps
 * flows in the database so any node can continue any flow, and `serve` has no clock control, so
 * moving the flow's timestamps back is how a test makes 10 idle minutes pass in no time.
 */
export function ageFlow(db, flowId, ms) {
  assert.ok(db, 'GATEHOUSE_DB must name the SQLite database of the server');
  const sql = 'UPDATE flows SET created_at = created_at - ?, updated_at = updated_at - ?, expires_at = expires_at - ? WHERE id = ?';
  const out = execFileSync('python3', ['-c', `
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
n = c.execute(${JSON.stringify(sql)}, (int(sys.argv[2]),) * 3 + (sys.argv[3],)).rowcount
c.commit()
print(n)
`, db, String(ms), flowId]).toString().trim();
  assert.equal(out, '1', `the flow ${flowId} is not in the database ${db}`);
}

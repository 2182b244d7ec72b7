// Helpers for the SSO gateway's end-to-end tests: a browser-less "browser" (cookie jar,
// redirects followed by hand), free ports, and starting/stopping gatehouse-sso as a real process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A browser: one cookie jar (by host name, as browsers scope cookies), no automatic redirects. */
export class Browser {
  constructor() {
    this.jar = new Map();
  }

  cookieHeader(url) {
    const host = new URL(url).hostname;
    const cookies = this.jar.get(host);
    if (!cookies || cookies.size === 0) return undefined;
    return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  remember(url, res) {
    const host = new URL(url).hostname;
    const cookies = this.jar.get(host) ?? new Map();
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const expired = attrs.some((a) => /^max-age=0$/i.test(a)) || value === '';
      if (expired) cookies.delete(name);
      else cookies.set(name, value);
    }
    this.jar.set(host, cookies);
  }

  /** One request; returns { status, location, headers, text, json }. */
  async fetch(url, { method = 'GET', headers = {}, body, form, json } = {}) {
    const h = { ...headers };
    const cookie = this.cookieHeader(url);
    if (cookie) h.cookie = cookie;
    let payload = body;
    if (json !== undefined) {
      h['content-type'] = 'application/json';
      payload = JSON.stringify(json);
    } else if (form !== undefined) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      payload = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method, headers: h, body: payload, redirect: 'manual' });
    this.remember(url, res);
    const text = await res.text();
    let parsed;
    try { parsed = JSON.parse(text); } catch { parsed = undefined; }
    const location = res.headers.get('location');
    return {
      status: res.status,
      location: location ? new URL(location, url).toString() : null,
      headers: res.headers,
      text,
      json: parsed,
    };
  }

  /** Follows redirects from `url` while `keepGoing(url)` holds; returns the last answer and URL. */
  async follow(url, keepGoing, options = {}) {
    let current = url;
    let opts = options;
    for (let i = 0; i < 20; i += 1) {
      const r = await this.fetch(current, opts);
      // Redirects are followed with GET (303 semantics), keeping only the headers.
      opts = { headers: options.headers };
      if (r.status < 300 || r.status >= 400 || !r.location || !keepGoing(r.location)) {
        return { ...r, url: current };
      }
      current = r.location;
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(url, { timeoutMs = 20000 } = {}) {
  const start = Date.now();
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not up yet */ }
    if (Date.now() - start > timeoutMs) throw new Error(`${url} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts `gatehouse-sso serve` in a fresh directory; returns { url, adminToken, stop, logs }. */
export async function startGateway({ port, args = [], env = {} } = {}) {
  const bin = process.env.GATEHOUSE_SSO_BIN;
  if (!bin) throw new Error('GATEHOUSE_SSO_BIN is not set');
  const listen = port ?? await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-sso-e2e-'));
  const adminToken = `e2e-admin-${Math.random().toString(36).slice(2)}`;
  const logs = [];
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${listen}`, ...args], {
    cwd: dir,
    env: { ...process.env, GATEHOUSE_SSO_ADMIN_TOKEN: adminToken, GATEHOUSE_SSO_LOG: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => logs.push(d.toString()));
  child.stderr.on('data', (d) => logs.push(d.toString()));
  const url = `http://127.0.0.1:${listen}`;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await Promise.race([
      waitFor(`${url}/healthz`),
      exited.then((code) => { throw new Error(`gatehouse-sso exited early (${code}):\n${logs.join('')}`); }),
    ]);
  } catch (e) {
    child.kill('SIGTERM');
    throw e;
  }
  return {
    url,
    adminToken,
    logs,
    dir,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const code = await exited;
        if (code !== 0) throw new Error(`gatehouse-sso exited with ${code} on SIGTERM:\n${logs.join('')}`);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An admin API call. */
export async function admin(gateway, method, path_, body) {
  const res = await fetch(`${gateway.url}${path_}`, {
    method,
    headers: { authorization: `Bearer ${gateway.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

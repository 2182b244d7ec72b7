// FastPass in real headless Chromium (DESIGN section 7, docs/verify-protocol.md section 7.2):
// the sign-in page finds the real `gatehouse-verify daemon` on a loopback port, relays the
// server's challenge to it and follows the flow; when the daemon cannot be reached (a port that
// never answers, a request an extension blocks, no daemon at all) it falls back to the other
// methods within a few seconds, says why, and stops trying.
//
// One server for the file, started with `--fastpass-ports BLACKHOLE,DAEMON`: the first port
// accepts connections and never answers, so every test also proves the 1 s probe timeout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { LAUNCH, freePort, startDemo } from './server.mjs';

const SHOTS = '../target/screenshots';
const FAILED = 'Gatehouse Verify did not answer: it may not be running, or your browser blocked access to it.';

let server;
let browser;
let blackhole;
let blackholePort;
let daemonPort;
let daemon;
let home;
const held = [];

async function startDaemon() {
  const bin = process.env.GATEHOUSE_VERIFY_BIN;
  const child = spawn(bin, ['--home', home, 'daemon', '--listen', `127.0.0.1:${daemonPort}`, '--no-push'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  child.stdout.on('data', (d) => logs.push(String(d)));
  child.stderr.on('data', (d) => logs.push(String(d)));
  let exited = false;
  child.on('exit', () => { exited = true; });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${daemonPort}/probe`)).ok) break;
    } catch { /* not listening yet */ }
    if (exited || Date.now() > deadline) throw new Error(`gatehouse-verify daemon did not start:\n${logs.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

before(async () => {
  if (!process.env.GATEHOUSE_VERIFY_BIN) throw new Error('GATEHOUSE_VERIFY_BIN must point to the gatehouse-verify binary');
  mkdirSync(SHOTS, { recursive: true });
  // A port that accepts connections and never answers (a hung or hostile listener).
  blackhole = net.createServer((socket) => { held.push(socket); socket.on('error', () => {}); });
  await new Promise((r) => blackhole.listen(0, '127.0.0.1', r));
  blackholePort = blackhole.address().port;
  daemonPort = await freePort();
  server = await startDemo(['--no-demo-apps', '--fastpass-ports', `${blackholePort},${daemonPort}`]);
  home = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-verify-home-'));
  const enroll = spawnSync(process.env.GATEHOUSE_VERIFY_BIN,
    ['--home', home, 'enroll', '--server', server.base, '--login', 'alice', '--password-stdin'],
    { input: 'correct-horse-battery\n', encoding: 'utf8', timeout: 60_000 });
  assert.equal(enroll.status, 0, `enroll failed:\n${enroll.stdout}\n${enroll.stderr}`);
  daemon = await startDaemon();
  browser = await chromium.launch(LAUNCH);
});

after(async () => {
  await browser?.close();
  await daemon?.stop();
  await server?.stop();
  for (const s of held) s.destroy();
  blackhole?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** A fresh profile; records CSP violations, page errors and every request to a loopback port. */
async function freshPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  const loopback = [];
  const polls = [];
  page.on('console', (m) => { if (/Content Security Policy|Refused to connect/i.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.port === String(blackholePort) || url.port === String(daemonPort)) loopback.push(`${r.method()} ${url.port}${url.pathname}`);
    if (url.pathname.endsWith('/poll')) polls.push(Date.now());
  });
  return { context, page, problems, loopback, polls };
}

test('passwordless FastPass: the page finds the daemon past a port that never answers and signs alice in', async () => {
  const { context, page, problems, loopback } = await freshPage();
  const started = Date.now();
  await page.goto(`${server.base}/app`);
  assert.match(page.url(), /\/signin\//);
  // Nobody types anything: the daemon's signature identifies alice.
  await page.waitForURL(`${server.base}/app`, { timeout: 20_000 });
  assert.equal(await page.locator('h1').textContent(), 'Hello, Alice Example');
  assert.ok(Date.now() - started < 15_000, 'FastPass took too long');
  assert.ok(loopback.includes(`GET ${blackholePort}/probe`), 'the first port was probed');
  assert.ok(loopback.includes(`GET ${daemonPort}/probe`), 'then the daemon port');
  assert.ok(loopback.includes(`POST ${daemonPort}/challenge`), 'the challenge went to the daemon');
  assert.ok(!loopback.includes(`POST ${blackholePort}/challenge`));
  await page.screenshot({ path: `${SHOTS}/fastpass-signed-in.png` });
  assert.deepEqual(problems, [], 'no CSP violation or page error');
  await context.close();
});

test('an extension blocking the loopback: the page falls back at once, says why, and FastPass works on request', async () => {
  const { context, page, problems, loopback, polls } = await freshPage();
  // What an ad blocker or a denied local-network permission does: the request fails in the browser.
  await context.route(/^http:\/\/127\.0\.0\.1:\d+\/(probe|challenge)$/, (route) => route.abort('blockedbyclient'));
  const started = Date.now();
  await page.goto(`${server.base}/app`);
  const panel = page.locator('#fastpass[data-phase=failed]');
  await panel.waitFor({ timeout: 5_000 });
  assert.ok(Date.now() - started < 5_000, 'the fallback came within a few seconds');
  assert.equal(await panel.locator('.error').textContent(), FAILED);
  assert.match(await panel.innerText(), /blocked/);
  assert.ok(await page.locator('input[name=login]').isVisible(), 'the username step is there to use instead');
  const probes = loopback.length;
  await page.waitForTimeout(4_000);
  assert.equal(loopback.length, probes, 'no new attempt on its own');
  assert.equal(polls.length, 0, 'nothing polls the flow after the fallback');

  // The person clears the block and asks again.
  await context.unroute(/^http:\/\/127\.0\.0\.1:\d+\/(probe|challenge)$/);
  await page.getByRole('button', { name: 'Try Gatehouse Verify again' }).click();
  await page.waitForURL(`${server.base}/app`, { timeout: 20_000 });
  assert.equal(await page.locator('h1').textContent(), 'Hello, Alice Example');
  await page.screenshot({ path: `${SHOTS}/fastpass-after-unblock.png` });
  assert.deepEqual(problems, []);
  await context.close();
});

test('no daemon listening: the page falls back within a few seconds, says why, does not loop, and the password still works', async () => {
  await daemon.stop();
  const { context, page, problems, loopback, polls } = await freshPage();
  const started = Date.now();
  await page.goto(`${server.base}/app`);
  const panel = page.locator('#fastpass[data-phase=failed]');
  await panel.waitFor({ timeout: 5_000 });
  const took = Date.now() - started;
  assert.ok(took < 5_000, `the fallback took ${took} ms`);
  assert.equal(await panel.locator('.error').textContent(), FAILED);
  assert.match(await panel.innerText(), /Sign in with your username instead/);
  await page.screenshot({ path: `${SHOTS}/fastpass-fallback.png` });
  const attempts = loopback.length;
  assert.deepEqual(loopback, [`GET ${blackholePort}/probe`, `GET ${daemonPort}/probe`], 'each port probed once');
  await page.waitForTimeout(5_000);
  assert.equal(loopback.length, attempts, 'no probe after the fallback');
  assert.equal(polls.length, 0, 'no poll after the fallback');

  // The other methods work: alice signs in with her password.
  await page.locator('input[name=login]').fill('alice');
  await page.locator('#content form button[type=submit]').click();
  await page.locator('input[name=password]').fill('correct-horse-battery');
  assert.equal(await page.locator('#fastpass').count(), 0, 'the FastPass notice is gone once another method is used');
  await page.locator('#content form button[type=submit]').click();
  await page.waitForURL(`${server.base}/app`);
  await page.screenshot({ path: `${SHOTS}/fastpass-fallback-password.png` });
  assert.deepEqual(problems, []);
  await context.close();
});

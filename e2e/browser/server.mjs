// Starts `gatehouse serve --demo` for a browser suite: its own temporary directory (database, key
// file, outbox), a free port, and an issuer on that port. Stops it with `stop()`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** `extraArgs` are added to `gatehouse serve --demo …` (e.g. `--fastpass-ports`). `host` names
 * the issuer's host: WebAuthn needs a domain (`localhost`), not an IP address, as its RP ID. */
export async function startDemo(extraArgs = [], { host = '127.0.0.1' } = {}) {
  const bin = process.env.GATEHOUSE_BIN;
  if (!bin) throw new Error('GATEHOUSE_BIN must point to the gatehouse binary');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-browser-'));
  const port = await freePort();
  const base = `http://${host}:${port}`;
  const probe = `http://127.0.0.1:${port}`;
  const logs = [];
  const child = spawn(bin, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--issuer', base, ...extraArgs], {
    cwd: dir,
    env: {
      ...process.env,
      GATEHOUSE_ADMIN_TOKEN: 'browser-admin-token',
      // Cheap hashing keeps the suite fast; the parameters are not what is under test here.
      GATEHOUSE_PASSWORD_MEMORY_KIB: '1024',
      GATEHOUSE_PASSWORD_ITERATIONS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => logs.push(String(d)));
  child.stderr.on('data', (d) => logs.push(String(d)));
  let exited = false;
  child.on('exit', () => { exited = true; });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`${probe}/healthz`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (exited) throw new Error(`gatehouse serve --demo exited:\n${logs.join('')}`);
    if (Date.now() > deadline) throw new Error(`gatehouse did not answer /healthz:\n${logs.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    /** The same server by IP address, for Node's own requests (`localhost` may resolve to ::1). */
    probe,
    dir,
    outbox: path.join(dir, 'gatehouse-outbox'),
    logs,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const LAUNCH = {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run'],
};

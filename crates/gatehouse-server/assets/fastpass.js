// FastPass on the sign-in page (DESIGN section 7, docs/verify-protocol.md section 7.2): when the
// flow state carries a loopback challenge, find Gatehouse Verify's daemon on one of the listed
// ports (`GET /probe`, 1 s each), hand it the challenge (`POST /challenge`; the daemon signs and
// sends the answer to the server itself), then follow the flow with `poll` until it moves on.
//
// It never loops: a probe that finds nothing, a request the browser blocks (an extension, the
// local-network-access permission), a refusal from the daemon, or a flow that has not moved 10 s
// after the daemon answered ends the attempt with a message saying why; the page's other methods
// stay on screen and a button lets the person try again. Nothing is retried on its own, and at
// most MAX_AUTOMATIC challenges are relayed without the person asking.
//
// signin.js calls `GatehouseFastPass.onState(state, {call, render, content})` after drawing
// each state; this script adds its panel at the top of `content`.
'use strict';

window.GatehouseFastPass = (function () {
  const PROBE_TIMEOUT_MS = 1000;
  const CHALLENGE_TIMEOUT_MS = 60000; // the daemon may be waiting for a local biometric check
  const SETTLE_MS = 10000;
  const MAX_AUTOMATIC = 3;
  const DID_NOT_ANSWER = 'Gatehouse Verify did not answer: it may not be running, or your browser blocked access to it.';

  // The attempt for one challenge: {request, phase: 'probing' | 'waiting' | 'failed' | 'done', detail}.
  let attempt = null;
  let gaveUp = false;
  let relayed = 0;
  let port = null; // the port a daemon answered on, once one has
  let timer = null;
  let api = null;

  function relayOf(state) {
    for (const r of state.remediation || []) {
      if (!r.challenge || !r.challenge.request || !Array.isArray(r.challenge.ports)) continue;
      const a = r.authenticator || {};
      if (r.name === 'challenge-authenticator' && a.key === 'device' && a.method === 'fastpass') return r;
      // The inline biometric remediation goes through the loopback only when this page already
      // reached the daemon (protocol section 9); a push's goes through the push channel.
      if (r.name === 'enroll-user-verification' && port !== null) return r;
    }
    return null;
  }

  function pollRefresh(state) {
    const poll = (state.remediation || []).find((r) => r.name === 'poll');
    const refresh = poll && Number(poll.refresh);
    return Math.min(Math.max(Number.isFinite(refresh) ? refresh : 1500, 500), 2000);
  }

  function stop() {
    if (timer) clearTimeout(timer);
    timer = null;
  }

  function node(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === 'text') el.textContent = value;
      else if (key === 'onclick') el.addEventListener('click', value);
      else el.setAttribute(key, value);
    }
    for (const child of children) if (child) el.append(child);
    return el;
  }

  function panel() {
    if (!api || !attempt) return;
    const old = document.getElementById('fastpass');
    if (old) old.remove();
    const box = node('section', { id: 'fastpass', class: 'fastpass', 'data-phase': attempt.phase, 'aria-live': 'polite' });
    if (attempt.phase === 'probing') {
      box.append(node('p', { text: 'Looking for Gatehouse Verify on this device…' }));
    } else if (attempt.phase === 'waiting') {
      box.append(node('p', { text: 'Gatehouse Verify is signing you in…' }));
    } else if (attempt.phase === 'failed') {
      box.append(node('p', { class: 'error', role: 'alert', text: attempt.text }));
      if (attempt.detail) box.append(node('p', { class: 'muted', text: attempt.detail }));
      box.append(node('p', { class: 'muted', text: attempt.passwordless ? 'Sign in with your username instead.' : 'Choose another way to verify, or try again.' }));
      box.append(node('button', { type: 'button', class: 'secondary', text: 'Try Gatehouse Verify again', onclick: retry }));
    } else {
      return;
    }
    api.content.prepend(box);
  }

  function fail(text, detail) {
    stop();
    gaveUp = true;
    attempt.phase = 'failed';
    attempt.text = text;
    attempt.detail = detail;
    panel();
  }

  async function permissionState() {
    // Chrome's local-network-access permission; other browsers do not know the name.
    if (!navigator.permissions || !navigator.permissions.query) return 'unknown';
    for (const name of ['local-network-access', 'loopback-network']) {
      try {
        return (await navigator.permissions.query({ name })).state;
      } catch (_) { /* not known to this browser */ }
    }
    return 'unknown';
  }

  async function request(url, init, timeoutMs) {
    const controller = new AbortController();
    const t = setTimeout(() => controller.abort(), timeoutMs);
    try {
      return await fetch(url, { ...init, signal: controller.signal, cache: 'no-store', credentials: 'omit', mode: 'cors', redirect: 'error' });
    } finally {
      clearTimeout(t);
    }
  }

  async function start(rem, state) {
    const mine = { request: rem.challenge.request, phase: 'probing', passwordless: !state.user };
    attempt = mine;
    relayed += 1;
    panel();
    const permission = await permissionState();
    if (attempt !== mine) return;
    if (permission === 'denied') {
      fail(DID_NOT_ANSWER, 'Your browser does not let this site reach apps on this device (local network access is blocked in the site settings). Allow it and try again.');
      return;
    }
    let found = null;
    let timedOut = 0;
    let blocked = 0;
    let notReady = null;
    for (const p of rem.challenge.ports) {
      if (!Number.isInteger(p) || p < 1 || p > 65535) continue;
      try {
        const res = await request(`http://127.0.0.1:${p}/probe`, { method: 'GET' }, PROBE_TIMEOUT_MS);
        if (res.status === 200) { found = p; break; }
        notReady = res.status;
      } catch (e) {
        if (e && e.name === 'AbortError') timedOut += 1; else blocked += 1;
      }
      if (attempt !== mine) return;
    }
    if (attempt !== mine) return;
    if (found === null) {
      let detail;
      if (notReady !== null && timedOut === 0 && blocked === 0) detail = 'Gatehouse Verify is running but not set up for you on this device.';
      else if (timedOut > 0 && blocked === 0) detail = 'Nothing answered on this device within a second.';
      else detail = permission === 'prompt'
        ? 'If your browser asks whether this site may reach apps on this device, allow it and try again.'
        : 'The connection was refused or blocked (a browser extension or setting can do this).';
      fail(DID_NOT_ANSWER, detail);
      return;
    }
    port = found;
    let res;
    try {
      res = await request(`http://127.0.0.1:${found}/challenge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request: mine.request }),
      }, CHALLENGE_TIMEOUT_MS);
    } catch (e) {
      if (attempt === mine) fail(DID_NOT_ANSWER, 'Gatehouse Verify was found, but the sign-in request could not reach it.');
      return;
    }
    if (attempt !== mine) return;
    if (res.status !== 200) {
      let body = null;
      try { body = await res.json(); } catch (_) { /* not JSON */ }
      fail('Gatehouse Verify could not sign you in.', body && body.message ? body.message : `It answered ${res.status}.`);
      return;
    }
    mine.phase = 'waiting';
    mine.deadline = Date.now() + SETTLE_MS;
    panel();
    follow(mine, 0);
  }

  function follow(mine, delay) {
    stop();
    timer = setTimeout(async () => {
      if (attempt !== mine) return;
      const next = await api.call('POST', '/poll', {});
      if (attempt !== mine) return;
      const rem = relayOf(next);
      const moved = next.status !== 'in_progress' || !rem || rem.challenge.request !== mine.request;
      if (moved) {
        mine.phase = 'done';
        stop();
        api.render(next);
        return;
      }
      if (Date.now() >= mine.deadline) {
        fail(DID_NOT_ANSWER, 'Gatehouse Verify took the request, but the sign-in did not move on.');
        return;
      }
      follow(mine, pollRefresh(next));
    }, delay);
  }

  function retry() {
    gaveUp = false;
    relayed = 0;
    attempt = null;
    stop();
    api.call('GET', '').then(api.render);
  }

  function onState(state, hooks) {
    api = hooks;
    const rem = state.status === 'in_progress' ? relayOf(state) : null;
    if (!rem) {
      stop();
      attempt = null;
      return;
    }
    const busy = attempt && (attempt.phase === 'probing' || attempt.phase === 'waiting');
    if (attempt && (attempt.request === rem.challenge.request || busy)) {
      panel();
      return;
    }
    const passwordless = !state.user;
    if (gaveUp && attempt) {
      // A new challenge after a failure (rotated, or offered again): not tried on its own.
      attempt = { ...attempt, request: rem.challenge.request, passwordless };
      panel();
      return;
    }
    if (relayed >= MAX_AUTOMATIC) {
      attempt = { request: rem.challenge.request, phase: 'probing', passwordless };
      fail(DID_NOT_ANSWER, 'Gatehouse Verify answered several times without the sign-in moving on.');
      return;
    }
    start(rem, state);
  }

  return { onState };
})();

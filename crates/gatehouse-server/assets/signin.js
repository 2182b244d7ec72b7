// The sign-in page: renders the flow state of /api/v1/flows/{id} and posts each answer back,
// exactly as any other client of the flow API does (DESIGN section 5). No inline code, no
// third-party assets: everything is built with DOM calls so the CSP can stay strict.
'use strict';

(function () {
  const flowId = document.body.dataset.flowId;
  const api = (path) => `/api/v1/flows/${encodeURIComponent(flowId)}${path}`;
  const content = document.getElementById('content');
  const messages = document.getElementById('messages');
  const title = document.getElementById('title');
  const appLine = document.getElementById('app');

  const LABELS = {
    password: 'Password', email: 'Email code', phone: 'Text message code', totp: 'Authenticator app code',
    webauthn: 'Security key or passkey', device: 'Gatehouse Verify', smart_card: 'Smart card', idp: 'Identity provider',
  };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function showMessages(list) {
    messages.replaceChildren(...(list || []).map((m) => el('p', { class: m.level === 'error' ? 'error' : 'info', text: m.text })));
  }

  async function call(method, path, body) {
    const res = await fetch(api(path), {
      method,
      credentials: 'same-origin',
      headers: body ? { 'content-type': 'application/json', accept: 'application/json' } : { accept: 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    let json = null;
    try { json = await res.json(); } catch (_) { /* not JSON */ }
    if (res.status === 404) return { status: 'unknown', messages: [{ level: 'error', text: 'This sign-in does not exist. Go back to the application and start again.' }], remediation: [] };
    if (!json) return { status: 'error', messages: [{ level: 'error', text: `The server answered ${res.status}. Try again.` }], remediation: [] };
    if (json.error) return { status: 'in_progress', messages: [{ level: 'error', text: json.message }], remediation: current ? current.remediation : [] };
    return json;
  }

  let current = null;
  let pollTimer = null; // the next `poll` of a push waiting for the person's answer

  // A push (or the biometric remediation delivered by push) is answered on the device; the page
  // follows the flow with `poll` at the pace the server asks for until it moves on.
  function schedulePoll(refresh) {
    const wait = Math.min(Math.max(Number(refresh) || 2000, 500), 10000);
    pollTimer = setTimeout(async () => {
      pollTimer = null;
      render(await call('POST', '/poll', {}));
    }, wait);
  }

  function pushPanel(poll, uv) {
    const parts = [];
    if (uv) {
      title.textContent = 'Add biometrics in Gatehouse Verify';
      parts.push(el('p', { text: 'This application needs you to verify with biometrics (fingerprint or face). Gatehouse Verify on your device asks you to set them up for this account: follow it there, then approve.' }));
      parts.push(el('p', { class: 'muted', text: 'On a computer without the app open, run: gatehouse-verify enroll-biometrics' }));
    } else {
      title.textContent = 'Approve the push in Gatehouse Verify';
      parts.push(el('p', { text: 'We sent a push to your device. Approve it there to continue.' }));
      if (poll.number !== undefined) {
        parts.push(el('p', { text: 'Pick this number on your device:' }));
        parts.push(el('p', { class: 'number', id: 'push-number', 'aria-label': `Number to pick: ${poll.number}`, text: String(poll.number) }));
      }
    }
    parts.push(el('p', { class: 'muted', id: 'push-status', role: 'status', 'aria-live': 'polite', text: 'Waiting for your answer…' }));
    return parts;
  }

  // WebAuthn: the flow API speaks the WebAuthn Level 3 JSON form (binary fields base64url);
  // navigator.credentials wants ArrayBuffers. These convert both ways.
  function fromB64u(text) {
    const b64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }

  function toB64u(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // Absent members, not nulls: WebIDL refuses `null` for sequences such as `hints`.
  function dropNulls(value) {
    if (Array.isArray(value)) return value.map(dropNulls);
    if (value && typeof value === 'object') {
      const out = {};
      for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = dropNulls(v);
      return out;
    }
    return value;
  }

  const withId = (c) => ({ ...c, id: fromB64u(c.id) });

  function creationOptions(o) {
    const options = dropNulls(o);
    return { ...options, challenge: fromB64u(options.challenge), user: { ...options.user, id: fromB64u(options.user.id) },
      excludeCredentials: (options.excludeCredentials || []).map(withId) };
  }

  function requestOptions(o) {
    const options = dropNulls(o);
    return { ...options, challenge: fromB64u(options.challenge), allowCredentials: (options.allowCredentials || []).map(withId) };
  }

  const TRANSPORTS = ['usb', 'nfc', 'ble', 'internal', 'hybrid', 'test'];

  // PublicKeyCredential.toJSON(), written out for browsers that lack it.
  function credentialJSON(cred) {
    const r = cred.response;
    const response = { clientDataJSON: toB64u(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64u(r.attestationObject);
      if (typeof r.getTransports === 'function') response.transports = r.getTransports().filter((t) => TRANSPORTS.includes(t));
    } else {
      response.authenticatorData = toB64u(r.authenticatorData);
      response.signature = toB64u(r.signature);
      response.userHandle = r.userHandle ? toB64u(r.userHandle) : null;
    }
    return { id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, response,
      clientExtensionResults: typeof cred.getClientExtensionResults === 'function' ? cred.getClientExtensionResults() : {} };
  }

  // Runs the browser's WebAuthn ceremony for a remediation that carries `options`, and posts
  // the credential as its answer. `extra` adds fields (keep_signed_in on the identify screen).
  async function webauthn(name, remediation, extra) {
    if (!window.PublicKeyCredential || !navigator.credentials) {
      showMessages([{ level: 'error', text: 'This browser does not support security keys or passkeys.' }]);
      return;
    }
    let credential;
    try {
      credential = name === 'enroll-authenticator'
        ? await navigator.credentials.create({ publicKey: creationOptions(remediation.options) })
        : await navigator.credentials.get({ publicKey: requestOptions(remediation.options) });
    } catch (e) {
      showMessages([{ level: 'error', text: 'Your security key or passkey was not used (the request was cancelled or timed out). Try again, or choose another way.' }]);
      return;
    }
    if (!credential) return;
    await step(name, { ...(extra ? extra() : {}), credential: credentialJSON(credential) });
  }

  function webauthnButton(name, remediation, label, extra, cls) {
    return el('button', { type: 'button', id: `webauthn-${name}`, class: cls, text: label, onclick: () => webauthn(name, remediation, extra) });
  }

  function field(f, autofocus) {
    const id = `f-${f.name}`;
    if (f.type === 'boolean') {
      return el('label', { class: 'check', for: id }, el('input', { type: 'checkbox', id, name: f.name }), f.label || f.name);
    }
    const type = f.type === 'secret' ? 'password' : (f.name === 'phone_number' ? 'tel' : 'text');
    const autocomplete = { login: 'username', password: f.label === 'New password' ? 'new-password' : 'current-password', code: 'one-time-code', phone_number: 'tel' }[f.name];
    return el('div', null,
      el('label', { for: id, text: f.label || f.name }),
      el('input', { type, id, name: f.name, required: f.required, autocomplete, autofocus, inputmode: f.name === 'code' ? 'numeric' : undefined }));
  }

  function form(name, fields, submitLabel, extra) {
    const node = el('form', { novalidate: true });
    fields.forEach((f, i) => node.append(field(f, i === 0)));
    if (extra) node.append(extra);
    node.append(el('button', { type: 'submit', text: submitLabel }));
    node.addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = {};
      for (const f of fields) {
        const input = node.elements.namedItem(f.name);
        if (!input) continue;
        body[f.name] = f.type === 'boolean' ? input.checked : input.value;
      }
      await step(name, body);
    });
    return node;
  }

  function optionLabel(o) {
    return o.label || LABELS[o.authenticator.key] || o.authenticator.key;
  }

  // FastPass (fastpass.js) sees every state after it is drawn, to relay its loopback challenge.
  function render(state) {
    draw(state);
    if (window.GatehouseFastPass) window.GatehouseFastPass.onState(state, { call, render, content });
  }

  function draw(state) {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
    current = state;
    showMessages(state.messages);
    if (state.app) appLine.textContent = `to continue to ${state.app.name}`;
    const rems = state.remediation || [];
    const named = (n) => rems.find((r) => r.name === n && !r.challenge); // loopback challenges: fastpass.js
    const parts = [];
    if (state.status === 'success' && state.redirect) {
      title.textContent = 'Signed in';
      parts.push(el('p', { text: 'Taking you back to the application…' }));
      content.replaceChildren(...parts);
      window.location.assign(state.redirect);
      return;
    }
    if (state.status === 'denied') {
      title.textContent = 'Sign-in stopped';
      if (state.redirect) parts.push(el('p', null, el('a', { href: state.redirect, text: 'Back to the application' })));
      content.replaceChildren(...parts);
      return;
    }
    if (state.status === 'expired' || state.status === 'unknown') {
      title.textContent = state.status === 'expired' ? 'Sign-in expired' : 'Sign-in not found';
      if (state.status === 'expired' && !(state.messages || []).length) {
        showMessages([{ level: 'error', text: 'This sign-in timed out. Go back to the application and start again.' }]);
      }
      content.replaceChildren();
      return;
    }
    if (state.user) parts.push(el('p', { class: 'muted', text: state.user.login }));
    const identify = named('identify') || named('identify-password');
    let identifyForm = null;
    if (identify) {
      title.textContent = 'Sign in';
      identifyForm = form(identify.name, identify.fields, 'Next');
      parts.push(identifyForm);
    }
    const challenge = named('challenge-authenticator');
    if (challenge && challenge.options && identify) {
      // Passwordless: a discoverable credential names the user; no login typed.
      const keep = () => {
        const box = identifyForm && identifyForm.elements.namedItem('keep_signed_in');
        return box ? { keep_signed_in: box.checked } : {};
      };
      parts.push(el('div', { class: 'actions' }, webauthnButton('challenge-authenticator', challenge, challenge.label || 'Sign in with a passkey', keep, 'secondary')));
    } else if (challenge && challenge.options) {
      title.textContent = 'Verify with your security key or passkey';
      parts.push(el('p', { text: 'Use the security key or passkey you set up for this account.' }));
      parts.push(webauthnButton('challenge-authenticator', challenge, 'Use security key or passkey'));
    } else if (challenge) {
      const key = challenge.authenticator.key;
      title.textContent = key === 'password' ? 'Enter your password' : `Verify with ${(LABELS[key] || key).toLowerCase()}`;
      if (challenge.sent_to) parts.push(el('p', { class: 'muted', text: `We sent a code to ${challenge.sent_to}.` }));
      parts.push(form('challenge-authenticator', challenge.fields, 'Verify'));
    }
    const enroll = named('enroll-authenticator');
    if (enroll) {
      const key = enroll.authenticator.key;
      title.textContent = `Set up ${(LABELS[key] || key).toLowerCase()}`;
      if (enroll.totp) {
        parts.push(el('p', { text: 'Scan this QR code with your authenticator app, or type the key below into it; then enter the code it shows.' }));
        if (enroll.totp.qr_code) parts.push(el('img', { src: enroll.totp.qr_code, alt: 'QR code of the key for your authenticator app', width: '200', height: '200', class: 'qr' }));
        parts.push(el('code', { class: 'secret', text: enroll.totp.secret }));
        parts.push(el('p', null, el('a', { href: enroll.totp.otpauth_uri, text: 'Open in an authenticator app on this device' })));
      }
      if (enroll.sent_to) parts.push(el('p', { class: 'muted', text: `We sent a code to ${enroll.sent_to}.` }));
      if (enroll.options) {
        parts.push(el('p', { text: 'Your browser will ask you to create a passkey, or to touch your security key.' }));
        parts.push(webauthnButton('enroll-authenticator', enroll, 'Set up passkey'));
      } else {
        parts.push(form('enroll-authenticator', enroll.fields, 'Continue'));
      }
    }
    const poll = rems.find((r) => r.name === 'poll');
    if (poll && poll.authenticator && poll.authenticator.method === 'push') {
      parts.push(...pushPanel(poll, rems.find((r) => r.name === 'enroll-user-verification')));
      schedulePoll(poll.refresh);
    }
    const select = named('select-authenticator');
    if (select) {
      if (!challenge && !poll) title.textContent = 'Verify it is you';
      parts.push(el('h2', { text: challenge || poll ? 'Verify with something else' : 'Choose how to verify' }));
      const list = el('ul', { class: 'options' });
      for (const o of select.options) {
        const isCurrent = challenge && challenge.authenticator.key === o.authenticator.key && challenge.authenticator.method === o.authenticator.method;
        if (isCurrent) continue;
        list.append(el('li', null, el('button', {
          type: 'button', class: 'secondary', text: optionLabel(o),
          onclick: () => step('select-authenticator', { authenticator: o.authenticator.key, method: o.authenticator.method, id: o.id }),
        })));
      }
      parts.push(list);
    }
    const selectEnroll = named('select-enroll');
    if (selectEnroll) {
      if (!enroll && !poll) title.textContent = 'Set up a way to verify';
      parts.push(el('p', { class: 'muted', text: poll ? 'Or set up another way to verify:' : 'This application needs a way of verifying that you have not set up yet.' }));
      const list = el('ul', { class: 'options' });
      for (const o of selectEnroll.options) {
        list.append(el('li', null, el('button', {
          type: 'button', class: 'secondary', text: `Set up ${optionLabel(o).toLowerCase()}`,
          onclick: () => step('select-enroll', { authenticator: o.authenticator.key }),
        })));
      }
      parts.push(list);
    }
    const actions = el('div', { class: 'actions' });
    if (named('back')) actions.append(el('button', { type: 'button', class: 'link', text: 'Back to sign in', onclick: () => step('back', {}) }));
    if (named('cancel')) actions.append(el('button', { type: 'button', class: 'link', text: 'Cancel', onclick: () => step('cancel', {}) }));
    parts.push(actions);
    content.replaceChildren(...parts);
    const first = content.querySelector('input');
    if (first) first.focus();
  }

  async function step(name, body) {
    for (const button of content.querySelectorAll('button')) button.disabled = true;
    render(await call('POST', `/${name}`, body));
  }

  call('GET', '').then(render);
})();

// The Gatehouse admin console: a single-page app over the public admin API (/api/v1). It trades
// the signed-in administrator's session for a short-lived admin API token (POST
// /admin/session-token with the page's anti-CSRF token) and sends it as a bearer token, like any
// other API client. No inline code, no third-party assets; every text goes in through textContent.
'use strict';

const CSRF = document.querySelector('meta[name="gatehouse-csrf"]')?.content ?? '';
const main = document.getElementById('main');
const nav = document.getElementById('nav');

const SECTIONS = [
  ['users', 'Users'], ['groups', 'Groups'], ['apps', 'Apps'], ['zones', 'Zones'],
  ['policies', 'Policies'], ['simulator', 'Simulator'], ['devices', 'Devices'],
  ['sessions', 'Sessions'], ['logs', 'System log'],
];
const METHODS = {
  password: ['password'], email: ['otp', 'magic_link'], phone: ['sms', 'voice'], totp: ['otp'],
  webauthn: ['webauthn'], device: ['push', 'otp', 'fastpass'], smart_card: ['piv'], idp: ['federated'],
};
const AUTHENTICATORS = Object.keys(METHODS);
const CONSTRAINTS = ['phishing_resistant', 'hardware_protected', 'device_bound', 'user_presence'];
const UV_LEVELS = ['none', 'any', 'biometric'];
const PLATFORMS = ['macos', 'windows', 'linux', 'ios', 'android', 'chromeos'];
const RISKS = ['low', 'medium', 'high'];

// ---------------------------------------------------------------------------------------------
// DOM helpers

/** Creates an element: attributes (`on*` are listeners), then children (strings become text). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Nodes of a list of children as `h` takes them (nested arrays, text, nothing). */
function kids(list) {
  return list.flat(Infinity).filter((c) => c !== undefined && c !== null && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
}

/** Replaces the children of `el`. */
function fill(el, ...children) {
  el.replaceChildren(...kids(children));
}

let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

/** A labelled field: the label names the control (accessible), the control gets an id. */
function field(labelText, control, hint) {
  control.id ||= nextId('f');
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id }, labelText), control);
  if (hint) {
    const hid = nextId('hint');
    wrap.append(h('p', { class: 'hint', id: hid }, hint));
    control.setAttribute('aria-describedby', hid);
  }
  return wrap;
}

function select(options, value, attrs = {}) {
  return h('select', attrs, options.map((o) => {
    const [v, text] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: String(v) === String(value) }, text);
  }));
}

function checkbox(labelText, checked, attrs = {}) {
  const input = h('input', { type: 'checkbox', checked, ...attrs });
  return h('label', { class: 'check' }, input, ' ', labelText);
}

function notice(text, kind = 'info') {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

function table(headers, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return h('p', { class: 'muted empty' }, empty);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows)));
}

function fmtTime(t) {
  if (!t) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

const lines = (text) => text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);

/** One URI a line (a URI may hold a comma, so commas do not split). */
const uriLines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);

/** JSON text with object keys sorted, so two values that mean the same compare equal. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** The fields of `next` whose value differs from `current` (what a PATCH should send). */
function changes(current, next) {
  return Object.fromEntries(Object.entries(next).filter(([k, v]) => canonical(v) !== canonical(current[k])));
}

/** A definition list of [term, value] pairs (empty values shown as a dash). */
function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([term, value]) => [
    h('dt', {}, term), h('dd', {}, value === undefined || value === null || value === '' ? '—' : value)]));
}

/** A message for the next page shown (after a save that navigates). */
let flash = null;

/** Bumped by every navigation: a view that finishes after the next one started renders nothing. */
let navSeq = 0;

function page(seq, title, ...content) {
  if (seq !== navSeq) return;
  fill(main, h('h1', {}, title), content);
  if (flash) { main.prepend(notice(flash)); flash = null; }
  main.focus({ preventScroll: true });
}

// ---------------------------------------------------------------------------------------------
// The admin API with a session-bound token

class ApiFailure extends Error {
  constructor(status, body) {
    super(body?.message ?? `request failed (${status})`);
    this.status = status;
    this.body = body ?? {};
  }
}

let token = null;

async function obtainToken() {
  const res = await fetch('/admin/session-token', {
    method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': CSRF },
  });
  if (res.status === 401) { window.location.assign('/admin'); throw new ApiFailure(401, await res.json().catch(() => ({}))); }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiFailure(res.status, body);
  token = body.token;
  return token;
}

async function api(method, path, body) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    if (!token) await obtainToken();
    const init = { method, headers: { Authorization: `Bearer ${token}` } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(`/api/v1${path}`, init);
    if (res.status === 401 && attempt === 0) { token = null; continue; }
    if (res.status === 204) return null;
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new ApiFailure(res.status, json);
    return json;
  }
  throw new ApiFailure(401, { message: 'the console could not authenticate; reload the page' });
}

/** Every page of a paged list. */
async function all(path) {
  const items = [];
  let after = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const pageOf = await api('GET', `${path}${sep}limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    items.push(...pageOf.items);
    after = pageOf.next;
  } while (after);
  return items;
}

/** Runs an action; its failure is shown in `where` (or at the top of the page). */
async function attempt(where, fn) {
  try {
    return await fn();
  } catch (e) {
    const msg = e instanceof ApiFailure ? e.message : String(e);
    (where ?? main).prepend(notice(msg, 'error'));
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Users

async function usersView(params) {
  const seq = navSeq;
  const q = params.get('q') ?? '';
  const [users, groups] = await Promise.all([
    all(`/users${q ? `?q=${encodeURIComponent(q)}` : ''}`), all('/groups'),
  ]);
  const search = h('form', { class: 'inline', role: 'search', onsubmit: (e) => {
    e.preventDefault(); go(`users?q=${encodeURIComponent(search.elements.q.value)}`);
  } }, field('Search users', h('input', { name: 'q', type: 'search', value: q })), h('button', { type: 'submit' }, 'Search'));
  const actions = {
    staged: ['activate', 'deactivate'], active: ['suspend', 'deactivate'], suspended: ['unsuspend', 'deactivate'],
    locked_out: ['unlock', 'deactivate'], deactivated: ['activate'],
  };
  const status = h('div');
  const rows = users.map((u) => h('tr', { dataset: { login: u.login } },
    h('td', {}, h('a', { href: `#user/${u.id}` }, u.login)), h('td', {}, u.display_name), h('td', {}, u.email),
    h('td', {}, h('span', { class: `badge ${u.status}` }, u.status)),
    h('td', { class: 'actions' },
      h('a', { href: `#user/${u.id}?edit=1`, class: 'small', 'aria-label': `Edit user ${u.login}` }, 'Edit'),
      (actions[u.status] ?? []).map((a) => h('button', { type: 'button', class: 'small secondary', onclick: () => attempt(status, async () => {
        await api('POST', `/users/${u.id}/lifecycle/${a}`); await usersView(params);
      }) }, `${a[0].toUpperCase()}${a.slice(1)}`)),
      h('a', { href: `#sessions?user=${encodeURIComponent(u.login)}`, class: 'small' }, 'Sessions'),
      u.status === 'deactivated' ? h('button', { type: 'button', class: 'small danger', onclick: () => attempt(status, async () => {
        await api('DELETE', `/users/${u.id}`); await usersView(params);
      }) }, 'Delete') : null)));
  const form = h('form', { class: 'card-form', onsubmit: (e) => { e.preventDefault(); createUser(form); } },
    h('h2', {}, 'New user'),
    field('Login', h('input', { name: 'login', required: true, autocomplete: 'off', dataset: { field: 'login' } })),
    field('Email', h('input', { name: 'email', type: 'email', required: true, dataset: { field: 'email' } })),
    field('Display name', h('input', { name: 'display_name', dataset: { field: 'display_name' } })),
    field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'new-password', dataset: { field: 'password' } }), '8–256 characters; leave empty to set it later'),
    h('fieldset', { dataset: { field: 'groups' } }, h('legend', {}, 'Groups'),
      groups.filter((g) => !g.builtin).map((g) => checkbox(g.name, false, { name: 'groups', value: g.name }))),
    h('button', { type: 'submit' }, 'Create user'));
  page(seq, 'Users', search, status, table(['Login', 'Name', 'Email', 'Status', ''], rows, 'No users match.'), form);
}

async function createUser(form) {
  clearErrors(form);
  const body = {
    login: form.elements.login.value.trim(), email: form.elements.email.value.trim(),
    groups: [...form.querySelectorAll('input[name=groups]:checked')].map((c) => c.value),
  };
  if (form.elements.display_name.value.trim()) body.display_name = form.elements.display_name.value.trim();
  if (form.elements.password.value) body.password = form.elements.password.value;
  try {
    await api('POST', '/users', body);
    await usersView(new URLSearchParams());
    main.prepend(notice(`Created user ${body.login}.`));
  } catch (e) { showErrors(form, e); }
}

/** Profile attributes the console edits by name (those the OIDC claims read, and a phone);
 * any other attribute is kept and edited as JSON. */
const PROFILE_FIELDS = [
  ['given_name', 'First name'], ['family_name', 'Last name'],
  ['phone_number', 'Phone', 'as it should be shown, such as +1 555 0100'],
  ['locale', 'Locale', 'a language tag such as en-US'], ['zoneinfo', 'Time zone', 'such as Europe/Paris'],
];

/** A user's profile split into the named attributes (text only) and the rest. */
function splitProfile(profile) {
  const named = {};
  const rest = { ...(profile ?? {}) };
  for (const [key] of PROFILE_FIELDS) {
    if (typeof rest[key] === 'string') { named[key] = rest[key]; delete rest[key]; }
  }
  return { named, rest };
}

async function userView(id, params) {
  const seq = navSeq;
  const [user, groups, enrollments] = await Promise.all([
    api('GET', `/users/${id}`), api('GET', `/users/${id}/groups`), api('GET', `/users/${id}/enrollments`),
  ]);
  const { named, rest } = splitProfile(user.profile);
  const section = h('section', { class: 'card-form', id: 'profile', 'aria-labelledby': 'profile-title' });
  const editButton = h('button', { type: 'button', class: 'secondary', onclick: () => edit() }, 'Edit profile');

  function show() {
    fill(section, h('h2', { id: 'profile-title' }, 'Profile'),
      facts([
        ['Login', user.login], ['Email', user.email], ['Display name', user.display_name],
        ...PROFILE_FIELDS.map(([key, label]) => [label, named[key]]),
        ...(Object.keys(rest).length ? [['Other attributes', h('code', {}, JSON.stringify(rest))]] : []),
      ]),
      editButton);
  }

  function edit() {
    const form = h('form', { class: 'profile-editor', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(form); } },
      h('div', { class: 'form-errors', 'aria-live': 'assertive' }),
      h('div', { class: 'grid' },
        field('Login', h('input', { name: 'login', value: user.login, autocomplete: 'off', dataset: { field: 'login' } }), 'letters, digits and . _ - @ +; unique'),
        field('Email', h('input', { name: 'email', type: 'email', value: user.email, autocomplete: 'off', dataset: { field: 'email' } })),
        field('Display name', h('input', { name: 'display_name', value: user.display_name, dataset: { field: 'display_name' } }))),
      h('fieldset', { dataset: { field: 'profile' } }, h('legend', {}, 'Profile attributes'),
        h('div', { class: 'grid' }, PROFILE_FIELDS.map(([key, label, hint]) => field(label,
          h('input', { name: key, value: named[key] ?? '', type: key === 'phone_number' ? 'tel' : 'text', autocomplete: 'off', dataset: { field: `profile.${key}` } }), hint))),
        field('Other attributes (JSON)', h('textarea', { name: 'other', rows: 3, value: Object.keys(rest).length ? JSON.stringify(rest, null, 2) : '', dataset: { field: 'profile.other' } }),
          'a JSON object, such as {"department": "Finance"}; empty for none')),
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save profile'),
        h('button', { type: 'button', class: 'secondary', onclick: () => { show(); editButton.focus(); } }, 'Cancel')));
    fill(section, h('h2', { id: 'profile-title' }, `Edit the profile of ${user.login}`), form);
    form.elements.login.focus();
  }

  async function save(form) {
    clearErrors(form);
    const f = form.elements;
    let other = {};
    if (f.other.value.trim()) {
      try { other = JSON.parse(f.other.value); } catch { other = null; }
      if (!other || typeof other !== 'object' || Array.isArray(other)) {
        place(form, 'profile.other', 'Other attributes must be a JSON object, such as {"department": "Finance"}.');
        return;
      }
    }
    const profile = { ...other };
    for (const [key] of PROFILE_FIELDS) if (f[key].value.trim()) profile[key] = f[key].value.trim();
    const body = changes(user, {
      login: f.login.value.trim(), email: f.email.value.trim(), display_name: f.display_name.value.trim(), profile,
    });
    if (!Object.keys(body).length) { form.querySelector('.form-errors').append(notice('Nothing changed.')); return; }
    try {
      const saved = await api('PATCH', `/users/${user.id}`, body);
      flash = `Saved the profile of ${saved.login}.`;
      go(`user/${user.id}`);
    } catch (e) { showErrors(form, e); }
  }

  const enrolled = enrollments.items.map((en) => h('li', {}, `${en.authenticator}${en.name ? ` “${en.name}”` : ''} `,
    h('span', { class: `badge ${en.status}` }, en.status)));
  const status = h('span', { class: `badge ${user.status}` }, user.status);
  page(seq, `User ${user.login}`, h('p', {}, h('a', { href: '#users' }, '← All users')),
    facts([['Status', status], ['Created', fmtTime(user.created_at)], ['Updated', fmtTime(user.updated_at)], ['Last sign-in', fmtTime(user.last_sign_in_at)]]),
    section,
    h('h2', {}, 'Groups'), h('p', {}, groups.items.map((g) => g.name).join(', ') || '—'),
    h('h2', {}, 'Authenticators'), enrolled.length ? h('ul', { id: 'enrollments' }, enrolled) : h('p', { class: 'muted' }, 'None enrolled.'),
    h('p', { class: 'row' }, h('a', { href: `#sessions?user=${encodeURIComponent(user.login)}` }, `Sessions of ${user.login}`),
      h('a', { href: `#logs?user=${encodeURIComponent(user.id)}` }, 'System log')));
  if (params.get('edit')) edit(); else show();
}

// ---------------------------------------------------------------------------------------------
// Groups

async function groupsView() {
  const seq = navSeq;
  const groups = await all('/groups');
  const status = h('div');
  const rows = groups.map((g) => h('tr', {},
    h('td', {}, h('a', { href: `#group/${g.id}` }, g.name)), h('td', {}, g.description ?? ''),
    h('td', { class: 'actions' }, g.builtin ? h('span', { class: 'muted' }, 'built-in') : h('button', {
      type: 'button', class: 'small danger', onclick: () => attempt(status, async () => { await api('DELETE', `/groups/${g.id}`); await groupsView(); }),
    }, 'Delete'))));
  const form = h('form', { class: 'card-form', onsubmit: async (e) => {
    e.preventDefault(); clearErrors(form);
    try {
      const body = { name: form.elements.name.value.trim() };
      if (form.elements.description.value.trim()) body.description = form.elements.description.value.trim();
      await api('POST', '/groups', body); await groupsView();
    } catch (err) { showErrors(form, err); }
  } }, h('h2', {}, 'New group'),
  field('Name', h('input', { name: 'name', required: true, dataset: { field: 'name' } })),
  field('Description', h('input', { name: 'description', dataset: { field: 'description' } })),
  h('button', { type: 'submit' }, 'Create group'));
  page(seq, 'Groups', status, table(['Name', 'Description', ''], rows), form);
}

async function groupView(id) {
  const seq = navSeq;
  const [group, members] = await Promise.all([api('GET', `/groups/${id}`), all(`/groups/${id}/users`)]);
  const status = h('div');
  const rows = members.map((u) => h('tr', {}, h('td', {}, u.login), h('td', {}, u.display_name),
    h('td', { class: 'actions' }, group.builtin ? null : h('button', { type: 'button', class: 'small secondary', onclick: () => attempt(status, async () => {
      await api('DELETE', `/groups/${id}/users/${u.id}`); await groupView(id);
    }) }, 'Remove'))));
  const form = h('form', { class: 'inline', onsubmit: async (e) => {
    e.preventDefault(); clearErrors(form);
    const login = form.elements.login.value.trim();
    try {
      const found = (await all(`/users?q=${encodeURIComponent(login)}`)).find((u) => u.login.toLowerCase() === login.toLowerCase());
      if (!found) throw new ApiFailure(404, { message: `no user has the login ${login}`, field: 'login' });
      await api('PUT', `/groups/${id}/users/${found.id}`); await groupView(id);
    } catch (err) { showErrors(form, err); }
  } }, field('Add a member by login', h('input', { name: 'login', required: true, dataset: { field: 'login' } })), h('button', { type: 'submit' }, 'Add'));
  page(seq, `Group ${group.name}`, h('p', {}, h('a', { href: '#groups' }, '← All groups')), status,
    table(['Login', 'Name', ''], rows, 'No members.'), group.builtin ? h('p', { class: 'muted' }, 'Every user is a member of this built-in group.') : form);
}

// ---------------------------------------------------------------------------------------------
// Apps

function secretCallout(app, secret) {
  return h('div', { class: 'secret-box', role: 'status' },
    h('p', {}, h('strong', {}, `Client secret of ${app.client_id}. `), 'Copy it now: it is shown only once.'),
    h('code', { id: 'app-secret', class: 'secret' }, secret));
}

async function appsView(shown) {
  const seq = navSeq;
  const [apps, policies] = await Promise.all([all('/apps'), api('GET', '/policies')]);
  const authPolicies = policies.items.filter((p) => p.type === 'authentication');
  const status = h('div');
  if (shown) status.append(secretCallout(shown.app, shown.secret));
  const rows = apps.map((a) => h('tr', { dataset: { clientId: a.client_id } },
    h('td', {}, h('a', { href: `#app/${a.id}` }, a.name)), h('td', {}, h('code', {}, a.client_id)), h('td', {}, a.kind),
    h('td', {}, a.policy?.name ?? '—'), h('td', {}, a.redirect_uris.join(' ')),
    h('td', { class: 'actions' },
      h('a', { href: `#app/${a.id}`, class: 'small', 'aria-label': `Edit app ${a.client_id}` }, 'Edit'),
      a.has_secret ? h('button', { type: 'button', class: 'small secondary', onclick: () => attempt(status, async () => {
        const r = await api('POST', `/apps/${a.id}/secret`); await appsView({ app: a, secret: r.client_secret });
      }) }, 'Rotate secret') : null,
      h('button', { type: 'button', class: 'small danger', onclick: () => attempt(status, async () => { await api('DELETE', `/apps/${a.id}`); await appsView(); }) }, 'Delete'))));
  const form = h('form', { class: 'card-form', onsubmit: async (e) => {
    e.preventDefault(); clearErrors(form);
    const f = form.elements;
    const body = {
      name: f.name.value.trim(), kind: f.kind.value, redirect_uris: uriLines(f.redirect_uris.value),
      post_logout_redirect_uris: uriLines(f.post_logout_redirect_uris.value),
      grant_types: [...form.querySelectorAll('input[name=grant]:checked')].map((c) => c.value),
    };
    if (f.client_id.value.trim()) body.client_id = f.client_id.value.trim();
    if (f.policy.value) body.policy = f.policy.value;
    try {
      const app = await api('POST', '/apps', body);
      await appsView(app.client_secret ? { app, secret: app.client_secret } : undefined);
    } catch (err) { showErrors(form, err); }
  } }, h('h2', {}, 'New app'),
  field('Name', h('input', { name: 'name', required: true, dataset: { field: 'name' } })),
  field('Client id', h('input', { name: 'client_id', dataset: { field: 'client_id' } }), 'generated when empty'),
  field('Kind', select(['confidential', 'public'], 'confidential', { name: 'kind', dataset: { field: 'kind' } })),
  field('Redirect URIs', h('textarea', { name: 'redirect_uris', rows: 2, dataset: { field: 'redirect_uris' } }), 'one per line; matched exactly'),
  field('Post-logout redirect URIs', h('textarea', { name: 'post_logout_redirect_uris', rows: 1, dataset: { field: 'post_logout_redirect_uris' } })),
  h('fieldset', { dataset: { field: 'grant_types' } }, h('legend', {}, 'Grant types'),
    ['authorization_code', 'refresh_token', 'client_credentials'].map((g) => checkbox(g, g === 'authorization_code', { name: 'grant', value: g }))),
  field('Authentication policy', select([['', '(none)'], ...authPolicies.map((p) => [p.name, p.name])], '', { name: 'policy', dataset: { field: 'policy' } })),
  h('button', { type: 'submit' }, 'Create app'));
  page(seq, 'Apps', status, table(['Name', 'Client id', 'Kind', 'Policy', 'Redirect URIs', ''], rows), form);
}

const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'];

/** An app's settings as PATCH /apps/{id} takes them (set-like lists sorted for comparison). */
function appSettings(a) {
  return {
    name: a.name, redirect_uris: a.redirect_uris, post_logout_redirect_uris: a.post_logout_redirect_uris,
    backchannel_logout_uri: a.backchannel_logout_uri ?? null, grant_types: [...a.grant_types].sort(),
    token_endpoint_auth_method: a.token_endpoint_auth_method, policy: a.policy?.name ?? null,
    assignments: { groups: a.assignments.groups.map((g) => g.name).sort(), users: a.assignments.users.map((u) => u.login) },
  };
}

async function appView(id) {
  const seq = navSeq;
  const [app, policies, groups] = await Promise.all([api('GET', `/apps/${id}`), api('GET', '/policies'), all('/groups')]);
  const current = appSettings(app);
  const authPolicies = policies.items.filter((p) => p.type === 'authentication');
  const methods = app.kind === 'public' ? ['none'] : ['client_secret_basic', 'client_secret_post'];
  const form = h('form', { class: 'card-form app-editor', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
    h('h2', {}, 'Settings'),
    h('div', { class: 'form-errors', 'aria-live': 'assertive' }),
    field('Name', h('input', { name: 'name', value: app.name, dataset: { field: 'name' } })),
    field('Redirect URIs', h('textarea', { name: 'redirect_uris', rows: 3, value: app.redirect_uris.join('\n'), dataset: { field: 'redirect_uris' } }),
      'one per line; compared exactly (no wildcards, no fragment)'),
    field('Post-logout redirect URIs', h('textarea', { name: 'post_logout_redirect_uris', rows: 2, value: app.post_logout_redirect_uris.join('\n'), dataset: { field: 'post_logout_redirect_uris' } }),
      'one per line; where RP-initiated logout may send the browser'),
    field('Back-channel logout URI', h('input', { name: 'backchannel_logout_uri', type: 'url', value: app.backchannel_logout_uri ?? '', dataset: { field: 'backchannel_logout_uri' } }),
      'an absolute http(s) URL that receives logout tokens; empty for none'),
    h('fieldset', { class: 'checks', dataset: { field: 'grant_types' } }, h('legend', {}, 'Grant types'),
      GRANT_TYPES.map((g) => checkbox(g, app.grant_types.includes(g), { name: 'grant', value: g }))),
    field('Token endpoint auth method', select(methods, app.token_endpoint_auth_method, { name: 'token_endpoint_auth_method', dataset: { field: 'token_endpoint_auth_method' } }),
      app.kind === 'public' ? 'a public client has no secret, so it is always none' : 'how the client sends its secret'),
    field('Authentication policy', select([['', '(none)'], ...authPolicies.map((p) => [p.name, p.name])], current.policy ?? '', { name: 'policy', dataset: { field: 'policy' } })),
    h('fieldset', { class: 'group' }, h('legend', {}, 'Assigned to'),
      h('fieldset', { class: 'checks', dataset: { field: 'assignments.groups' } }, h('legend', {}, 'Groups'),
        groups.map((g) => checkbox(g.name, current.assignments.groups.includes(g.name), { name: 'assigned_group', value: g.name }))),
      field('Users (logins)', h('input', { name: 'assigned_users', value: current.assignments.users.join(', '), autocomplete: 'off', dataset: { field: 'assignments.users' } }),
        'separated by commas')),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save app'), h('a', { href: '#apps', class: 'button secondary' }, 'Cancel')));

  async function save() {
    clearErrors(form);
    const f = form.elements;
    const checked = (name) => [...form.querySelectorAll(`input[name=${name}]:checked`)].map((c) => c.value);
    const next = {
      name: f.name.value.trim(), redirect_uris: uriLines(f.redirect_uris.value),
      post_logout_redirect_uris: uriLines(f.post_logout_redirect_uris.value),
      backchannel_logout_uri: f.backchannel_logout_uri.value.trim() || null, grant_types: checked('grant'),
      token_endpoint_auth_method: f.token_endpoint_auth_method.value, policy: f.policy.value || null,
      assignments: { groups: checked('assigned_group'), users: lines(f.assigned_users.value) },
    };
    const body = changes(current, { ...next, grant_types: [...next.grant_types].sort(), assignments: { ...next.assignments, groups: [...next.assignments.groups].sort() } });
    for (const k of Object.keys(body)) body[k] = next[k];
    if (!Object.keys(body).length) { form.querySelector('.form-errors').append(notice('Nothing changed.')); return; }
    try {
      const saved = await api('PATCH', `/apps/${app.id}`, body);
      flash = `Saved app ${saved.name} (${saved.client_id}).`;
      go(`app/${app.id}`);
    } catch (e) { showErrors(form, e); }
  }

  page(seq, `App ${app.name}`, h('p', {}, h('a', { href: '#apps' }, '← All apps')),
    facts([
      ['Client id', h('code', {}, app.client_id)],
      ['Kind', `${app.kind} (fixed when the app is registered)`],
      ['Client secret', app.has_secret ? 'set (rotate it from the list of apps)' : 'none'],
      ['Updated', fmtTime(app.updated_at)],
    ]),
    form);
}

// ---------------------------------------------------------------------------------------------
// Zones

async function zonesView() {
  const seq = navSeq;
  const zones = (await api('GET', '/zones')).items;
  const status = h('div');
  const rows = zones.map((z) => h('tr', {}, h('td', {}, z.name), h('td', {}, z.cidrs.join(', ')),
    h('td', {}, z.blocked_cidrs.join(', ') || '—'),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'small secondary', onclick: () => zoneForm(z) }, 'Edit'),
      h('button', { type: 'button', class: 'small danger', onclick: () => attempt(status, async () => { await api('DELETE', `/zones/${z.id}`); await zonesView(); }) }, 'Delete'))));
  page(seq, 'Network zones', status, table(['Name', 'CIDRs', 'Blocked', ''], rows), zoneForm(null, true));
}

function zoneForm(zone, embedded) {
  const form = h('form', { class: 'card-form', onsubmit: async (e) => {
    e.preventDefault(); clearErrors(form);
    const body = { name: form.elements.name.value.trim(), cidrs: lines(form.elements.cidrs.value), blocked_cidrs: lines(form.elements.blocked.value) };
    try {
      await api(zone ? 'PATCH' : 'POST', zone ? `/zones/${zone.id}` : '/zones', body); await zonesView();
    } catch (err) { showErrors(form, err); }
  } }, h('h2', {}, zone ? `Edit zone ${zone.name}` : 'New zone'),
  field('Name', h('input', { name: 'name', required: true, value: zone?.name ?? '', dataset: { field: 'name' } })),
  field('CIDRs', h('textarea', { name: 'cidrs', rows: 2, value: zone?.cidrs.join('\n') ?? '', dataset: { field: 'cidrs' } }), 'IPv4 or IPv6 ranges, one per line'),
  field('Blocked CIDRs', h('textarea', { name: 'blocked', rows: 1, value: zone?.blocked_cidrs.join('\n') ?? '', dataset: { field: 'blocked_cidrs' } })),
  h('button', { type: 'submit' }, zone ? 'Save zone' : 'Create zone'));
  if (!embedded) { main.querySelector('.card-form')?.replaceWith(form); form.elements.name.focus(); }
  return form;
}

// ---------------------------------------------------------------------------------------------
// Policies and the rule editor

function summary(rule) {
  const parts = [];
  const w = rule.when ?? {};
  if (w.groups) parts.push(`groups ${fmtIE(w.groups)}`);
  if (w.users) parts.push(`users ${fmtIE(w.users)}`);
  if (w.network) parts.push(`network ${fmtIE(w.network)}`);
  if (w.device) parts.push(`device ${JSON.stringify(w.device)}`);
  if (w.risk) parts.push(`risk ${w.risk.join('/')}`);
  const r = rule.require ?? {};
  if (r.assurance) parts.push(`${r.assurance.factors ?? 1} factor(s)${r.assurance.possession ? ' with possession constraints' : ''}`);
  if (r.chains) parts.push(r.chains.map((c) => c.steps.map((s) => s.map((m) => m.method ? `${m.authenticator}/${m.method}` : m.authenticator).join(' | ')).join(' → ')).join(' ; '));
  if (r.reauthenticate) parts.push(`reauthenticate ${r.reauthenticate}`);
  return parts.join(' · ') || 'every sign-in';
}

const fmtIE = (ie) => [ie.include?.length ? `in ${ie.include.join(', ')}` : '', ie.exclude?.length ? `not ${ie.exclude.join(', ')}` : ''].filter(Boolean).join(' ');

async function policiesView() {
  const seq = navSeq;
  const [policies, apps] = await Promise.all([api('GET', '/policies'), all('/apps')]);
  const status = h('div');
  const cards = policies.items.filter((p) => p.type === 'authentication').map((p) => {
    const rows = p.rules.map((r, i) => h('tr', { dataset: { rule: r.name } },
      h('td', {}, String(i + 1)), h('td', {}, r.name), h('td', {}, h('span', { class: `badge ${r.access}` }, r.access)),
      h('td', { class: 'rule-summary' }, summary(r)),
      h('td', { class: 'actions' },
        h('a', { href: `#policy/${p.id}/rule/${r.id}`, class: 'small', 'aria-label': `Edit rule ${r.name}` }, 'Edit'),
        h('button', { type: 'button', class: 'small secondary', disabled: i === 0, 'aria-label': `Move ${r.name} up`, onclick: () => move(p, i, -1) }, '↑'),
        h('button', { type: 'button', class: 'small secondary', disabled: i === p.rules.length - 1, 'aria-label': `Move ${r.name} down`, onclick: () => move(p, i, 1) }, '↓'),
        h('button', { type: 'button', class: 'small danger', 'aria-label': `Delete rule ${r.name}`, onclick: () => attempt(status, async () => {
          await api('DELETE', `/policies/${p.id}/rules/${r.id}`); await policiesView();
        }) }, 'Delete'))));
    return h('section', { class: 'policy', dataset: { policy: p.name }, 'aria-label': `Policy ${p.name}` },
      h('h2', {}, p.name), h('p', { class: 'muted' }, `Apps: ${p.apps.join(', ') || 'none'}`),
      p.warnings?.length ? h('ul', { class: 'warnings' }, p.warnings.map((w) => h('li', {}, w.message ?? JSON.stringify(w)))) : null,
      table(['#', 'Rule', 'Access', 'Conditions and requirement', ''], rows),
      h('p', { class: 'row' }, h('a', { href: `#policy/${p.id}/rule/new`, class: 'button' }, `Add rule to ${p.name}`),
        h('button', { type: 'button', class: 'small danger', onclick: () => attempt(status, async () => { await api('DELETE', `/policies/${p.id}`); await policiesView(); }) }, 'Delete policy')));
  });
  async function move(p, i, d) {
    const ids = p.rules.map((r) => r.id);
    [ids[i], ids[i + d]] = [ids[i + d], ids[i]];
    await attempt(status, async () => { await api('PUT', `/policies/${p.id}/rules/order`, { rules: ids }); await policiesView(); });
  }
  const form = h('form', { class: 'card-form', onsubmit: async (e) => {
    e.preventDefault(); clearErrors(form);
    const body = {
      type: 'authentication', name: form.elements.name.value.trim(),
      apps: [...form.querySelectorAll('input[name=app]:checked')].map((c) => c.value),
      rules: [{ name: 'catch-all', access: 'allow', require: { assurance: { factors: 1 } } }],
    };
    try { await api('POST', '/policies', body); await policiesView(); } catch (err) { showErrors(form, err); }
  } }, h('h2', {}, 'New authentication policy'),
  field('Name', h('input', { name: 'name', required: true, dataset: { field: 'name' } })),
  h('fieldset', { dataset: { field: 'apps' } }, h('legend', {}, 'Apps that use it'), apps.map((a) => checkbox(a.client_id, false, { name: 'app', value: a.client_id }))),
  h('p', { class: 'hint' }, 'It starts with a catch-all rule that allows one factor; add rules above it.'),
  h('button', { type: 'submit' }, 'Create policy'));
  page(seq, 'Policies', status, sessionPolicyCard(policies.items), enrollmentPolicyCard(policies.items),
    h('h2', { class: 'section-title' }, 'Authentication policies'), cards, form);
}

// ---------------------------------------------------------------------------------------------
// The global session policy and the enrollment policy (singletons stored under the name `default`)

const FLOWS = [['identifier_first', 'Identifier first'], ['password_first', 'Password first']];
const KEEP_SIGNED_IN = [['allowed', 'Allowed'], ['disabled', 'Disabled']];
/** What applies when there is no global session policy (DESIGN 4.4's defaults). */
const DEFAULT_SESSION_RULE = { name: 'default', flow: 'identifier_first', max_lifetime: 'P1D', max_idle: 'PT2H', keep_signed_in: 'allowed', user_enumeration_prevention: true };
/** What users can enroll themselves (DESIGN 4.1's `enrollment_policy.allowed`). */
const ENROLLABLE = [
  ['password', 'Password'], ['email', 'Email', 'one-time codes and magic links'], ['phone', 'Phone', 'SMS and voice codes'],
  ['totp', 'Authenticator app', 'TOTP codes'], ['webauthn', 'Security key or passkey', 'WebAuthn'], ['device', 'Gatehouse Verify', 'push, OTP and FastPass on a registered device'],
];

const conditionsOf = (rule) => {
  const text = summary({ when: rule.when });
  return rule.when && text !== 'every sign-in' ? text : 'every sign-in';
};

function warningList(policy) {
  return policy?.warnings?.length ? h('ul', { class: 'warnings' }, policy.warnings.map((w) => h('li', {}, w.message ?? JSON.stringify(w)))) : null;
}

function sessionPolicyCard(items) {
  const policy = items.find((p) => p.type === 'global_session');
  const rows = (policy?.rules ?? []).map((r) => h('tr', { dataset: { rule: r.name } },
    h('td', {}, r.name), h('td', {}, conditionsOf(r)), h('td', {}, r.flow), h('td', {}, r.max_lifetime), h('td', {}, r.max_idle),
    h('td', {}, r.keep_signed_in), h('td', {}, r.user_enumeration_prevention ? 'on' : 'off')));
  return h('section', { class: 'policy', id: 'global-session-policy', 'aria-labelledby': 'gsp-title' },
    h('h2', { id: 'gsp-title' }, 'Global session policy'),
    h('p', { class: 'muted' }, 'How people sign in (which screen comes first) and how long their session lives.'),
    warningList(policy),
    policy ? table(['Rule', 'Applies to', 'Sign-in flow', 'Max lifetime', 'Max idle', 'Keep signed in', 'User enumeration prevention'], rows)
      : h('p', {}, 'None is set: every sign-in is identifier first, sessions last P1D and end after PT2H idle, keep signed in is allowed and user enumeration prevention is on.'),
    h('p', { class: 'row' }, h('a', { href: '#session-policy', class: 'button' }, policy ? 'Edit global session policy' : 'Create global session policy')));
}

function enrollmentPolicyCard(items) {
  const policy = items.find((p) => p.type === 'enrollment');
  const allowed = policy?.allowed;
  const text = !allowed ? 'every authenticator' : allowed.length ? allowed.join(', ') : 'nothing (users cannot enroll authenticators themselves)';
  return h('section', { class: 'policy', id: 'enrollment-policy', 'aria-labelledby': 'ep-title' },
    h('h2', { id: 'ep-title' }, 'Enrollment policy'),
    h('p', { class: 'muted' }, 'Which authenticators users may enroll, during a sign-in or on their own page (/app).'),
    warningList(policy),
    h('p', {}, 'Users may enroll: ', h('strong', { id: 'enrollment-allowed' }, text)),
    h('p', { class: 'row' }, h('a', { href: '#enrollment-policy', class: 'button' }, policy ? 'Edit enrollment policy' : 'Create enrollment policy')));
}

/** Shows the policy check's warnings next to the fields they name (or above the form). */
function showWarnings(form, warnings) {
  for (const w of warnings ?? []) {
    if (!place(form, w.path ?? '', w.message, 'warning')) form.querySelector('.form-errors')?.append(notice(w.message));
  }
}

async function sessionPolicyView() {
  const seq = navSeq;
  const policy = (await api('GET', '/policies')).items.find((p) => p.type === 'global_session') ?? null;
  const rules = (policy?.rules ?? [DEFAULT_SESSION_RULE]).map(({ id, position, ...rule }) => ({ ...DEFAULT_SESSION_RULE, ...rule }));
  const form = h('form', { class: 'card-form session-policy', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
    h('div', { class: 'form-errors', 'aria-live': 'assertive' }),
    rules.map((rule, i) => {
      const at = `rules[${i}]`;
      const several = rules.length > 1;
      return h('fieldset', { class: 'group', dataset: { field: at } },
        h('legend', {}, several ? `Rule ${i + 1}` : 'Rule'),
        several || rule.when ? h('p', { class: 'muted' }, `Applies to: ${conditionsOf(rule)}${i === rules.length - 1 ? ' (the catch-all)' : ''}.`) : null,
        h('div', { class: 'grid' },
          field('Rule name', bound(h('input', { name: `name-${i}`, value: rule.name, dataset: { field: `${at}.name` } }), rule, 'name')),
          field('Sign-in flow', bound(select(FLOWS, rule.flow, { name: `flow-${i}`, dataset: { field: `${at}.flow` } }), rule, 'flow'),
            'identifier first asks for the login only, so the app\'s policy picks the first method (passwordless works); password first asks for login and password together')),
        h('div', { class: 'grid' },
          field('Maximum session lifetime', bound(h('input', { name: `max_lifetime-${i}`, value: rule.max_lifetime, autocomplete: 'off', dataset: { field: `${at}.max_lifetime` } }), rule, 'max_lifetime'),
            'an ISO-8601 duration such as P1D or PT12H; the session ends then, active or not'),
          field('Maximum idle time', bound(h('input', { name: `max_idle-${i}`, value: rule.max_idle, autocomplete: 'off', dataset: { field: `${at}.max_idle` } }), rule, 'max_idle'),
            'an ISO-8601 duration such as PT2H; the session ends after this long without activity')),
        field('Keep me signed in', bound(select(KEEP_SIGNED_IN, rule.keep_signed_in, { name: `keep_signed_in-${i}`, dataset: { field: `${at}.keep_signed_in` } }), rule, 'keep_signed_in'),
          'allowed: a user who ticks "keep me signed in" gets a session that outlives the browser; disabled: it ends with the browser'),
        h('div', { class: 'field' },
          checkbox('Prevent user enumeration', rule.user_enumeration_prevention, { name: `user_enumeration_prevention-${i}`, dataset: { field: `${at}.user_enumeration_prevention` } }),
          h('p', { class: 'hint' }, 'An unknown login goes through the same screens as a known one and fails only at the end.')));
    }),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save global session policy'), h('a', { href: '#policies', class: 'button secondary' }, 'Cancel')));
  for (const [i, rule] of rules.entries()) {
    const box = form.elements[`user_enumeration_prevention-${i}`];
    box.addEventListener('change', () => { rule.user_enumeration_prevention = box.checked; });
  }

  async function save() {
    clearErrors(form);
    const body = { type: 'global_session', name: 'default', rules: rules.map((r) => ({ ...r, name: r.name.trim(), max_lifetime: r.max_lifetime.trim(), max_idle: r.max_idle.trim() })) };
    try {
      const saved = policy ? await api('PUT', `/policies/${policy.id}`, body) : await api('POST', '/policies', body);
      flash = `Saved the global session policy.${saved.warnings?.length ? ' Check its warnings.' : ''}`;
      go('session-policy');
    } catch (e) { showErrors(form, e); }
  }

  page(seq, policy ? 'Global session policy' : 'New global session policy', h('p', {}, h('a', { href: '#policies' }, '← Policies')),
    h('p', { class: 'muted' }, 'The first rule whose conditions match a sign-in decides its flow and its session. New sessions follow a change; sessions already open keep the limits they started with.'),
    form);
  showWarnings(form, policy?.warnings);
}

async function enrollmentPolicyView() {
  const seq = navSeq;
  const policy = (await api('GET', '/policies')).items.find((p) => p.type === 'enrollment') ?? null;
  const allowed = policy?.allowed ?? null;
  // Keys stored but not offered here (say `smart_card`) stay listed, so saving keeps or drops them knowingly.
  const options = [...ENROLLABLE, ...(allowed ?? []).filter((k) => !ENROLLABLE.some(([key]) => key === k)).map((k) => [k, k])];
  const every = h('input', { type: 'radio', name: 'scope', value: 'every', checked: !allowed });
  const some = h('input', { type: 'radio', name: 'scope', value: 'some', checked: !!allowed });
  const boxes = h('fieldset', { class: 'checks', dataset: { field: 'allowed' } }, h('legend', {}, 'Authenticators users may enroll'),
    options.map(([key, label, detail]) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', name: 'allowed', value: key, checked: allowed ? allowed.includes(key) : true, disabled: !allowed }),
      ' ', label, detail ? h('span', { class: 'muted' }, ` (${detail})`) : null)));
  const sync = () => { for (const c of boxes.querySelectorAll('input')) c.disabled = every.checked; };
  every.addEventListener('change', sync);
  some.addEventListener('change', sync);
  const form = h('form', { class: 'card-form enrollment-policy', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } },
    h('div', { class: 'form-errors', 'aria-live': 'assertive' }),
    h('fieldset', { class: 'checks' }, h('legend', {}, 'Users may enroll'),
      h('label', { class: 'check' }, every, ' Every authenticator'),
      h('label', { class: 'check' }, some, ' Only the authenticators checked below')),
    boxes,
    h('p', { class: 'hint' }, 'It applies to enrollment during a sign-in and on each user\'s own page (/app); what users already enrolled is not removed.'),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save enrollment policy'), h('a', { href: '#policies', class: 'button secondary' }, 'Cancel')));

  async function save() {
    clearErrors(form);
    const body = { type: 'enrollment', name: 'default' };
    if (some.checked) body.allowed = [...boxes.querySelectorAll('input:checked')].map((c) => c.value);
    try {
      if (policy) await api('PUT', `/policies/${policy.id}`, body); else await api('POST', '/policies', body);
      flash = 'Saved the enrollment policy.';
      go('enrollment-policy');
    } catch (e) { showErrors(form, e); }
  }

  page(seq, policy ? 'Enrollment policy' : 'New enrollment policy', h('p', {}, h('a', { href: '#policies' }, '← Policies')), form);
  showWarnings(form, policy?.warnings);
}

/** The editor's model of a rule, from the API's JSON. */
function toModel(rule) {
  const w = rule.when ?? {};
  const r = rule.require ?? {};
  const a = r.assurance ?? {};
  const pos = a.possession;
  return {
    name: rule.name ?? '', access: rule.access ?? 'allow',
    users: { include: (w.users?.include ?? []).join(', '), exclude: (w.users?.exclude ?? []).join(', ') },
    groups: { include: w.groups?.include ?? [], exclude: w.groups?.exclude ?? [] },
    networkMode: w.network?.exclude?.length ? 'exclude' : w.network?.include?.length ? 'include' : 'any',
    zones: w.network?.exclude?.length ? w.network.exclude : (w.network?.include ?? []),
    registered: w.device?.registered === undefined ? '' : String(w.device.registered),
    managed: w.device?.managed === undefined ? '' : String(w.device.managed),
    platforms: w.device?.platform ?? [], risk: w.risk ?? [],
    kind: r.chains ? 'chains' : r.assurance ? 'assurance' : 'none',
    factors: a.factors ?? 1,
    possession: pos ? { on: true, ...pos, user_verification: pos.user_verification ?? 'none' } : { on: false, user_verification: 'none' },
    exclude: a.exclude ?? [],
    chains: (r.chains ?? [{ steps: [[{ authenticator: 'password' }]] }]).map((c) => ({
      reauthenticate: c.reauthenticate ?? '',
      steps: c.steps.map((s) => s.map((m) => ({ user_verification: 'none', method: '', ...m }))),
    })),
    reauthenticate: r.reauthenticate ?? '',
  };
}

/** The API's JSON of the editor's model (empty parts left out). */
function fromModel(m) {
  const rule = { name: m.name.trim(), access: m.access };
  const when = {};
  const ie = (inc, exc) => ({ include: inc, exclude: exc });
  const users = ie(lines(m.users.include), lines(m.users.exclude));
  if (users.include.length || users.exclude.length) when.users = users;
  if (m.groups.include.length || m.groups.exclude.length) when.groups = ie(m.groups.include, m.groups.exclude);
  if (m.networkMode !== 'any') when.network = m.networkMode === 'include' ? ie(m.zones, []) : ie([], m.zones);
  const device = {};
  if (m.registered !== '') device.registered = m.registered === 'true';
  if (m.managed !== '') device.managed = m.managed === 'true';
  if (m.platforms.length) device.platform = m.platforms;
  if (Object.keys(device).length) when.device = device;
  if (m.risk.length) when.risk = m.risk;
  if (Object.keys(when).length) rule.when = when;
  if (m.access === 'deny') return rule;
  const require = {};
  if (m.kind === 'assurance') {
    const assurance = { factors: Number(m.factors) };
    if (m.possession.on) {
      const p = {};
      for (const c of CONSTRAINTS) if (m.possession[c]) p[c] = true;
      if (m.possession.user_verification !== 'none') p.user_verification = m.possession.user_verification;
      assurance.possession = p;
    }
    if (m.exclude.length) assurance.exclude = m.exclude;
    require.assurance = assurance;
  } else if (m.kind === 'chains') {
    require.chains = m.chains.map((c) => {
      const chain = {
        steps: c.steps.map((s) => s.map((alt) => {
          const out = { authenticator: alt.authenticator };
          if (alt.method) out.method = alt.method;
          for (const k of CONSTRAINTS) if (alt[k]) out[k] = true;
          if (alt.user_verification && alt.user_verification !== 'none') out.user_verification = alt.user_verification;
          return out;
        })),
      };
      if (c.reauthenticate.trim()) chain.reauthenticate = c.reauthenticate.trim();
      return chain;
    });
  }
  if (m.reauthenticate.trim()) require.reauthenticate = m.reauthenticate.trim();
  if (Object.keys(require).length) rule.require = require;
  return rule;
}

/** Binds a control to `obj[key]`; `rerender` after structural changes. */
function bound(control, obj, key, read = (c) => c.value) {
  control.addEventListener(control.tagName === 'SELECT' || control.type === 'checkbox' ? 'change' : 'input', () => { obj[key] = read(control); });
  return control;
}

function multiCheck(legend, options, chosen, fieldPath) {
  return h('fieldset', { class: 'checks', dataset: { field: fieldPath } }, h('legend', {}, legend),
    options.map((o) => {
      const box = h('input', { type: 'checkbox', value: o, checked: chosen.includes(o) });
      box.addEventListener('change', () => {
        const i = chosen.indexOf(o);
        if (box.checked && i < 0) chosen.push(o);
        if (!box.checked && i >= 0) chosen.splice(i, 1);
      });
      return h('label', { class: 'check' }, box, ' ', o);
    }));
}

async function ruleEditor(policyId, ruleId) {
  const seq = navSeq;
  const [policy, groups, zones] = await Promise.all([
    api('GET', `/policies/${policyId}`), all('/groups'), api('GET', '/zones'),
  ]);
  const existing = ruleId === 'new' ? null : policy.rules.find((r) => r.id === ruleId);
  if (ruleId !== 'new' && !existing) throw new ApiFailure(404, { message: 'no such rule' });
  const model = toModel(existing ?? { name: '', access: 'allow', require: { assurance: { factors: 2 } } });
  const groupNames = groups.map((g) => g.name);
  const zoneNames = zones.items.map((z) => z.name);
  const form = h('form', { class: 'card-form rule-editor', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(); } });
  const requirement = h('div', { id: 'requirement' });

  function render() {
    const conditions = h('fieldset', { class: 'group' }, h('legend', {}, 'Conditions (all must hold; empty means any)'),
      h('div', { class: 'grid' },
        field('Users included (logins)', bound(h('input', { value: model.users.include, dataset: { field: 'when.users.include' } }), model.users, 'include')),
        field('Users excluded (logins)', bound(h('input', { value: model.users.exclude, dataset: { field: 'when.users.exclude' } }), model.users, 'exclude'))),
      h('div', { class: 'grid' },
        multiCheck('Groups included', groupNames, model.groups.include, 'when.groups.include'),
        multiCheck('Groups excluded', groupNames, model.groups.exclude, 'when.groups.exclude')),
      h('div', { class: 'grid' },
        field('Network', bound(select([['any', 'Any network'], ['include', 'In one of these zones'], ['exclude', 'Not in any of these zones']], model.networkMode, { dataset: { field: 'when.network' } }), model, 'networkMode')),
        multiCheck('Zones', zoneNames, model.zones, `when.network.${model.networkMode === 'exclude' ? 'exclude' : 'include'}`)),
      h('div', { class: 'grid' },
        field('Device registered', bound(select([['', 'Any'], ['true', 'Yes'], ['false', 'No']], model.registered, { dataset: { field: 'when.device.registered' } }), model, 'registered')),
        field('Device managed', bound(select([['', 'Any'], ['true', 'Yes'], ['false', 'No']], model.managed, { dataset: { field: 'when.device.managed' } }), model, 'managed'))),
      multiCheck('Device platform', PLATFORMS, model.platforms, 'when.device.platform'),
      multiCheck('Risk', RISKS, model.risk, 'when.risk'));
    const access = bound(select([['allow', 'Allow'], ['deny', 'Deny']], model.access, { name: 'access', dataset: { field: 'access' } }), model, 'access');
    access.addEventListener('change', renderRequirement);
    fill(form,
      h('div', { class: 'form-errors', 'aria-live': 'assertive' }),
      h('div', { class: 'grid' },
        field('Rule name', bound(h('input', { name: 'name', required: true, value: model.name, dataset: { field: 'name' } }), model, 'name')),
        field('Access', access)),
      conditions, requirement,
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save rule'), h('a', { href: '#policies', class: 'button secondary' }, 'Cancel')));
    renderRequirement();
  }

  function renderRequirement() {
    if (model.access === 'deny') { fill(requirement, h('p', { class: 'muted' }, 'A deny rule ends the sign-in; it has no requirement.')); return; }
    const kind = bound(select([['none', 'Nothing more (any session)'], ['assurance', 'Assurance: factors and constraints'], ['chains', 'Method chains: ordered steps']], model.kind, { name: 'kind', dataset: { field: 'require' } }), model, 'kind');
    kind.addEventListener('change', renderRequirement);
    const parts = [field('Requirement', kind)];
    if (model.kind === 'assurance') parts.push(assuranceEditor());
    if (model.kind === 'chains') parts.push(chainsEditor());
    parts.push(field('Reauthenticate (rule)', bound(h('input', { name: 'reauthenticate', value: model.reauthenticate, placeholder: 'PT4H', dataset: { field: 'require.reauthenticate' } }), model, 'reauthenticate'),
      'every_sign_in, no_session, or an ISO-8601 duration such as PT4H or P1D'));
    fill(requirement, h('fieldset', { class: 'group' }, h('legend', {}, 'Requirement'), parts));
  }

  function assuranceEditor() {
    const p = model.possession;
    const toggle = bound(h('input', { type: 'checkbox', checked: p.on, dataset: { field: 'require.assurance.possession' } }), p, 'on', (c) => c.checked);
    toggle.addEventListener('change', renderRequirement);
    return h('div', { class: 'assurance' },
      field('Factors', bound(select([['1', '1 factor'], ['2', '2 distinct factor types']], String(model.factors), { name: 'factors', dataset: { field: 'require.assurance.factors' } }), model, 'factors')),
      h('label', { class: 'check' }, toggle, ' Constrain the possession factor'),
      p.on ? h('div', { class: 'constraints' },
        CONSTRAINTS.map((c) => h('label', { class: 'check' }, bound(h('input', { type: 'checkbox', checked: !!p[c], dataset: { field: `require.assurance.possession.${c}` } }), p, c, (x) => x.checked), ' ', c.replace(/_/g, ' '))),
        field('User verification', bound(select(UV_LEVELS, p.user_verification, { dataset: { field: 'require.assurance.possession.user_verification' } }), p, 'user_verification'))) : null,
      multiCheck('Authenticators that never count', AUTHENTICATORS, model.exclude, 'require.assurance.exclude'));
  }

  function chainsEditor() {
    const box = h('div', { class: 'chains' });
    model.chains.forEach((chain, ci) => {
      const steps = chain.steps.map((step, si) => h('li', { class: 'step', 'aria-label': `Chain ${ci + 1}, step ${si + 1}` },
        h('p', { class: 'step-title' }, `Step ${si + 1}`, si > 0 ? ' (after the previous step)' : '', ' — any one of:'),
        h('ul', { class: 'alternatives' }, step.map((alt, ai) => altEditor(ci, si, ai, alt))),
        h('div', { class: 'row' },
          h('button', { type: 'button', class: 'small secondary', onclick: () => { step.push({ authenticator: 'totp', method: '', user_verification: 'none' }); renderRequirement(); } }, `Add alternative to step ${si + 1}`),
          chain.steps.length > 1 ? h('button', { type: 'button', class: 'small danger', onclick: () => { chain.steps.splice(si, 1); renderRequirement(); } }, `Remove step ${si + 1}`) : null)));
      box.append(h('fieldset', { class: 'chain', dataset: { field: `require.chains[${ci}]` } }, h('legend', {}, `Chain ${ci + 1}`),
        h('ol', { class: 'steps', dataset: { field: `require.chains[${ci}].steps` } }, steps),
        h('div', { class: 'row' },
          h('button', { type: 'button', class: 'small secondary', onclick: () => { chain.steps.push([{ authenticator: 'totp', method: '', user_verification: 'none' }]); renderRequirement(); } }, `Add step to chain ${ci + 1}`),
          model.chains.length > 1 ? h('button', { type: 'button', class: 'small danger', onclick: () => { model.chains.splice(ci, 1); renderRequirement(); } }, `Remove chain ${ci + 1}`) : null),
        field(`Chain ${ci + 1} reauthenticate`, bound(h('input', { value: chain.reauthenticate, placeholder: 'PT1H', dataset: { field: `require.chains[${ci}].reauthenticate` } }), chain, 'reauthenticate'),
          'every_sign_in, no_session, or an ISO-8601 duration (PT1H)')));
    });
    box.append(h('button', { type: 'button', class: 'small secondary', onclick: () => { model.chains.push({ reauthenticate: '', steps: [[{ authenticator: 'password', method: '', user_verification: 'none' }]] }); renderRequirement(); } }, 'Add another chain'));
    return box;
  }

  function altEditor(ci, si, ai, alt) {
    const path = `require.chains[${ci}].steps[${si}][${ai}]`;
    const who = `step ${si + 1} alternative ${ai + 1}`;
    const auth = bound(select(AUTHENTICATORS, alt.authenticator, { 'aria-label': `Authenticator of ${who}`, dataset: { field: `${path}.authenticator` } }), alt, 'authenticator');
    auth.addEventListener('change', () => { alt.method = ''; renderRequirement(); });
    const method = bound(select([['', 'any method'], ...METHODS[alt.authenticator].map((m) => [m, m])], alt.method, { 'aria-label': `Method of ${who}`, dataset: { field: `${path}.method` } }), alt, 'method');
    const uv = bound(select(UV_LEVELS, alt.user_verification, { 'aria-label': `User verification of ${who}`, dataset: { field: `${path}.user_verification` } }), alt, 'user_verification');
    const step = model.chains[ci].steps[si];
    return h('li', { class: 'alternative', dataset: { field: path } },
      h('div', { class: 'row' }, auth, method, h('span', { class: 'uv' }, 'UV ', uv),
        step.length > 1 ? h('button', { type: 'button', class: 'small danger', 'aria-label': `Remove ${who}`, onclick: () => { step.splice(ai, 1); renderRequirement(); } }, '✕') : null),
      h('div', { class: 'constraints' }, CONSTRAINTS.map((c) => h('label', { class: 'check' },
        bound(h('input', { type: 'checkbox', checked: !!alt[c], 'aria-label': `${c.replace(/_/g, ' ')} (${who})`, dataset: { field: `${path}.${c}` } }), alt, c, (x) => x.checked), ' ', c.replace(/_/g, ' ')))));
  }

  async function save() {
    clearErrors(form);
    const body = fromModel(model);
    try {
      if (existing) await api('PUT', `/policies/${policyId}/rules/${existing.id}`, body);
      else await api('POST', `/policies/${policyId}/rules`, body);
      flash = `Saved rule ${body.name} in ${policy.name}.`;
      go('policies');
    } catch (e) { showErrors(form, e, (f) => f.replace(/^rules\[\d+\]\.?/, '')); }
  }

  render();
  page(seq, existing ? `Edit rule ${existing.name}` : `New rule in ${policy.name}`,
    h('p', {}, h('a', { href: '#policies' }, '← Policies')), form);
}

// ---------------------------------------------------------------------------------------------
// Inline errors: `{"error","message","field"}` placed next to the control that names the field

function clearErrors(form) {
  form.querySelectorAll('.field-error, .field-warning, .form-errors > *').forEach((e) => e.remove());
  form.querySelectorAll('[aria-invalid], [aria-describedby]').forEach((e) => {
    e.removeAttribute('aria-invalid');
    const d = (e.getAttribute('aria-describedby') ?? '').split(' ').filter((x) => !x.startsWith('err-') && !x.startsWith('warn-')).join(' ');
    if (d) e.setAttribute('aria-describedby', d); else e.removeAttribute('aria-describedby');
  });
}

function showErrors(form, e, relative = (f) => f) {
  if (!(e instanceof ApiFailure)) throw e;
  const body = e.body ?? {};
  // Each error of a policy refusal's diagnostics by its own path, else the one named field.
  const fields = (body.diagnostics ?? []).filter((d) => d.severity === 'error' && d.path).map((d) => [relative(d.path), d.message]);
  if (!fields.length && body.field) fields.push([relative(body.field), body.message]);
  let placedAny = false;
  for (const [f, message] of fields) placedAny = place(form, f, message) || placedAny;
  if (!placedAny) {
    const top = form.querySelector('.form-errors') ?? form;
    top.prepend(notice(body.message ?? e.message, 'error'));
  }
}

/** Puts `message` next to the control for `path`, or its nearest named ancestor path. An error
 * marks the control invalid and takes the focus (the first one); a warning only describes it. */
function place(form, path, message, kind = 'error') {
  let p = path;
  while (p) {
    const target = [...form.querySelectorAll('[data-field]')].find((el) => el.dataset.field === p);
    if (target) {
      const error = kind === 'error';
      const id = nextId(error ? 'err' : 'warn');
      const note = h('p', { class: error ? 'field-error' : 'field-warning', id, role: error ? 'alert' : null }, error ? message : `Warning: ${message}`);
      const control = target.matches('input, select, textarea') ? target : target.querySelector('input, select, textarea') ?? target;
      if (error) control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', `${control.getAttribute('aria-describedby') ?? ''} ${id}`.trim());
      // Inside the field's own box (a grid keeps its columns), else after the group it names.
      const box = target.closest('.field');
      if (box) box.append(note); else target.after(note);
      if (error && form.querySelectorAll('.field-error').length === 1) control.focus();
      return true;
    }
    const shorter = p.replace(/(\[\d+\]|\.[^.[\]]+)$/, '');
    if (shorter === p) break;
    p = shorter;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Policy simulator

async function simulatorView() {
  const seq = navSeq;
  const [users, apps] = await Promise.all([all('/users'), all('/apps')]);
  const form = h('form', { class: 'card-form simulator', onsubmit: (e) => { e.preventDefault(); run(); } });
  const result = h('section', { id: 'simulation', 'aria-live': 'polite', 'aria-label': 'Simulation result' });
  const recordsBox = h('fieldset', { class: 'checks', dataset: { field: 'context.records' } });
  const userSel = select(users.map((u) => [u.id, u.login]), users[0]?.id, { name: 'user', dataset: { field: 'context.user' } });
  let enrollments = [];
  async function loadUser() {
    enrollments = (await api('GET', `/users/${userSel.value}/enrollments`)).items.filter((en) => en.status === 'active');
    const login = users.find((u) => u.id === userSel.value)?.login ?? '';
    fill(recordsBox, h('legend', {}, `What ${login} already verified in this sign-in`), enrollments.length ? enrollments.map((en) => {
      const method = en.methods[0];
      return h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'record', value: `${en.authenticator}:${method}` }), ` ${en.authenticator} (${method})`);
    }) : h('p', { class: 'muted' }, 'This user has no active authenticators.'));
  }
  userSel.addEventListener('change', () => attempt(form, loadUser));
  form.append(
    h('div', { class: 'form-errors' }),
    h('div', { class: 'grid' },
      field('User', userSel),
      field('App', select(apps.map((a) => [a.client_id, `${a.name} (${a.client_id})`]), apps.find((a) => a.client_id === 'dashboard')?.client_id ?? apps[0]?.client_id, { name: 'app', dataset: { field: 'app' } })),
      field('Client IP', h('input', { name: 'ip', value: '127.0.0.1', required: true, dataset: { field: 'context.ip' } })),
      field('Risk', select(RISKS, 'low', { name: 'risk', dataset: { field: 'context.risk' } }))),
    h('div', { class: 'grid' },
      field('Device', select([['none', 'No device proved itself'], ['registered', 'Registered device'], ['managed', 'Registered, managed device']], 'none', { name: 'device', dataset: { field: 'context.device' } })),
      field('Device platform', select(PLATFORMS, 'macos', { name: 'platform' })),
      h('div', { class: 'field' }, checkbox('Biometric capable', false, { name: 'biometric' }))),
    recordsBox,
    h('button', { type: 'submit' }, 'Simulate'));
  async function run() {
    clearErrors(form);
    const f = form.elements;
    const user = users.find((u) => u.id === userSel.value);
    try {
      const groups = (await api('GET', `/users/${user.id}/groups`)).items.map((g) => g.name);
      const context = {
        user: { login: user.login, groups }, ip: f.ip.value.trim(), risk: f.risk.value,
        enrollments: enrollments.map((en) => ({ authenticator: en.authenticator, methods: en.methods, hardware_protected: en.hardware_protected, user_verification: en.user_verification })),
        records: [...form.querySelectorAll('input[name=record]:checked')].map((c) => {
          const [authenticator, method] = c.value.split(':');
          return { authenticator, method, age: 'PT1M', in_flow: true };
        }),
        now: new Date().toISOString(),
      };
      if (f.device.value !== 'none') {
        context.device = { registered: true, managed: f.device.value === 'managed', platform: f.platform.value, biometric_capable: f.biometric.checked };
      }
      const out = await api('POST', '/policies/simulate', { app: f.app.value, context });
      showSimulation(result, out);
    } catch (e) { result.replaceChildren(); showErrors(form, e); }
  }
  page(seq, 'Policy simulator', h('p', { class: 'muted' }, 'Evaluates the stored policy of an app for a user, network, device and what they already verified, as a sign-in would.'), form, result);
  await attempt(form, loadUser);
}

function showSimulation(where, out) {
  const opt = (o) => [o.authenticator, o.method, ...CONSTRAINTS.filter((c) => o[c]), o.user_verification && o.user_verification !== 'none' ? `uv ${o.user_verification}` : null].filter(Boolean).join(' · ');
  fill(where,
    h('h2', {}, 'Decision'),
    h('p', { class: 'decision' }, h('span', { id: 'decision', class: `badge ${out.decision}` }, out.decision), ' by rule ', h('strong', { id: 'decision-rule' }, out.rule)),
    out.message ? h('p', { id: 'decision-message' }, out.message) : null,
    out.options ? h('div', {}, h('h3', {}, 'Next step options'), h('ul', { id: 'decision-options' }, out.options.map((o) => h('li', {}, opt(o))))) : null,
    out.remediation ? h('div', {}, h('h3', {}, 'Enroll to continue'), h('ul', { id: 'decision-remediation' }, out.remediation.enroll.map((o) => h('li', {}, opt(o))))) : null,
    h('h3', {}, 'Trace'),
    h('ol', { id: 'trace', class: 'trace' }, (out.trace ?? []).map((t) => h('li', { class: `trace-${t.kind}` },
      h('strong', {}, t.kind), ' ',
      [t.rule, t.requirement, t.authenticator && `${t.authenticator}${t.method ? `/${t.method}` : ''}`].filter(Boolean).join(' '),
      ': ', t.reason ?? t.detail ?? (t.matched !== undefined ? (t.matched ? 'matched' : 'not matched') : JSON.stringify(t))))));
}

// ---------------------------------------------------------------------------------------------
// Devices

async function devicesView() {
  const seq = navSeq;
  const [devices, users] = await Promise.all([all('/devices'), all('/users')]);
  const logins = new Map(users.map((u) => [u.id, u.login]));
  const status = h('div');
  const actions = { active: ['suspend', 'deactivate'], suspended: ['unsuspend', 'deactivate'], deactivated: ['activate'] };
  const label = { suspend: 'Suspend', unsuspend: 'Unsuspend', deactivate: 'Deactivate', activate: 'Reactivate' };
  const done = { suspend: 'Suspended', unsuspend: 'Unsuspended', deactivate: 'Deactivated', activate: 'Reactivated' };
  const rows = devices.map((d) => h('tr', { dataset: { device: d.id } },
    h('td', {}, logins.get(d.user_id) ?? d.user_id), h('td', {}, `${d.display_name} (${d.model})`), h('td', {}, d.platform),
    h('td', {}, h('span', { class: `badge ${d.status}` }, d.status)), h('td', {}, d.key_storage), h('td', {}, d.managed ? 'yes' : 'no'),
    h('td', {}, fmtTime(d.last_seen_at)),
    h('td', { class: 'actions' },
      (actions[d.status] ?? []).map((a) => h('button', { type: 'button', class: `small ${a === 'deactivate' ? 'danger' : 'secondary'}`, onclick: () => attempt(status, async () => {
        await api('POST', `/devices/${d.id}/lifecycle/${a}`);
        await devicesView();
        main.prepend(notice(`${done[a]} the device ${d.display_name} of ${logins.get(d.user_id) ?? d.user_id}.`));
      }) }, label[a])),
      d.status === 'deactivated' ? h('button', { type: 'button', class: 'small danger', onclick: () => attempt(status, async () => { await api('DELETE', `/devices/${d.id}`); await devicesView(); }) }, 'Delete') : null)));
  page(seq, 'Devices', h('p', { class: 'muted' }, 'Deactivating a device ends every session made with its Gatehouse Verify and makes its push, OTP and FastPass unusable until it is reactivated and re-enrolled.'),
    status, table(['User', 'Device', 'Platform', 'Status', 'Keys', 'Managed', 'Last seen', ''], rows, 'No devices are registered.'));
}

// ---------------------------------------------------------------------------------------------
// Sessions

async function sessionsView(params) {
  const seq = navSeq;
  const users = await all('/users');
  const wanted = params.get('user');
  const user = users.find((u) => u.login === wanted || u.id === wanted);
  const form = h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); go(`sessions?user=${encodeURIComponent(form.elements.user.value)}`); } },
    field('User', select([['', 'Choose a user'], ...users.map((u) => [u.login, u.login])], user?.login ?? '', { name: 'user' })),
    h('button', { type: 'submit' }, 'Show sessions'));
  if (!user) { page(seq, 'Sessions', form); return; }
  const sessions = (await api('GET', `/users/${user.id}/sessions`)).items;
  const status = h('div');
  const rows = sessions.map((s) => h('tr', {}, h('td', {}, fmtTime(s.created_at)), h('td', {}, fmtTime(s.last_seen_at)),
    h('td', {}, s.client_ip ?? '—'), h('td', {}, s.user_agent ?? '—'),
    h('td', {}, s.verifications.map((v) => `${v.authenticator}/${v.method}`).join(', ')), h('td', {}, fmtTime(s.expires_at))));
  const end = h('button', { type: 'button', class: 'danger', disabled: !sessions.length, onclick: () => attempt(status, async () => {
    const r = await api('DELETE', `/users/${user.id}/sessions`);
    await sessionsView(params);
    main.prepend(notice(`Ended ${r.ended} session${r.ended === 1 ? '' : 's'} of ${user.login}.`));
  }) }, `End all sessions of ${user.login}`);
  page(seq, 'Sessions', form, status, h('h2', {}, `Live sessions of ${user.login}`),
    table(['Started', 'Last seen', 'IP', 'Browser', 'Verified with', 'Expires'], rows, `${user.login} has no live sessions.`),
    h('p', { class: 'hint' }, 'Ending them signs the user out everywhere and revokes the refresh tokens issued from them.'), end);
}

// ---------------------------------------------------------------------------------------------
// System log

async function logsView(params) {
  const seq = navSeq;
  const form = h('form', { class: 'card-form filters', onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const k of ['user', 'type', 'since', 'until']) {
      let v = form.elements[k].value.trim();
      if (v && (k === 'since' || k === 'until')) v = new Date(v).toISOString();
      if (v) q.set(k, v);
    }
    go(`logs?${q}`);
  } },
  h('div', { class: 'form-errors' }),
  h('div', { class: 'grid' },
    field('User (login or id)', h('input', { name: 'user', value: params.get('user') ?? '', dataset: { field: 'user' } })),
    field('Event type', h('input', { name: 'type', value: params.get('type') ?? '', placeholder: 'user.session.* or policy.rule.create', dataset: { field: 'type' } })),
    field('Since', h('input', { name: 'since', type: 'datetime-local', value: localInput(params.get('since')), dataset: { field: 'since' } })),
    field('Until', h('input', { name: 'until', type: 'datetime-local', value: localInput(params.get('until')), dataset: { field: 'until' } }))),
  h('button', { type: 'submit' }, 'Filter'));
  const body = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const q = new URLSearchParams();
  for (const k of ['user', 'type', 'since', 'until']) if (params.get(k)) q.set(k, params.get(k));
  q.set('limit', '50');
  let after = null;
  async function load() {
    const pq = new URLSearchParams(q);
    if (after) pq.set('after', after);
    const pageOf = await api('GET', `/logs?${pq}`);
    for (const ev of pageOf.items) {
      body.append(h('tr', { dataset: { type: ev.event_type } }, h('td', {}, fmtTime(ev.at)), h('td', {}, h('code', {}, ev.event_type)),
        h('td', {}, ev.actor.id ? `${ev.actor.type} ${ev.actor.id}` : ev.actor.type), h('td', {}, ev.target?.user_id ?? '—'),
        h('td', {}, h('span', { class: `badge ${ev.outcome}` }, ev.outcome)), h('td', { class: 'details' }, JSON.stringify(ev.details ?? {}))));
    }
    after = pageOf.next;
    more.hidden = !after;
    if (!body.children.length) body.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No events match.')));
  }
  more.addEventListener('click', () => attempt(main, load));
  page(seq, 'System log', form, h('div', { class: 'table-wrap' }, h('table', { id: 'log' },
    h('thead', {}, h('tr', {}, ['Time', 'Event', 'Actor', 'User', 'Outcome', 'Details'].map((t) => h('th', { scope: 'col' }, t)))), body)), more);
  try { await load(); } catch (e) { showErrors(form, e); }
}

function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

// ---------------------------------------------------------------------------------------------
// Navigation

/** The section a detail page belongs to, for the navigation's `aria-current`. */
const SECTION_OF = { user: 'users', group: 'groups', app: 'apps', policy: 'policies', 'session-policy': 'policies', 'enrollment-policy': 'policies' };

function go(hash) {
  if (window.location.hash === `#${hash}`) router();
  else window.location.hash = hash;
}

async function router() {
  navSeq += 1;
  const seq = navSeq;
  const raw = window.location.hash.slice(1) || 'users';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/');
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.section === (SECTION_OF[parts[0]] ?? parts[0])) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  try {
    switch (parts[0]) {
      case 'users': return await usersView(params);
      case 'groups': return await groupsView();
      case 'group': return await groupView(parts[1]);
      case 'user': return await userView(parts[1], params);
      case 'apps': return await appsView();
      case 'app': return await appView(parts[1]);
      case 'zones': return await zonesView();
      case 'policies': return await policiesView();
      case 'policy': return await ruleEditor(parts[1], parts[3] ?? 'new');
      case 'session-policy': return await sessionPolicyView();
      case 'enrollment-policy': return await enrollmentPolicyView();
      case 'simulator': return await simulatorView();
      case 'devices': return await devicesView();
      case 'sessions': return await sessionsView(params);
      case 'logs': return await logsView(params);
      default: return page(seq, 'Not found', h('p', {}, 'This console page does not exist. '), h('a', { href: '#users' }, 'Go to users'));
    }
  } catch (e) {
    page(seq, 'Something went wrong', notice(e instanceof ApiFailure ? e.message : String(e), 'error'));
  }
  return undefined;
}

nav.append(h('ul', {}, SECTIONS.map(([id, text]) => h('li', {}, h('a', { href: `#${id}`, dataset: { section: id } }, text)))));
window.addEventListener('hashchange', router);
document.getElementById('logout-form')?.addEventListener('submit', () => { token = null; });
router();

// Login adapter of the shared load driver (../shared/bench/driver, see its README) for Gatehouse.
// The only Gatehouse-specific part of the benchmark: from the un-followed answer to
// GET /oauth2/authorize, drive the sign-in flow API (DESIGN.md section 5, docs/flows.md) the way
// the sign-in page does — identify, answer the password challenge (and any further challenge the
// policy asks for, when it is one the adapter can answer) — and return the redirect to the
// client's redirect URI, which carries `code`, `state` and `iss`.
//
// The HTML of /signin/{flow_id} is not fetched: it is a static shell around the same JSON API, and
// a browser would cache its script and style. Every request that changes the flow is counted.
// There is no consent screen (the administrator's app assignment is the consent), so the driver's
// `prompt=consent` changes nothing.

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

// GATEHOUSE_BENCH_USERS=N: each flow signs in a random one of the N users `gatehouse dev seed`
// made (`seed-0000000` …, password GATEHOUSE_BENCH_PASSWORD, default `seed-password-123`)
// instead of the driver's --username, so that a large directory is read all over, not one row.
const SEEDED = Number(process.env.GATEHOUSE_BENCH_USERS ?? 0);
// GATEHOUSE_BENCH_FLOW=password_first: the organisation's sign-in is `password_first` (bench/
// register_bench_client.py --password-first), so the first step sends login and password
// together (`identify-password`), as the peer's login form does; otherwise `identify` first.
const PASSWORD_FIRST = process.env.GATEHOUSE_BENCH_FLOW === 'password_first';
const SEEDED_PASSWORD = process.env.GATEHOUSE_BENCH_PASSWORD ?? 'seed-password-123';

function who(username, password) {
  if (!SEEDED) return { username, password };
  const n = Math.floor(Math.random() * SEEDED);
  return { username: `seed-${String(n).padStart(7, '0')}`, password: SEEDED_PASSWORD };
}

function fail(what, res) {
  const body = (res.text ?? '').slice(0, 200).replace(/\s+/g, ' ');
  return new Error(`${what}: HTTP ${res.status} ${body}`);
}

export default {
  name: 'gatehouse',

  async authenticate({ ua, response, redirectUri, ...given }) {
    const { username, password } = who(given.username, given.password);
    if (response.status !== 302 && response.status !== 303) throw fail('authorize', response);
    const location = response.location ?? '';
    // A live session satisfying the policy: the authorize answer is already the callback.
    if (location.startsWith(redirectUri)) return location;
    const m = location.match(/\/signin\/([^/?#]+)/);
    if (!m) throw new Error(`authorize did not redirect to /signin/{flow_id}: ${location}`);
    const api = new URL(`/api/v1/flows/${m[1]}`, location).href;

    let state = null;
    let next = PASSWORD_FIRST
      ? { name: 'identify-password', body: { login: username, password } }
      : { name: 'identify', body: { login: username } };
    for (let step = 0; step < 6; step += 1) {
      const res = await ua.request('POST', `${api}/${next.name}`, { headers: JSON_HEADERS, body: JSON.stringify(next.body) });
      if (res.status !== 200) throw fail(next.name, res);
      state = res.json();
      const errors = (state.messages ?? []).filter((msg) => msg.level === 'error');
      if (errors.length) throw new Error(`${next.name}: ${errors.map((e) => e.code).join(', ')}`);
      if (state.status === 'success') {
        if (!state.redirect?.startsWith(redirectUri)) throw new Error(`success without a redirect to ${redirectUri}: ${state.redirect}`);
        return state.redirect;
      }
      if (state.status !== 'in_progress') throw new Error(`flow ${state.status}: ${state.redirect ?? ''}`);
      const rems = state.remediation ?? [];
      const challenge = rems.find((r) => r.name === 'challenge-authenticator');
      if (rems.some((r) => r.name === 'identify-password')) {
        next = { name: 'identify-password', body: { login: username, password } };
      } else if (challenge?.authenticator?.key === 'password') {
        next = { name: 'challenge-authenticator', body: { password } };
      } else {
        throw new Error(`the adapter cannot answer: ${rems.map((r) => r.name + (r.authenticator ? `:${r.authenticator.key}` : '')).join(', ')}`);
      }
    }
    throw new Error('too many flow steps');
  },
};

"""Several nodes on one PostgreSQL database (issue 9): two `gatehouse serve` processes that share
nothing but the database, driven through their public interfaces.

1. Both start at the same moment on an empty database: migrations run once, the demo
   organisation, signing keys and built-in client are made once, and both become ready.
2. A sign-in flow started on node A continues on node B, step by step alternately, and the code
   it ends with is redeemed on B; the ID token verifies against A's JWKS.
3. An app created through A's admin API is usable on B within a second, although B had just
   cached its clients (LISTEN/NOTIFY drops the cache).
4. `gatehouse keys rotate` against the database: both nodes serve the same JWKS, with the new
   keys, within a second; tokens signed before still verify.
5. Sessions ended through B's admin API are refused by A at once.
6. Gatehouse Verify enrolled through A, long-polling A: a push sign-in to `finance` on B reaches
   it (B's push wakes A's long-poll) and signs alice in on B; deactivating the device through A
   ends that session, which B then refuses within a second.

Run by e2e/suites/multinode.sh with GATEHOUSE_BIN, GATEHOUSE_VERIFY_BIN and
GATEHOUSE_TEST_POSTGRES_URL (./test.sh sets them).
"""

import base64
import hashlib
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import parse_qs, urlsplit

import warnings

import requests

with warnings.catch_warnings():  # authlib.jose is deprecated in favour of joserfc, still shipped
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, jwt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from gatehouse_nodes import BIN, JSON, Node, free_port, remediations, start_flow, step  # noqa: E402

VERIFY_BIN = os.environ.get("GATEHOUSE_VERIFY_BIN", "")
ADMIN_TOKEN = "multinode-admin-token"
ALICE_PASSWORD = "correct-horse-battery"
DASHBOARD = ("dashboard", "demo-dashboard-secret", "http://127.0.0.1:9000/callback")
FINANCE_REDIRECT = "http://127.0.0.1:9001/callback"


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def jwks(node):
    r = requests.get(f"{node.url}/oauth2/jwks", timeout=5)
    check(r.status_code == 200, f"{node.url} JWKS: HTTP {r.status_code}")
    return r.json()


def kids(keyset):
    return sorted(k["kid"] for k in keyset["keys"])


def within(seconds, probe):
    """Polls `probe` until it returns a true value or `seconds` pass; returns (value, elapsed)."""
    started = time.monotonic()
    while True:
        value = probe()
        elapsed = time.monotonic() - started
        if value or elapsed > seconds:
            return value, elapsed
        time.sleep(0.02)


def test_both_start_on_an_empty_database(a, b):
    threads = [threading.Thread(target=n.spawn) for n in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a.wait_ready()
    b.wait_ready()
    users = requests.get(f"{a.url}/api/v1/users", headers=a.admin, params={"q": "alice"}, timeout=5).json()["items"]
    check([u["login"] for u in users].count("alice") == 1, f"one alice: {users}")
    seeds = requests.get(f"{b.url}/api/v1/logs", headers=b.admin, params={"type": "system.demo.seed"}, timeout=5).json()["items"]
    check(len(seeds) == 1, f"the demo organisation was seeded once, not {len(seeds)} times")
    check(jwks(a) == jwks(b), "both nodes publish the same JWKS")
    print("ok: two nodes started together on an empty database; one seed, one key set")


def test_flow_hand_over(a, b):
    client_id, secret, redirect = DASHBOARD
    browser = requests.Session()  # its cookies go to both nodes, as behind one load balancer
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    flow = start_flow(browser, a.url, client_id, redirect, code_challenge_method="S256", code_challenge=challenge)
    state = browser.get(f"{b.url}/api/v1/flows/{flow}", headers=JSON, timeout=5).json()
    check("identify" in remediations(state), f"B sees the flow A started: {state}")
    state = step(browser, a.url, flow, "identify", {"login": "alice"})
    check(remediations(state).get("challenge-authenticator", {}).get("authenticator", {}).get("key") == "password",
          f"A asks for the password: {state}")
    state = step(browser, b.url, flow, "challenge-authenticator", {"password": ALICE_PASSWORD})
    check(state["status"] == "success", f"B finishes the flow A started: {state}")
    location = state["redirect"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    r = requests.post(f"{b.url}/oauth2/token", auth=(client_id, secret), timeout=5, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "code_verifier": verifier,
    })
    check(r.status_code == 200, f"B redeems the code: HTTP {r.status_code} {r.text[:300]}")
    tokens = r.json()
    claims = jwt.decode(tokens["id_token"], JsonWebKey.import_key_set(jwks(a)))
    claims.validate()
    check(claims["iss"] == a.issuer and claims["aud"] == client_id, f"ID token claims: {dict(claims)}")
    print("ok: a flow started on A continued on B and A and ended in a code redeemed on B")
    return tokens


def test_app_created_on_a_is_usable_on_b(a, b):
    # Warm B's client cache with a grant of the demo service.
    r = requests.post(f"{b.url}/oauth2/token", auth=("reports-service", "demo-reports-secret"),
                      data={"grant_type": "client_credentials"}, timeout=5)
    check(r.status_code == 200, f"warm-up grant on B: HTTP {r.status_code} {r.text[:200]}")
    name = f"svc-{secrets.token_hex(3)}"
    r = requests.post(f"{a.url}/api/v1/apps", headers=a.admin, timeout=5, json={
        "client_id": name, "name": name, "kind": "confidential", "grant_types": ["client_credentials"],
    })
    check(r.status_code == 201, f"create app on A: HTTP {r.status_code} {r.text[:300]}")
    secret = r.json()["client_secret"]
    r = requests.post(f"{a.url}/api/v1/authorization-server/rules", headers=a.admin, timeout=5, json={
        "name": f"{name}-any", "priority": 100, "clients": [name], "grant_types": ["client_credentials"], "scopes": ["*"],
        "access_token_lifetime": "PT5M", "refresh_token_lifetime": "PT1H",
    })
    check(r.status_code == 201, f"access rule on A: HTTP {r.status_code} {r.text[:300]}")

    def granted():
        r = requests.post(f"{b.url}/oauth2/token", auth=(name, secret),
                          data={"grant_type": "client_credentials"}, timeout=5)
        return r.status_code == 200

    ok, elapsed = within(1.0, granted)
    check(ok, "B did not know the app created on A within 1 s")
    print(f"ok: an app created on A was usable on B after {elapsed * 1000:.0f} ms")


def test_key_rotation(a, b, database_url, env, old_tokens):
    before = kids(jwks(a))
    check(before == kids(jwks(b)), "same JWKS before the rotation")
    out = subprocess.run([BIN, "keys", "rotate", "--database-url", database_url],
                         env=env, capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, f"keys rotate: {out.stderr}")
    new = [k.strip() for k in out.stdout.rsplit(":", 1)[1].split(",")]

    def both_have_them():
        ka, kb = jwks(a), jwks(b)
        return ka == kb and all(k in kids(ka) for k in new)

    ok, elapsed = within(1.0, both_have_them)
    check(ok, f"after `keys rotate` the nodes did not serve the same new JWKS within 1 s: {kids(jwks(a))} / {kids(jwks(b))}")
    after = jwks(b)
    check(all(k in kids(after) for k in before), "the old keys stay published until their tokens expire")
    claims = jwt.decode(old_tokens["id_token"], JsonWebKey.import_key_set(after))
    claims.validate()
    # New tokens are signed with a new key, on either node.
    r = requests.post(f"{a.url}/oauth2/token", auth=("reports-service", "demo-reports-secret"),
                      data={"grant_type": "client_credentials"}, timeout=5)
    header = jwt.decode(r.json()["access_token"], JsonWebKey.import_key_set(after)).header
    check(header["kid"] in new, f"A signs with a new key: {header}")
    print(f"ok: after a rotation both nodes served the same JWKS with the new keys within {elapsed * 1000:.0f} ms")


def alice_id(node):
    users = requests.get(f"{node.url}/api/v1/users", headers=node.admin, params={"q": "alice"}, timeout=5).json()["items"]
    return next(u["id"] for u in users if u["login"] == "alice")


def test_sessions_ended_on_b_are_refused_on_a(a, b, tokens):
    client_id, secret, _ = DASHBOARD
    r = requests.post(f"{a.url}/oauth2/token", auth=(client_id, secret), timeout=5,
                      data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    check(r.status_code == 200, f"refresh on A before: HTTP {r.status_code} {r.text[:200]}")
    refresh = r.json()["refresh_token"]
    r = requests.delete(f"{b.url}/api/v1/users/{alice_id(b)}/sessions", headers=b.admin, timeout=5)
    check(r.status_code in (200, 204), f"end sessions on B: HTTP {r.status_code} {r.text[:200]}")
    r = requests.post(f"{a.url}/oauth2/token", auth=(client_id, secret), timeout=5,
                      data={"grant_type": "refresh_token", "refresh_token": refresh})
    check(r.status_code == 400 and r.json()["error"] == "invalid_grant",
          f"A still refreshed a session B ended: HTTP {r.status_code} {r.text[:200]}")
    print("ok: sessions ended through B were refused by A at once")


def verify(home, *args, stdin=None):
    env = {**os.environ, "GATEHOUSE_VERIFY_TEST_UV": "pass"}
    return subprocess.run([VERIFY_BIN, "--home", home, *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=60)


def test_device_push_across_nodes_and_deactivation(a, b, workdir):
    home = os.path.join(workdir, "verify-home")
    out = verify(home, "--uv-provider", "test", "enroll", "--server", a.url, "--login", "alice",
                 "--password-stdin", stdin=ALICE_PASSWORD + "\n")
    check(out.returncode == 0, f"gatehouse-verify enroll on A: {out.stdout}\n{out.stderr}")
    daemon_log = open(os.path.join(workdir, "verify-daemon.log"), "ab")
    daemon = subprocess.Popen(
        [VERIFY_BIN, "--home", home, "daemon", "--listen", f"127.0.0.1:{free_port()}"],
        env={**os.environ, "GATEHOUSE_VERIFY_TEST_UV": "pass"}, stdout=daemon_log, stderr=daemon_log,
    )
    try:
        browser = requests.Session()
        flow = start_flow(browser, b.url, "finance", FINANCE_REDIRECT)
        step(browser, b.url, flow, "identify", {"login": "alice"})
        state = step(browser, b.url, flow, "challenge-authenticator", {"password": ALICE_PASSWORD})
        state = step(browser, b.url, flow, "select-authenticator", {"authenticator": "device", "method": "push"})
        check("poll" in remediations(state), f"B waits for the push: {state}")

        def approved():
            run = verify(home, "approve")
            if run.returncode == 0:
                return True
            check("no push is waiting" in run.stderr, f"approve refused: {run.stderr}")
            return False

        ok, elapsed = within(10.0, approved)
        check(ok, "the push queued on B never reached Verify long-polling A")
        state, _ = within(5.0, lambda: (lambda s: s if s["status"] == "success" else None)(
            step(browser, b.url, flow, "poll", {})))
        check(state and state["status"] == "success", f"the approved push signed alice in on B: {state}")
        print(f"ok: a push queued on B reached Verify long-polling A and was approved after {elapsed * 1000:.0f} ms")

        sessions = requests.get(f"{b.url}/api/v1/users/{alice_id(b)}/sessions", headers=b.admin, timeout=5).json()["items"]
        device_sessions = [s for s in sessions if s.get("device_id")]
        check(device_sessions, f"the push sign-in's session names the device: {sessions}")
        device_id = device_sessions[0]["device_id"]
        r = browser.get(f"{b.url}/app", headers={"Accept": "text/html"}, allow_redirects=False, timeout=5)
        check(r.status_code == 200, f"B serves alice's dashboard with that session: HTTP {r.status_code}")

        r = requests.post(f"{a.url}/api/v1/devices/{device_id}/lifecycle/deactivate", headers=a.admin, timeout=5)
        check(r.status_code == 200, f"deactivate on A: HTTP {r.status_code} {r.text[:200]}")

        def refused_on_b():
            r = browser.get(f"{b.url}/app", headers={"Accept": "text/html"}, allow_redirects=False, timeout=5)
            return r.status_code != 200

        ok, elapsed = within(1.0, refused_on_b)
        check(ok, "B still served the session of a device deactivated on A after 1 s")
        print(f"ok: a device deactivated on A ended its session on B within {elapsed * 1000:.0f} ms")
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)


def main():
    pg = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL")
    if not pg:
        raise AssertionError("GATEHOUSE_TEST_POSTGRES_URL must name the PostgreSQL server")
    check(BIN and VERIFY_BIN, "GATEHOUSE_BIN and GATEHOUSE_VERIFY_BIN must point to the binaries")
    db = f"gatehouse_multinode_{secrets.token_hex(4)}"
    subprocess.run(["psql", pg, "-qc", f"CREATE DATABASE {db}"], check=True)
    database_url = urlsplit(pg)._replace(path=f"/{db}").geturl()
    workdir = tempfile.mkdtemp(prefix="gatehouse-multinode-")
    master = f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    env = {"GATEHOUSE_MASTER_KEY": master}
    a = Node(workdir, database_url, ADMIN_TOKEN, env=env)
    # Both nodes answer for one issuer, as behind one load balancer.
    b = Node(workdir, database_url, ADMIN_TOKEN, issuer=a.url, env=env)
    try:
        test_both_start_on_an_empty_database(a, b)
        tokens = test_flow_hand_over(a, b)
        test_app_created_on_a_is_usable_on_b(a, b)
        test_key_rotation(a, b, database_url, {**os.environ, **env}, tokens)
        test_sessions_ended_on_b_are_refused_on_a(a, b, tokens)
        test_device_push_across_nodes_and_deactivation(a, b, workdir)
    finally:
        a.stop()
        b.stop()
        subprocess.run(["psql", pg, "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], check=False)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"multi-node test FAILED: {e}", file=sys.stderr)
        sys.exit(1)

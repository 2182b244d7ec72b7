"""Crash safety (issue 9): `kill -9` a Gatehouse node while it enrolls and signs people in, restart
it on the same database, and check that nothing was half-written and that every response that
reported success is in the database.

Load, in threads, through the public interfaces only:
- enrollers: the admin API creates a user (password, group `employees`), who then signs in to
  `finance` through the flow API; `finance` wants a TOTP the user lacks, so the flow enrolls one
  inline (select-enroll, enroll-authenticator with a pyotp code) and ends in a session;
- signers: alice signs in to `dashboard` (password) and gets a session.
A worker records an acknowledgement only after the server answered success. After the kill and
the restart, every acknowledged user exists with its password, every acknowledged TOTP enrollment is
active and usable, every acknowledged sign-in left a live session, and no user is half-enrolled
(a TOTP enrollment without the session committed with it). On SQLite the file also passes
`PRAGMA integrity_check`.

Run by e2e/suites/crash.sh with GATEHOUSE_BIN; GATEHOUSE_TEST_POSTGRES_URL adds a PostgreSQL run.
"""

import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

import pyotp
import requests

BIN = os.environ["GATEHOUSE_BIN"]
ADMIN = {"Authorization": "Bearer crash-admin-token"}
JSON = {"Accept": "application/json"}
ALICE_PASSWORD = "correct-horse-battery"
LOAD_SECONDS = float(os.environ.get("GATEHOUSE_CRASH_LOAD_SECONDS", "4"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """One `gatehouse serve --demo` process on a database that outlives it."""

    def __init__(self, workdir, database_url):
        self.workdir = workdir
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        log = open(os.path.join(self.workdir, "server.log"), "ab")
        env = {k: v for k, v in os.environ.items() if k != "GATEHOUSE_MASTER_KEY"}
        self.proc = subprocess.Popen(
            [
                BIN, "serve", "--demo", "--no-demo-apps",
                "--listen", f"127.0.0.1:{self.port}", "--issuer", self.url,
                "--database-url", self.database_url,
                "--master-key-file", os.path.join(self.workdir, "gatehouse.key"),
                "--outbox-dir", os.path.join(self.workdir, "outbox"),
                "--admin-token", "crash-admin-token",
                "--password-memory-kib", "1024", "--password-iterations", "1",
                "--rate-limit-per-ip", "0", "--rate-limit-per-login", "0",
            ],
            cwd=self.workdir, stdout=log, stderr=log, env=env,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}; see {self.workdir}/server.log")
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not become ready within 60 s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def start_flow(browser, url, client_id, redirect):
    r = browser.get(
        f"{url}/oauth2/authorize",
        params={
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect,
            "scope": "openid", "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
        },
        allow_redirects=False, headers={"Accept": "text/html"}, timeout=10,
    )
    assert r.status_code in (302, 303), f"authorize: HTTP {r.status_code} {r.text[:200]}"
    m = re.search(r"/signin/([^/?#]+)", r.headers["Location"])
    assert m, r.headers["Location"]
    return m.group(1)


def sign_in(url, client_id, redirect, login, password, totp_secret=None):
    """Walks a flow to its end; returns (final state, the TOTP secret enrolled on the way)."""
    browser = requests.Session()
    flow = start_flow(browser, url, client_id, redirect)
    api = f"{url}/api/v1/flows/{flow}"
    state = browser.get(api, headers=JSON, timeout=10).json()
    enrolled = None
    for _ in range(10):
        if state["status"] != "in_progress":
            break
        names = {r["name"]: r for r in state.get("remediation", [])}
        challenge = names.get("challenge-authenticator")
        key = challenge["authenticator"]["key"] if challenge else None
        if "identify" in names:
            step, body = "identify", {"login": login}
        elif key == "password":
            step, body = "challenge-authenticator", {"password": password}
        elif key == "totp":
            # The next time step (accepted within ±1): the current one may be the code already
            # accepted at enrollment, and each code is accepted once.
            step, body = "challenge-authenticator", {"code": pyotp.TOTP(totp_secret).at(time.time() + 30)}
        elif "enroll-authenticator" in names:
            enrolled = names["enroll-authenticator"]["totp"]["secret"]
            step, body = "enroll-authenticator", {"code": pyotp.TOTP(enrolled).now()}
        elif "select-enroll" in names:
            step, body = "select-enroll", {"authenticator": "totp"}
        else:
            raise AssertionError(f"cannot answer this state: {state}")
        r = browser.post(f"{api}/{step}", json=body, headers=JSON, timeout=10)
        assert r.status_code == 200, f"{step}: HTTP {r.status_code} {r.text[:300]}"
        state = r.json()
    return state, enrolled


class Acks:
    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}  # id -> login
        self.enrolled = {}  # user id -> TOTP secret
        self.signed_in = set()  # user ids with an acknowledged session
        self.alice_sessions = 0
        self.errors = []


def enroller(node, acks, stop, n):
    i = 0
    while not stop.is_set():
        i += 1
        login = f"crash-{n}-{i}-{secrets.token_hex(3)}"
        try:
            r = requests.post(
                f"{node.url}/api/v1/users", headers=ADMIN, timeout=10,
                json={"login": login, "email": f"{login}@example.com", "password": "crash-password-123",
                      "groups": ["employees"]},
            )
            if r.status_code != 201:
                acks.errors.append(f"create {login}: HTTP {r.status_code} {r.text[:200]}")
                return
            user = r.json()["id"]
            with acks.lock:
                acks.users[user] = login
            state, secret = sign_in(node.url, "finance", "http://127.0.0.1:9001/callback", login, "crash-password-123")
            if state["status"] == "success" and secret:
                with acks.lock:
                    acks.enrolled[user] = secret
                    acks.signed_in.add(user)
            elif state["status"] != "success":
                acks.errors.append(f"sign-in {login}: {state}")
                return
        except (requests.ConnectionError, requests.Timeout):
            return  # the node was killed mid-request: this one was never acknowledged
        except Exception as e:  # noqa: BLE001 - reported below
            if not stop.is_set():
                acks.errors.append(f"enroller {n}: {e!r}")
            return


def signer(node, acks, stop):
    while not stop.is_set():
        try:
            state, _ = sign_in(node.url, "dashboard", "http://127.0.0.1:9000/callback", "alice", ALICE_PASSWORD)
            if state["status"] != "success":
                acks.errors.append(f"alice: {state}")
                return
            with acks.lock:
                acks.alice_sessions += 1
        except (requests.ConnectionError, requests.Timeout):
            return
        except Exception as e:  # noqa: BLE001
            if not stop.is_set():
                acks.errors.append(f"signer: {e!r}")
            return


def all_users(node):
    users, after = [], None
    while True:
        params = {"limit": 500, "q": "crash-"}
        if after:
            params["after"] = after
        page = requests.get(f"{node.url}/api/v1/users", headers=ADMIN, params=params, timeout=10).json()
        users += page["items"]
        after = page.get("next")
        if not after:
            return users


def run(name, database_url, sqlite_path=None):
    workdir = tempfile.mkdtemp(prefix=f"gatehouse-crash-{name}-")
    node = Node(workdir, database_url)
    node.start()
    acks, stop = Acks(), threading.Event()
    threads = [threading.Thread(target=enroller, args=(node, acks, stop, n)) for n in range(4)]
    threads += [threading.Thread(target=signer, args=(node, acks, stop)) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(LOAD_SECONDS)
    node.kill9()  # mid-load: requests are in flight
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not acks.errors, f"[{name}] errors under load: {acks.errors[:5]}"
    assert acks.enrolled and acks.alice_sessions, f"[{name}] the load acknowledged nothing: {vars(acks)}"
    if sqlite_path:
        with sqlite3.connect(sqlite_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f"[{name}] SQLite file damaged"

    node.start()  # same database, same key file
    try:
        missing, half = [], []
        for user, login in acks.users.items():
            r = requests.get(f"{node.url}/api/v1/users/{user}", headers=ADMIN, timeout=10)
            if r.status_code != 200 or r.json()["login"] != login:
                missing.append(f"user {login}: HTTP {r.status_code}")
        for user, secret in acks.enrolled.items():
            items = requests.get(f"{node.url}/api/v1/users/{user}/enrollments", headers=ADMIN, timeout=10).json()["items"]
            kinds = {(e["authenticator"], e["status"]) for e in items}
            if ("totp", "active") not in kinds:
                missing.append(f"TOTP enrollment of {acks.users[user]}: {kinds}")
        for user in acks.signed_in:
            sessions = requests.get(f"{node.url}/api/v1/users/{user}/sessions", headers=ADMIN, timeout=10).json()["items"]
            if not sessions:
                missing.append(f"session of {acks.users[user]}")
        # Nothing half-written: every user has the password it was created with, and a TOTP
        # enrollment (made inside a sign-in) never exists without the session of that sign-in.
        for u in all_users(node):
            items = requests.get(f"{node.url}/api/v1/users/{u['id']}/enrollments", headers=ADMIN, timeout=10).json()["items"]
            kinds = {e["authenticator"] for e in items}
            if "password" not in kinds:
                half.append(f"{u['login']} has no password enrollment")
            if "totp" in kinds:
                sessions = requests.get(f"{node.url}/api/v1/users/{u['id']}/sessions", headers=ADMIN, timeout=10).json()["items"]
                if not sessions:
                    half.append(f"{u['login']} has a TOTP enrollment without its sign-in's session")
        alice = [u for u in requests.get(f"{node.url}/api/v1/users", headers=ADMIN, params={"q": "alice"}, timeout=10).json()["items"] if u["login"] == "alice"][0]
        alice_sessions = len(requests.get(f"{node.url}/api/v1/users/{alice['id']}/sessions", headers=ADMIN, timeout=10).json()["items"])
        if alice_sessions < acks.alice_sessions:
            missing.append(f"alice: {acks.alice_sessions} sign-ins acknowledged, {alice_sessions} sessions stored")
        assert not missing, f"[{name}] acknowledged but lost: {missing[:10]}"
        assert not half, f"[{name}] half-written: {half[:10]}"
        # An enrollment that survived is usable: sign in with it on the restarted node.
        user, secret = next(iter(acks.enrolled.items()))
        state, _ = sign_in(node.url, "finance", "http://127.0.0.1:9001/callback", acks.users[user], "crash-password-123", totp_secret=secret)
        assert state["status"] == "success", f"[{name}] enrolled TOTP unusable after restart: {state}"
        print(
            f"[{name}] ok: killed under load; {len(acks.users)} users, {len(acks.enrolled)} inline TOTP "
            f"enrollments, {acks.alice_sessions} alice sign-ins acknowledged, all present; nothing half-written"
        )
    finally:
        node.stop()


def main():
    run("sqlite", os.path.join(tempfile.mkdtemp(prefix="gatehouse-crash-db-"), "gatehouse.db"))
    pg = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL")
    if not pg:
        print("SKIPPED: crash test on PostgreSQL (GATEHOUSE_TEST_POSTGRES_URL is not set)")
        return
    db = f"gatehouse_crash_{secrets.token_hex(4)}"
    subprocess.run(["psql", pg, "-qc", f"CREATE DATABASE {db}"], check=True)
    try:
        base = urlsplit(pg)
        run("postgres", base._replace(path=f"/{db}").geturl())
    finally:
        subprocess.run(["psql", pg, "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], check=False)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"crash test FAILED: {e}", file=sys.stderr)
        sys.exit(1)

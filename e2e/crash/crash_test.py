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
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pylib"))
from gatehouse_nodes import Node, sign_in  # noqa: E402

ADMIN_TOKEN = "crash-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ALICE_PASSWORD = "correct-horse-battery"
LOAD_SECONDS = float(os.environ.get("GATEHOUSE_CRASH_LOAD_SECONDS", "4"))


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
    node = Node(workdir, database_url, ADMIN_TOKEN)
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

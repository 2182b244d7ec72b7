#!/usr/bin/env python3
"""Registers the load driver's `bench` client in a Gatehouse demo database (SQLite).

The driver (../shared/bench/driver/README.md) wants a confidential client `bench` / `bench-secret`
(client_secret_basic) with the grants authorization_code, refresh_token and client_credentials,
the redirect URI http://127.0.0.1:9999/cb, and access-policy rules that let it ask for any
scope (RULES says which access tokens they give). The admin API (`POST /api/v1/apps`, DESIGN.md
section 10) is the proper way; this script writes the same records the demo seeding writes
(`crates/gatehouse-server/src/demo.rs`): the application, with the `dashboard` app's sign-in
policy and group assignments, and the access rules `bench-client-credentials` and
`bench-any-scope`. Run it while no server uses the database (the server caches its clients and
policies); it does nothing when `bench` already exists.

With `--password-first` it also makes the organisation's sign-in `password_first` (every rule of
the global session policy): login and password in one step, the shape of the peer's login form,
instead of the demo's `identifier_first` (login, then the password).

Usage: register_bench_client.py [--password-first] DATABASE_FILE
"""

import hashlib
import json
import sqlite3
import sys
import time
import uuid

CLIENT_ID = "bench"
SECRET = "bench-secret"
REDIRECT = "http://127.0.0.1:9999/cb"
# The access rules, tried in this order: (name suffix, grant types, access-token format). As the
# peer's configurations do (../shared/bench/run-peer.sh): client credentials get ES256 JWT access
# tokens (the peer's `jwt-at`), the sign-in flows and their refreshes opaque ones (the peer's
# default, `ACCESS_TOKEN_FORMAT=opaque`).
RULES = [
    ("client-credentials", ["client_credentials"], "jwt"),
    ("any-scope", ["*"], "opaque"),
]


def main(path):
    db = sqlite3.connect(path, timeout=10)
    with db:
        if db.execute("SELECT 1 FROM applications WHERE client_id = ?", (CLIENT_ID,)).fetchone():
            print(f"{CLIENT_ID}: already registered")
            return
        template = db.execute(
            "SELECT id, policy_id FROM applications WHERE client_id = 'dashboard'"
        ).fetchone()
        if template is None:
            sys.exit(f"{path}: no demo `dashboard` app (start `gatehouse serve --demo` on it once)")
        dashboard_id, policy_id = template
        now = int(time.time() * 1000)
        app_id = str(uuid.uuid4())
        db.execute(
            "INSERT INTO applications (id, client_id, name, kind, secret_digest, redirect_uris, "
            "post_logout_redirect_uris, grant_types, token_endpoint_auth_method, policy_id, "
            "created_at, updated_at) VALUES (?, ?, ?, 'confidential', ?, ?, '[]', ?, "
            "'client_secret_basic', ?, ?, ?)",
            (
                app_id,
                CLIENT_ID,
                "Load driver",
                hashlib.sha256(SECRET.encode()).hexdigest(),
                json.dumps([REDIRECT]),
                json.dumps(["authorization_code", "refresh_token", "client_credentials"]),
                policy_id,
                now,
                now,
            ),
        )
        db.execute(
            "INSERT INTO app_group_assignments (app_id, group_id) "
            "SELECT ?, group_id FROM app_group_assignments WHERE app_id = ?",
            (app_id, dashboard_id),
        )
        (priority,) = db.execute("SELECT COUNT(*) FROM access_rules").fetchone()
        for offset, (suffix, grants, form) in enumerate(RULES):
            name = f"{CLIENT_ID}-{suffix}"
            body = {
                "name": name,
                "priority": priority + offset,
                "clients": [CLIENT_ID],
                "grant_types": grants,
                "scopes": ["*"],
                "access_token_lifetime": "PT1H",
                "refresh_token_lifetime": "P1D",
            }
            if form != "jwt":
                body["access_token_format"] = form
            db.execute(
                "INSERT INTO access_rules (id, name, name_key, priority, body, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (str(uuid.uuid4()), name, name, priority + offset, json.dumps(body, sort_keys=True), now, now),
            )
    print(f"{CLIENT_ID}: registered (secret {SECRET}, redirect {REDIRECT})")


def password_first(path):
    db = sqlite3.connect(path, timeout=10)
    with db:
        rules = db.execute(
            "SELECT r.id, r.body FROM policy_rules r JOIN policies p ON p.id = r.policy_id "
            "WHERE p.kind = 'global_session'"
        ).fetchall()
        if not rules:
            sys.exit(f"{path}: no global session policy rule to change")
        for rule_id, body in rules:
            rule = json.loads(body)
            rule["flow"] = "password_first"
            db.execute(
                "UPDATE policy_rules SET body = ? WHERE id = ?",
                (json.dumps(rule, sort_keys=True, separators=(",", ":")), rule_id),
            )
    print(f"global session policy: password_first ({len(rules)} rule(s))")


if __name__ == "__main__":
    args = sys.argv[1:]
    first = "--password-first" in args
    args = [a for a in args if a != "--password-first"]
    if len(args) != 1:
        sys.exit(__doc__)
    main(args[0])
    if first:
        password_first(args[0])

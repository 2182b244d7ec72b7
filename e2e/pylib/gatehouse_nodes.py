"""Helpers the Python end-to-end suites share: a Gatehouse node as a real process, and a sign-in
walked through the flow API (DESIGN section 5) the way a browser's page would walk it."""

import os
import re
import secrets
import signal
import socket
import subprocess
import time

import pyotp
import requests

BIN = os.environ.get("GATEHOUSE_BIN", "")
JSON = {"Accept": "application/json"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    """One `gatehouse serve --demo` process on a database that outlives it.

    `args` are extra flags; `env` extra environment. The admin token is `admin_token`."""

    def __init__(self, workdir, database_url, admin_token, issuer=None, args=(), env=None):
        self.workdir = workdir
        self.database_url = database_url
        self.admin_token = admin_token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = issuer or self.url
        self.args = list(args)
        self.env = env or {}
        self.proc = None
        self.log_path = os.path.join(workdir, f"server-{self.port}.log")

    @property
    def admin(self):
        return {"Authorization": f"Bearer {self.admin_token}"}

    def spawn(self):
        log = open(self.log_path, "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        env.update(self.env)
        self.proc = subprocess.Popen(
            [
                BIN, "serve", "--demo", "--no-demo-apps",
                "--listen", f"127.0.0.1:{self.port}", "--issuer", self.issuer,
                "--database-url", self.database_url,
                "--master-key-file", os.path.join(self.workdir, "gatehouse.key"),
                "--outbox-dir", os.path.join(self.workdir, "outbox"),
                "--admin-token", self.admin_token,
                "--password-memory-kib", "1024", "--password-iterations", "1",
                "--rate-limit-per-ip", "0", "--rate-limit-per-login", "0",
                *self.args,
            ],
            cwd=self.workdir, stdout=log, stderr=log, env=env,
        )

    def wait_ready(self, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not become ready within {seconds} s; see {self.log_path}")

    def start(self):
        self.spawn()
        self.wait_ready()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def start_flow(browser, url, client_id, redirect, **extra):
    """GET /oauth2/authorize as a browser; returns the flow id of the sign-in page it sends to."""
    r = browser.get(
        f"{url}/oauth2/authorize",
        params={
            "response_type": "code", "client_id": client_id, "redirect_uri": redirect,
            "scope": "openid", "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
            **extra,
        },
        allow_redirects=False, headers={"Accept": "text/html"}, timeout=10,
    )
    assert r.status_code in (302, 303), f"authorize: HTTP {r.status_code} {r.text[:200]}"
    m = re.search(r"/signin/([^/?#]+)", r.headers["Location"])
    assert m, r.headers["Location"]
    return m.group(1)


def step(browser, url, flow, name, body):
    r = browser.post(f"{url}/api/v1/flows/{flow}/{name}", json=body, headers=JSON, timeout=10)
    assert r.status_code == 200, f"{name}: HTTP {r.status_code} {r.text[:300]}"
    return r.json()


def remediations(state):
    return {r["name"]: r for r in state.get("remediation", [])}


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
        names = remediations(state)
        challenge = names.get("challenge-authenticator")
        key = challenge["authenticator"]["key"] if challenge else None
        if "identify" in names:
            name, body = "identify", {"login": login}
        elif key == "password":
            name, body = "challenge-authenticator", {"password": password}
        elif key == "totp":
            # The next time step (accepted within ±1): the current one may be the code already
            # accepted at enrollment, and each code is accepted once.
            name, body = "challenge-authenticator", {"code": pyotp.TOTP(totp_secret).at(time.time() + 30)}
        elif "enroll-authenticator" in names:
            enrolled = names["enroll-authenticator"]["totp"]["secret"]
            name, body = "enroll-authenticator", {"code": pyotp.TOTP(enrolled).now()}
        elif "select-enroll" in names:
            name, body = "select-enroll", {"authenticator": "totp"}
        else:
            raise AssertionError(f"cannot answer this state: {state}")
        state = step(browser, url, flow, name, body)
    return state, enrolled

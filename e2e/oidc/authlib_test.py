"""Gatehouse's OpenID Connect provider driven by an independent Python relying party (authlib).

Authorization code + PKCE for alice on `dashboard` (password) and on `finance` (password, then a
TOTP code from pyotp), the ID token verified with authlib's `jwt` against the JWKS, userinfo and
refresh; client credentials for `reports-service`. The sign-in goes through the flow interaction
API (DESIGN.md section 5) as a browser-less client would. Run by e2e/suites/oidc.sh, which starts
`gatehouse serve --demo` and sets GATEHOUSE_URL.
"""

import os
import re
import sys
import time
import unittest
import warnings
from urllib.parse import parse_qs, urlsplit

import authlib.deprecate  # noqa: E402,F401  (installs authlib's "always" filter first)

# authlib.jose still works in authlib 1.x and is what this test means to exercise; it warns that
# joserfc replaces it in 2.0.
warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")

import pyotp
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge

BASE = os.environ.get("GATEHOUSE_URL", "").rstrip("/")

ALICE = {
    "password": "correct-horse-battery",
    "totp": "GATEHOUSEDEMOALICETOTPSECRET2345",
}
CLIENTS = {
    "dashboard": ("demo-dashboard-secret", "http://127.0.0.1:9000/callback"),
    "finance": ("demo-finance-secret", "http://127.0.0.1:9001/callback"),
}

_last_step = -1


def fresh_totp():
    """A pyotp code for a time step Gatehouse has not accepted yet (the current or the next)."""
    global _last_step
    totp = pyotp.TOTP(ALICE["totp"])  # SHA-1, 6 digits, 30 s: the demo's parameters
    while True:
        now = int(time.time() // 30)
        step = max(now, _last_step + 1)
        if step <= now + 1:
            _last_step = step
            return totp.at(step * 30)
        time.sleep(1)


def sign_in(session, flow_id, login):
    """Answers the flow's remediations as alice would; returns the final state."""
    api = f"{BASE}/api/v1/flows/{flow_id}"
    state = session.get(api, headers={"Accept": "application/json"}).json()
    steps = []
    for _ in range(8):
        if state["status"] != "in_progress":
            break
        names = {r["name"]: r for r in state.get("remediation", [])}
        challenge = names.get("challenge-authenticator")
        if "identify" in names:
            name, body = "identify", {"login": login}
        elif "identify-password" in names:
            name, body = "identify-password", {"login": login, "password": ALICE["password"]}
        elif challenge and challenge["authenticator"]["key"] == "password":
            name, body = "challenge-authenticator", {"password": ALICE["password"]}
        elif challenge and challenge["authenticator"]["key"] == "totp":
            name, body = "challenge-authenticator", {"code": fresh_totp()}
        else:
            raise AssertionError(f"cannot answer this state: {state}")
        key = challenge["authenticator"]["key"] if challenge else None
        steps.append(f"{name}:{key}" if name == "challenge-authenticator" else name)
        r = session.post(f"{api}/{name}", json=body, headers={"Accept": "application/json"})
        assert r.status_code == 200, f"{name}: HTTP {r.status_code} {r.text}"
        state = r.json()
        errors = [m for m in state.get("messages", []) if m.get("level") == "error"]
        assert not errors or state["status"] != "in_progress", f"{name} refused: {state}"
    state["steps"] = steps
    return state


class AuthlibTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert BASE, "GATEHOUSE_URL must name the running server (e2e/suites/oidc.sh sets it)"
        cls.meta = requests.get(f"{BASE}/.well-known/openid-configuration", timeout=10).json()
        assert cls.meta["issuer"] == BASE, cls.meta["issuer"]
        cls.jwks = JsonWebKey.import_key_set(requests.get(cls.meta["jwks_uri"], timeout=10).json())

    def client(self, client_id, **kw):
        secret, redirect = CLIENTS[client_id]
        return OAuth2Session(
            client_id,
            secret,
            scope="openid profile email offline_access",
            redirect_uri=redirect,
            token_endpoint_auth_method="client_secret_basic",
            code_challenge_method="S256",
            **kw,
        )

    def verify_id_token(self, id_token, client_id, nonce=None):
        options = {
            "iss": {"essential": True, "value": self.meta["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
        }
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        claims = jwt.decode(id_token, self.jwks, claims_options=options)
        claims.validate(leeway=5)
        self.assertEqual(claims.header["alg"], "ES256")
        return claims

    def authorize_and_redeem(self, client_id, expected_steps):
        oauth = self.client(client_id)
        verifier = generate_token(48)
        nonce = generate_token(20)
        url, state = oauth.create_authorization_url(
            self.meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        self.assertIn("code_challenge=" + create_s256_code_challenge(verifier), url)
        browser = requests.Session()
        r = browser.get(url, allow_redirects=False, headers={"Accept": "text/html"})
        self.assertIn(r.status_code, (302, 303), r.text[:300])
        m = re.search(r"/signin/([^/?#]+)", r.headers["Location"])
        self.assertIsNotNone(m, r.headers["Location"])
        final = sign_in(browser, m.group(1), "alice")
        self.assertEqual(final["status"], "success", final)
        self.assertEqual(final["steps"], expected_steps)
        callback = urlsplit(final["redirect"])
        self.assertEqual(f"{callback.scheme}://{callback.netloc}{callback.path}", CLIENTS[client_id][1])
        query = parse_qs(callback.query)
        self.assertEqual(query["state"], [state])
        self.assertEqual(query["iss"], [self.meta["issuer"]])
        token = oauth.fetch_token(
            self.meta["token_endpoint"],
            authorization_response=final["redirect"],
            code_verifier=verifier,
            state=state,
        )
        claims = self.verify_id_token(token["id_token"], client_id, nonce)
        return oauth, token, claims

    def userinfo_and_refresh(self, oauth, token, claims):
        info = oauth.get(self.meta["userinfo_endpoint"])
        self.assertEqual(info.status_code, 200, info.text)
        self.assertEqual(info.json()["sub"], claims["sub"])
        self.assertEqual(info.json().get("preferred_username"), "alice")
        refreshed = oauth.refresh_token(self.meta["token_endpoint"], refresh_token=token["refresh_token"])
        self.assertTrue(refreshed["access_token"])
        self.assertNotEqual(refreshed["refresh_token"], token["refresh_token"], "refresh tokens rotate")
        if "id_token" in refreshed:
            again = self.verify_id_token(refreshed["id_token"], oauth.client_id)
            self.assertEqual(again["sub"], claims["sub"])
        info = oauth.get(self.meta["userinfo_endpoint"])  # with the refreshed access token
        self.assertEqual(info.status_code, 200, info.text)
        # The old refresh token is spent.
        stale = requests.post(
            self.meta["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            auth=(oauth.client_id, oauth.client_secret),
            timeout=10,
        )
        self.assertEqual(stale.status_code, 400, stale.text)
        self.assertEqual(stale.json()["error"], "invalid_grant")

    def test_dashboard_password(self):
        oauth, token, claims = self.authorize_and_redeem(
            "dashboard", ["identify", "challenge-authenticator:password"]
        )
        self.assertEqual(claims["amr"], ["pwd"])
        self.assertIn("auth_time", claims)
        self.userinfo_and_refresh(oauth, token, claims)

    def test_finance_password_then_totp(self):
        oauth, token, claims = self.authorize_and_redeem(
            "finance",
            ["identify", "challenge-authenticator:password", "challenge-authenticator:totp"],
        )
        self.assertEqual(claims["amr"], ["pwd", "otp", "mfa"])
        self.assertEqual(claims["acr"], "urn:gatehouse:loa:2fa:any")
        self.userinfo_and_refresh(oauth, token, claims)

    def test_client_credentials_reports_service(self):
        oauth = OAuth2Session("reports-service", "demo-reports-secret", token_endpoint_auth_method="client_secret_basic")
        token = oauth.fetch_token(self.meta["token_endpoint"], grant_type="client_credentials")
        self.assertEqual(token["token_type"].lower(), "bearer")
        claims = jwt.decode(token["access_token"], self.jwks)
        claims.validate(leeway=5)
        self.assertEqual(claims.header["alg"], "ES256")
        self.assertEqual(claims["iss"], self.meta["issuer"])
        self.assertEqual(claims["client_id"], "reports-service")


if __name__ == "__main__":
    unittest.main(argv=sys.argv)

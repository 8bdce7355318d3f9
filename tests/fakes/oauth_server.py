"""A real OAuth 2.0 authorization server on 127.0.0.1, strict where the RFCs are strict.

It speaks HTTP in its own thread (so it serves a scripted browser running on another thread
and Hark's async client alike) and enforces what a careful provider enforces:

* ``GET /authorize``: a known ``client_id``, a loopback ``redirect_uri`` (RFC 8252 section
  7.3), ``response_type=code``, a ``state``, and PKCE with ``code_challenge_method=S256`` only
  (RFC 7636 section 4.4.1). An unknown client or a non-loopback redirect gets an error page and
  *no* redirect (RFC 6749 section 4.1.2.1). Then "the user approves" at once: a 302 to the
  redirect URI with a fresh code and the same ``state`` (or ``error=access_denied`` when
  ``deny`` is set).
* ``POST /token``: ``authorization_code`` checks the client (and secret, if configured), that the
  code exists and was issued for this ``redirect_uri``, and that ``BASE64URL(SHA256(verifier))``
  equals the stored challenge; codes are single-use, even when the attempt fails.
  ``refresh_token`` issues a new access token, or ``invalid_grant`` when ``reject_refresh`` is set
  or the refresh token was revoked.
* ``POST /revoke`` (RFC 7009): revokes a refresh token (and its access tokens) or an access token.
* ``GET /userinfo``: a protected resource that accepts only live bearer tokens (401 otherwise),
  so "refresh after a 401" can be proven against a server, not a mock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

LOOPBACK_HOSTS = {"127.0.0.1", "[::1]", "localhost"}


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str


@dataclass
class _Grant:
    refresh_token: str
    scope: str
    access_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


@dataclass
class Seen:
    """One request the server received (form values included, for assertions)."""

    method: str
    path: str
    params: dict[str, str]


class FakeAuthorizationServer:
    """Start with ``with FakeAuthorizationServer() as server:``; see the module docstring."""

    def __init__(
        self,
        *,
        client_id: str = "hark-test-client.apps.example",
        client_secret: str | None = "test-client-secret",
        access_lifetime: int = 3600,
        scopes_granted: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_lifetime = access_lifetime
        self.scopes_granted = scopes_granted
        self.deny = False
        self.reject_refresh = False
        self.seen: list[Seen] = []
        self.revoked: list[str] = []
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, _Grant] = {}
        self._live_access: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeAuthorizationServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def endpoints(self, provider: str) -> dict[str, str]:
        """Settings overrides pointing a provider's OAuth endpoints here."""
        return {
            f"{provider}_authorize": f"{self.base_url}/authorize",
            f"{provider}_token": f"{self.base_url}/token",
            f"{provider}_revoke": f"{self.base_url}/revoke",
        }

    # ------------------------------------------------------------------ inspection and control

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def grant_types(self) -> list[str]:
        return [s.params.get("grant_type", "") for s in self.requests_to("/token")]

    def expire_access_tokens(self) -> None:
        """Invalidate every live access token at once (the client does not know yet)."""
        with self._lock:
            self._live_access.clear()

    def is_live(self, access_token: str) -> bool:
        with self._lock:
            return access_token in self._live_access

    # ------------------------------------------------------------------ endpoints

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], str]:
        if query.get("client_id") != self.client_id:
            return 400, {}, "Error 401: invalid_client. The OAuth client was not found."
        redirect_uri = query.get("redirect_uri", "")
        target = urlsplit(redirect_uri)
        if target.scheme != "http" or target.hostname is None or not _is_loopback(target.netloc):
            return 400, {}, "Error 400: redirect_uri_mismatch (not a loopback redirect URI)."
        state = query.get("state", "")

        def back(**params: str) -> tuple[int, dict[str, str], str]:
            if state:
                params["state"] = state
            joiner = "&" if target.query else "?"
            return 302, {"Location": f"{redirect_uri}{joiner}{urlencode(params)}"}, ""

        if query.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if not state:
            return back(error="invalid_request", error_description="state is required")
        challenge = query.get("code_challenge", "")
        if query.get("code_challenge_method") != "S256":
            return back(error="invalid_request", error_description="S256 PKCE is required")
        if len(challenge) != 43:
            return back(error="invalid_request", error_description="bad code_challenge")
        if self.deny:
            return back(error="access_denied", error_description="The user denied access")
        code = "code-" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                challenge=challenge,
                scope=query.get("scope", ""),
            )
        return back(code=code)

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("client_id") != self.client_id or (
            self.client_secret is not None and form.get("client_secret") != self.client_secret
        ):
            return 401, _error("invalid_client", "The OAuth client was not found.")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._code_grant(form)
        if grant_type == "refresh_token":
            return self._refresh_grant(form)
        return 400, _error("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}")

    def _code_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            issued = self._codes.pop(form.get("code", ""), None)  # single use, pass or fail
        if issued is None:
            return 400, _error("invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != issued.redirect_uri:
            return 400, _error("redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier")
        if not verifier:
            return 400, _error("invalid_grant", "Missing code verifier.")
        if _s256(verifier) != issued.challenge:
            return 400, _error("invalid_grant", "Invalid code verifier.")
        refresh = "refresh-" + secrets.token_urlsafe(24)
        grant = _Grant(refresh_token=refresh, scope=self.scopes_granted or issued.scope)
        with self._lock:
            self._grants[refresh] = grant
        return 200, {**self._issue_access(grant), "refresh_token": refresh}

    def _refresh_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            grant = self._grants.get(form.get("refresh_token", ""))
        if grant is None or grant.revoked or self.reject_refresh:
            return 400, _error("invalid_grant", "Token has been expired or revoked.")
        return 200, self._issue_access(grant)

    def _issue_access(self, grant: _Grant) -> dict[str, Any]:
        access = "access-" + secrets.token_urlsafe(24)
        with self._lock:
            grant.access_tokens.add(access)
            self._live_access[access] = grant
        return {
            "access_token": access,
            "expires_in": self.access_lifetime,
            "scope": grant.scope,
            "token_type": "Bearer",
        }

    def revoke(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        token = form.get("token", "")
        with self._lock:
            self.revoked.append(token)
            grant = self._grants.get(token)
            if grant is not None:
                grant.revoked = True
                for access in grant.access_tokens:
                    self._live_access.pop(access, None)
            else:
                self._live_access.pop(token, None)
        return 200, {}

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not self.is_live(token):
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        return 200, {"sub": "1234567890", "email": "ana@example.com"}


def _is_loopback(netloc: str) -> bool:
    host = netloc.rsplit(":", 1)[0] if not netloc.endswith("]") else netloc
    return host in LOOPBACK_HOSTS


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _error(code: str, description: str) -> dict[str, Any]:
    return {"error": code, "error_description": description}


def _handler_for(server: FakeAuthorizationServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests assert on ``server.seen`` instead."""

        def _record(self, params: dict[str, str]) -> str:
            path = urlsplit(self.path).path
            with server._lock:
                server.seen.append(Seen(self.command, path, params))
            return path

        def do_GET(self) -> None:
            query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            path = self._record(query)
            if path == "/authorize":
                status, headers, text = server.authorize(query)
                self._send(status, text.encode(), "text/plain; charset=utf-8", headers)
            elif path == "/userinfo":
                status, body = server.userinfo(self.headers.get("Authorization", ""))
                self._json(status, body)
            else:
                self._json(404, _error("not_found", path))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            form = dict(parse_qsl(raw, keep_blank_values=True))
            path = self._record(form)
            content_type = self.headers.get("Content-Type", "")
            if not content_type.startswith("application/x-www-form-urlencoded"):
                self._json(400, _error("invalid_request", "form encoding is required"))
            elif path == "/token":
                self._json(*server.token(form))
            elif path == "/revoke":
                self._json(*server.revoke(form))
            else:
                self._json(404, _error("not_found", path))

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json", {})

        def _send(
            self, status: int, body: bytes, content_type: str, headers: dict[str, str]
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


# ---------------------------------------------------------------------- scripted browsers


def approving_browser(url: str) -> bool:
    """A browser that follows every redirect: the user approves and lands on Hark's page."""
    with httpx.Client(follow_redirects=True, timeout=30.0) as client:
        client.get(url)
    return True


def tampering_browser(url: str) -> bool:
    """A browser (or attacker) that swaps ``state`` before the redirect reaches Hark."""
    with httpx.Client(follow_redirects=False, timeout=30.0) as client:
        answer = client.get(url)
        location = httpx.URL(answer.headers["Location"])
        forged = dict(location.params)
        forged["state"] = "forged-" + secrets.token_urlsafe(8)
        client.get(location.copy_with(params=forged))
    return True


def code_for(server: FakeAuthorizationServer, challenge: str, redirect_uri: str) -> str:
    """Ask ``/authorize`` for a code directly (no listener), for token-endpoint tests."""
    query = {
        "response_type": "code",
        "client_id": server.client_id,
        "redirect_uri": redirect_uri,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    answer = httpx.get(f"{server.base_url}/authorize", params=query)
    assert answer.status_code == 302, answer.text
    return httpx.URL(answer.headers["Location"]).params["code"]

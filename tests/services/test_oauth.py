"""OAuth for native apps against a real local authorization server that enforces PKCE.

The "browser" is a function doing real HTTP GETs of the authorization URL with redirects
followed, so each test crosses the loopback listener, the state check and the PKCE verifier
exactly as a user's browser would.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from src.config.redaction import Redactor
from src.services.oauth import (
    AuthorizationDenied,
    AuthorizationTimeout,
    ClientCredentials,
    NotConnected,
    OAuthError,
    OAuthTokens,
    ProviderConfig,
    ReconnectNeeded,
    StateMismatch,
    TokenSet,
    authorization_url,
    authorize,
    disconnect,
)
from src.services.oauth_loopback import LoopbackRedirect
from src.services.oauth_pkce import Pkce, is_valid_verifier, s256_challenge
from src.services.oauth_wire import exchange_code, refresh_tokens
from src.services.secrets import SecretStore, open_secret_store
from tests.fakes.oauth_server import (
    FakeAuthorizationServer,
    approving_browser,
    code_for,
    tampering_browser,
)

SCOPES = ("https://example.test/auth/mail.readonly", "https://example.test/auth/calendar")


class Clock:
    """A hand-moved clock (Unix seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[FakeAuthorizationServer]:
    with FakeAuthorizationServer() as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return open_secret_store("file", tmp_path / "secrets.bin", lambda: "pw", redactor=Redactor())


def config_for(server: FakeAuthorizationServer) -> ProviderConfig:
    return ProviderConfig(
        provider="google",
        title="Google",
        authorize_url=f"{server.base_url}/authorize",
        token_url=f"{server.base_url}/token",
        revoke_url=f"{server.base_url}/revoke",
        scopes=SCOPES,
        client_id_secret="google.client_id",
        client_secret_secret="google.client_secret",
        extra_authorize_params=(("access_type", "offline"),),
    )


def client_for(server: FakeAuthorizationServer) -> ClientCredentials:
    return ClientCredentials(server.client_id, server.client_secret)


def store_client(store: SecretStore, server: FakeAuthorizationServer) -> None:
    store.set("google.client_id", server.client_id)
    assert server.client_secret
    store.set("google.client_secret", server.client_secret)


async def connect(
    server: FakeAuthorizationServer,
    store: SecretStore,
    http: httpx.AsyncClient,
    clock: Clock | None = None,
) -> TokenSet:
    store_client(store, server)
    return await authorize(
        config_for(server),
        client_for(server),
        http,
        store,
        opener=approving_browser,
        announce=lambda _url: None,
        timeout=30,
        clock=clock or Clock(),
    )


# ---------------------------------------------------------------- the browser flow


async def test_loopback_pkce_and_state_end_to_end(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    announced: list[str] = []
    landed: list[httpx.Response] = []

    def browser(url: str) -> bool:
        with httpx.Client(follow_redirects=True) as client:
            landed.append(client.get(url))
        return True

    clock = Clock(1_800_000_000.0)
    async with httpx.AsyncClient() as http:
        tokens = await authorize(
            config_for(server),
            client_for(server),
            http,
            store,
            opener=browser,
            announce=announced.append,
            timeout=30,
            clock=clock,
        )

    (asked,) = server.requests_to("/authorize")
    redirect = httpx.URL(asked.params["redirect_uri"])
    assert redirect.scheme == "http" and redirect.host == "127.0.0.1"
    assert redirect.port and redirect.port > 0 and redirect.path == "/callback"
    assert asked.params["code_challenge_method"] == "S256"
    assert asked.params["scope"] == " ".join(SCOPES)
    assert asked.params["access_type"] == "offline"
    assert asked.params["response_type"] == "code"
    assert len(asked.params["state"]) >= 32
    (exchange,) = server.requests_to("/token")
    verifier = exchange.params["code_verifier"]
    assert is_valid_verifier(verifier)
    assert s256_challenge(verifier) == asked.params["code_challenge"]
    assert exchange.params["redirect_uri"] == asked.params["redirect_uri"]
    assert exchange.params["client_secret"] == server.client_secret
    assert announced and announced[0].startswith(f"{server.base_url}/authorize?")
    assert landed[0].status_code == 200 and "Hark is connected to Google" in landed[0].text
    assert server.is_live(tokens.access_token)
    stored = json.loads(store.get("oauth.google") or "{}")
    assert set(stored) == {"access_token", "refresh_token", "expires_at", "scope", "token_type"}
    assert stored["access_token"] == tokens.access_token
    assert stored["refresh_token"].startswith("refresh-")
    assert stored["expires_at"] == clock.now + server.access_lifetime
    assert stored["scope"] == " ".join(SCOPES)
    assert stored["token_type"] == "Bearer"


async def test_a_tampered_state_is_refused_before_any_token_request(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(StateMismatch) as caught:
            await authorize(
                config_for(server),
                client_for(server),
                http,
                store,
                opener=tampering_browser,
                announce=lambda _u: None,
                timeout=30,
            )
    assert "state did not match" in caught.value.message
    assert server.requests_to("/token") == []
    assert store.get("oauth.google") is None


async def test_access_denied_is_a_sentence_and_stores_nothing(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    server.deny = True
    async with httpx.AsyncClient() as http:
        with pytest.raises(AuthorizationDenied) as caught:
            await connect(server, store, http)
    assert caught.value.message == (
        "You did not allow Hark to use your Google account, so nothing was connected."
    )
    assert caught.value.error_code == "access_denied"
    assert server.requests_to("/token") == []
    assert store.get("oauth.google") is None


async def test_no_redirect_in_time_is_a_timeout(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(AuthorizationTimeout, match="nothing was connected"):
            await authorize(
                config_for(server),
                client_for(server),
                http,
                store,
                opener=lambda _url: False,  # no browser on this machine, nobody pastes the URL
                announce=lambda _u: None,
                timeout=0.05,
            )
    assert server.requests_to("/token") == []


async def test_an_unknown_client_is_refused_by_the_token_endpoint(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(OAuthError) as caught:
            await authorize(
                config_for(server),
                ClientCredentials(server.client_id, "wrong-secret"),
                http,
                store,
                opener=approving_browser,
                announce=lambda _u: None,
                timeout=30,
            )
    assert caught.value.error_code == "invalid_client"
    assert "python main.py connect google" in caught.value.message


# ---------------------------------------------------------------- the server enforces PKCE


async def test_the_server_refuses_a_wrong_or_missing_verifier_and_reused_codes(
    server: FakeAuthorizationServer,
) -> None:
    pkce = Pkce.new()
    redirect = "http://127.0.0.1:9/callback"
    token_url = f"{server.base_url}/token"
    base = {
        "grant_type": "authorization_code",
        "redirect_uri": redirect,
        "client_id": server.client_id,
        "client_secret": server.client_secret or "",
    }
    async with httpx.AsyncClient() as http:
        wrong = Pkce.new().verifier
        code = code_for(server, pkce.challenge, redirect)
        refused = await http.post(token_url, data={**base, "code": code, "code_verifier": wrong})
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

        code = code_for(server, pkce.challenge, redirect)
        missing = await http.post(token_url, data={**base, "code": code})
        assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"

        code = code_for(server, pkce.challenge, redirect)
        good = {**base, "code": code, "code_verifier": pkce.verifier}
        assert (await http.post(token_url, data=good)).status_code == 200
        replay = await http.post(token_url, data=good)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


async def test_a_wrong_verifier_surfaces_as_a_sentence(server: FakeAuthorizationServer) -> None:
    redirect = "http://127.0.0.1:9/callback"
    code = code_for(server, Pkce.new().challenge, redirect)
    async with httpx.AsyncClient() as http:
        with pytest.raises(OAuthError) as caught:
            await exchange_code(
                http,
                config_for(server),
                client_for(server),
                code=code,
                code_verifier=Pkce.new().verifier,
                redirect_uri=redirect,
                now=0.0,
            )
    assert caught.value.message == (
        "Google refused to complete the sign-in: Invalid code verifier (invalid_grant)."
    )


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"redirect_uri": "https://evil.example/callback"}, 400),
        ({"client_id": "someone-else"}, 400),
        ({"code_challenge_method": "plain"}, 302),
        ({"state": ""}, 302),
    ],
)
def test_the_server_is_strict_about_authorization_requests(
    server: FakeAuthorizationServer, change: dict[str, str], expect: int
) -> None:
    query = {
        "response_type": "code",
        "client_id": server.client_id,
        "redirect_uri": "http://127.0.0.1:5000/callback",
        "state": "abc",
        "code_challenge": Pkce.new().challenge,
        "code_challenge_method": "S256",
        **change,
    }
    answer = httpx.get(f"{server.base_url}/authorize", params=query)
    assert answer.status_code == expect
    if expect == 302:
        assert httpx.URL(answer.headers["Location"]).params["error"] == "invalid_request"


# ---------------------------------------------------------------- tokens for requests


async def test_the_access_token_is_renewed_before_it_expires(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    clock = Clock()
    async with httpx.AsyncClient() as http:
        first = await connect(server, store, http, clock)
        tokens = OAuthTokens(config_for(server), store, http, clock=clock, margin=60)
        clock.now += server.access_lifetime - 61
        assert await tokens.access_token_for_request() == first.access_token
        assert server.grant_types() == ["authorization_code"]

        clock.now += 2  # 59 s left: inside the margin
        renewed = await tokens.access_token_for_request()

    assert renewed != first.access_token
    assert server.grant_types() == ["authorization_code", "refresh_token"]
    stored = TokenSet.from_json(store.get("oauth.google") or "")
    assert stored.access_token == renewed
    assert stored.refresh_token == first.refresh_token  # the refresh answer had none: kept
    assert stored.expires_at == clock.now + server.access_lifetime


async def test_a_401_renews_the_token_and_retries_once(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    async with httpx.AsyncClient() as http:
        await connect(server, store, http)
        tokens = OAuthTokens(config_for(server), store, http, clock=Clock())
        server.expire_access_tokens()  # revoked early: the client still thinks it is fresh
        answer = await tokens.request("GET", f"{server.base_url}/userinfo")

    assert answer.status_code == 200 and answer.json()["email"] == "ana@example.com"
    assert len(server.requests_to("/userinfo")) == 2
    assert server.grant_types() == ["authorization_code", "refresh_token"]


async def test_a_second_401_is_returned_not_retried_forever(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    calls: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": f"a{len(calls)}", "expires_in": 60})
        calls.append(request.headers["Authorization"])
        return httpx.Response(401, json={"error": {"code": 401}})

    store_client(store, server)
    store.set("oauth.google", TokenSet("stale", refresh_token="r", expires_at=None).to_json())
    async with httpx.AsyncClient(transport=httpx.MockTransport(api)) as http:
        config = ProviderConfig.from_spec(config_for(server), {"google_token": "http://x/token"})
        answer = await OAuthTokens(config, store, http).request("GET", "http://x/api")
    assert answer.status_code == 401
    assert calls == ["Bearer stale", "Bearer a1"]


async def test_invalid_grant_on_refresh_says_to_reconnect(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    clock = Clock()
    async with httpx.AsyncClient() as http:
        await connect(server, store, http, clock)
        server.reject_refresh = True
        clock.now += server.access_lifetime
        with pytest.raises(ReconnectNeeded) as caught:
            await OAuthTokens(
                config_for(server), store, http, clock=clock
            ).access_token_for_request()
    assert caught.value.message == (
        "Your Google sign-in has expired or was revoked; connect again: "
        "python main.py connect google"
    )
    assert caught.value.error_code == "invalid_grant"


async def test_without_stored_tokens_the_user_is_told_to_connect(store: SecretStore) -> None:
    config = ProviderConfig("google", "Google", "http://a", "http://t", ("s",))
    async with httpx.AsyncClient() as http:
        with pytest.raises(
            NotConnected, match=r"^Connect Google first: python main.py connect google$"
        ):
            await OAuthTokens(config, store, http).access_token_for_request()


async def test_damaged_stored_tokens_ask_for_a_reconnect(store: SecretStore) -> None:
    config = ProviderConfig("google", "Google", "http://a", "http://t", ("s",))
    store.set("oauth.google", "{not json")
    async with httpx.AsyncClient() as http:
        with pytest.raises(ReconnectNeeded, match="damaged"):
            await OAuthTokens(config, store, http).access_token_for_request()


async def test_a_read_only_store_keeps_renewed_tokens_in_memory(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    class ReadOnly:
        def get(self, name: str) -> str | None:
            return store.get(name)

    clock = Clock()
    async with httpx.AsyncClient() as http:
        first = await connect(server, store, http, clock)
        tokens = OAuthTokens(config_for(server), ReadOnly(), http, clock=clock)
        clock.now += server.access_lifetime
        renewed = await tokens.access_token_for_request()
        assert await tokens.access_token_for_request() == renewed
    assert renewed != first.access_token
    assert server.grant_types().count("refresh_token") == 1
    assert TokenSet.from_json(store.get("oauth.google") or "").access_token == first.access_token


@pytest.mark.parametrize(
    ("reply", "words", "retryable"),
    [
        (httpx.Response(503, text="down"), "having trouble (HTTP 503)", True),
        (httpx.Response(200, text="<html>"), "couldn't read", True),
        (httpx.Response(200, json={"token_type": "Bearer"}), "couldn't read", True),
        (httpx.Response(400, json={"error": "invalid_scope"}), "refused to renew", False),
    ],
)
async def test_token_endpoint_failures_are_sentences(
    reply: httpx.Response, words: str, retryable: bool
) -> None:
    config = ProviderConfig("google", "Google", "http://a", "http://t/token", ("s",))
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: reply)) as http:
        with pytest.raises(OAuthError) as caught:
            await refresh_tokens(
                http, config, ClientCredentials("id"), TokenSet("a", refresh_token="r"), now=0
            )
    assert words in caught.value.message
    assert caught.value.retryable is retryable


async def test_an_unreachable_token_endpoint_is_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    config = ProviderConfig("google", "Google", "http://a", "http://t/token", ("s",))
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(OAuthError) as caught:
            await refresh_tokens(
                http, config, ClientCredentials("id"), TokenSet("a", refresh_token="r"), now=0
            )
    assert caught.value.message == "Could not reach Google's sign-in service."
    assert caught.value.retryable


# ---------------------------------------------------------------- disconnect


async def test_disconnect_revokes_then_deletes_the_tokens(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    async with httpx.AsyncClient() as http:
        tokens = await connect(server, store, http)
        result = await disconnect(config_for(server), http, store)

    assert result.had_tokens and result.revoked and not result.problem
    assert server.revoked == [tokens.refresh_token]
    (revocation,) = server.requests_to("/revoke")
    assert revocation.params["token_type_hint"] == "refresh_token"
    assert store.get("oauth.google") is None
    assert "oauth.google" not in store.names()
    assert not server.is_live(tokens.access_token)  # revoking the grant killed its access tokens
    assert store.get("google.client_id") == server.client_id  # the client stays for reconnecting


async def test_disconnect_deletes_locally_even_if_revocation_fails(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    async with httpx.AsyncClient() as http:
        await connect(server, store, http)
    failing = httpx.MockTransport(lambda _r: httpx.Response(503))
    async with httpx.AsyncClient(transport=failing) as http:
        result = await disconnect(config_for(server), http, store)
    assert result.had_tokens and not result.revoked
    assert "having trouble" in result.problem
    assert store.get("oauth.google") is None


async def test_disconnect_without_tokens_does_nothing(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    async with httpx.AsyncClient() as http:
        result = await disconnect(config_for(server), http, store)
    assert not result.had_tokens
    assert server.requests_to("/revoke") == []


# ---------------------------------------------------------------- pieces


def test_pkce_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_new_verifiers_are_long_random_and_unreserved() -> None:
    made = {Pkce.new().verifier for _ in range(50)}
    assert len(made) == 50
    assert all(is_valid_verifier(v) and 43 <= len(v) <= 128 for v in made)
    assert "verifier" not in repr(Pkce.new()).split("(", 1)[1].split("=")[0]
    assert not any(v in repr(Pkce.new()) for v in made)


def test_the_authorization_url_keeps_the_providers_own_query() -> None:
    config = ProviderConfig(
        "p", "P", "https://id.example/auth?tenant=me", "https://id.example/token", ("a", "b c")
    )
    pkce = Pkce.new()
    url = httpx.URL(authorization_url(config, "cid", "http://127.0.0.1:1/callback", pkce, "st"))
    assert url.params["tenant"] == "me"
    assert url.params["scope"] == "a b c"
    assert url.params["code_challenge"] == pkce.challenge
    assert url.params["state"] == "st"
    assert pkce.verifier not in str(url)


def test_tokens_stay_out_of_repr() -> None:
    tokens = TokenSet("access-secret-value", refresh_token="refresh-secret-value", expires_at=1.0)
    assert "secret-value" not in repr(tokens)


async def test_tokens_are_never_logged(
    server: FakeAuthorizationServer, store: SecretStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    async with httpx.AsyncClient() as http:
        first = await connect(server, store, http, clock)
        tokens = OAuthTokens(config_for(server), store, http, clock=clock)
        server.expire_access_tokens()
        await tokens.request("GET", f"{server.base_url}/userinfo")
        renewed = await tokens.access_token_for_request()
        await disconnect(config_for(server), http, store)
    for secret in (first.access_token, first.refresh_token or "?", renewed):
        assert secret not in caplog.text


async def test_the_listener_serves_one_redirect_only() -> None:
    async with LoopbackRedirect() as listener, httpx.AsyncClient() as http:
        base = listener.redirect_uri.removesuffix("/callback")
        assert (await http.get(f"{base}/favicon.ico")).status_code == 404
        # The tab is answered once the flow gives its verdict, so the GET runs alongside.
        first = asyncio.create_task(
            http.get(listener.redirect_uri, params={"code": "c", "state": "s"})
        )
        assert await listener.wait(5) == {"code": "c", "state": "s"}
        listener.finish(False, "Nope <script>")
        page = await first
        assert page.status_code == 200
        assert "Not connected" in page.text and "Nope &lt;script&gt;" in page.text
        again = await http.get(listener.redirect_uri, params={"code": "x"})
        assert again.status_code == 410

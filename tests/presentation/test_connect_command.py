"""``connect`` / ``disconnect`` / ``connections`` with the real Google connectors' specs, a real
local authorization server and a real encrypted secrets file."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from src.config.redaction import Redactor
from src.connectors import gmail, google_calendar, google_drive
from src.presentation.connect_command import (
    ConnectorInfo,
    connect,
    connections,
    disconnect,
    resolve,
)
from src.services.secrets import SecretStore, open_secret_store
from tests.fakes.connector_specs import ALL
from tests.fakes.oauth_server import FakeAuthorizationServer, approving_browser

ALL_SCOPES = [*gmail.SCOPES, *google_calendar.SCOPES, *google_drive.SCOPES]


@pytest.fixture
def server() -> Iterator[FakeAuthorizationServer]:
    with FakeAuthorizationServer(client_id="1234-hark.apps.googleusercontent.com") as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return open_secret_store("file", tmp_path / "secrets.bin", lambda: "pw", redactor=Redactor())


async def run_connect(
    name: str,
    server: FakeAuthorizationServer,
    store: SecretStore,
    typed: str = "",
    connectors: Sequence[ConnectorInfo] = ALL,
) -> tuple[int, str]:
    out = io.StringIO()
    code = await connect(
        name,
        connectors,
        store,
        out,
        stdin=io.StringIO(typed),
        opener=approving_browser,
        endpoints=server.endpoints("google"),
        timeout=30,
    )
    return code, out.getvalue()


def typed_client(server: FakeAuthorizationServer) -> str:
    return f"{server.client_id}\n{server.client_secret}\n"


# ---------------------------------------------------------------- OAuth


async def test_connect_google_asks_for_the_client_then_signs_in_for_all_three(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    code, said = await run_connect("google", server, store, typed_client(server))

    assert code == 0
    assert "create an OAuth client ID of type 'Desktop app'" in said
    assert f"visit:\n  {server.base_url}/authorize?" in said
    assert said.rstrip().endswith(
        "Connected Google for Gmail, Google Calendar, Google Drive. The sign-in is kept in "
        f"{store.describe()}."
    )
    (asked,) = server.requests_to("/authorize")
    assert asked.params["scope"].split(" ") == ALL_SCOPES
    assert asked.params["access_type"] == "offline"
    assert store.get("google.client_id") == server.client_id
    assert store.get("google.client_secret") == server.client_secret
    tokens = json.loads(store.get("oauth.google") or "{}")
    assert tokens["scope"] == " ".join(ALL_SCOPES)
    assert tokens["access_token"] not in said and tokens["refresh_token"] not in said


@pytest.mark.parametrize("name", ["gmail", "google_drive", "GOOGLE"])
async def test_any_google_connector_connects_the_shared_account(
    server: FakeAuthorizationServer, store: SecretStore, name: str
) -> None:
    code, said = await run_connect(name, server, store, typed_client(server))
    assert code == 0 and "for Gmail, Google Calendar, Google Drive" in said
    assert store.get("oauth.google")


async def test_a_stored_client_is_not_asked_for_again(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    store.set("google.client_id", server.client_id)
    store.set("google.client_secret", server.client_secret or "")
    code, said = await run_connect("google", server, store, typed="")
    assert code == 0
    assert "Desktop app" not in said


async def test_a_denied_sign_in_fails_and_keeps_nothing(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    server.deny = True
    code, said = await run_connect("google", server, store, typed_client(server))
    assert code == 1
    assert said.rstrip().endswith(
        "hark: You did not allow Hark to use your Google account, so nothing was connected."
    )
    assert store.names() == []


async def test_no_client_id_typed_is_a_usage_error(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    code, said = await run_connect("google", server, store, typed="\n")
    assert code == 2 and "no client ID given" in said
    assert server.seen == [] and store.names() == []


async def test_disconnect_revokes_and_deletes(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    await run_connect("google", server, store, typed_client(server))
    refresh = json.loads(store.get("oauth.google") or "{}")["refresh_token"]
    out = io.StringIO()

    code = await disconnect("gmail", ALL, store, out, endpoints=server.endpoints("google"))

    assert code == 0
    assert out.getvalue() == (
        "Disconnected Google (Gmail, Google Calendar, Google Drive): access revoked and the "
        "tokens deleted from this computer.\n"
    )
    assert server.revoked == [refresh]
    assert store.get("oauth.google") is None

    again = io.StringIO()
    assert await disconnect("google", ALL, store, again, endpoints=server.endpoints("google")) == 0
    assert again.getvalue() == "Google was not connected.\n"


async def test_disconnect_reports_a_failed_revocation(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    await run_connect("google", server, store, typed_client(server))
    out = io.StringIO()
    failing = httpx.AsyncClient(transport=httpx.MockTransport(lambda _r: httpx.Response(502)))
    code = await disconnect(
        "google", ALL, store, out, http=failing, endpoints=server.endpoints("google")
    )
    await failing.aclose()
    assert code == 1
    assert "tokens were deleted from this computer, but revoking Hark's access failed" in (
        out.getvalue()
    )
    assert store.get("oauth.google") is None


# ---------------------------------------------------------------- API keys and the rest


async def test_an_api_key_is_read_from_stdin_and_stored(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    code, said = await run_connect("news", server, store, typed="nk-0123456789abcdef\n")
    assert code == 0
    assert said.splitlines() == [
        "Get a free key at https://newsapi.example/register.",
        f"Connected News. The key is kept in {store.describe()}.",
    ]
    assert store.get("newsapi") == "nk-0123456789abcdef"
    assert "nk-0123456789abcdef" not in said

    out = io.StringIO()
    assert await disconnect("news", ALL, store, out) == 0
    assert out.getvalue() == "Disconnected News: deleted newsapi.\n"
    assert store.get("newsapi") is None


async def test_an_empty_key_stores_nothing(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    code, said = await run_connect("news", server, store, typed="")
    assert code == 2 and "no value given for newsapi; nothing was stored" in said
    assert store.names() == []


async def test_keyless_and_unknown_connectors(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    code, said = await run_connect("weather", server, store)
    assert (code, said) == (0, "Weather needs no account; it is ready to use.\n")
    code, said = await run_connect("fax", server, store)
    assert code == 2
    assert said == (
        "hark: no connector is called 'fax'. Choose one of: gmail, google, google_calendar, "
        "google_drive, news, weather\n"
    )


async def test_connections_lists_every_connector(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    before = io.StringIO()
    assert connections(ALL, store, before) == 0
    assert before.getvalue().splitlines() == [
        "gmail            Gmail            not connected  (python main.py connect google)",
        "google_calendar  Google Calendar  not connected  (python main.py connect google)",
        "google_drive     Google Drive     not connected  (python main.py connect google)",
        "news             News             not connected  (python main.py connect news)",
        "weather          Weather          no account needed",
    ]
    await run_connect("google", server, store, typed_client(server))
    after = io.StringIO()
    connections(ALL, store, after)
    assert after.getvalue().splitlines()[:3] == [
        "gmail            Gmail            connected (google account)",
        "google_calendar  Google Calendar  connected (google account)",
        "google_drive     Google Drive     connected (google account)",
    ]


def test_resolve_groups_by_provider() -> None:
    assert [c.name for c in resolve("google", ALL)] == ["gmail", "google_calendar", "google_drive"]
    assert [c.name for c in resolve("google_calendar", ALL)] == [
        "gmail",
        "google_calendar",
        "google_drive",
    ]
    assert [c.name for c in resolve("news", ALL)] == ["news"]
    assert resolve("nothing", ALL) == []

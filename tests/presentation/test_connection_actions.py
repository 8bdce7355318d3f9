"""``ConnectionActions`` (the TUI's ``Connections``) with the real Google connectors' specs, a
real local authorization server and a real encrypted secrets file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.config.redaction import Redactor
from src.presentation.connection_actions import ConnectFailed, ConnectionActions
from src.services.secrets import SecretStore, open_secret_store
from tests.fakes.connector_specs import ALL
from tests.fakes.oauth_server import FakeAuthorizationServer, approving_browser


@pytest.fixture
def server() -> Iterator[FakeAuthorizationServer]:
    with FakeAuthorizationServer(client_id="1234-hark.apps.googleusercontent.com") as fake:
        yield fake


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return open_secret_store("file", tmp_path / "s.bin", lambda: "pw", redactor=Redactor())


def actions(store: SecretStore, server: FakeAuthorizationServer | None = None) -> ConnectionActions:
    return ConnectionActions(
        ALL,
        lambda: store,
        endpoints=server.endpoints("google") if server else None,
        opener=approving_browser,
        timeout=30,
    )


async def test_a_key_connector_asks_for_its_key_and_stores_it(store: SecretStore) -> None:
    connections = actions(store)
    form = connections.form("news")
    assert (form.title, form.oauth) == ("News", False)
    assert form.fields == (("newsapi", "News key newsapi"),)
    assert "newsapi.example" in form.help

    said = await connections.connect("news", {"newsapi": " k-123 "})

    assert said == f"Connected News. The key is kept in {store.describe()}."
    assert store.get("newsapi") == "k-123"


async def test_a_blank_key_stores_nothing(store: SecretStore) -> None:
    with pytest.raises(ValueError, match="No value given for newsapi"):
        await actions(store).connect("news", {"newsapi": "  "})
    assert store.get("newsapi") is None


async def test_an_unknown_name_is_a_lookup_error(store: SecretStore) -> None:
    with pytest.raises(LookupError, match="No connector is called 'nope'"):
        actions(store).form("nope")
    with pytest.raises(LookupError):
        await actions(store).disconnect("nope")


async def test_no_account_connectors_need_nothing(store: SecretStore) -> None:
    connections = actions(store)
    form = connections.form("weather")
    assert form.fields == () and not form.oauth
    assert "needs no account" in await connections.connect("weather", {})


async def test_disconnecting_a_key_connector_deletes_its_key(store: SecretStore) -> None:
    store.set("newsapi", "k-123")
    connections = actions(store)
    assert await connections.disconnect("news") == "Disconnected News: deleted newsapi."
    assert store.get("newsapi") is None
    assert await connections.disconnect("news") == "News was not connected."


async def test_google_signs_in_with_the_typed_client_then_disconnects(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    connections = actions(store, server)
    form = connections.form("gmail")
    assert form.oauth and form.title == "Google"
    assert [secret for secret, _ in form.fields] == ["google.client_id", "google.client_secret"]
    assert "OAuth client ID" in form.help
    announced: list[str] = []

    said = await connections.connect(
        "gmail",
        {"google.client_id": server.client_id, "google.client_secret": server.client_secret or ""},
        announce=announced.append,
    )

    assert said == (
        "Connected Google for Gmail, Google Calendar, Google Drive. "
        f"The sign-in is kept in {store.describe()}."
    )
    assert len(announced) == 1 and announced[0].startswith(f"{server.base_url}/authorize?")
    assert store.get("google.client_id") == server.client_id
    tokens = json.loads(store.get("oauth.google") or "{}")
    assert tokens["access_token"] and tokens["access_token"] not in said
    again = connections.form("google")
    assert again.fields == () and again.help == ""

    said = await connections.disconnect("google_drive")

    assert said.startswith("Disconnected Google (Gmail, Google Calendar, Google Drive)")
    assert store.get("oauth.google") is None
    assert not server.is_live(tokens["access_token"])


async def test_oauth_without_the_client_values_asks_for_them(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    with pytest.raises(ValueError, match="Google OAuth client ID"):
        await actions(store, server).connect("google", {})
    assert server.requests_to("/authorize") == []


async def test_a_denied_sign_in_is_a_sentence_and_stores_nothing(
    server: FakeAuthorizationServer, store: SecretStore
) -> None:
    server.deny = True
    typed = {
        "google.client_id": server.client_id,
        "google.client_secret": server.client_secret or "",
    }
    with pytest.raises(ConnectFailed) as failed:
        await actions(store, server).connect("google", typed)
    assert str(failed.value) == (
        "You did not allow Hark to use your Google account, so nothing was connected."
    )
    assert store.names() == []

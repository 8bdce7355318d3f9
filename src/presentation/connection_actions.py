"""Connect and disconnect connectors for the TUI, with the same rules as ``hark connect``.

The TUI's keys screen collects the values itself (password fields, never the bus) and hands
them to ``ConnectionActions``, the ``Connections`` object ``main.py`` gives ``make_app``. The
connectors arrive as plain data (``ConnectorInfo``), so nothing here imports
``src.connectors``; the storing and the browser sign-in are ``connect_command``'s own.
"""

from __future__ import annotations

import asyncio
import io
import webbrowser
from collections.abc import Callable, Mapping, Sequence

import httpx

from src.presentation import connect_command as cc
from src.presentation.tui.keystore import Announce, ConnectForm
from src.services.oauth import OAuthError


class ConnectFailed(Exception):
    """Connecting or disconnecting failed; ``str()`` is the sentence for the user."""


class ConnectionActions:
    """The TUI's ``Connections``: one connector at a time, by name.

    ``open_store`` returns the secrets store (it may open it on first use, so the TUI calls
    ``form`` on a worker thread). ``http``, ``opener`` and ``timeout`` are for tests.
    """

    def __init__(
        self,
        connectors: Sequence[cc.ConnectorInfo],
        open_store: Callable[[], cc.SecretStoreLike],
        *,
        endpoints: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
        opener: cc.Opener = webbrowser.open,
        timeout: float = cc.AUTHORIZE_TIMEOUT_SECONDS,
    ) -> None:
        self._connectors = list(connectors)
        self._open_store = open_store
        self._endpoints = endpoints
        self._http = http
        self._opener = opener
        self._timeout = timeout

    def _group(self, name: str) -> list[cc.ConnectorInfo]:
        group = cc.resolve(name, self._connectors)
        if not group:
            raise LookupError(f"No connector is called {name!r}.")
        return group

    def form(self, name: str) -> ConnectForm:
        group = self._group(name)
        first = group[0]
        if first.oauth is not None:
            store = self._open_store()
            fields = cc.missing_client_secrets(group, store, self._endpoints)
            config = cc.provider_config(group, self._endpoints)
            help_text = next((c.key_help for c in group if c.key_help), "") if fields else ""
            return ConnectForm(
                first.name, config.title, help_text.strip(), tuple(fields), oauth=True
            )
        fields = [(secret, f"{first.title} key {secret}") for secret in first.requires_secrets]
        return ConnectForm(first.name, first.title, first.key_help.strip(), tuple(fields))

    async def connect(
        self, name: str, secrets: Mapping[str, str], *, announce: Announce | None = None
    ) -> str:
        group = self._group(name)
        first = group[0]
        if first.oauth is None:
            if not first.requires_secrets:
                return f"{first.title} needs no account; it is ready to use."
            store = await asyncio.to_thread(self._open_store)
            return await asyncio.to_thread(cc.store_keys, first, store, dict(secrets))
        store = await asyncio.to_thread(self._open_store)
        wanted = await asyncio.to_thread(cc.missing_client_secrets, group, store, self._endpoints)
        given = {secret: secrets.get(secret, "").strip() for secret, _ in wanted}
        blank = [label for secret, label in wanted if not given[secret]]
        if blank:
            raise ValueError(f"Type the {' and the '.join(blank)} first; nothing was connected.")
        async with cc.http_client(self._http) as client:
            try:
                return await cc.sign_in(
                    group,
                    store,
                    given,
                    client,
                    self._opener,
                    self._endpoints,
                    self._timeout,
                    announce=announce or (lambda url: None),
                )
            except OAuthError as exc:
                raise ConnectFailed(exc.message) from exc

    async def disconnect(self, name: str) -> str:
        self._group(name)
        store = await asyncio.to_thread(self._open_store)
        out = io.StringIO()
        code = await cc.disconnect(
            name, self._connectors, store, out, http=self._http, endpoints=self._endpoints
        )
        said = out.getvalue().strip().removeprefix("hark: ")
        if code != cc.EXIT_OK:
            raise ConnectFailed(said)
        return said

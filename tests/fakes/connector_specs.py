"""The connectors the connect tests work with: the real Google ones, weather (no account), and
an API-key connector as plain data, shared by the ``connect`` command's tests and the TUI's
``ConnectionActions`` tests so both speak of the same five."""

from __future__ import annotations

from dataclasses import dataclass

from src.connectors import gmail, google_calendar, google_drive, weather
from src.presentation.connect_command import ConnectorInfo


@dataclass(frozen=True)
class KeyConnector:
    """An API-key connector as plain data (what the command is given)."""

    name: str = "news"
    title: str = "News"
    requires_secrets: tuple[str, ...] = ("newsapi",)
    key_help: str = "Get a free key at https://newsapi.example/register."
    oauth: None = None


GOOGLE: list[ConnectorInfo] = [gmail.CONNECTOR, google_calendar.CONNECTOR, google_drive.CONNECTOR]
ALL: list[ConnectorInfo] = [*GOOGLE, weather.CONNECTOR, KeyConnector()]

"""Hark's settings: nested sections, each field documented, from four sources.

Precedence, highest first: values passed in code (command-line flags), environment variables
(``HARK_`` prefix, ``__`` between section and field, e.g. ``HARK_API__MODEL``), a ``.env`` file
in the working directory, the TOML file in the user config directory, then the defaults.
``OPENAI_BASE_URL`` is honoured when ``api.base_url`` is not set, as every OpenAI tool does.
The OpenAI key is not a setting: it comes from ``OPENAI_API_KEY`` or the secrets store.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from src.config.paths import default_paths

_TOML_FILE: contextvars.ContextVar[Path | None] = contextvars.ContextVar("toml", default=None)


class _Section(BaseModel):
    """A settings section: a misspelt key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ApiSettings(_Section):
    """How to reach the model server."""

    base_url: str | None = None
    """Base URL of an OpenAI-compatible server (…/v1); used for Responses, chat and Realtime."""
    backend: Literal["responses", "chat_completions"] = "responses"
    """Text path API: OpenAI Responses, or chat completions for Ollama, vLLM, llama.cpp."""
    model: str = "gpt-4.1-mini"
    """Model for text turns and the orchestrator."""
    realtime_model: str = "gpt-realtime"
    """Model for speech-to-speech voice sessions."""
    voice: str = "marin"
    """Voice the assistant speaks with."""
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    """How long one model request may take before it is abandoned."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries of a failed model request (connection errors, 5xx, 429 rate limits)."""

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class AudioSettings(_Section):
    """Microphone, speaker and turn-taking."""

    input_device: str | None = None
    """Part of the input device's name; the system default when empty."""
    output_device: str | None = None
    """Part of the output device's name; the system default when empty."""
    turn_detection: Literal["server_vad", "semantic_vad", "client_vad", "push_to_talk"] = (
        "semantic_vad"
    )
    """Who decides that the user finished speaking."""
    client_vad: Literal["webrtc", "silero"] = "webrtc"
    """Local voice activity detector used by client_vad and barge-in."""
    headphones: bool = False
    """True turns echo cancellation off (nothing leaks from speaker to microphone)."""
    input_block_ms: int = Field(default=20, ge=10, le=40, multiple_of=10)
    """Microphone audio per wake-up of the sound thread. 20 ms halves the wake-ups of 10 ms
    (idle listening costs about a third less CPU) for 10 ms more capture latency."""


class LoggingSettings(_Section):
    """Session logs."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Detail written to the session log file."""
    console_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    """Detail printed to the terminal (stderr)."""
    directory: Path | None = None
    """Where session logs go; logs/ of the checkout or the user log directory by default."""
    keep_sessions: int = Field(default=20, ge=1, le=1000)
    """How many past session logs to keep."""


class StorageSettings(_Section):
    """Conversation history."""

    database: Path | None = None
    """SQLite file; hark.db in the user data directory by default."""


class SocketSettings(_Section):
    """The local control socket."""

    path: Path | None = None
    """Unix socket path; hark.sock in the user runtime directory by default."""
    max_message_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    """Largest JSON-RPC message accepted."""


class SecretsSettings(_Section):
    """Where API keys and tokens are kept."""

    backend: Literal["auto", "keyring", "file"] = "auto"
    """auto: the OS keyring if there is one, else the encrypted file. Never plaintext."""
    file: Path | None = None
    """Encrypted secrets file (scrypt + AES-GCM); secrets.bin in the data directory by default."""


class ConnectorSettings(_Section):
    """What connectors need to know about the user."""

    units: Literal["metric", "imperial"] = "metric"
    """Units for weather and conversions."""
    timezone: str | None = None
    """The user's IANA time zone; the system's when empty."""
    home_city: str | None = None
    """The user's city, for requests that say 'here'."""
    endpoints: dict[str, str] = Field(default_factory=dict)
    """Provider base URL overrides by key (e.g. open_meteo_forecast), for self-hosted services."""
    allow_private_urls: bool = False
    """Let the web reader open localhost and private-network addresses."""
    tool_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    """How long one tool call may run."""
    language: str = "en"
    """Language for Wikipedia, news and place names (a two-letter code)."""
    news_country: str = "us"
    """Country of the top headlines (a two-letter code)."""
    currency: str = "usd"
    """Currency for crypto and flight prices."""
    alpaca_live: bool = False
    """Trade with real money on Alpaca; paper trading unless this is true."""
    plaid_environment: Literal["sandbox", "production"] = "sandbox"
    """Plaid environment for bank balances and transactions."""
    allow_ip_location: bool = False
    """Let the location connector look up your city from your IP address."""
    timers_file: Path | None = None
    """Where timers and reminders are saved; timers.json in the data directory by default."""
    disk_paths: list[Path] = Field(default_factory=list)
    """Disks the system-status connector reports; the home folder's and / when empty."""
    notes_dir: Path | None = None
    """Where local notes are kept as Markdown files; notes/ in the data directory by default."""
    always_allow: list[str] = Field(default_factory=list)
    """Side-effecting tools that run without asking (also grown by answering "always")."""
    approval_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    """How long a side-effecting tool waits for an answer before it is refused."""
    tool_attempts: int = Field(default=3, ge=1, le=10)
    """Tries of a read-only tool that failed for a passing reason (timeouts, 5xx, 429)."""
    mcp_config: Path | None = None
    """MCP servers, in the mcpServers JSON of desktop MCP clients; mcp.json in the config dir."""
    mcp_start_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    """How long an MCP server may take to start before it is skipped."""

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str | None) -> str | None:
        if not value:
            return None
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value


class Settings(BaseSettings):
    """Everything configurable, by section."""

    model_config = SettingsConfigDict(
        env_prefix="HARK_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    api: ApiSettings = Field(default_factory=ApiSettings)
    audio: AudioSettings = Field(default_factory=AudioSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    socket: SocketSettings = Field(default_factory=SocketSettings)
    secrets: SecretsSettings = Field(default_factory=SecretsSettings)
    connectors: ConnectorSettings = Field(default_factory=ConnectorSettings)

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if self.api.base_url is None and os.environ.get("OPENAI_BASE_URL"):
            self.api.base_url = ApiSettings._check_url(os.environ["OPENAI_BASE_URL"])
        paths = default_paths()
        self.logging.directory = self.logging.directory or paths.log_dir
        self.storage.database = self.storage.database or paths.database
        self.socket.path = self.socket.path or paths.socket
        self.secrets.file = self.secrets.file or paths.secrets_file
        self.connectors.notes_dir = self.connectors.notes_dir or paths.data_dir / "notes"
        self.connectors.timers_file = self.connectors.timers_file or paths.data_dir / "timers.json"
        self.connectors.mcp_config = self.connectors.mcp_config or paths.config_dir / "mcp.json"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = _TOML_FILE.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        if toml is not None and toml.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)


class SettingsError(Exception):
    """Settings could not be loaded; the message names each bad field and why."""


def config_file_path() -> Path:
    override = os.environ.get("HARK_CONFIG_FILE")
    return Path(override).expanduser() if override else default_paths().config_file


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from every source; raise ``SettingsError`` with readable reasons."""
    path = config_file or config_file_path()
    token = _TOML_FILE.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from None
    except (OSError, ValueError) as exc:  # an unreadable or malformed TOML file
        raise SettingsError(f"could not read {path}: {exc}") from None
    finally:
        _TOML_FILE.reset(token)


def _describe(exc: ValidationError, path: Path) -> str:
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(settings)"
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = "unknown setting"
        lines.append(f"{field}: {reason}")
    where = f" (sources: environment HARK_*, .env, {path})"
    return "invalid settings" + where + "\n  " + "\n  ".join(lines)

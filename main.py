"""Hark's entry point: parse the command line, build the object graph, pick a front end.

``python main.py`` and the ``hark`` console script both land in ``run()``. Everything is
wired here and only here; the layers below never construct each other. Heavy imports (the
OpenAI and agents SDKs) happen after the prompt is up, on a worker thread.

Exit codes: 0 success, 1 a request failed, 2 bad usage or settings, 3 setup needed (no key,
secrets locked), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from src import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

log = logging.getLogger("hark")


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class SetupNeeded(Exception):
    """Hark cannot run until the user does something (add a key...): exit code 3."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hark",
        description="Hark, a voice-first assistant on your own laptop.",
        epilog="Run without a command to start talking. Keys: `hark keys set openai`.",
    )
    parser.add_argument("--version", action="version", version=f"hark {__version__}")
    parser.add_argument("--text-only", action="store_true", help="line mode: type and read")
    parser.add_argument(
        "--resume",
        nargs="?",
        const="latest",
        metavar="ID",
        help="continue a past conversation (the latest when no ID is given)",
    )
    parser.add_argument("--config", type=Path, metavar="FILE", help="settings TOML file")
    parser.add_argument("--model", help="model for text turns (overrides settings)")
    parser.add_argument("--base-url", help="OpenAI-compatible server URL (overrides settings)")
    parser.add_argument(
        "--backend", choices=["responses", "chat_completions"], help="text API to use"
    )
    parser.add_argument("--input-device", metavar="NAME", help="microphone: part of its name")
    parser.add_argument("--output-device", metavar="NAME", help="speaker: part of its name")
    parser.add_argument(
        "--headphones",
        action="store_true",
        default=None,
        help="no echo cancellation (nothing leaks from speaker to microphone)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no screen: serve the control socket until SIGTERM or Ctrl+C (see ctl, ask); "
        "voice too when a sound device exists, unless --text-only",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    keys = sub.add_parser("keys", help="manage API keys in the secrets store")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    k_set = keys_sub.add_parser("set", help="store a key (hidden prompt, or stdin when piped)")
    k_set.add_argument("name", help="e.g. openai")
    keys_sub.add_parser("list", help="list stored key names (never values)")
    k_del = keys_sub.add_parser("delete", help="delete a stored key")
    k_del.add_argument("name")

    sub.add_parser("devices", help="list microphones and speakers")
    c_connect = sub.add_parser("connect", help="add a service's key or sign in to an account")
    c_connect.add_argument("name", help="a connector or provider name, e.g. stocks, google")
    c_disconnect = sub.add_parser("disconnect", help="forget a service's key or sign out")
    c_disconnect.add_argument("name")
    sub.add_parser("connections", help="which services are connected")

    config = sub.add_parser("config", help="show settings")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    c_show = config_sub.add_parser("show", help="print effective settings, secrets masked")
    c_show.add_argument("--json", action="store_true")
    config_sub.add_parser("path", help="print the settings file location")

    history = sub.add_parser("history", help="browse past conversations")
    h_sub = history.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    h_list = h_sub.add_parser("list", help="recent conversations")
    h_list.add_argument("--limit", type=int, default=20)
    h_show = h_sub.add_parser("show", help="one conversation in full")
    h_show.add_argument("id", help="conversation id or a unique prefix")
    h_search = h_sub.add_parser("search", help="full-text search")
    h_search.add_argument("words", nargs="+")
    h_sub.add_parser("unhandled", help="requests Hark could not serve")

    from src.presentation.socket_client import add_client_commands

    add_client_commands(sub)  # ctl, ask: standard library only, cheap to import
    return parser


# -- composition -------------------------------------------------------------------------


@dataclass
class Core:
    """The pieces every command shares, built once from settings."""

    settings: Any
    config_file: Path


def load_core(args: argparse.Namespace) -> Core:
    from src.config.settings import SettingsError, config_file_path, load_settings

    overrides: dict[str, Any] = {}
    api: dict[str, Any] = {}
    if args.model:
        api["model"] = args.model
    if args.base_url:
        api["base_url"] = args.base_url
    if args.backend:
        api["backend"] = args.backend
    if api:
        overrides["api"] = api
    audio: dict[str, Any] = {}
    if args.input_device:
        audio["input_device"] = args.input_device
    if args.output_device:
        audio["output_device"] = args.output_device
    if args.headphones:
        audio["headphones"] = True
    if audio:
        overrides["audio"] = audio
    path = args.config or config_file_path()
    if args.config and not args.config.is_file():
        raise UsageError(f"settings file not found: {args.config}")
    try:
        settings = load_settings(path, **overrides)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    return Core(settings, path)


def setup_logging(core: Core, verbose: bool) -> None:
    from src.config.logging_setup import setup_logging as configure

    s = core.settings.logging
    configure(
        Path(s.directory),
        level=s.level,
        console_level="DEBUG" if verbose else s.console_level,
        keep_sessions=s.keep_sessions,
    )


def passphrase_provider() -> str:
    value = os.environ.get("HARK_SECRETS_PASSPHRASE")
    if value:
        return value
    if sys.stdin.isatty():
        return getpass.getpass("Passphrase for Hark's encrypted secrets file: ")
    raise SetupNeeded(
        "Hark's secrets are in an encrypted file and no passphrase is available: set "
        "HARK_SECRETS_PASSPHRASE or run Hark in a terminal."
    )


def open_secrets(core: Core) -> Any:
    from src.services.secrets import SecretsError, open_secret_store

    s = core.settings.secrets
    try:
        return open_secret_store(s.backend, Path(s.file), passphrase_provider)
    except SecretsError as exc:
        raise SetupNeeded(str(exc)) from None


NO_KEY_MESSAGE = """\
hark: no OpenAI API key is set up.
  Store one in your keyring (hidden prompt):  python main.py keys set openai
  or set it for this shell:                    export OPENAI_API_KEY=sk-...
  A local server such as Ollama accepts any value:
    echo local | python main.py keys set openai"""


def resolve_api_key(secrets_factory: Callable[[], Any]) -> tuple[str | None, str | None]:
    """The key and where it came from: the environment first, then the secrets store."""
    from src.config.redaction import REDACTOR

    env = os.environ.get("OPENAI_API_KEY")
    if env:
        REDACTOR.add(env)
        return env, "environment OPENAI_API_KEY"
    from src.services.secrets import SecretsError

    try:
        stored = secrets_factory().get("openai")
    except SecretsError as exc:
        raise SetupNeeded(str(exc)) from None
    if stored:
        REDACTOR.add(stored)
        return stored, "secrets store"
    return None, None


@dataclass
class HarkCore:
    """The running assistant without a front end: the bus and the services behind it.

    Front ends (line mode, the TUI, the socket) attach to ``bus`` and nothing else. Tests
    build the same object with ``build_core`` so they exercise the real wiring.
    """

    settings: Any
    bus: Any
    store: Any
    conversation: Any
    queries: Any
    orchestrator: Any
    runner: Any
    http: Any
    approvals: Any = None
    mcp: Any = None
    api_key: Any = None
    """The ``LiveApiKey`` every OpenAI client is built from; replaced when the user stores a
    new key after a refusal."""

    def status(self) -> dict[str, Any]:
        conv = self.conversation.conversation
        return {
            "state": self.conversation.state.state.value,
            "conversation": {"id": conv.id, "title": conv.title} if conv else None,
            "model": self.settings.api.model,
            "backend": self.settings.api.backend,
            "version": __version__,
            # The model server refused the key; the next turn looks for a newly stored one.
            "openai_key_refused": bool(self.api_key is not None and self.api_key.refused),
        }

    def tools(self) -> list[dict[str, Any]]:
        catalog: list[dict[str, Any]] = self.orchestrator.tool_catalog()
        return catalog

    def connections(self) -> list[dict[str, Any]]:
        catalog: list[dict[str, Any]] = self.orchestrator.connection_catalog()
        return catalog

    async def start(self, resume: str | None = None) -> None:
        interrupted = self.store.mark_interrupted_turns()
        if interrupted:
            log.info("marked %d unfinished turns from a previous run as interrupted", interrupted)
        await self.conversation.start()
        await self.queries.start()
        await self.approvals.start()
        if self.mcp is not None:
            await self.mcp.start()  # before the first turn builds the agents
        if resume == "latest":
            await self.conversation.open(resume_latest=True)
        else:
            await self.conversation.open(resume)

    async def close(self) -> None:
        await self.conversation.close()
        if self.mcp is not None:
            await self.mcp.close()
        await self.bus.close()
        await self.http.aclose()
        self.store.close()


def stored_key_reader(secrets: Any) -> Callable[[], str | None]:
    """Reads the stored OpenAI key again; a store that cannot be opened leaves the key as is."""

    def read() -> str | None:
        from src.services.secrets import SecretsError

        try:
            stored: str | None = secrets.get("openai")
        except (SecretsError, SetupNeeded) as exc:
            log.warning("could not read the stored OpenAI key: %s", exc)
            return None
        return stored

    return read


def build_core(settings: Any, api_key: str, secrets: Any = None, bus: Any = None) -> HarkCore:
    """The one factory: every service, wired to one bus, from settings and the OpenAI key.

    ``secrets`` (anything with ``get(name)``) is where a replacement key is looked for after
    the model server refuses this one.
    """
    import httpx

    from src.connectors.base import ConnectorContext
    from src.connectors.mcp_hub import McpHub, load_mcp_config
    from src.connectors.orchestrator import Orchestrator
    from src.connectors.registry import discover
    from src.connectors.tool_policy import RetryPolicy
    from src.events.bus import EventBus
    from src.events.conversation import ErrorReported
    from src.services.approvals import AlwaysAllowFile, ApprovalService
    from src.services.conversation import ConversationService
    from src.services.live_api_key import LiveApiKey
    from src.services.openai_client import make_openai_client
    from src.services.queries import QueryService
    from src.services.storage import HistoryStore
    from src.services.text_runner import TextTurnRunner

    database = Path(settings.storage.database)
    store = HistoryStore(database)
    bus = bus if bus is not None else EventBus()
    always = AlwaysAllowFile(database.parent / "always_allow.json")
    approvals = ApprovalService(
        bus,
        always_allowed={*settings.connectors.always_allow, *always.load()},
        persist_always=always.save,
        timeout=settings.connectors.approval_timeout_seconds,
    )
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(15.0, connect=5.0),
        headers={"User-Agent": f"Hark/{__version__} (desktop assistant)"},
    )
    context = ConnectorContext(
        http=http,
        settings=settings.connectors,
        secrets=secrets,
        endpoints=settings.connectors.endpoints,
    )

    async def report_mcp(problem: str) -> None:
        await bus.publish(ErrorReported(source="mcp", message=problem))

    mcp = McpHub(
        load_mcp_config(Path(settings.connectors.mcp_config)),
        start_timeout=settings.connectors.mcp_start_timeout_seconds,
        call_timeout=settings.connectors.tool_timeout_seconds,
        stderr_dir=Path(settings.logging.directory),
        report=report_mcp,
    )
    orchestrator = Orchestrator(
        discover(),
        context,
        tool_timeout=settings.connectors.tool_timeout_seconds,
        approver=approvals,
        retry=RetryPolicy(attempts=settings.connectors.tool_attempts),
        mcp=mcp,
    )
    key = LiveApiKey(api_key, read_stored=stored_key_reader(secrets) if secrets else None)
    runner = TextTurnRunner(
        lambda: make_openai_client(settings.api, key.value), settings.api, orchestrator
    )
    key.on_change(runner.reset_client)
    conversation = ConversationService(
        bus, store, runner, followups=orchestrator.followups, api_key=key
    )
    core = HarkCore(
        settings, bus, store, conversation, None, orchestrator, runner, http, approvals, mcp, key
    )
    core.queries = QueryService(
        bus,
        store,
        status=core.status,
        tools=core.tools,
        connections=core.connections,
        devices=list_audio_devices,
    )
    return core


def list_audio_devices() -> list[dict[str, Any]]:
    """Microphones and speakers for front ends; a missing sound system is a plain sentence."""
    import dataclasses

    from src.services.audio_devices import AudioUnavailable, list_devices
    from src.services.queries import QueryError

    try:
        return [dataclasses.asdict(d) for d in list_devices()]
    except AudioUnavailable as exc:
        raise QueryError(str(exc)) from None


def build_voice(
    core: HarkCore,
    *,
    input_device: str | None = None,
    output_device: str | None = None,
    headphones: bool | None = None,
) -> Any:
    """The voice loop on the core: real sound devices, echo cancellation, VAD, Realtime.

    Raises ``AudioUnavailable`` (with a plain sentence) when there is no PortAudio or no
    device; the caller then offers text mode.
    """
    from src.services.audio_devices import list_devices
    from src.services.audio_io import SoundDeviceInput, SoundDeviceOutput
    from src.services.echo_canceller import make_echo_canceller
    from src.services.openai_client import make_openai_client
    from src.services.playback_buffer import PlaybackBuffer
    from src.services.realtime_client import RealtimeClient
    from src.services.spoken_approvals import SpokenApprovals
    from src.services.vad import make_vad
    from src.services.voice_session import VoiceSession
    from src.services.voice_turns import VoiceTurnRecorder

    settings = core.settings
    audio = settings.audio
    list_devices()  # raises AudioUnavailable with the user-facing sentence
    playback = PlaybackBuffer()

    def context() -> list[dict[str, str]]:
        conv = core.conversation.conversation
        return conv.context_messages() if conv else []

    realtime = RealtimeClient(
        core.bus,
        lambda: make_openai_client(settings.api, core.api_key.value),
        settings.api,
        core.orchestrator.voice_instructions(),
        core.orchestrator,
        turn_detection=audio.turn_detection,
        on_audio=playback.push,
        on_audio_end=playback.end_item,
        context_provider=context,
    )
    use_headphones = audio.headphones if headphones is None else headphones
    recorder = VoiceTurnRecorder(
        core.bus,
        core.conversation,
        settings.api.realtime_model,
        audio_pending=lambda: playback.is_playing or playback.queued_ms > 0,
    )
    session = VoiceSession(
        core.bus,
        realtime,
        SoundDeviceInput(
            input_device or audio.input_device, bus=core.bus, block_ms=audio.input_block_ms
        ),
        SoundDeviceOutput(output_device or audio.output_device, bus=core.bus),
        playback,
        make_echo_canceller("none" if use_headphones else "livekit"),
        make_vad(audio.client_vad),
        recorder,
        mode=audio.turn_detection,
        # Side-effecting tools are asked about aloud too (the screen and socket still answer).
        companions=[SpokenApprovals(core.bus, realtime)],
    )
    core.api_key.on_change(realtime.resume)  # a link refused for its key comes back
    return session


async def run_text_mode(core: Core, args: argparse.Namespace, api_key: str, secrets: Any) -> int:
    """Line mode: the prompt first, the assistant started behind it.

    The first question waits for the core (``ready``), so nothing typed early is lost; a core
    that cannot start (a damaged history file...) ends line mode with its sentence.
    """
    from src.events.bus import EventBus
    from src.presentation.line_mode import LineMode
    from src.services.storage import StorageError

    loop = asyncio.get_running_loop()
    bus = EventBus()
    ready: asyncio.Future[None] = loop.create_future()
    running: list[HarkCore] = []

    async def boot() -> None:
        try:
            await asyncio.to_thread(_preload_core_modules)
            hark = build_core(core.settings, api_key, secrets, bus)
            running.append(hark)
            await hark.start(args.resume)
        except StorageError as exc:
            ready.set_exception(UsageError(str(exc)))
            return
        except BaseException as exc:
            ready.set_exception(exc)
            raise
        ready.set_result(None)
        loop.run_in_executor(None, hark.runner.warm_up)

    booting = loop.create_task(boot(), name="hark:boot")
    front = loop.create_task(LineMode(bus, ready=ready).run(), name="hark:line-mode")
    try:
        await asyncio.wait({front, booting}, return_when=asyncio.FIRST_COMPLETED)
        failure = ready.exception() if ready.done() else None
        if failure is not None:
            front.cancel()
            await asyncio.wait({front})
            raise failure
        return await front
    finally:
        if not booting.done():
            booting.cancel()
            await asyncio.wait({booting})
        for hark in running:
            await hark.close()


def settings_view(core: Core, key_source: str | None) -> dict[str, Any]:
    """The effective settings for the TUI's settings screen, the key masked as in `config show`."""
    data: dict[str, Any] = core.settings.model_dump(mode="json")
    data["api"]["key"] = f"set ({key_source}) ********" if key_source else "not set"
    return data


async def start_voice(hark: HarkCore, args: argparse.Namespace) -> Any:
    """Start the voice loop if the machine can; otherwise say why (text still works)."""
    from src.events.session import VoiceAvailability
    from src.services.audio_devices import AudioError

    voice = None
    try:
        voice = build_voice(
            hark,
            input_device=args.input_device,
            output_device=args.output_device,
            headphones=args.headphones,
        )
        await voice.start()
    except AudioError as exc:
        log.info("voice is off: %s", exc)
        if voice is not None:
            await voice.close()  # whatever did start (the other device, the recorder)
        await hark.bus.publish(VoiceAvailability(available=False, reason=str(exc)))
        return None
    # Typed text joins the voice conversation only once voice runs; text typed meanwhile
    # was answered on the text path, and nothing is handed to a session that failed.
    hark.conversation.text_router = voice.send_text
    await hark.bus.publish(
        VoiceAvailability(
            available=True,
            input_device=voice.input_device,
            output_device=voice.output_device,
        )
    )
    return voice


async def run_tui(
    core: Core, args: argparse.Namespace, api_key: str | None, source: str | None, secrets: Any
) -> int:
    """The full-screen front end. The screen paints first; the assistant starts behind it."""
    from src.events.bus import EventBus
    from src.presentation.tui.app import make_app

    bus = EventBus()
    running: list[HarkCore] = []
    voices: list[Any] = []

    async def start(key: str) -> None:
        from src.services.storage import StorageError

        # Import the services off the event loop, then wire them on it (SQLite is per thread).
        await asyncio.to_thread(_preload_core_modules)
        try:
            hark = build_core(core.settings, key, secrets, bus)
        except StorageError as exc:
            raise UsageError(str(exc)) from None
        running.append(hark)
        await hark.start(args.resume)
        asyncio.get_running_loop().run_in_executor(None, hark.runner.warm_up)
        voice = await start_voice(hark, args)
        if voice is not None:
            voices.append(voice)

    async def on_ready() -> None:
        if api_key:
            await start(api_key)

    async def on_key_saved(name: str) -> None:
        if name != "openai":
            return
        if running:  # a new key for the running assistant (after a refusal, say)
            await running[0].api_key.refresh()
            return
        key, _ = resolve_api_key(secrets.store)
        if key:
            await start(key)

    app = make_app(
        bus,
        key_store=LazyKeyStore(secrets),
        connections=LazyConnections(core, secrets),
        settings_view=settings_view(core, source),
        first_run=api_key is None,
        on_ready=on_ready,
        on_key_saved=on_key_saved,
    )
    try:
        await app.run_async()
    finally:
        for voice in voices:
            await voice.close()
        for hark in running:
            await hark.close()
    return EXIT_OK


class LazyKeyStore:
    """The TUI's KeyStore: opens the secrets store on first use (on the TUI's worker thread)."""

    def __init__(self, secrets: LazySecrets) -> None:
        self._secrets = secrets

    def set(self, name: str, value: str) -> None:
        from src.config.redaction import REDACTOR

        REDACTOR.add(value)
        self._secrets.store().set(name, value)

    def names(self) -> list[str]:
        names: list[str] = self._secrets.store().names()
        return names

    def delete(self, name: str) -> bool:
        deleted: bool = self._secrets.store().delete(name)
        return deleted


class LazyConnections:
    """The TUI's connect/disconnect actions, built on first use: importing every connector
    must not delay the first paint."""

    def __init__(self, core: Core, secrets: LazySecrets) -> None:
        self._core = core
        self._secrets = secrets
        self._actions: Any = None

    def _get(self) -> Any:
        if self._actions is None:
            from src.connectors.registry import discover
            from src.presentation.connection_actions import ConnectionActions

            self._actions = ConnectionActions(
                discover(),
                self._secrets.store,
                endpoints=self._core.settings.connectors.endpoints,
            )
        return self._actions

    def form(self, name: str) -> Any:
        return self._get().form(name)

    async def connect(self, name: str, *args: Any, **kwargs: Any) -> str:
        said: str = await self._get().connect(name, *args, **kwargs)
        return said

    async def disconnect(self, name: str) -> str:
        said: str = await self._get().disconnect(name)
        return said


def _preload_core_modules() -> None:
    import src.connectors.orchestrator
    import src.connectors.registry
    import src.services.conversation
    import src.services.queries
    import src.services.text_runner  # noqa: F401


def command_keys(core: Core, args: argparse.Namespace) -> int:
    from src.presentation.keys_command import keys_delete, keys_list, keys_set

    store = open_secrets(core)
    if args.keys_command == "set":
        from src.config.redaction import REDACTOR

        try:
            return keys_set(store, args.name, sys.stdout)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        finally:
            value = store.get(args.name) if args.name else None
            if value:
                REDACTOR.add(value)
    if args.keys_command == "list":
        return keys_list(store, sys.stdout)
    return keys_delete(store, args.name, sys.stdout)


def command_connections(core: Core, args: argparse.Namespace) -> int:
    from src.connectors.registry import discover
    from src.presentation import connect_command as cc

    store = open_secrets(core)
    found = discover()
    endpoints = core.settings.connectors.endpoints
    if args.command == "connections":
        return cc.connections(found, store, sys.stdout)
    if args.command == "connect":
        return asyncio.run(cc.connect(args.name, found, store, sys.stdout, endpoints=endpoints))
    return asyncio.run(cc.disconnect(args.name, found, store, sys.stdout, endpoints=endpoints))


def command_config(core: Core, args: argparse.Namespace) -> int:
    import io

    from src.config.redaction import REDACTOR
    from src.presentation.config_command import config_show

    if args.config_command == "path":
        print(core.config_file)
        return EXIT_OK
    _, source = resolve_api_key(lambda: open_secrets(core))
    buffer = io.StringIO()
    code = config_show(core.settings, source, str(core.config_file), buffer, args.json)
    sys.stdout.write(REDACTOR.redact(buffer.getvalue()))
    return code


def command_history(core: Core, args: argparse.Namespace) -> int:
    from src.presentation import history_command as h
    from src.services.storage import HistoryStore, StorageError

    try:
        with HistoryStore(Path(core.settings.storage.database)) as store:
            if args.history_command == "list":
                return h.history_list(store, sys.stdout, args.limit)
            if args.history_command == "show":
                return h.history_show(store, args.id, sys.stdout)
            if args.history_command == "search":
                return h.history_search(store, " ".join(args.words), sys.stdout)
            return h.history_unhandled(store, sys.stdout)
    except StorageError as exc:
        raise UsageError(str(exc)) from None


class LazySecrets:
    """Opens the secrets store on first use: an environment key means it may never be needed."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._store: Any = None

    def store(self) -> Any:
        if self._store is None:
            self._store = open_secrets(self._core)
        return self._store

    def get(self, name: str) -> str | None:
        from src.config.redaction import REDACTOR

        value: str | None = self.store().get(name)
        if value:
            REDACTOR.add(value)
        return value

    def set(self, name: str, value: str) -> None:
        """Connectors keep refreshed OAuth tokens; the value is redacted from then on."""
        from src.config.redaction import REDACTOR

        REDACTOR.add(value)
        self.store().set(name, value)

    def delete(self, name: str) -> bool:
        deleted: bool = self.store().delete(name)
        return deleted


def start_conversation(core: Core, args: argparse.Namespace) -> int:
    secrets = LazySecrets(core)
    key, source = resolve_api_key(secrets.store)
    if not args.text_only and sys.stdin.isatty() and sys.stdout.isatty():
        return asyncio.run(run_tui(core, args, key, source, secrets))
    if not key:
        sys.stderr.write(NO_KEY_MESSAGE + "\n")
        return EXIT_SETUP
    return asyncio.run(run_text_mode(core, args, key, secrets))


class HeadlessWithVoice:
    """The core as the headless runner sees it, with the voice loop started and stopped too."""

    def __init__(self, hark: HarkCore, args: argparse.Namespace) -> None:
        self._hark = hark
        self._args = args
        self._voice: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hark, name)

    async def start(self, resume: str | None = None) -> None:
        await self._hark.start(resume)
        if not self._args.text_only:
            self._voice = await start_voice(self._hark, self._args)

    async def close(self) -> None:
        if self._voice is not None:
            await self._voice.close()
        await self._hark.close()


def start_headless(core: Core, args: argparse.Namespace) -> int:
    secrets = LazySecrets(core)
    key, _ = resolve_api_key(secrets.store)
    if not key:
        sys.stderr.write(NO_KEY_MESSAGE + "\n")
        return EXIT_SETUP
    return asyncio.run(run_headless_mode(core, args, key, secrets))


async def run_headless_mode(
    core: Core, args: argparse.Namespace, api_key: str, secrets: Any
) -> int:
    from src.presentation.headless import run_headless
    from src.services.storage import StorageError

    try:
        hark = build_core(core.settings, api_key, secrets)
    except StorageError as exc:
        raise UsageError(str(exc)) from None
    served = HeadlessWithVoice(hark, args)
    return await run_headless(served, resume=args.resume, warm_up=hark.runner.warm_up)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        core = load_core(args)
        if args.command in ("ctl", "ask"):
            # Clients of a running Hark: no session log of their own (it would push real
            # sessions out of the kept set).
            from src.presentation.socket_client import run_ask, run_ctl

            run_client = run_ctl if args.command == "ctl" else run_ask
            return run_client(args, core.settings.socket)
        setup_logging(core, args.verbose)
        if args.headless:
            return start_headless(core, args)
        if args.command == "keys":
            return command_keys(core, args)
        if args.command == "config":
            return command_config(core, args)
        if args.command == "history":
            return command_history(core, args)
        if args.command in ("connect", "disconnect", "connections"):
            return command_connections(core, args)
        if args.command == "devices":
            from src.presentation.devices_command import devices_command

            return devices_command(sys.stdout)
        return start_conversation(core, args)
    except UsageError as exc:
        sys.stderr.write(f"hark: {exc}\n")
        return EXIT_USAGE
    except SetupNeeded as exc:
        sys.stderr.write(f"hark: {exc}\n")
        return EXIT_SETUP
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001  (the last line of defence: no tracebacks)
        return report_unexpected(exc)


def report_unexpected(exc: Exception) -> int:
    """Known failures get their sentence; anything else a pointer to the log, not a traceback."""
    from src.services.secrets import SecretsError

    if isinstance(exc, SecretsError):
        sys.stderr.write(f"hark: {exc}\n")
        return EXIT_SETUP
    log.critical("unexpected failure", exc_info=exc)
    where = ""
    for handler in logging.getLogger().handlers:
        path = getattr(handler, "baseFilename", None)
        if path:
            where = f"; details are in {path}"
    sys.stderr.write(f"hark: something went wrong ({type(exc).__name__}){where}\n")
    return EXIT_FAILED


def run() -> None:
    """Console-script entry point (``hark``)."""
    sys.exit(main())


if __name__ == "__main__":
    run()

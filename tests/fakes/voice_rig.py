"""A whole voice session on fake sound devices, wired as ``main.build_voice`` wires the real one.

The voice-session tests and the barge-in bench each need the same assembly: a bus, a history
file, the conversation service, a playback buffer, a Realtime client talking to the scripted
server, the fake microphone and speaker, the turn recorder and the session itself. Building
it in one place keeps them all testing the same thing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI

from src.config.settings import ApiSettings
from src.events.bus import EventBus
from src.services.conversation import ConversationService
from src.services.echo_canceller import EchoCanceller
from src.services.playback_buffer import PlaybackBuffer
from src.services.realtime_client import ASIDE_INSTRUCTIONS, RealtimeClient
from src.services.realtime_session_config import TurnDetectionMode
from src.services.storage import HistoryStore
from src.services.vad import VoiceActivityDetector
from src.services.voice_session import VoiceSession
from src.services.voice_turns import VoiceTurnRecorder
from tests.fakes.fake_audio import FakeAudioInput, FakeAudioOutput
from tests.fakes.openai_brain import ModelRequest, Reply, Rule, RuleBrain, Text
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.fakes.scripted_runner import ScriptedRunner

MODEL = "gpt-realtime"


class NoTools:
    """A voice session without connectors."""

    def tool_schemas(self) -> list[dict[str, Any]]:
        return []

    async def run_tool(self, name: str, arguments: str, /) -> tuple[bool, str]:
        return False, "no tools here"


@dataclass
class VoiceParts:
    bus: EventBus
    store: HistoryStore
    conversation: ConversationService
    playback: PlaybackBuffer
    realtime: RealtimeClient
    mic: FakeAudioInput
    speaker: FakeAudioOutput
    recorder: VoiceTurnRecorder
    session: VoiceSession


@asynccontextmanager
async def voice_session(
    server: ScriptedOpenAIServer,
    folder: Path,
    echo: EchoCanceller,
    vad: VoiceActivityDetector,
    *,
    mode: TurnDetectionMode = "server_vad",
    remember: bool = False,
    key: str = "sk-test-voice",
    mic: FakeAudioInput | None = None,
) -> AsyncIterator[VoiceParts]:
    """A started voice session (history in ``folder``), closed again on the way out.

    ``remember`` gives the Realtime client the conversation so far (replayed on reconnects)
    and routes typed text into the voice session, as the app does. ``mic`` replaces the fake
    microphone (one that fails to open, say); a session that fails to start is closed too.
    """
    bus = EventBus()
    store = HistoryStore(folder / "hark.db")
    conversation = ConversationService(bus, store, ScriptedRunner(model=MODEL))
    await conversation.start()
    await conversation.open()
    playback = PlaybackBuffer(prebuffer_ms=0)
    client = AsyncOpenAI(api_key=key, base_url=server.base_url, max_retries=0)

    def context() -> list[dict[str, str]]:
        conv = conversation.conversation
        return conv.context_messages() if conv else []

    realtime = RealtimeClient(
        bus,
        lambda: client,
        ApiSettings(base_url=server.base_url, max_retries=0),
        "You are Hark.",
        NoTools(),
        turn_detection=mode,
        on_audio=playback.push,
        on_audio_end=playback.end_item,
        context_provider=context if remember else None,
    )
    mic, speaker = mic or FakeAudioInput(bus=bus), FakeAudioOutput()
    recorder = VoiceTurnRecorder(
        bus,
        conversation,
        MODEL,
        audio_pending=lambda: playback.is_playing or playback.queued_ms > 0,
    )
    session = VoiceSession(bus, realtime, mic, speaker, playback, echo, vad, recorder, mode=mode)
    if remember:
        conversation.text_router = session.send_text
    try:
        await session.start()
        yield VoiceParts(
            bus, store, conversation, playback, realtime, mic, speaker, recorder, session
        )
    finally:
        await session.close()
        await conversation.close()
        await bus.close()
        await client.close()
        store.close()


def note_taking_brain(pattern: str) -> RuleBrain:
    """A voice model that saves a note (text "milk") when the user's words match ``pattern``,
    titled by its first group, and reads Hark's asides (approval questions) word for word,
    as their instructions ask."""

    def default(request: ModelRequest) -> Reply:
        if request.instructions == ASIDE_INSTRUCTIONS:
            return Reply([Text(request.latest_user_text)])
        return Reply([Text(f"You said: {request.latest_user_text}")])

    return RuleBrain(
        [Rule(pattern, "create_note", lambda m: {"title": m.group(1), "text": "milk"})],
        default=default,
        answer="Done: {output}",
    )

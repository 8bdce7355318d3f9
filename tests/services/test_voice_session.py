"""The voice loop with fake devices against the scripted server over real WebSockets.

The microphone and speaker are fakes that subclass Hark's audio ports; the Realtime client,
playback buffer, barge-in policy, recorder and SQLite history are the real ones. Nothing
waits on the clock: audio moves only when the test feeds or plays it.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from src.events.base import Event
from src.events.bus import ALL_EVENTS, EventBus
from src.events.commands import PushToTalk, SetMuted, SetTurnDetection, SubmitText
from src.events.conversation import TurnCancelled, TurnCompleted
from src.events.session import TurnDetectionChanged
from src.services.audio_devices import AudioUnavailable
from src.services.conversation import ConversationService
from src.services.echo_canceller import EchoCanceller, NullEchoCanceller
from src.services.playback_buffer import PlaybackBuffer
from src.services.storage import HistoryStore
from src.services.vad import VoiceActivityDetector
from src.services.voice_session import REST_AFTER_MS, VoiceSession
from tests.fakes.fake_audio import FakeAudioInput, FakeAudioOutput
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.fakes.voice_rig import voice_session

SAFETY = 20.0  # seconds: a guard against a hung test, never an expectation
RATE = 48_000


class LoudnessVad(VoiceActivityDetector):
    """Speech = a frame louder than -30 dBFS; deterministic for synthetic test audio."""

    name = "loudness"

    def process(self, frame48k: npt.NDArray[np.int16]) -> float:
        rms = float(np.sqrt(np.mean(frame48k.astype(np.float64) ** 2))) / 32768.0
        return 1.0 if rms > 0.03 else 0.0

    def reset(self) -> None:
        return None


def appended_bytes(connection: Any) -> int:
    """Audio bytes in the append events the server recorded (counted from the events)."""
    return sum(
        len(base64.b64decode(e["audio"]))
        for e in list(connection.client_events)
        if e.get("type") == "input_audio_buffer.append"
    )


def voice(ms: int, amplitude: float = 0.3, freq: float = 300.0) -> npt.NDArray[np.int16]:
    t = np.arange(ms * RATE // 1000) / RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def quiet(ms: int) -> npt.NDArray[np.int16]:
    return np.zeros(ms * RATE // 1000, dtype=np.int16)


@dataclass
class Rig:
    bus: EventBus
    store: HistoryStore
    mic: FakeAudioInput
    speaker: FakeAudioOutput
    playback: PlaybackBuffer
    session: VoiceSession
    conversation: ConversationService
    events: list[Event]
    server: ScriptedOpenAIServer

    async def speak(self, audio: npt.NDArray[np.int16]) -> None:
        """Put audio in the microphone and let every frame of it reach the server."""
        self.mic.extend(audio)
        while self.mic.feed(5):
            await asyncio.sleep(0)
        await self.session.drain_outgoing()
        await self.server_has_everything_sent()

    async def server_has_everything_sent(self) -> None:
        sent = self.session.chunks_sent
        if sent == 0:
            return
        (connection,) = await asyncio.wait_for(
            asyncio.to_thread(self.server.realtime.wait_for), SAFETY
        )
        await asyncio.wait_for(
            asyncio.to_thread(
                connection.client_events.wait_for,
                lambda e: e.get("type") == "input_audio_buffer.append",
                count=sent,
            ),
            SAFETY,
        )

    def expect(self, cls: type, predicate: Any = None) -> asyncio.Future[Any]:
        """Subscribe now (before anything is published) to the next matching event."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def catch(event: Event) -> None:
            if not future.done() and (predicate is None or predicate(event)):
                future.set_result(event)

        self.bus.subscribe(cls, catch)
        return future

    async def got(self, future: asyncio.Future[Any]) -> Any:
        return await asyncio.wait_for(future, SAFETY)

    async def queued(self, ms: int) -> None:
        """Wait until the answer's audio has queued ``ms`` milliseconds for the speaker."""
        enough = asyncio.Event()

        def check() -> None:
            if self.playback.queued_ms >= ms:
                enough.set()

        self.playback.add_arrival_listener(check)
        check()
        await asyncio.wait_for(enough.wait(), SAFETY)


@pytest.fixture
async def rig(tmp_path: Path, openai_server: ScriptedOpenAIServer) -> AsyncIterator[Rig]:
    async with voice_session(
        openai_server, tmp_path, NullEchoCanceller(), LoudnessVad(), remember=True
    ) as parts:
        events: list[Event] = []
        parts.bus.subscribe(ALL_EVENTS, events.append, name="recorder")
        await asyncio.wait_for(parts.realtime.wait_until_connected(), SAFETY)
        yield Rig(
            parts.bus,
            parts.store,
            parts.mic,
            parts.speaker,
            parts.playback,
            parts.session,
            parts.conversation,
            events,
            openai_server,
        )


async def test_a_spoken_question_is_answered_aloud_and_stored(
    rig: Rig, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.script_transcripts("what time is it")
    done = rig.expect(TurnCompleted)
    await rig.speak(np.concatenate([voice(800), quiet(700)]))
    connection = openai_server.realtime[-1]
    assert appended_bytes(connection) >= 1000 * 48 and connection.input_audio_rms > 0.1
    # The answer arrives as audio; play it out of the speaker.
    await rig.queued(500)
    played = rig.speaker.play(500)
    assert np.abs(played).max() > 1000
    assert not done.done()  # the turn lasts as long as its audio is being heard
    while not done.done():  # play on until the answer has been heard in full
        rig.speaker.play(100)
        await asyncio.sleep(0)
    completed = await rig.got(done)
    conv = rig.store.load_conversation(completed.conversation_id)
    assert conv is not None
    turn = conv.turns[-1]
    assert (turn.source, turn.status, turn.user_text) == ("voice", "completed", "what time is it")
    assert turn.assistant_text == "You said: what time is it"
    assert turn.usage.input_tokens > 0 and turn.usage.output_tokens > 0
    states = [e.current for e in rig.events if e.type == "state.changed"]  # type: ignore[attr-defined]
    assert "user_speaking" in states and "thinking" in states and "assistant_speaking" in states


async def test_barge_in_pauses_at_once_then_truncates_at_what_was_heard(
    rig: Rig, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.script_transcripts("tell me a long story about the sea", "stop")
    await rig.speak(np.concatenate([voice(600), quiet(700)]))
    await rig.queued(1500)
    heard = rig.speaker.play(300)
    assert np.abs(heard).max() > 1000
    item = rig.playback.current_item
    assert item is not None and rig.playback.played_ms(item) == 300
    cancelled = rig.expect(TurnCancelled)
    # The user talks over the assistant: 40 ms of speech pause playback at once...
    rig.mic.extend(voice(50, freq=220))
    rig.mic.feed(5)
    assert np.abs(rig.speaker.play(10)).max() == 0  # silence within one block
    # ...and half a second of speech makes it a real interruption.
    await rig.speak(voice(450, freq=220))
    ended = await rig.got(cancelled)
    conv = rig.store.load_conversation(ended.conversation_id)
    assert conv is not None
    cut = next(t for t in conv.turns if t.id == ended.turn_id)
    assert cut.status == "cancelled" and cut.user_text == "tell me a long story about the sea"
    (truncation,) = await asyncio.wait_for(
        asyncio.to_thread(openai_server.realtime[-1].truncations.wait_for), SAFETY
    )
    assert truncation.item_id == item and truncation.audio_end_ms == 300
    assert rig.playback.queued_ms == 0
    assert rig.session.interruptions == 1


async def test_a_backchannel_resumes_playback_without_cancelling(
    rig: Rig, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.script_transcripts("tell me a long story about the mountains")
    await rig.speak(np.concatenate([voice(600), quiet(700)]))
    await rig.queued(1500)
    rig.speaker.play(200)
    queued = rig.playback.queued_ms
    # "mhm": 150 ms of speech, then quiet.
    rig.mic.extend(np.concatenate([voice(150, freq=200), quiet(400)]))
    rig.mic.feed(20)
    assert np.abs(rig.speaker.play(10)).max() == 0  # paused while it is unclear
    rig.mic.feed()
    assert rig.session.false_interruptions == 1 and rig.session.interruptions == 0
    assert np.abs(rig.speaker.play(100)).max() > 1000  # resumed where it paused
    assert rig.playback.queued_ms == queued - 100
    assert len(openai_server.realtime[-1].truncations) == 0


async def test_typed_text_joins_the_voice_conversation(
    rig: Rig, openai_server: ScriptedOpenAIServer
) -> None:
    done = rig.expect(TurnCompleted)
    await rig.bus.publish(SubmitText(text="what's on my calendar"))
    while not done.done():  # the spoken answer is heard in full, then the turn ends
        rig.speaker.play(100)
        await asyncio.sleep(0)
    completed = await rig.got(done)
    conv = rig.store.load_conversation(completed.conversation_id)
    assert conv is not None
    assert (conv.turns[-1].source, conv.turns[-1].user_text) == ("text", "what's on my calendar")
    sent = [
        e
        for e in openai_server.realtime[-1].client_events
        if e.get("type") == "conversation.item.create"
    ]
    assert sent and sent[-1]["item"]["content"][0]["text"] == "what's on my calendar"


async def test_mute_and_push_to_talk_gate_the_microphone(
    rig: Rig, openai_server: ScriptedOpenAIServer
) -> None:
    (connection,) = await asyncio.wait_for(
        asyncio.to_thread(openai_server.realtime.wait_for), SAFETY
    )
    await rig.bus.publish(SetMuted(muted=True))
    await rig.bus.drain()
    before = appended_bytes(connection)
    await rig.speak(voice(300))
    assert appended_bytes(connection) == before  # nothing leaves while muted
    await rig.bus.publish(SetMuted(muted=False))
    changed = rig.expect(TurnDetectionChanged)
    await rig.bus.publish(SetTurnDetection(mode="push_to_talk"))
    assert (await rig.got(changed)).mode == "push_to_talk"
    await rig.speak(voice(300))
    assert appended_bytes(connection) == before  # key not held
    await rig.bus.publish(PushToTalk(pressed=True))
    await rig.bus.drain()
    await rig.speak(voice(400))
    assert appended_bytes(connection) > before
    await rig.bus.publish(PushToTalk(pressed=False))
    await rig.bus.drain()
    (commit,) = await asyncio.wait_for(
        asyncio.to_thread(
            connection.client_events.wait_for,
            lambda e: e.get("type") == "input_audio_buffer.commit",
        ),
        SAFETY,
    )
    assert commit["type"] == "input_audio_buffer.commit"


class UnconvergedEchoCanceller(EchoCanceller):
    """Removes nothing: the worst case of a canceller that has not converged yet."""

    name = "unconverged"

    def process_render(self, frame48k: npt.NDArray[np.int16]) -> None:
        return None

    def process_capture(self, frame48k: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        return frame48k.copy()

    def set_delay_ms(self, delay_ms: int) -> None:
        return None


async def test_its_own_echo_never_pauses_the_assistant_but_the_user_does(
    tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    async with voice_session(
        openai_server, tmp_path, UnconvergedEchoCanceller(), LoudnessVad()
    ) as parts:
        playback, speaker, mic, session = parts.playback, parts.speaker, parts.mic, parts.session
        playback.push("item_echo", voice(1500, amplitude=0.5).reshape(-1, 2)[:, 0].tobytes())
        playback.end_item("item_echo")
        # The assistant's voice leaks into the microphone at -10 dB, loud enough for the VAD.
        for _ in range(60):
            played = speaker.play(10)
            mic.extend((played * 0.3).astype(np.int16))
            mic.feed(1)
        assert session.false_interruptions == 0 and session.interruptions == 0
        assert np.abs(speaker.play(10)).max() > 0  # still talking
        # The user, close to the microphone, talks over it: playback pauses at once.
        for _ in range(6):
            played = speaker.play(10)
            mic.extend((played * 0.3).astype(np.int16) + voice(10, amplitude=0.6, freq=220))
            mic.feed(1)
        assert np.abs(speaker.play(10)).max() == 0


# -- the capture path runs on the microphone's thread ---------------------------------------


class ThreadNotingVad(LoudnessVad):
    """The loudness VAD, noting which thread each frame was judged on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def process(self, frame48k: npt.NDArray[np.int16]) -> float:
        self.threads.add(threading.get_ident())
        return super().process(frame48k)


def appends(connection: Any) -> list[int]:
    """Sizes in bytes of the audio append events the server received, in order."""
    return [
        len(base64.b64decode(e["audio"]))
        for e in list(connection.client_events)
        if e.get("type") == "input_audio_buffer.append"
    ]


async def feed_on_mic_thread(mic: FakeAudioInput, frames: int | None = None) -> None:
    """Deliver frames from a thread of their own, as PortAudio does."""
    await asyncio.to_thread(mic.feed, frames)


async def test_frames_are_handled_off_the_loop_silence_batched_and_speech_sent_at_once(
    tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    vad = ThreadNotingVad()
    async with voice_session(openai_server, tmp_path, NullEchoCanceller(), vad) as parts:
        mic, session, realtime = parts.mic, parts.session, parts.realtime
        await asyncio.wait_for(realtime.wait_until_connected(), SAFETY)
        (connection,) = await asyncio.wait_for(
            asyncio.to_thread(openai_server.realtime.wait_for), SAFETY
        )
        mic.extend(quiet(1000))
        await feed_on_mic_thread(mic)
        await session.drain_outgoing()
        await connection.client_events.wait_for_async(
            lambda e: e.get("type") == "input_audio_buffer.append", count=10
        )
        # A second of silence: ten sends of 100 ms (4,800 bytes at 24 kHz), not a hundred.
        assert appends(connection) == [4_800] * 10
        assert vad.threads and threading.get_ident() not in vad.threads
        # Speech: every 10 ms frame leaves at once, without waiting for a batch to fill.
        mic.extend(voice(50))
        for sent in range(1, 6):
            await feed_on_mic_thread(mic, 1)
            await connection.client_events.wait_for_async(
                lambda e: e.get("type") == "input_audio_buffer.append", count=10 + sent
            )
        assert appends(connection) == [4_800] * 10 + [480] * 5
        assert session.frames_in == 105


async def test_barge_in_from_the_microphones_thread_pauses_then_interrupts(
    rig: Rig, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.script_transcripts("tell me a long story about the forest", "stop")
    await rig.speak(np.concatenate([voice(600), quiet(700)]))
    await rig.queued(1500)
    rig.speaker.play(200)
    item = rig.playback.current_item
    cancelled = rig.expect(TurnCancelled)
    rig.mic.extend(voice(500, freq=220))
    # 40 ms of speech, judged on the microphone's thread, pause playback before it returns.
    await feed_on_mic_thread(rig.mic, 5)
    assert np.abs(rig.speaker.play(10)).max() == 0
    # The rest confirms the interruption; flushing and truncating happen on the loop.
    await feed_on_mic_thread(rig.mic)
    await rig.got(cancelled)
    (truncation,) = await asyncio.wait_for(
        asyncio.to_thread(openai_server.realtime[-1].truncations.wait_for), SAFETY
    )
    assert truncation.item_id == item and truncation.audio_end_ms == 200
    assert rig.playback.queued_ms == 0 and rig.session.interruptions == 1


async def test_client_vad_commits_after_the_speech_it_heard_on_the_microphones_thread(
    rig: Rig, openai_server: ScriptedOpenAIServer
) -> None:
    (connection,) = await asyncio.wait_for(
        asyncio.to_thread(openai_server.realtime.wait_for), SAFETY
    )
    changed = rig.expect(TurnDetectionChanged)
    await rig.bus.publish(SetTurnDetection(mode="client_vad"))
    assert (await rig.got(changed)).mode == "client_vad"
    rig.mic.extend(np.concatenate([voice(400), quiet(700)]))
    await feed_on_mic_thread(rig.mic)
    await connection.client_events.wait_for_async(
        lambda e: e.get("type") == "input_audio_buffer.commit"
    )
    types = connection.client_event_types()
    commit = types.index("input_audio_buffer.commit")
    sent_before = sum(
        len(base64.b64decode(e["audio"]))
        for e in list(connection.client_events)[:commit]
        if e.get("type") == "input_audio_buffer.append"
    )
    # Everything up to the end of speech (and the 500 ms of silence that ended the turn)
    # was sent before the commit: 900 ms at 24 kHz PCM16.
    assert sent_before >= 900 * 48


# -- the speaker rests through long silences ------------------------------------------------


class CountingEchoCanceller(UnconvergedEchoCanceller):
    """Counts what the canceller is fed on each side."""

    def __init__(self) -> None:
        self.renders = 0
        self.captures = 0

    def process_render(self, frame48k: npt.NDArray[np.int16]) -> None:
        self.renders += 1

    def process_capture(self, frame48k: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        self.captures += 1
        return frame48k.copy()


async def test_the_speaker_rests_through_a_long_silence_and_wakes_for_the_next_reply(
    tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    echo = CountingEchoCanceller()
    async with voice_session(openai_server, tmp_path, echo, LoudnessVad()) as parts:
        speaker, mic, playback = parts.speaker, parts.mic, parts.playback
        rested, woke = asyncio.Event(), asyncio.Event()
        rest, wake = speaker.rest, speaker.wake

        async def noting_rest() -> None:
            await rest()
            rested.set()

        async def noting_wake() -> None:
            await wake()
            woke.set()

        speaker.rest, speaker.wake = noting_rest, noting_wake  # type: ignore[method-assign]
        speaker.play(REST_AFTER_MS - 10)
        await asyncio.sleep(0)
        assert not rested.is_set() and not speaker.resting  # not yet: 10 ms short
        speaker.play(20)
        await asyncio.wait_for(rested.wait(), SAFETY)

        # Resting: the speaker pulls nothing and the microphone skips the canceller (there
        # is no echo of a speaker that plays nothing), so neither side of it is fed.
        renders, captures = echo.renders, echo.captures
        assert not speaker.play(500).any()
        mic.extend(voice(100))
        mic.feed()
        assert (echo.renders, echo.captures) == (renders, captures)
        assert parts.session.frames_in > 0

        # The next reply's first audio wakes it, and it plays.
        playback.push("item_reply", voice(300).reshape(-1, 2)[:, 0].tobytes())
        playback.end_item("item_reply")
        await asyncio.wait_for(woke.wait(), SAFETY)
        assert np.abs(speaker.play(300)).max() > 1000
        mic.extend(quiet(50))
        mic.feed()
        assert echo.renders > renders and echo.captures > captures
        assert (speaker.rests, speaker.wakes) == (1, 1)


class MicThatWillNotOpen(FakeAudioInput):
    """Fails to open, after giving every ready task a few turns of the loop (a Realtime
    supervisor started before it would have begun connecting by then)."""

    async def start(self, on_frame: Any) -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        raise AudioUnavailable("The microphone is busy.")


async def test_no_voice_service_session_is_opened_when_a_device_will_not_open(
    openai_server: ScriptedOpenAIServer, tmp_path: Path
) -> None:
    with pytest.raises(AudioUnavailable, match="microphone is busy"):
        async with voice_session(
            openai_server, tmp_path, NullEchoCanceller(), LoudnessVad(), mic=MicThatWillNotOpen()
        ):
            pass
    # The speaker opened first and was closed again; the Realtime link was never started.
    assert openai_server.realtime.snapshot() == []
    assert openai_server.requests.snapshot() == []

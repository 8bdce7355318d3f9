"""The voice loop: microphone to the Realtime API to the speaker, with barge-in.

Capture path (the microphone's thread, one 10 ms frame at a time): echo canceller (the
speaker signal as far-end reference) -> VAD -> barge-in policy -> turn-taking gate (mute,
push-to-talk, client VAD) -> the outbox (``mic_outbox``), which converts to 24 kHz PCM16 and
wakes the event loop only for speech (at once) and for batches of silence (100 ms, 500 ms
once nobody has spoken for 2 s). Doing this work on the sound card's thread, rather than
hopping every frame onto the loop, saves an idle listener nearly a hundred loop wake-ups a
second; the loop hears only of what it must act on: audio to send, a confirmed
interruption, a client-VAD end of turn.
Playback path (sound card thread): playback buffer -> speaker, each frame also handed to the
echo canceller as the far-end reference, so the assistant never hears itself.

Barge-in follows ``src.domain.barge_in``: speech onset while the assistant is audible pauses
playback at once (the pull callback returns silence, nothing is discarded); a confirmed
interruption flushes playback, cancels the live response and truncates the assistant's item
at the milliseconds actually played; a backchannel resumes playback where it paused.

Threads: the capture state (VAD, barge-in detector, segmenter) belongs to the microphone's
thread. The turn-taking switches are set on the loop under ``_gate_lock``, which the capture
thread holds from its gate check to handing the frame to the outbox, so a push-to-talk
release or a mode switch falls between two frames, never inside one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from src.domain.barge_in import BargeInAction, BargeInDetector
from src.events.bus import EventBus
from src.events.commands import (
    PushToTalk,
    SetMuted,
    SetTurnDetection,
    StartListening,
    StopListening,
)
from src.events.conversation import ErrorReported
from src.events.session import ListeningChanged, TurnDetectionChanged
from src.events.tasks import TaskOwner
from src.services.audio_io import AudioInput, AudioOutput
from src.services.echo_canceller import EchoCanceller, NullEchoCanceller
from src.services.loop_handoff import hand_to_loop
from src.services.mic_outbox import MicOutbox
from src.services.pcm_frames import SAMPLE_RATE, FrameAssembler
from src.services.playback_buffer import PlaybackBuffer
from src.services.realtime_session_config import TurnDetectionMode
from src.services.vad import SegmenterConfig, SpeechEdge, SpeechSegmenter, VoiceActivityDetector
from src.services.voice_turns import VoiceTurnRecorder

log = logging.getLogger(__name__)

CONVERGENCE_MS = 2_000
"""Assistant speech the echo canceller must hear before barge-in trusts its output."""
NEAR_END_RATIO = 0.5
"""Until then, a frame is the user's speech only if its level after echo cancellation is
above half (-6 dB) the level being played: unconverged residual echo is quieter than that,
a person talking over the assistant is not."""
REST_AFTER_MS = 3_000
"""Speaker silence (nothing playing, nothing queued) after which the speaker stream rests."""
MODES: tuple[TurnDetectionMode, ...] = ("server_vad", "semantic_vad", "client_vad", "push_to_talk")


class Companion(Protocol):
    """A service that lives exactly as long as the voice session (spoken approvals)."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...


class RealtimePort(Protocol):
    """What the loop needs of ``RealtimeClient`` (a fake can stand in for it in tests)."""

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def send_audio(self, pcm24k: bytes) -> None: ...
    async def commit_and_respond(self) -> bool: ...
    async def clear_input(self) -> None: ...
    async def send_text(self, text: str) -> None: ...
    async def cancel_response(self) -> bool: ...
    async def truncate(self, item_id: str, audio_end_ms: int) -> bool: ...
    async def set_turn_detection(self, mode: TurnDetectionMode) -> None: ...


class VoiceSession:
    def __init__(
        self,
        bus: EventBus,
        realtime: RealtimePort,
        audio_in: AudioInput,
        audio_out: AudioOutput,
        playback: PlaybackBuffer,
        echo: EchoCanceller,
        vad: VoiceActivityDetector,
        recorder: VoiceTurnRecorder,
        *,
        mode: TurnDetectionMode = "semantic_vad",
        barge_in: BargeInDetector | None = None,
        segmenter: SegmenterConfig | None = None,
        companions: Sequence[Companion] = (),
    ) -> None:
        self._bus = bus
        self._realtime = realtime
        self._in = audio_in
        self._out = audio_out
        self._playback = playback
        self._echo = echo
        self._echo_lock = threading.Lock()  # the speaker's and the microphone's threads meet here
        self._gate_lock = threading.Lock()  # turn-taking switches (loop) vs a frame (capture)
        self._vad = vad
        self._recorder = recorder
        self._companions = list(companions)
        self._mode: TurnDetectionMode = mode
        self._barge_in = barge_in or BargeInDetector()
        self._render_ms = 0  # assistant audio the echo canceller has heard (audio thread)
        self._far_block = np.zeros(0, dtype=np.int16)  # last block sent to the speaker
        self._segmenter = SpeechSegmenter(segmenter or SegmenterConfig())
        self._render_frames = FrameAssembler()
        self._outbox = MicOutbox(realtime.send_audio)
        self._tasks = TaskOwner("voice")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = False
        self._muted = False
        self._ptt_down = False
        self._paused = False  # barge-in pause: the speaker gets silence, the queue is kept
        self._quiet_samples = 0  # speaker silence so far (audio thread)
        self._rest_asked = False  # the audio thread asked the loop to rest the speaker
        self._speaker_resting = False  # read by the capture thread: no echo to cancel
        self._speaker_lock = asyncio.Lock()  # rest and wake, one at a time, in order
        self._was_playing = False
        self.frames_in = 0
        self.interruptions = 0
        self.false_interruptions = 0

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._outbox.bind(self._loop)
        self._bus.subscribe(
            StartListening | StopListening | SetMuted | PushToTalk | SetTurnDetection,
            self._on_command,
            name="voice.commands",
        )
        await self._recorder.start()
        for companion in self._companions:
            await companion.start()
        self._playback.add_arrival_listener(self._audio_arrived)
        # The devices first: when the microphone or speaker cannot open there is no voice,
        # so no Realtime session may be opened (nor billed, nor its errors shown) for it.
        await self._out.start(self._pull)
        await self._in.start(self._on_frame)
        await self._realtime.start()
        self._tasks.spawn(self._outbox.run(), "send")
        await self._set_listening(True)

    async def close(self) -> None:
        self._listening = False
        await self._in.stop()
        await self._out.stop()
        await self._tasks.close()
        for companion in self._companions:
            await companion.close()
        await self._recorder.close()
        await self._realtime.close()

    @property
    def speaker_resting(self) -> bool:
        """The speaker stream is paused through a long silence (see ``_rest_speaker``)."""
        return self._speaker_resting

    @property
    def chunks_sent(self) -> int:
        """Microphone chunks the Realtime client has taken so far."""
        return self._outbox.chunks_sent

    @property
    def mode(self) -> TurnDetectionMode:
        return self._mode

    @property
    def input_device(self) -> str:
        return self._in.device_name

    @property
    def output_device(self) -> str:
        return self._out.device_name

    async def send_text(self, text: str) -> bool:
        """Typed text during a voice session joins the same spoken conversation."""
        await self._recorder.typed(text)
        await self._realtime.send_text(text)
        return True

    # -- commands from front ends ----------------------------------------------------------
    async def _on_command(self, command: object) -> None:
        if isinstance(command, StartListening):
            await self._set_listening(True)
        elif isinstance(command, StopListening):
            await self._set_listening(False)
        elif isinstance(command, SetMuted):
            with self._gate_lock:
                self._muted = command.muted
            await self._announce_listening()
        elif isinstance(command, PushToTalk):
            await self._push_to_talk(command.pressed)
        elif isinstance(command, SetTurnDetection):
            await self._switch_mode(command.mode)

    async def _set_listening(self, listening: bool) -> None:
        with self._gate_lock:
            self._listening = listening
        if not listening:
            await self._realtime.clear_input()
        await self._recorder.listening(listening)
        await self._announce_listening()

    async def _announce_listening(self) -> None:
        await self._bus.publish(ListeningChanged(listening=self._listening, muted=self._muted))

    async def _push_to_talk(self, pressed: bool) -> None:
        if self._mode != "push_to_talk":
            return
        with self._gate_lock:
            was_down, self._ptt_down = self._ptt_down, pressed
        if was_down and not pressed:
            await self.drain_outgoing()
            await self._realtime.commit_and_respond()

    async def _switch_mode(self, mode: str) -> None:
        if mode not in MODES:
            await self._bus.publish(
                ErrorReported(source="voice", message=f"Unknown turn-taking mode {mode!r}.")
            )
            return
        with self._gate_lock:
            self._mode = mode
            self._ptt_down = False
            self._segmenter.reset()
        await self._realtime.set_turn_detection(self._mode)
        await self._bus.publish(TurnDetectionChanged(mode=self._mode))

    # -- capture path (the microphone's thread) --------------------------------------------
    def _on_frame(self, frame: npt.NDArray[np.int16]) -> None:
        self.frames_in += 1
        with self._echo_lock:
            # A resting speaker plays nothing, so there is no echo to take out (and the
            # canceller, fed neither side meanwhile, keeps its render/capture pairing).
            clean = frame if self._speaker_resting else self._echo.process_capture(frame)
        speech = self._vad.is_speech(clean)
        audible = self._playback.is_playing and not self._paused
        talking_over = speech
        if speech and audible and not self._echo_converged():
            talking_over = _rms(clean) > NEAR_END_RATIO * _rms(self._far_block)
        action = self._barge_in.on_frame(talking_over, audible)
        if action is not None:
            self._act(action)
        with self._gate_lock:
            if not self._listening or self._muted:
                return
            if self._mode == "push_to_talk" and not self._ptt_down:
                return
            if self._mode == "client_vad":
                edge = self._segmenter.update(1.0 if speech else 0.0)
                if edge is SpeechEdge.STOP:
                    self._spawn_from_audio_thread(self._commit, "commit")
            # Speech goes out at once (every millisecond counts for turn-taking); silence is
            # batched into 100 ms chunks, a tenth of the sends and loop wake-ups.
            self._outbox.add(clean, urgent=speech)

    def _act(self, action: BargeInAction) -> None:
        """Pause and resume are flags the speaker's thread reads on its next block, so they
        take effect here and now; a confirmed interruption needs the loop (network, bus)."""
        if action is BargeInAction.PAUSE:
            self._paused = True
        elif action is BargeInAction.RESUME:
            self._paused = False
            self.false_interruptions += 1
        else:
            self.interruptions += 1
            self._spawn_from_audio_thread(self._interrupt, "interrupt")

    def _spawn_from_audio_thread(
        self, work: Callable[[], Coroutine[Any, Any, None]], name: str
    ) -> None:
        """Run ``work()`` as a session task on the loop. The coroutine is made there, not on
        the sound card's thread, so none is left un-awaited if the loop has already closed."""
        hand_to_loop(self._loop, lambda: self._tasks.spawn(work(), name))

    async def _commit(self) -> None:
        await self.drain_outgoing()
        await self._realtime.commit_and_respond()

    async def _interrupt(self) -> None:
        result = self._playback.flush()
        self._paused = False
        await self._realtime.cancel_response()
        if result.item_id is not None:
            await self._realtime.truncate(result.item_id, result.played_ms)
        await self._recorder.interrupted()

    async def drain_outgoing(self) -> None:
        """Wait until every captured frame so far has been handed to the Realtime client."""
        await self._outbox.drain()

    # -- playback path (sound card thread) -------------------------------------------------
    def _pull(self, n: int) -> npt.NDArray[np.int16]:
        out = np.zeros(n, dtype=np.int16) if self._paused else self._playback.read(n)
        self._far_block = out  # its level is worked out only when barge-in needs it
        is_playing = self._playback.is_playing
        if self._render_ms < CONVERGENCE_MS and is_playing:
            self._render_ms += n * 1000 // SAMPLE_RATE
        with self._echo_lock:
            for frame in self._render_frames.push(out):
                self._echo.process_render(frame)
        playing = is_playing and not self._paused
        if playing != self._was_playing and self._loop is not None:
            self._was_playing = playing
            asyncio.run_coroutine_threadsafe(self._recorder.playback_changed(playing), self._loop)
        self._note_quiet(n, quiet=not is_playing)
        return out

    # -- resting the speaker through long silences --------------------------------------------
    # An idle speaker stream still wakes a core every 10 ms to play zeros (about a third of
    # what idle listening costs). After REST_AFTER_MS of nothing to play it is paused, and
    # the first audio queued wakes it (PortAudio restarts a stream in about a millisecond).
    def _note_quiet(self, n: int, *, quiet: bool) -> None:
        """Audio thread: count speaker silence; ask the loop once to rest the speaker."""
        if not quiet:
            self._quiet_samples = 0
            return
        self._quiet_samples += n
        if self._quiet_samples >= REST_AFTER_MS * SAMPLE_RATE // 1000 and not self._rest_asked:
            self._rest_asked = True
            self._spawn_from_audio_thread(self._rest_speaker, "speaker-rest")

    def _audio_arrived(self) -> None:
        """Loop (the Realtime client pushed audio): wake a resting speaker."""
        if self._rest_asked:
            self._rest_asked = False
            self._tasks.spawn(self._wake_speaker(), "speaker-wake")

    async def _rest_speaker(self) -> None:
        async with self._speaker_lock:
            if not self._rest_asked:
                return  # audio arrived meanwhile: stay awake
            if self._playback.queued_ms > 0:  # queued, about to play: stay awake, count again
                self._quiet_samples, self._rest_asked = 0, False
                return
            await self._out.rest()
            with self._echo_lock:
                self._speaker_resting = True

    async def _wake_speaker(self) -> None:
        async with self._speaker_lock:
            self._quiet_samples = 0
            with self._echo_lock:
                if not self._speaker_resting:
                    return
                self._speaker_resting = False
                # The restarted stream may sit at another delay from the microphone: until
                # the canceller has heard 2 s of the assistant again, barge-in wants the
                # near-end level check, as at the start of a session.
                self._render_ms = 0
            await self._out.wake()

    def _echo_converged(self) -> bool:
        return self._render_ms >= CONVERGENCE_MS or isinstance(self._echo, NullEchoCanceller)

    # -- the Realtime client's audio sinks ---------------------------------------------------
    def on_audio(self, item_id: str, pcm24k: bytes) -> None:
        self._playback.push(item_id, pcm24k)

    def on_audio_end(self, item_id: str) -> None:
        self._playback.end_item(item_id)


def _rms(samples: npt.NDArray[np.int16]) -> float:
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))

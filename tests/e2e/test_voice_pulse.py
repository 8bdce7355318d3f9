"""The voice loop end to end on a real PulseAudio server with virtual devices.

espeak-ng speaks a question into the virtual microphone; Hark (real sound-device streams, echo
canceller, VAD, Realtime client, built by ``main.build_core`` and ``main.build_voice``) sends it
to the scripted server, which checks what it heard and answers with audio; Hark plays the
answer to the virtual speaker, and the test records the speaker's monitor and finds it there.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from main import build_core, build_voice
from src.config.settings import load_settings
from src.events.conversation import StateChanged, TurnCompleted
from src.events.voice import RealtimeResponseDone
from src.services.storage import HistoryStore
from tests.e2e.harness import ROOT
from tests.fakes.openai_audio import pcm_rms
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.fakes.pulse import PulseServer, running_pulse_server
from tests.fakes.voice_rig import note_taking_brain

pytestmark = pytest.mark.e2e
SAFETY = 60.0  # a guard against a hung test, never an expectation
QUESTION = "what is the weather in Paris"


@pytest.fixture
def pulse() -> Any:
    with running_pulse_server() as server:
        yield server


def wav_samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return data.reshape(-1, wav.getnchannels())[:, 0], wav.getframerate()


def loud_seconds(samples: np.ndarray, rate: int, threshold: float = 0.05) -> float:
    frames = samples[: len(samples) // (rate // 100) * (rate // 100)].reshape(-1, rate // 100)
    rms = np.sqrt(np.mean((frames.astype(np.float64) / 32768.0) ** 2, axis=1))
    return float((rms > threshold).sum()) / 100.0


async def test_a_spoken_question_is_heard_answered_and_played(
    pulse: PulseServer,
    openai_server: ScriptedOpenAIServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which("espeak-ng") is None or shutil.which("parecord") is None:
        pytest.skip(
            "espeak-ng and parecord are needed (apt-get install espeak-ng pulseaudio-utils)"
        )
    monkeypatch.setenv("HARK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HARK_AUDIO__TURN_DETECTION", "server_vad")
    settings = load_settings(tmp_path / "none.toml", api={"base_url": openai_server.base_url})
    openai_server.script_transcripts(QUESTION)
    question = tmp_path / "question.wav"
    subprocess.run(["espeak-ng", "-w", str(question), QUESTION], check=True, capture_output=True)

    core = build_core(settings, "sk-test-voice")
    await core.start()
    voice = build_voice(core)
    done: asyncio.Future[TurnCompleted] = asyncio.get_running_loop().create_future()
    core.bus.subscribe(TurnCompleted, lambda e: done.done() or done.set_result(e))
    heard = tmp_path / "speaker.wav"
    recording = subprocess.Popen(
        ["parecord", "--device=spk.monitor", "--file-format=wav", str(heard)],
        env=pulse.client_env,
    )
    try:
        await voice.start()
        speak = await asyncio.create_subprocess_exec(
            *pulse.play_command(question), env=pulse.client_env
        )
        assert await speak.wait() == 0
        completed = await asyncio.wait_for(done, SAFETY)
    finally:
        await voice.close()
        recording.terminate()
        recording.wait(timeout=10)
        await core.close()

    # What the server heard: the spoken question, at full length and level.
    connection = openai_server.realtime[-1]
    spoken, rate = wav_samples(question)
    assert connection.input_audio_ms >= len(spoken) * 1000 // rate
    assert pcm_rms(bytes(connection.input_audio)) > 0.01
    # What the speaker played: the whole answer the server sent.
    answer_audio = b"".join(
        base64.b64decode(e["delta"])
        for e in connection.server_events
        if e.get("type") == "response.output_audio.delta"
    )
    sent_seconds = len(answer_audio) / 48_000
    played, played_rate = wav_samples(heard)
    assert loud_seconds(played, played_rate) == pytest.approx(sent_seconds, rel=0.15)
    # And the turn is in history, like a typed one.
    with HistoryStore(Path(settings.storage.database)) as store:
        conv = store.load_conversation(completed.conversation_id)
    assert conv is not None
    turn = conv.turns[-1]
    assert (turn.source, turn.status, turn.user_text) == ("voice", "completed", QUESTION)
    assert turn.assistant_text == f"You said: {QUESTION}"


def test_devices_lists_the_virtual_sound_card(pulse: PulseServer, tmp_path: Path) -> None:
    env = {**pulse.client_env, "HARK_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "devices"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "pulse" in result.stdout or "default" in result.stdout
    assert "Traceback" not in result.stderr


def test_devices_without_a_sound_server_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "HARK_HOME": str(tmp_path), "PULSE_SERVER": "unix:/nonexistent"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "devices"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if result.returncode == 0:
        pytest.skip("this machine has sound hardware PortAudio can see without Pulse")
    assert result.returncode == 3
    assert "use --text-only" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


async def test_a_side_effect_is_asked_aloud_and_approved_by_voice(
    pulse: PulseServer,
    openai_server: ScriptedOpenAIServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole product on real audio: a spoken request for a note, the read-back spoken to
    the speaker, a spoken "yes" into the microphone, and only then the note on disk."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is needed (apt-get install espeak-ng)")
    notes = tmp_path / "notes"
    monkeypatch.setenv("HARK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HARK_AUDIO__TURN_DETECTION", "server_vad")
    monkeypatch.setenv("HARK_CONNECTORS__NOTES_DIR", str(notes))
    settings = load_settings(tmp_path / "none.toml", api={"base_url": openai_server.base_url})
    openai_server.brain = note_taking_brain(r"note titled (\w+)")
    request_text = "save a note titled groceries"
    openai_server.script_transcripts(request_text, "yes")
    asked, answered = tmp_path / "asked.wav", tmp_path / "yes.wav"
    for path, words in ((asked, request_text), (answered, "yes")):
        subprocess.run(["espeak-ng", "-w", str(path), words], check=True, capture_output=True)

    core = build_core(settings, "sk-test-voice")
    await core.start()
    voice = build_voice(core)
    loop = asyncio.get_running_loop()
    question: asyncio.Future[RealtimeResponseDone] = loop.create_future()
    heard: asyncio.Future[StateChanged] = loop.create_future()
    done: asyncio.Future[TurnCompleted] = loop.create_future()

    def note_state(event: StateChanged) -> None:
        # Listening again once the question has been played to the end: the user's cue.
        if question.done() and event.current == "listening" and not heard.done():
            heard.set_result(event)

    core.bus.subscribe(
        RealtimeResponseDone,
        lambda e: e.aside and not question.done() and question.set_result(e),
    )
    core.bus.subscribe(StateChanged, note_state)
    core.bus.subscribe(TurnCompleted, lambda e: done.done() or done.set_result(e))
    try:
        await voice.start()
        await play(pulse, asked)
        await asyncio.wait_for(question, SAFETY)
        await asyncio.wait_for(heard, SAFETY)
        assert not notes.exists()  # asked, not yet answered: nothing written
        await play(pulse, answered)
        try:
            completed = await asyncio.wait_for(done, SAFETY)
        except TimeoutError:
            c = openai_server.realtime[-1]
            print(
                "CLIENT",
                [
                    (
                        e["type"],
                        e.get("session", {})
                        .get("audio", {})
                        .get("input", {})
                        .get("turn_detection"),
                    )
                    for e in c.client_events.snapshot()
                    if e["type"] != "input_audio_buffer.append"
                ],
            )
            print("SERVER", [e["type"] for e in c.server_events if "delta" not in e["type"]])
            import numpy as _np

            a = _np.frombuffer(bytes(c.input_audio), dtype="<i2").astype(float) / 32768
            n = 2400
            env = [
                round(float(_np.sqrt(_np.mean(a[i : i + n] ** 2))), 3)
                for i in range(0, len(a) - n, n)
            ]
            print("ENV", env)
            raise
    finally:
        await voice.close()
        await core.close()

    assert (notes / "groceries.md").read_text(encoding="utf-8") == "# groceries\n\nmilk\n"
    connection = openai_server.realtime[-1]
    asides = [
        e
        for e in connection.client_events.snapshot()
        if e.get("type") == "response.create"
        and (e.get("response") or {}).get("conversation") == "none"
    ]
    assert len(asides) == 1
    assert (
        "Save a note titled “groceries”: milk"
        in asides[0]["response"]["input"][0]["content"][0]["text"]
    )
    with HistoryStore(Path(settings.storage.database)) as store:
        conv = store.load_conversation(completed.conversation_id)
    assert conv is not None
    (turn,) = conv.turns  # the spoken "yes" answered the question; it is no turn of its own
    assert (turn.source, turn.status, turn.user_text) == ("voice", "completed", request_text)
    assert [(c.name, c.ok) for c in turn.tool_calls] == [("create_note", True)]
    assert turn.assistant_text.startswith("Done: ")


async def play(pulse: PulseServer, wav: Path) -> None:
    """Speak a recording into the virtual microphone, to the end."""
    speak = await asyncio.create_subprocess_exec(*pulse.play_command(wav), env=pulse.client_env)
    assert await speak.wait() == 0

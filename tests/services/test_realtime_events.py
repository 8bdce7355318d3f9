"""Every Realtime server event OpenAI documents is handled: mapped if Hark uses it, else skipped."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from src.events.conversation import AssistantTextDelta, ErrorReported, PartialTranscript
from src.events.voice import (
    RealtimeFunctionCall,
    RealtimeResponseDone,
    RealtimeSessionReady,
    TranscriptCompleted,
    UserSpeechStarted,
    UserSpeechStopped,
)
from src.services.realtime_events import AudioOut, RealtimeEventMapper

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance"


def _server_events() -> list[dict[str, object]]:
    path = CONFORMANCE / "realtime_server_events.jsonl"
    if not path.exists():
        pytest.skip(f"conformance corpus not found at {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_every_conformance_event_is_handled_without_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = _server_events()
    assert len(records) == 47
    mapper = RealtimeEventMapper(turn_id="t")
    produced: dict[str, list[object]] = {}
    with caplog.at_level(logging.INFO):
        for record in records:
            event = record["event"]
            assert isinstance(event, dict)
            out = mapper.map(json.dumps(event))
            produced[str(event["type"]).strip()] = out
    expected = {
        "session.created": RealtimeSessionReady,
        "input_audio_buffer.speech_started": UserSpeechStarted,
        "input_audio_buffer.speech_stopped": UserSpeechStopped,
        "conversation.item.input_audio_transcription.delta": PartialTranscript,
        "conversation.item.input_audio_transcription.completed": TranscriptCompleted,
        "response.output_audio_transcript.delta": PartialTranscript,
        "response.output_audio_transcript.done": TranscriptCompleted,
        "response.output_text.delta": AssistantTextDelta,
        "response.function_call_arguments.done": RealtimeFunctionCall,
        "response.done": RealtimeResponseDone,
        "error": ErrorReported,
    }
    for kind, cls in expected.items():
        assert [type(e) for e in produced[kind]] == [cls], kind
    # The spec's own flawed examples are skipped with a log line, not fatal.
    for flawed in (
        "conversation.item.retrieved",
        "input_audio_buffer.dtmf_event_received",
        "response.output_item.done",
        "transcription_session.updated",
    ):
        assert produced[flawed] == []
    assert "transcription_session.updated" in caplog.text
    # The audio example carries a placeholder, not base64: skipped with a warning.
    assert produced["response.output_audio.delta"] == []


def test_audio_deltas_become_pcm_for_the_playback_pipe() -> None:
    pcm = bytes(range(256)) * 4
    frame = {
        "type": "response.output_audio.delta",
        "event_id": "e1",
        "response_id": "r1",
        "item_id": "item_1",
        "output_index": 0,
        "content_index": 0,
        "delta": base64.b64encode(pcm).decode(),
    }
    (out,) = RealtimeEventMapper().map(frame)
    assert out == AudioOut(item_id="item_1", pcm=pcm)


@pytest.mark.parametrize(
    "frame", ["not json", "[1, 2]", b"\xff\xfe", "{}", '{"type": "brand.new.event", "x": 1}']
)
def test_garbage_frames_are_dropped(frame: str | bytes) -> None:
    assert RealtimeEventMapper().map(frame) == []


def test_transcript_deltas_accumulate_per_item() -> None:
    mapper = RealtimeEventMapper()
    base = {
        "type": "response.output_audio_transcript.delta",
        "event_id": "e",
        "response_id": "r",
        "output_index": 0,
        "content_index": 0,
    }
    texts = []
    for item, delta in (("a", "Hel"), ("b", "Hi"), ("a", "lo")):
        (event,) = mapper.map({**base, "item_id": item, "delta": delta})
        assert isinstance(event, PartialTranscript)
        texts.append((event.item_id, event.text))
    assert texts == [("a", "Hel"), ("b", "Hi"), ("a", "Hello")]

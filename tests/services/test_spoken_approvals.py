"""Approval by voice: the read-back asked aloud, the user's spoken answer deciding.

The first group drives ``SpokenApprovals`` with a recording stand-in for the Realtime client
and the real ``ApprovalService``. The second runs the whole path against the scripted OpenAI
server over a real WebSocket: the voice model calls the local notes connector's
``create_note`` through the real orchestrator, the question goes out as an out-of-band
response, the user "speaks" (audio committed, transcript scripted), and the note is written
only after a yes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from openai import AsyncOpenAI

from src.config.settings import ApiSettings
from src.connectors import local_notes
from src.connectors.base import ConnectorContext
from src.connectors.orchestrator import DECLINED, Orchestrator
from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.bus import EventBus
from src.events.commands import ResolveApproval
from src.events.conversation import TurnCompleted
from src.events.voice import RealtimeResponseDone, TranscriptCompleted
from src.services.approvals import ApprovalService
from src.services.conversation import ConversationService
from src.services.realtime_client import RealtimeClient
from src.services.realtime_session_config import TurnDetectionMode
from src.services.realtime_supervisor import RealtimeTiming
from src.services.spoken_approvals import ASK_AGAIN, SpokenApprovals, spoken_question
from src.services.storage import HistoryStore
from src.services.voice_turns import VoiceTurnRecorder
from tests.fakes.openai_audio import silence, tone
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.fakes.scripted_runner import ScriptedRunner
from tests.fakes.voice_rig import note_taking_brain
from tests.services.test_realtime_client import EventLog, Playback, wait_client_event

WAIT = 10.0  # only reached when something is broken

# -------------------------------------------------------------------------------------------
# The desk alone
# -------------------------------------------------------------------------------------------


@dataclass
class FakeRealtime:
    """Records what the desk asks of the Realtime client."""

    said: list[str] = field(default_factory=list)
    holds: list[bool] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    dropped: int = 0

    async def speak_aside(self, text: str, *, purpose: str) -> None:
        assert purpose == "approval"
        self.said.append(text)

    def drop_asides(self) -> int:
        self.dropped += 1
        return 0

    async def hold_replies(self, held: bool) -> None:
        self.holds.append(held)

    async def forget_item(self, item_id: str) -> bool:
        self.forgotten.append(item_id)
        return True


@dataclass
class Desk:
    bus: EventBus
    approvals: ApprovalService
    realtime: FakeRealtime
    desk: SpokenApprovals

    async def ask(
        self, tool: str = "send_email", readback: str = "Send to ana"
    ) -> asyncio.Task[bool]:
        published = asyncio.create_task(self.bus.next_event(ApprovalRequested))
        await asyncio.sleep(0)  # subscribed before the request is made
        task = asyncio.create_task(self.approvals.request(tool, "mail", readback, "{}"))
        await asyncio.wait_for(published, WAIT)
        await self.settle()
        return task

    async def hear(self, text: str, item_id: str = "item_1") -> None:
        await self.bus.publish(TranscriptCompleted(item_id=item_id, role="user", text=text))
        await self.settle()

    async def settle(self) -> None:
        for _ in range(3):  # a publish can lead to another (resolve -> resolved)
            await self.bus.drain()


@pytest.fixture
async def desk() -> AsyncIterator[Desk]:
    bus = EventBus()
    approvals = ApprovalService(bus, timeout=WAIT)
    await approvals.start()
    realtime = FakeRealtime()
    spoken = SpokenApprovals(bus, realtime)
    await spoken.start()
    yield Desk(bus, approvals, realtime, spoken)
    await spoken.close()
    await bus.close()


def test_the_question_is_the_read_back_and_the_choices() -> None:
    assert spoken_question("Send to ana@example.com, subject 'Friday'?") == (
        "Send to ana@example.com, subject 'Friday'. Shall I go ahead? "
        "You can say yes, no, or always."
    )


async def test_a_spoken_yes_approves_and_releases_the_hold(desk: Desk) -> None:
    task = await desk.ask(readback="Send to ana@example.com")
    assert desk.realtime.said == [spoken_question("Send to ana@example.com")]
    assert desk.realtime.holds == [True]
    assert desk.desk.asking is not None

    await desk.hear("Yes, go ahead.", item_id="item_yes")
    assert await asyncio.wait_for(task, WAIT) is True
    await desk.settle()
    assert desk.realtime.forgotten == ["item_yes"]  # the answer is not left in the conversation
    assert desk.realtime.holds == [True, False]
    assert desk.desk.asking is None


async def test_a_spoken_no_declines(desk: Desk) -> None:
    task = await desk.ask()
    await desk.hear("No, don't.")
    assert await asyncio.wait_for(task, WAIT) is False
    assert desk.approvals.always_allowed == frozenset()


async def test_always_approves_and_is_remembered_for_the_tool(desk: Desk) -> None:
    task = await desk.ask(tool="post_message")
    await desk.hear("Always.")
    assert await asyncio.wait_for(task, WAIT) is True
    assert desk.approvals.always_allowed == {"post_message"}


async def test_an_unclear_answer_is_asked_again_then_taken_as_no(desk: Desk) -> None:
    task = await desk.ask()
    await desk.hear("What's the weather like?")
    assert desk.realtime.said[-1] == ASK_AGAIN
    assert not task.done()

    await desk.hear("hmm")
    assert await asyncio.wait_for(task, WAIT) is False
    assert desk.realtime.said.count(ASK_AGAIN) == 1
    assert desk.realtime.holds == [True, False]


async def test_an_unclear_answer_then_a_yes_approves(desk: Desk) -> None:
    task = await desk.ask()
    await desk.hear("Yes... no, wait")
    await desk.hear("yes")
    assert await asyncio.wait_for(task, WAIT) is True


async def test_two_requests_are_asked_one_after_the_other(desk: Desk) -> None:
    first = await desk.ask(readback="Send to ana")
    second = await desk.ask(readback="Send to bo")
    assert desk.realtime.said == [spoken_question("Send to ana")]

    await desk.hear("yes")
    assert await asyncio.wait_for(first, WAIT) is True
    assert desk.realtime.said[-1] == spoken_question("Send to bo")
    assert desk.realtime.holds == [True]  # still held between the two questions

    await desk.hear("no")
    assert await asyncio.wait_for(second, WAIT) is False
    assert desk.realtime.holds == [True, False]


async def test_an_answer_by_key_ends_the_spoken_question(desk: Desk) -> None:
    task = await desk.ask()
    (requested,) = [p.approval_id for p in desk.approvals.pending()]
    await desk.bus.publish(ResolveApproval(approval_id=requested, decision="approve"))
    assert await asyncio.wait_for(task, WAIT) is True
    await desk.settle()
    assert desk.realtime.holds == [True, False]
    assert desk.realtime.dropped == 1  # a question still waiting to be spoken is not asked

    # What the user says afterwards is an ordinary request again, not an answer.
    await desk.hear("no")
    assert desk.realtime.forgotten == []


async def test_speech_with_nothing_pending_is_left_alone(desk: Desk) -> None:
    await desk.hear("yes")
    assert desk.realtime.said == [] and desk.realtime.forgotten == []


async def test_an_expired_request_moves_on(desk: Desk) -> None:
    desk.approvals._timeout = 0.01  # expiry is the service's own rule; shortened here
    task = await desk.ask()
    assert await asyncio.wait_for(task, WAIT) is False
    await desk.settle()
    assert desk.realtime.holds == [True, False]


# -------------------------------------------------------------------------------------------
# The whole path, over the Realtime wire
# -------------------------------------------------------------------------------------------


@dataclass
class Voice:
    server: ScriptedOpenAIServer
    bus: EventBus
    log: EventLog
    client: RealtimeClient
    playback: Playback
    notes: Path
    recorder: VoiceTurnRecorder
    store: HistoryStore

    async def request(self, text: str) -> None:
        """Typed into the voice session, as ``VoiceSession.send_text`` does."""
        await self.recorder.typed(text)
        await self.client.send_text(text)

    async def answer_by_voice(self, transcript: str, mode: TurnDetectionMode) -> None:
        """The user speaks; the server hears ``transcript``."""
        self.server.script_transcripts(transcript)
        if mode == "push_to_talk":
            await self.client.send_audio(tone(300))
            # Held: committed for its transcript, but no reply is asked for.
            assert not await self.client.commit_and_respond()
        else:  # the server's own VAD finds the speech and the silence after it
            await self.client.send_audio(tone(400) + silence(800))

    def client_events(self) -> list[dict[str, Any]]:
        return self.server.realtime[0].client_events.snapshot()


async def voice(
    server: ScriptedOpenAIServer, tmp_path: Path, mode: TurnDetectionMode
) -> AsyncIterator[Voice]:
    server.brain = note_taking_brain(r"^remember (\w+)")
    bus = EventBus()
    log = EventLog(bus)
    approvals = ApprovalService(bus, timeout=WAIT * 3)
    await approvals.start()
    http = httpx.AsyncClient()
    notes = tmp_path / "notes"
    orchestrator = Orchestrator(
        [local_notes.CONNECTOR],
        ConnectorContext(http=http, settings=SimpleNamespace(notes_dir=str(notes))),
        approver=approvals,
    )
    playback = Playback()
    client = RealtimeClient(
        bus,
        lambda: AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0),
        ApiSettings(base_url=server.base_url),
        "You are Hark.",
        orchestrator,
        turn_detection=mode,
        on_audio=playback,
        on_audio_end=playback.end,
        timing=RealtimeTiming(ping_interval=None),
    )
    store = HistoryStore(tmp_path / "hark.db")
    conversation = ConversationService(bus, store, ScriptedRunner(model="gpt-realtime"))
    await conversation.start()
    await conversation.open()
    recorder = VoiceTurnRecorder(bus, conversation, "gpt-realtime")
    await recorder.start()
    desk = SpokenApprovals(bus, client)
    await desk.start()
    await client.start()
    async with asyncio.timeout(WAIT):
        await client.wait_until_connected()
    yield Voice(server, bus, log, client, playback, notes, recorder, store)
    await recorder.close()
    await desk.close()
    await client.close()
    await http.aclose()
    await bus.close()


@pytest.fixture
async def ptt(openai_server: ScriptedOpenAIServer, tmp_path: Path) -> AsyncIterator[Voice]:
    async for rig in voice(openai_server, tmp_path, "push_to_talk"):
        yield rig


@pytest.fixture
async def server_vad(openai_server: ScriptedOpenAIServer, tmp_path: Path) -> AsyncIterator[Voice]:
    async for rig in voice(openai_server, tmp_path, "server_vad"):
        yield rig


async def test_a_spoken_yes_runs_the_tool_and_the_model_carries_on(ptt: Voice) -> None:
    await ptt.request("remember groceries")
    (asked,) = await ptt.log.wait(ApprovalRequested)
    assert asked.readback == "Save a note titled “groceries”: milk"
    (aside,) = await ptt.log.wait(RealtimeResponseDone, aside=True)
    assert aside.status == "completed" and aside.output_tokens > 0
    assert not ptt.notes.exists()  # nothing is written before the answer

    # The question went out of band, was heard, and is not an assistant transcript.
    create = [e for e in ptt.client_events() if e["type"] == "response.create"][-1]
    options = create["response"]
    assert options["conversation"] == "none"
    assert options["tools"] == [] and options["tool_choice"] == "none"
    assert options["input"][0]["content"][0]["text"] == spoken_question(asked.readback)
    assert ptt.playback.ms(aside_item(ptt)) > 0
    spoken = [e.text for e in ptt.log.of(TranscriptCompleted, role="assistant")]
    assert spoken_question(asked.readback) not in spoken

    await ptt.answer_by_voice("Yes, please.", "push_to_talk")
    (resolved,) = await ptt.log.wait(ApprovalResolved)
    assert resolved.decision == "approve"
    await ptt.log.wait(RealtimeResponseDone, aside=False, count=2)

    assert (ptt.notes / "groceries.md").read_text(encoding="utf-8") == "# groceries\n\nmilk\n"
    final = ptt.server.model_requests("realtime")[-1]
    assert [text for role, text in final.messages if role == "user"] == ["remember groceries"]
    (deleted,) = await wait_client_event(ptt.server, "conversation.item.delete")
    answer_item = ptt.log.of(TranscriptCompleted, role="user")[-1].item_id
    assert deleted["item_id"] == answer_item
    assert ptt.log.of(TranscriptCompleted, role="assistant")[-1].text.startswith("Done: ")
    assert not ptt.client.replies_held
    ptt.server.assert_wire_clean()

    # History: one turn, the request and the answer; the question and the "yes" are no turns.
    (completed,) = await ptt.log.wait(TurnCompleted)
    conversation = ptt.store.load_conversation(completed.conversation_id)
    assert conversation is not None
    (turn,) = conversation.turns
    assert turn.user_text == "remember groceries"
    assert (
        turn.assistant_text.startswith("Done: ") and "Shall I go ahead" not in turn.assistant_text
    )
    assert [(c.name, c.ok) for c in turn.tool_calls] == [("create_note", True)]
    # The question's tokens are paid for, so they count in the turn's usage.
    responses = ptt.log.of(RealtimeResponseDone)
    assert turn.usage.output_tokens == sum(r.output_tokens for r in responses)


async def test_a_spoken_no_under_server_vad_holds_replies_and_writes_nothing(
    server_vad: Voice,
) -> None:
    await server_vad.request("remember taxes")
    await server_vad.log.wait(RealtimeResponseDone, aside=True)
    updates = await wait_client_event(server_vad.server, "session.update", count=2)
    held = updates[1]["session"]["audio"]["input"]["turn_detection"]
    assert held["type"] == "server_vad" and held["create_response"] is False

    await server_vad.answer_by_voice("No.", "server_vad")
    (resolved,) = await server_vad.log.wait(ApprovalResolved)
    assert resolved.decision == "reject"
    updates = await wait_client_event(server_vad.server, "session.update", count=3)
    assert updates[2]["session"]["audio"]["input"]["turn_detection"]["create_response"] is True
    await server_vad.log.wait(RealtimeResponseDone, aside=False, count=2)

    assert not server_vad.notes.exists()
    assert server_vad.log.of(TranscriptCompleted, role="assistant")[-1].text == f"Done: {DECLINED}"
    # The server made no reply of its own to the spoken "No.": only Hark's requests.
    requests = server_vad.server.model_requests("realtime")
    assert len(requests) == 3  # the tool call, the question, the answer after the tool
    server_vad.server.assert_wire_clean()


def aside_item(rig: Voice) -> str:
    done = [
        e
        for e in rig.server.emitted.snapshot()
        if e.get("type") == "response.output_item.added"
        and e["response_id"]
        in {d.response_id for d in rig.log.of(RealtimeResponseDone, aside=True)}
    ]
    return str(done[0]["item"]["id"])


# -------------------------------------------------------------------------------------------
# The client's side of asides
# -------------------------------------------------------------------------------------------


async def test_an_aside_waits_for_the_live_reply_and_cannot_be_truncated(ptt: Voice) -> None:
    gate = ptt.server.hold_next_replies(after_deltas=1)
    await ptt.client.send_text("hello")
    await gate.wait_reached_async()
    await ptt.client.speak_aside("A short note from Hark.", purpose="approval")
    creates = [e for e in ptt.client_events() if e["type"] == "response.create"]
    assert len(creates) == 1  # not while the answer is live: the server would refuse it

    gate.release()
    await ptt.log.wait(RealtimeResponseDone, aside=True)
    assert [e.text for e in ptt.log.of(TranscriptCompleted, role="assistant")] == [
        "You said: hello"
    ]
    item = aside_item(ptt)
    assert not await ptt.client.truncate(item, 100)  # not in the conversation: nothing to cut
    assert ptt.client.last_assistant_item_id != item
    types = [e["type"] for e in ptt.client_events()]
    assert "conversation.item.truncate" not in types
    ptt.server.assert_wire_clean()


async def test_a_reconnection_while_held_keeps_replies_held(server_vad: Voice) -> None:
    await server_vad.client.hold_replies(True)
    await asyncio.wrap_future(server_vad.server.close_realtime())
    await server_vad.server.realtime.wait_for_async(count=2)
    (update,) = await wait_client_event(server_vad.server, "session.update", connection=1)
    assert update["session"]["audio"]["input"]["turn_detection"]["create_response"] is False
    await server_vad.client.hold_replies(False)
    updates = await wait_client_event(server_vad.server, "session.update", count=2, connection=1)
    assert updates[1]["session"]["audio"]["input"]["turn_detection"]["create_response"] is True


async def test_a_question_answered_before_it_was_spoken_is_not_spoken(ptt: Voice) -> None:
    gate = ptt.server.hold_next_replies(after_deltas=1)
    await ptt.client.send_text("hello")
    await gate.wait_reached_async()
    await ptt.client.speak_aside("Send it?", purpose="approval")
    assert ptt.client.drop_asides() == 1
    gate.release()
    await ptt.log.wait(RealtimeResponseDone)
    await ptt.client.send_text("and again")
    await ptt.log.wait(RealtimeResponseDone, count=2)
    creates = [e for e in ptt.client_events() if e["type"] == "response.create"]
    assert all("conversation" not in (e.get("response") or {}) for e in creates)
    assert not ptt.log.of(RealtimeResponseDone, aside=True)

"""Every socket method, called by the real client over the real socket on a real Hark core."""

from __future__ import annotations

import concurrent.futures
import json
import socket
from pathlib import Path
from typing import Any

from src.config.redaction import Redactor
from src.events.session import VoiceAvailability
from src.presentation.socket_methods import METHODS
from src.presentation.socket_protocol import ErrorCode
from src.services.secrets import open_secret_store
from tests.fakes.openai_brain import Rule, RuleBrain
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.presentation.socket.conftest import KEY, LiveHark, hark_settings
from tests.presentation.socket.helpers import TURN_END, events_until, rpc_error, turn_events


def test_ping_methods_and_event_types(live: LiveHark) -> None:
    with live.connect() as conn:
        assert conn.call("ping") == "pong"
        listed = {m["name"]: m for m in conn.call("methods")}
        assert set(listed) == set(METHODS)
        assert listed["message.send"]["params"] == ["text", "wait", "queue"]
        types = conn.call("events.types")
        assert {"turn.completed", "assistant.text.delta", "approval.requested"} <= set(types)
        assert rpc_error(conn, "no.such.method").code == ErrorCode.METHOD_NOT_FOUND
        assert rpc_error(conn, "ping", {"extra": 1}).code == ErrorCode.INVALID_PARAMS


def test_status_comes_from_the_status_query(live: LiveHark) -> None:
    with live.connect() as conn:
        status = conn.call("status")
    assert status["state"] == "idle"
    assert status["model"] == live.settings.api.model
    assert status["conversation"]["id"].startswith("conv_")


def test_message_send_replies_with_the_turn_then_streams_it_in_order(live: LiveHark) -> None:
    with live.connect() as conn:
        started = conn.call("message.send", {"text": "  hello over the socket  "})
        assert not conn.notifications  # the reply came before any of the turn's events
        events = turn_events(conn, started["turn_id"])
        kinds = [e["type"] for e in events]
        assert kinds[0] == "turn.started" and kinds[-1] == "turn.completed"
        assert events[0]["text"] == "hello over the socket"
        assert events[0]["conversation_id"] == started["conversation_id"]
        deltas = "".join(e["delta"] for e in events if e["type"] == "assistant.text.delta")
        completed = next(e for e in events if e["type"] == "assistant.message.completed")
        assert deltas == completed["text"] == "You said: hello over the socket"
        assert kinds.count("assistant.text.delta") > 1
        shown = conn.call("conversations.show", {"id": started["conversation_id"]})
    turn = shown["turns"][-1]
    assert turn["id"] == started["turn_id"] and turn["status"] == "completed"
    assert turn["assistant_text"] == completed["text"]


def test_message_send_wait_returns_the_whole_answer(live: LiveHark) -> None:
    with live.connect() as conn:
        answer = conn.call("message.send", {"text": "what time is it", "wait": True})
        assert answer["text"] == "You said: what time is it"
        assert answer["turn_id"].startswith("turn_") and answer["followups"] == []
        assert answer["usage"]["input_tokens"] > 0 and answer["usage"]["output_tokens"] > 0
        assert not conn.notifications  # wait mode does not stream


def test_two_clients_sending_the_same_words_each_get_their_own_turn(
    live: LiveHark, openai_server: ScriptedOpenAIServer
) -> None:
    """Turns are paired with their ``message.send`` by request id, not by their text."""
    gate = openai_server.hold_next_replies(1, after_deltas=1)
    with (
        live.connect() as first,
        live.connect() as second,
        concurrent.futures.ThreadPoolExecutor(2) as pool,
    ):
        one = pool.submit(first.call, "message.send", {"text": "same words", "wait": True})
        gate.wait_reached()  # the first is running: the second queues behind it
        two = pool.submit(second.call, "message.send", {"text": "same words", "wait": True})
        gate.release()
        answers = [one.result(30), two.result(30)]
    assert answers[0]["turn_id"] != answers[1]["turn_id"]
    assert all(a["text"] == "You said: same words" for a in answers)
    with live.connect() as conn:
        started = conn.call("message.send", {"text": "tagged"})
        events = turn_events(conn, started["turn_id"])
    assert events[0]["type"] == "turn.started" and events[0]["request_id"]


def test_message_send_checks_its_params(live: LiveHark) -> None:
    with live.connect() as conn:
        for params in (
            {},
            {"text": "   "},
            {"text": 5},
            {"text": "hi", "wait": "yes"},
            {"text": "hi", "txt": "typo"},
        ):
            error = rpc_error(conn, "message.send", params)
            assert error.code == ErrorCode.INVALID_PARAMS, params
        assert (
            "unknown parameter 'txt'"
            in rpc_error(conn, "message.send", {"text": "hi", "txt": "x"}).message
        )


def test_a_failed_turn_is_an_error_with_the_sentence_for_the_user(
    live: LiveHark, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.fail_next(429, "insufficient_quota")
    with live.connect() as conn:
        error = rpc_error(conn, "message.send", {"text": "hello", "wait": True})
        assert conn.call("status")["openai_key_refused"] is False
    assert error.code == ErrorCode.TURN_FAILED
    assert "run out of quota" in error.message
    assert error.data["retryable"] is False and error.data["turn_id"].startswith("turn_")


def test_busy_interrupt_and_a_cancelled_turn_is_stored_as_cancelled(
    live: LiveHark, openai_server: ScriptedOpenAIServer
) -> None:
    gate = openai_server.hold_next_replies(1, after_deltas=1)
    with live.connect() as asker, live.connect() as other:
        assert other.call("interrupt") == {"interrupted": False}
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(
                asker.call, "message.send", {"text": "a long story", "wait": True}
            )
            gate.wait_reached()
            busy = rpc_error(other, "message.send", {"text": "me too", "queue": False})
            assert busy.code == ErrorCode.BUSY and len(busy.data["active_turns"]) == 1
            assert other.call("status")["state"] == "assistant_speaking"
            assert other.call("interrupt") == {"interrupted": True}
            try:
                waiting.result(30)
            except Exception as exc:  # the RemoteError raised by the waiting call
                cancelled = exc
        assert getattr(cancelled, "code", None) == ErrorCode.TURN_CANCELLED
        turn_id = cancelled.data["turn_id"]  # type: ignore[attr-defined]
        conv = other.call("status")["conversation"]["id"]
        turn = other.call("conversations.show", {"id": conv})["turns"][-1]
    gate.release()
    assert turn["id"] == turn_id and turn["status"] == "cancelled"
    assert turn["assistant_text"].startswith("You ")  # what was said before the interrupt


def test_a_refused_key_is_reported_and_a_key_stored_meanwhile_is_used_without_a_restart(
    tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    store = open_secret_store("file", tmp_path / "keys.bin", lambda: "pw", redactor=Redactor())
    openai_server.rejected_keys.add(KEY)
    hark = LiveHark(hark_settings(tmp_path, openai_server), secrets=store).start()
    try:
        with hark.connect() as conn:
            error = rpc_error(conn, "message.send", {"text": "hello", "wait": True})
            assert error.code == ErrorCode.NO_OPENAI_KEY
            assert "rejected the OpenAI key" in error.message
            assert error.data["retryable"] is False
            assert conn.call("status")["openai_key_refused"] is True
            # Still refused and nothing new stored: the same answer, nothing stuck.
            again = rpc_error(conn, "message.send", {"text": "hello?", "wait": True})
            assert again.code == ErrorCode.NO_OPENAI_KEY

            store.set("openai", "sk-test-replacement")  # `hark keys set openai` elsewhere
            answer = conn.call("message.send", {"text": "hello at last", "wait": True})
            assert answer["text"]
            assert conn.call("status")["openai_key_refused"] is False
        used = [r.api_key for r in openai_server.requests if r.api == "responses"]
        assert used == [KEY, KEY, "sk-test-replacement"]
    finally:
        hark.stop()


def test_conversations_list_show_search_new_and_resume(live: LiveHark) -> None:
    with live.connect() as conn:
        first = conn.call("message.send", {"text": "remember the word pineapple", "wait": True})
        conv_id = first["conversation_id"]
        listed = conn.call("conversations.list", {"limit": 5})
        assert [c["id"] for c in listed] == [conv_id] and listed[0]["turn_count"] == 1
        assert conn.call("conversations.list", {"offset": 1}) == []
        shown = conn.call("conversations.show", {"id": conv_id[:9]})
        assert shown["id"] == conv_id and shown["turns"][0]["user_text"].endswith("pineapple")
        found = conn.call("conversations.search", {"query": "pineapple"})
        assert {h["conversation_id"] for h in found} == {conv_id}

        fresh = conn.call("conversations.new")
        assert fresh["conversation_id"] != conv_id and fresh["resumed"] is False
        assert conn.call("status")["conversation"]["id"] == fresh["conversation_id"]

        resumed = conn.call("conversations.resume", {"id": conv_id[5:12]})
        assert resumed == {
            "conversation_id": conv_id,
            "title": shown["title"],
            "resumed": True,
            "turn_count": 1,
        }
        assert conn.call("status")["conversation"]["id"] == conv_id
        again = conn.call("message.send", {"text": "and now?", "wait": True})
        assert again["conversation_id"] == conv_id
        latest = conn.call("conversations.resume", {"id": "latest"})
        assert latest["conversation_id"] == conv_id and latest["turn_count"] == 2

        missing = rpc_error(conn, "conversations.show", {"id": "conv_nothere"})
        assert (
            missing.code == ErrorCode.CONVERSATION_NOT_FOUND and "conv_nothere" in missing.message
        )
        assert rpc_error(conn, "conversations.resume", {"id": "zzzz"}).code == (
            ErrorCode.CONVERSATION_NOT_FOUND
        )
        for method, params in (
            ("conversations.list", {"limit": 0}),
            ("conversations.list", {"limit": "ten"}),
            ("conversations.search", {"query": ""}),
            ("conversations.search", {"query": "x", "limit": 201}),
            ("conversations.show", {}),
        ):
            assert rpc_error(conn, method, params).code == ErrorCode.INVALID_PARAMS, method


def test_tools_connections_and_unhandled(live: LiveHark) -> None:
    with live.connect() as conn:
        tools = {t["name"]: t for t in conn.call("tools.list")}
        connections = {c["name"] for c in conn.call("connections.list")}
        unhandled = conn.call("unhandled.list", {"limit": 5})
    assert tools["get_current_weather"]["connector"] == "weather"
    assert tools["create_note"]["side_effect"] is True
    assert {"weather", "notes"} <= connections
    assert unhandled == []


NOTES_BRAIN = RuleBrain(
    [
        Rule(r"note", "transfer_to_notes"),
        Rule(
            r"note titled (\w+)",
            "create_note",
            lambda m: {"title": m.group(1), "text": "milk and eggs"},
        ),
    ],
    answer="Done: {output}",
)


def test_approval_requested_over_one_connection_resolved_over_another(
    live: LiveHark, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.brain = NOTES_BRAIN
    with live.connect() as asker, live.connect() as approver:
        started = asker.call("message.send", {"text": "save a note titled shopping"})
        seen = events_until(asker, lambda e: e["type"] == "approval.requested")
        request = seen[-1]
        assert request["tool"] == "create_note"
        assert request["readback"] == "Save a note titled “shopping”: milk and eggs"
        wrong = rpc_error(
            approver, "approval.resolve", {"approval_id": "appr_x", "decision": "approve"}
        )
        assert wrong.code == ErrorCode.APPROVAL_NOT_PENDING
        assert wrong.data == {"pending": [request["approval_id"]]}
        bad = rpc_error(
            approver, "approval.resolve", {"approval_id": request["approval_id"], "decision": "ok"}
        )
        assert bad.code == ErrorCode.INVALID_PARAMS
        resolved = approver.call(
            "approval.resolve", {"approval_id": request["approval_id"], "decision": "approve"}
        )
        assert resolved == {"approval_id": request["approval_id"], "decision": "approve"}
        rest = turn_events(asker, started["turn_id"])
        again = rpc_error(
            approver,
            "approval.resolve",
            {"approval_id": request["approval_id"], "decision": "reject"},
        )
    assert again.code == ErrorCode.APPROVAL_NOT_PENDING
    finished = next(e for e in rest if e["type"] == "tool.finished" and e["tool"] == "create_note")
    assert finished["ok"] is True
    assert rest[-1]["type"] == "turn.completed"
    notes = live.settings.connectors.notes_dir
    assert notes is not None and (notes / "shopping.md").read_text().startswith("# shopping")


def test_voice_and_session_commands_are_published_on_the_bus(live: LiveHark) -> None:
    with live.connect() as watcher, live.connect() as conn:
        assert watcher.call("events.subscribe", {"types": ["command.*"]}) == {
            "types": ["command.*"]
        }
        assert conn.call("listen.start") == {"accepted": True}
        assert conn.call("listen.mute", {"muted": True}) == {"muted": True}
        assert conn.call("listen.mute", {"muted": False}) == {"muted": False}
        assert conn.call("listen.push_to_talk", {"pressed": True}) == {"pressed": True}
        assert conn.call("turn_detection.set", {"mode": "server_vad"}) == {"mode": "server_vad"}
        assert conn.call("audio.select_device", {"kind": "input", "name": "USB"}) == {
            "kind": "input",
            "name": "USB",
        }
        assert conn.call("listen.stop") == {"accepted": True}
        bad = rpc_error(conn, "turn_detection.set", {"mode": "telepathy"})
        assert bad.code == ErrorCode.INVALID_PARAMS
        assert "semantic_vad" in bad.data["choices"]
        assert rpc_error(conn, "listen.mute", {"muted": "no"}).code == ErrorCode.INVALID_PARAMS
        seen = events_until(watcher, lambda e: e["type"] == "command.stop_listening")
    commands = [(e["type"], {k: v for k, v in e.items() if k not in ("type", "ts")}) for e in seen]
    # Control events may overtake data events on the bus; compare as sets of what crossed.
    assert sorted(commands, key=str) == sorted(
        [
            ("command.start_listening", {}),
            ("command.set_muted", {"muted": True}),
            ("command.set_muted", {"muted": False}),
            ("command.push_to_talk", {"pressed": True}),
            ("command.set_turn_detection", {"mode": "server_vad"}),
            ("command.select_audio_device", {"kind": "input", "name": "USB"}),
            ("command.stop_listening", {}),
        ],
        key=str,
    )


def test_voice_known_to_be_unavailable_is_an_error(live: LiveHark) -> None:
    live.publish(VoiceAvailability(available=False, reason="no microphone was found"))
    with live.connect() as conn:
        error = rpc_error(conn, "listen.start")
        assert error.code == ErrorCode.VOICE_UNAVAILABLE
        assert error.message == "no microphone was found"
        assert rpc_error(conn, "listen.push_to_talk", {"pressed": True}).code == (
            ErrorCode.VOICE_UNAVAILABLE
        )
        assert conn.call("listen.stop") == {"accepted": True}  # stopping is always fine


def test_events_subscribe_validates_names_and_unsubscribe_stops_them(live: LiveHark) -> None:
    with live.connect() as conn, live.connect() as talker:
        bad = rpc_error(conn, "events.subscribe", {"types": ["turn.started", "turn.nope"]})
        assert bad.code == ErrorCode.INVALID_PARAMS and bad.data["unknown"] == ["turn.nope"]
        assert "turn.started" in bad.data["known"]
        bad_params: list[dict[str, Any]] = [
            {},
            {"types": []},
            {"types": "turn.started"},
            {"types": ["nope.*"]},
        ]
        for params in bad_params:
            assert rpc_error(conn, "events.subscribe", params).code == ErrorCode.INVALID_PARAMS
        assert conn.call("events.subscribe", {"types": ["*"]}) == {"types": ["*"]}
        talker.call("message.send", {"text": "one", "wait": True})
        first = events_until(conn, lambda e: e["type"] == "turn.completed")
        assert {"command.submit_text", "turn.started", "state.changed"} <= {
            e["type"] for e in first
        }
        assert conn.call("events.unsubscribe") == {"types": []}
        talker.call("message.send", {"text": "two", "wait": True})  # not seen by conn
        conn.call("events.subscribe", {"types": ["conversation.opened"]})
        opened = talker.call("conversations.new")
        after = events_until(conn, lambda e: e["type"] == "conversation.opened")
    assert after == [after[-1]] and after[-1]["conversation_id"] == opened["conversation_id"]


def test_batches_and_notifications(live: LiveHark) -> None:
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(live.path))
        reader = raw.makefile("rb")
        batch = [
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"jsonrpc": "2.0", "method": "interrupt"},
            {"jsonrpc": "2.0", "id": 2, "method": "status"},
            {"jsonrpc": "2.0", "id": 3, "method": "nope"},
            7,
        ]
        raw.sendall(json.dumps(batch).encode() + b"\n")
        replies = json.loads(reader.readline())
        by_id = {r["id"]: r for r in replies}
        assert len(replies) == 4 and by_id[1]["result"] == "pong"
        assert by_id[2]["result"]["state"] == "idle"
        assert by_id[3]["error"]["code"] == ErrorCode.METHOD_NOT_FOUND
        assert by_id[None]["error"]["code"] == ErrorCode.INVALID_REQUEST
        # All notifications: no reply at all, so the next line is the ping's.
        raw.sendall(b'[{"jsonrpc":"2.0","method":"interrupt"}]\n')
        raw.sendall(b'{"jsonrpc":"2.0","method":"listen.stop"}\n')
        raw.sendall(b'{"jsonrpc":"2.0","method":"ping","params":[1]}\n')
        raw.sendall(b'{"jsonrpc":"2.0","id":"last","method":"ping"}\n')
        assert json.loads(reader.readline()) == {"jsonrpc": "2.0", "id": "last", "result": "pong"}


def test_a_message_over_the_limit_is_refused_and_the_connection_goes_on(live: LiveHark) -> None:
    limit = live.settings.socket.max_message_bytes
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(live.path))
        reader = raw.makefile("rb")
        huge = b'{"jsonrpc":"2.0","id":1,"method":"message.send","params":{"text":"'
        raw.sendall(huge)
        chunk = b"a" * 65536
        for _ in range(3 * limit // len(chunk)):
            raw.sendall(chunk)
        error = json.loads(reader.readline())
        assert error["id"] is None and error["error"]["code"] == ErrorCode.MESSAGE_TOO_LARGE
        assert error["error"]["data"] == {"max_message_bytes": limit}
        raw.sendall(b'"}}\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n')
        assert json.loads(reader.readline())["result"] == "pong"
    with live.connect() as conn:
        listed = conn.call("conversations.list")
    assert [c["turn_count"] for c in listed] == [0]  # the huge message never became a turn


def test_turn_end_types_match_the_events(live: LiveHark) -> None:
    with live.connect() as conn:
        types = set(conn.call("events.types"))
    assert types >= TURN_END

"""The SQLite history store, against real database files in tmp_path."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.domain.history import ToolCall, Turn, Usage, make_title
from src.services import storage
from src.services.storage import (
    DEFAULT_TITLE,
    INTERRUPTED_ERROR,
    SCHEMA_V1,
    SCHEMA_VERSION,
    AmbiguousId,
    HistoryStore,
    NotFound,
    StorageError,
    match_query,
)

REQUEST = "Hey, is it sunny and warm near Paris today?"
ANSWER = "Yes: 24 degrees and a clear sky all day."


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[HistoryStore]:
    with HistoryStore(db_path) as opened:
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection, as another program (or an older Hark) would open the file."""
    return sqlite3.connect(path, isolation_level=None)


def user_version(path: Path) -> int:
    conn = raw(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def fts_in_sync(path: Path) -> None:
    """FTS5's own check that the indexes match their content tables (raises if not)."""
    conn = raw(path)
    try:
        for table in ("turns_fts", "conversations_fts"):
            conn.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def answered_turn(store: HistoryStore, conversation_id: str, turn_id: str = "turn_1") -> Turn:
    turn = Turn(id=turn_id, conversation_id=conversation_id, user_text=REQUEST, source="voice")
    store.start_turn(turn)
    turn.status = "completed"
    turn.assistant_text = ANSWER
    store.finish_turn(turn)
    return turn


# ---- round trips -----------------------------------------------------------------------------


def test_whole_conversation_round_trips_with_tool_calls_and_handoffs(
    store: HistoryStore, db_path: Path
) -> None:
    conversation = store.create_conversation(model="gpt-4.1-mini")

    first = Turn(id="turn_a", conversation_id=conversation.id, user_text=REQUEST, source="voice")
    store.start_turn(first)
    weather = ToolCall(
        call_id="call_1", name="get_weather", agent="orchestrator", arguments='{"city":"Paris"}'
    )
    store.record_tool_call(first.id, weather)
    store.finish_tool_call(first.id, "call_1", result='{"temp": 24}', ok=True)
    store.record_handoff(first.id, "weather")
    store.record_handoff(first.id, "orchestrator")
    first.tool_calls.append(weather)  # the caller's copy has no result: the stored one stays
    first.handoffs += ["weather", "orchestrator"]
    first.status = "completed"
    first.assistant_text = ANSWER
    first.usage = Usage(input_tokens=120, output_tokens=30, cost_usd=0.000096)
    first.model = "gpt-4.1-mini"
    first.finished_at = first.started_at + 1.5
    store.finish_turn(first, latency_ms=850)

    second = Turn(id="turn_b", conversation_id=conversation.id, user_text="Book a table for two")
    store.start_turn(second)
    # This tool call is only in the turn object: finish_turn must write it.
    second.tool_calls.append(
        ToolCall(
            call_id="call_2",
            name="book_table",
            agent="restaurants",
            arguments='{"people": 2}',
            result="the restaurant's API timed out",
            ok=False,
            finished_at=second.started_at + 0.25,
        )
    )
    second.handoffs.append("restaurants")
    second.status = "failed"
    second.error = "tool failed"
    second.usage = Usage(50, 10, 0.00004)
    store.finish_turn(second)

    loaded = store.load_conversation(conversation.id)
    assert loaded is not None
    assert loaded.id == conversation.id
    assert loaded.title == "Is it sunny and warm near Paris today"
    assert [turn.id for turn in loaded.turns] == ["turn_a", "turn_b"]

    a, b = loaded.turns
    assert (a.user_text, a.assistant_text, a.status, a.source) == (
        REQUEST,
        ANSWER,
        "completed",
        "voice",
    )
    assert a.usage == Usage(120, 30, 0.000096)
    assert a.model == "gpt-4.1-mini"
    assert a.started_at == first.started_at
    assert a.finished_at == first.finished_at
    assert a.handoffs == ["weather", "orchestrator"]
    assert len(a.tool_calls) == 1
    call = a.tool_calls[0]
    assert (call.call_id, call.name, call.agent, call.arguments) == (
        "call_1",
        "get_weather",
        "orchestrator",
        '{"city":"Paris"}',
    )
    assert (call.result, call.ok) == ('{"temp": 24}', True)
    assert call.finished_at is not None

    assert (b.status, b.error, b.source, b.assistant_text) == ("failed", "tool failed", "text", "")
    assert b.handoffs == ["restaurants"]
    assert [(c.call_id, c.result, c.ok) for c in b.tool_calls] == [
        ("call_2", "the restaurant's API timed out", False)
    ]
    assert b.finished_at is not None

    assert loaded.usage == Usage(170, 40, 0.000136)
    assert store.usage_totals(conversation.id) == Usage(170, 40, 0.000136)
    # What the model is told when the conversation is resumed comes out of the same rows.
    assert loaded.context_messages()[:2] == [
        {"role": "user", "content": REQUEST},
        {"role": "assistant", "content": ANSWER},
    ]

    conn = raw(db_path)
    try:
        latency = conn.execute("SELECT latency_ms FROM turns WHERE id = 'turn_a'").fetchone()[0]
    finally:
        conn.close()
    assert latency == 850


def test_load_unknown_conversation_is_none(store: HistoryStore) -> None:
    assert store.load_conversation("conv_000000000000") is None


def test_list_conversations_newest_activity_first_with_counts_and_cost(
    store: HistoryStore,
) -> None:
    older = store.create_conversation()
    newer = store.create_conversation("Shopping list")
    assert store.latest_conversation_id() == newer.id

    turn = Turn(id="t1", conversation_id=older.id, user_text="What's on my calendar?")
    store.start_turn(turn)
    turn.status = "completed"
    turn.usage = Usage(10, 5, 0.25)
    store.finish_turn(turn)

    summaries = store.list_conversations()
    assert [s.id for s in summaries] == [older.id, newer.id]
    assert (summaries[0].turn_count, summaries[0].cost_usd) == (1, 0.25)
    assert (summaries[1].turn_count, summaries[1].cost_usd, summaries[1].title) == (
        0,
        0.0,
        "Shopping list",
    )
    assert store.latest_conversation_id() == older.id
    assert [s.id for s in store.list_conversations(limit=1, offset=1)] == [newer.id]


def test_empty_store_has_no_latest_conversation(store: HistoryStore) -> None:
    assert store.latest_conversation_id() is None
    assert store.list_conversations() == []


def test_unknown_ids_are_reported_as_not_found(store: HistoryStore) -> None:
    with pytest.raises(NotFound, match="no conversation"):
        store.start_turn(Turn(id="t", conversation_id="conv_nope", user_text="hi"))
    with pytest.raises(NotFound):
        store.set_title("conv_nope", "x")
    with pytest.raises(NotFound):
        store.usage_totals("conv_nope")
    with pytest.raises(NotFound, match="no turn"):
        store.record_handoff("turn_nope", "weather")
    with pytest.raises(NotFound, match="no tool call"):
        store.finish_tool_call("turn_nope", "call_nope", "x", ok=True)


def test_a_turn_cannot_be_started_twice(store: HistoryStore) -> None:
    conversation = store.create_conversation()
    turn = Turn(id="t1", conversation_id=conversation.id, user_text="hello")
    store.start_turn(turn)
    with pytest.raises(StorageError, match="already stored"):
        store.start_turn(turn)


def test_finish_turn_stores_a_turn_that_was_never_started(store: HistoryStore) -> None:
    conversation = store.create_conversation()
    turn = Turn(
        id="t1",
        conversation_id=conversation.id,
        user_text="Remind me to call mum",
        status="completed",
        assistant_text="Done.",
    )
    store.finish_turn(turn)
    loaded = store.load_conversation(conversation.id)
    assert loaded is not None
    assert [(t.user_text, t.assistant_text, t.status) for t in loaded.turns] == [
        ("Remind me to call mum", "Done.", "completed")
    ]
    assert loaded.title == "Remind me to call mum"


def test_late_voice_transcript_replaces_the_empty_request(store: HistoryStore) -> None:
    conversation = store.create_conversation()
    turn = Turn(id="t1", conversation_id=conversation.id, user_text="", source="voice")
    store.start_turn(turn)
    turn.user_text = "turn on the kitchen lights"
    turn.status = "completed"
    store.finish_turn(turn)
    loaded = store.load_conversation(conversation.id)
    assert loaded is not None
    assert loaded.turns[0].user_text == "turn on the kitchen lights"
    assert loaded.title == "Turn on the kitchen lights"


# ---- titles ----------------------------------------------------------------------------------


def test_title_comes_from_the_first_request_only(store: HistoryStore) -> None:
    conversation = store.create_conversation()
    assert conversation.title == DEFAULT_TITLE
    first = "hello, could you please find flights from Berlin to Lisbon next Friday?"
    store.start_turn(Turn(id="t1", conversation_id=conversation.id, user_text=first))
    store.start_turn(Turn(id="t2", conversation_id=conversation.id, user_text="and hotels"))
    loaded = store.load_conversation(conversation.id)
    assert loaded is not None
    assert loaded.title == make_title(first) == "Find flights from Berlin to Lisbon next Friday"


def test_explicit_titles_are_kept(store: HistoryStore) -> None:
    named = store.create_conversation("Trip planning")
    store.start_turn(Turn(id="t1", conversation_id=named.id, user_text="find flights"))
    store.set_title(named.id, "  Lisbon   trip ")
    loaded = store.load_conversation(named.id)
    assert loaded is not None
    assert loaded.title == "Lisbon trip"
    store.start_turn(Turn(id="t2", conversation_id=named.id, user_text="and hotels"))
    assert store.list_conversations()[0].title == "Lisbon trip"


# ---- search ----------------------------------------------------------------------------------


@pytest.fixture
def searchable(store: HistoryStore) -> tuple[HistoryStore, str]:
    conversation = store.create_conversation()
    answered_turn(store, conversation.id)
    store.create_conversation("Unrelated chat")
    return store, conversation.id


@pytest.mark.parametrize(
    "query",
    [
        "paris",
        "PARIS",
        '"paris',
        'paris"',
        '"paris"',
        '"sunny" paris',
        "sunny AND warm",
        "warm*",
        "pari*",
        "-paris",
        "paris -",
        "NEAR(paris",
        "near(paris, sunny)",
        "^sunny",
        "(warm)",
        "paris: sunny",
        "{degrees}: sunny",
        "paris + sunny",
        "sunny & warm!!",
        "PaRiS?!",
        "pàris",
        "par",
    ],
)
def test_search_treats_operators_and_punctuation_as_text(
    searchable: tuple[HistoryStore, str], query: str
) -> None:
    store, conversation_id = searchable
    hits = store.search(query)
    turn_hits = [hit for hit in hits if hit.turn_id == "turn_1"]
    assert turn_hits, f"{query!r} found nothing"
    assert turn_hits[0].conversation_id == conversation_id
    assert "[" in turn_hits[0].snippet and "]" in turn_hits[0].snippet


@pytest.mark.parametrize(
    "query",
    [
        *['"', '""', "*", "-", "AND", "OR NOT", "NEAR(", "^", ":", "(", ")", "{", "'", " ", "+"],
        *["\x00", "paris\x00sunny", "sunny OR", "near(paris, 3)", "{user_text}: paris", "a:b"],
        *['say "hello', "NOT paris", "paris NOT", '"" AND ""', "***", "x" * 500],
    ],
)
def test_search_with_only_operators_or_words_not_in_the_history_never_raises(
    searchable: tuple[HistoryStore, str], query: str
) -> None:
    store, _ = searchable
    assert isinstance(store.search(query), list)


def test_empty_query_finds_nothing(searchable: tuple[HistoryStore, str]) -> None:
    store, _ = searchable
    assert store.search("") == []
    assert store.search("   ") == []
    assert store.search("!?") == []


def test_only_the_last_word_is_a_prefix(searchable: tuple[HistoryStore, str]) -> None:
    store, _ = searchable
    assert store.search("paris sun")
    assert store.search("sun paris") == []


def test_every_word_must_match(searchable: tuple[HistoryStore, str]) -> None:
    store, _ = searchable
    assert store.search("paris london") == []


def test_search_reports_the_field_and_marks_the_match(
    searchable: tuple[HistoryStore, str],
) -> None:
    store, conversation_id = searchable
    [user_hit] = [hit for hit in store.search("warm") if hit.field == "user"]
    assert user_hit.turn_id == "turn_1"
    assert "[warm]" in user_hit.snippet
    assert user_hit.title == "Is it sunny and warm near Paris today"

    [title_hit] = store.search("unrelated")
    assert (title_hit.field, title_hit.turn_id, title_hit.snippet) == (
        "title",
        None,
        "[Unrelated] chat",
    )
    assert title_hit.conversation_id != conversation_id


def test_search_reflects_the_answer_written_at_finish(store: HistoryStore, db_path: Path) -> None:
    conversation = store.create_conversation()
    turn = Turn(id="t1", conversation_id=conversation.id, user_text="What is the weather?")
    store.start_turn(turn)
    assert store.search("degrees") == []
    turn.assistant_text = "It is 24 degrees in Paris."
    turn.status = "completed"
    store.finish_turn(turn)
    hits = store.search("degrees")
    assert [(hit.turn_id, hit.field, hit.snippet) for hit in hits] == [
        ("t1", "assistant", "It is 24 [degrees] in Paris.")
    ]
    store.set_title(conversation.id, "Weather report")
    assert [hit.field for hit in store.search("report")] == ["title"]
    assert store.search("what weather")[0].field == "user"
    fts_in_sync(db_path)


def test_deleting_a_conversation_removes_it_from_search(store: HistoryStore, db_path: Path) -> None:
    conversation = store.create_conversation()
    answered_turn(store, conversation.id)
    store.record_error("agent", "boom", conversation_id=conversation.id, turn_id="turn_1")
    assert store.search("paris")
    store.delete_conversation(conversation.id)
    assert store.search("paris") == []
    assert store.load_conversation(conversation.id) is None
    assert store.recent_errors() == []
    fts_in_sync(db_path)


def test_search_never_raises_for_any_text(searchable: tuple[HistoryStore, str]) -> None:
    store, _ = searchable
    operators = st.text(alphabet=st.sampled_from(list("\"*-()^:{}+,. ANDORNEARnot'\\")))

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.text(), operators))
    def check(query: str) -> None:
        hits = store.search(query)
        assert all(hit.snippet for hit in hits)

    check()


def test_match_query_quotes_every_word() -> None:
    assert match_query('say "hi" AND -x*') == '"say" AND """hi""" AND "AND" AND "-x*"*'
    assert match_query("* - ()") is None


# ---- short ids -------------------------------------------------------------------------------


def test_resolve_full_id_and_unique_prefixes(store: HistoryStore) -> None:
    conversation = store.create_conversation()
    assert store.resolve_id(conversation.id) == conversation.id
    assert store.resolve_id(conversation.id[:9]) == conversation.id
    assert store.resolve_id(conversation.id[5:9].upper()) == conversation.id  # without conv_
    assert store.resolve_id(f"  {conversation.id[:8]} ") == conversation.id


def test_resolve_ambiguous_and_unknown_prefixes(store: HistoryStore) -> None:
    # Seventeen ids over sixteen hex digits: two must share their first digit.
    by_digit: dict[str, list[str]] = {}
    for _ in range(17):
        conversation = store.create_conversation()
        by_digit.setdefault(conversation.id[5], []).append(conversation.id)
    digit, shared = next((d, ids) for d, ids in by_digit.items() if len(ids) > 1)

    with pytest.raises(AmbiguousId, match="more than one conversation") as caught:
        store.resolve_id(f"conv_{digit}")
    assert len(caught.value.candidates) >= 2
    assert set(caught.value.candidates) <= set(shared)
    with pytest.raises(AmbiguousId):
        store.resolve_id("conv_")
    assert isinstance(caught.value, StorageError)
    for full in shared:
        assert store.resolve_id(full) == full

    with pytest.raises(NotFound, match="zzz"):
        store.resolve_id("zzz")
    with pytest.raises(NotFound):
        store.resolve_id("   ")


# ---- crash recovery --------------------------------------------------------------------------


def test_turns_left_in_progress_by_a_crash_become_failed(db_path: Path) -> None:
    crashed = HistoryStore(db_path)
    conversation = crashed.create_conversation()
    answered_turn(crashed, conversation.id, "done")
    crashed.start_turn(
        Turn(id="lost", conversation_id=conversation.id, user_text="send the report to Anna")
    )
    # The process dies here: no finish_turn, no close. A new process opens the same file.
    with HistoryStore(db_path) as restarted:
        assert restarted.mark_interrupted_turns() == 1
        assert restarted.mark_interrupted_turns() == 0
        loaded = restarted.load_conversation(conversation.id)
    crashed.close()
    assert loaded is not None
    done, lost = loaded.turns
    assert done.status == "completed"
    assert (lost.status, lost.error, lost.user_text) == (
        "failed",
        INTERRUPTED_ERROR,
        "send the report to Anna",
    )
    assert loaded.context_messages()[-2:] == [
        {"role": "user", "content": "send the report to Anna"},
        {"role": "assistant", "content": "[no answer: the request failed]"},
    ]


# ---- durability, sharing, threads -------------------------------------------------------------


def test_a_second_store_sees_every_write_at_once(db_path: Path) -> None:
    with HistoryStore(db_path) as writer, HistoryStore(db_path) as reader:
        conversation = writer.create_conversation()
        assert reader.latest_conversation_id() == conversation.id

        turn = Turn(id="t1", conversation_id=conversation.id, user_text=REQUEST)
        writer.start_turn(turn)
        seen = reader.load_conversation(conversation.id)
        assert seen is not None
        assert [(t.user_text, t.status) for t in seen.turns] == [(REQUEST, "in_progress")]

        turn.status = "completed"
        turn.assistant_text = ANSWER
        writer.finish_turn(turn)
        assert [hit.field for hit in reader.search("degrees")] == ["assistant"]

        reader.record_error("audio", "device lost")
        assert [e.message for e in writer.recent_errors()] == ["device lost"]


def test_writes_survive_without_close(db_path: Path) -> None:
    first = HistoryStore(db_path)
    conversation = first.create_conversation("kept")
    # No close(): an abrupt exit must not lose a committed write.
    conn = raw(db_path)
    try:
        titles = [row[0] for row in conn.execute("SELECT title FROM conversations")]
    finally:
        conn.close()
    first.close()
    assert titles == ["kept"]
    assert conversation.title == "kept"


def test_errors_can_be_recorded_from_many_threads(store: HistoryStore) -> None:
    conversation = store.create_conversation()
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                store.record_error(f"thread-{n}", f"error {i}", conversation_id=conversation.id)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    errors = store.recent_errors(limit=1000)
    assert len(errors) == 200
    assert {e.conversation_id for e in errors} == {conversation.id}


def test_errors_with_unknown_ids_are_still_recorded(store: HistoryStore) -> None:
    store.record_error("realtime", "socket closed", conversation_id="conv_gone", turn_id="t_gone")
    [error] = store.recent_errors()
    assert (error.source, error.conversation_id, error.turn_id) == ("realtime", None, None)
    assert "socket closed" in error.message and "conv_gone" in error.message


def test_unhandled_requests_round_trip(store: HistoryStore) -> None:
    conversation = store.create_conversation()
    answered_turn(store, conversation.id)
    store.record_unhandled(conversation.id, "turn_1", "order a pizza", "no food connector")
    store.record_unhandled(None, None, "what's on TV", "no TV guide")
    newest, oldest = store.list_unhandled()
    assert (newest.text, newest.reason, newest.conversation_id) == (
        "what's on TV",
        "no TV guide",
        None,
    )
    assert (oldest.conversation_id, oldest.turn_id, oldest.text) == (
        conversation.id,
        "turn_1",
        "order a pizza",
    )
    assert len(store.list_unhandled(limit=1)) == 1
    with pytest.raises(NotFound):
        store.record_unhandled("conv_nope", None, "x", "y")


def test_closed_store_refuses_work(db_path: Path) -> None:
    with HistoryStore(db_path) as store:
        store.create_conversation()
    with pytest.raises(StorageError, match="closed"):
        store.list_conversations()
    store.close()  # closing twice is harmless


# ---- the file itself -------------------------------------------------------------------------


def test_file_is_private_and_in_a_private_new_directory(db_path: Path) -> None:
    assert not db_path.parent.exists()
    with HistoryStore(db_path) as store:
        store.create_conversation()
        assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
        wal = db_path.with_name(db_path.name + "-wal")
        assert wal.exists()
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


def test_wal_mode_and_foreign_keys_are_on(store: HistoryStore, db_path: Path) -> None:
    conn = raw(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    assert user_version(db_path) == SCHEMA_VERSION
    conversation = store.create_conversation()
    answered_turn(store, conversation.id)
    # A tool call can only belong to an existing turn: the schema itself says so.
    assert store._conn is not None
    with pytest.raises(sqlite3.IntegrityError):
        store._conn.execute(
            "INSERT INTO tool_calls (turn_id, call_id, seq, agent, name, arguments, started_at)"
            " VALUES ('nope', 'c', 1, 'a', 'n', '{}', 0)"
        )


def test_not_a_database_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    content = b"these are my notes, not a database\n" * 20
    path.write_bytes(content)
    with pytest.raises(StorageError, match="not a Hark history database") as caught:
        HistoryStore(path)
    assert "not an SQLite file" in str(caught.value)
    assert path.read_bytes() == content


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = raw(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.close()
    with pytest.raises(StorageError, match="not a Hark history"):
        HistoryStore(path)


def test_directory_instead_of_file_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open"):
        HistoryStore(tmp_path)


def test_database_from_a_newer_hark_is_left_untouched(db_path: Path) -> None:
    with HistoryStore(db_path) as store:
        conversation = store.create_conversation()
        answered_turn(store, conversation.id)
    conn = raw(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()

    with pytest.raises(StorageError, match="made by a newer Hark"):
        HistoryStore(db_path)

    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert user_version(db_path) == SCHEMA_VERSION + 1


# ---- migrations ------------------------------------------------------------------------------


def make_v1_database(path: Path) -> None:
    """A history as the first released Hark left it (rollback journal, version 1)."""
    conn = raw(path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN")
    for statement in SCHEMA_V1:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO conversations (id, title, created_at, updated_at, model)"
        " VALUES ('conv_aaaaaaaaaaaa', 'Weather in Paris', 100.0, 200.0, 'gpt-4.1-mini')"
    )
    conn.execute(
        """INSERT INTO turns (id, conversation_id, seq, source, status, user_text,
               assistant_text, model, input_tokens, output_tokens, cost_usd, error,
               started_at, finished_at)
           VALUES ('turn_old1', 'conv_aaaaaaaaaaaa', 1, 'voice', 'completed',
               'what is the weather in Paris', 'Sunny, 24 degrees.', 'gpt-4.1-mini',
               100, 20, 0.000072, NULL, 100.0, 101.5),
                  ('turn_old2', 'conv_aaaaaaaaaaaa', 2, 'text', 'in_progress',
               'and tomorrow?', '', '', 0, 0, 0, NULL, 150.0, NULL)"""
    )
    conn.execute(
        """INSERT INTO tool_calls (turn_id, call_id, seq, agent, name, arguments, result, ok,
               started_at, finished_at)
           VALUES ('turn_old1', 'call_1', 1, 'orchestrator', 'get_weather',
               '{"city": "Paris"}', '{"temp": 24}', 1, 100.2, 100.4)"""
    )
    conn.execute(
        "INSERT INTO handoffs (turn_id, seq, to_agent, at)"
        " VALUES ('turn_old1', 1, 'weather', 100.1)"
    )
    conn.execute(
        "INSERT INTO errors (conversation_id, turn_id, source, message, created_at)"
        " VALUES ('conv_aaaaaaaaaaaa', 'turn_old1', 'audio', 'buffer underrun', 100.3)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    conn.close()


def test_version_1_database_is_migrated_keeping_every_row(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    make_v1_database(path)

    with HistoryStore(path) as store:
        assert user_version(path) == SCHEMA_VERSION == 2
        loaded = store.load_conversation("conv_aaaaaaaaaaaa")
        assert loaded is not None
        assert (loaded.title, loaded.created_at, loaded.updated_at) == (
            "Weather in Paris",
            100.0,
            200.0,
        )
        old1, old2 = loaded.turns
        assert (old1.user_text, old1.assistant_text, old1.source, old1.status) == (
            "what is the weather in Paris",
            "Sunny, 24 degrees.",
            "voice",
            "completed",
        )
        assert (old1.usage, old1.model, old1.started_at, old1.finished_at) == (
            Usage(100, 20, 0.000072),
            "gpt-4.1-mini",
            100.0,
            101.5,
        )
        assert [(c.call_id, c.name, c.result, c.ok) for c in old1.tool_calls] == [
            ("call_1", "get_weather", '{"temp": 24}', True)
        ]
        assert old1.handoffs == ["weather"]
        assert (old2.user_text, old2.status) == ("and tomorrow?", "in_progress")
        [error] = store.recent_errors()
        assert (error.message, error.turn_id) == ("buffer underrun", "turn_old1")
        assert store.list_conversations()[0].model == "gpt-4.1-mini"

        # The old full-text index still answers.
        assert [hit.turn_id for hit in store.search("degrees")] == ["turn_old1"]
        assert store.resolve_id("aaaa") == "conv_aaaaaaaaaaaa"

        # What version 2 added works on the old rows.
        old2.status = "completed"
        old2.assistant_text = "Rain tomorrow."
        store.finish_turn(old2, latency_ms=1200)
        store.record_unhandled("conv_aaaaaaaaaaaa", "turn_old2", "book a taxi", "no taxi tool")
        assert [u.text for u in store.list_unhandled()] == ["book a taxi"]
        assert [hit.turn_id for hit in store.search("rain")] == ["turn_old2"]

    conn = raw(path)
    try:
        latencies = conn.execute("SELECT id, latency_ms FROM turns ORDER BY seq").fetchall()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    assert latencies == [("turn_old1", None), ("turn_old2", 1200)]
    fts_in_sync(path)


def test_failed_migration_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "history.sqlite3"
    make_v1_database(path)

    def half_done_then_broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE turns ADD COLUMN latency_ms INTEGER")
        conn.execute("DELETE FROM errors")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(storage, "MIGRATIONS", (storage.MIGRATIONS[0], half_done_then_broken))
    with pytest.raises(StorageError, match="nothing was changed"):
        HistoryStore(path)

    assert user_version(path) == 1
    conn = raw(path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(turns)")]
        counts = [
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("conversations", "turns", "tool_calls", "handoffs", "errors")
        ]
    finally:
        conn.close()
    assert "latency_ms" not in columns
    assert counts == [1, 2, 1, 1, 1]

    monkeypatch.undo()
    with HistoryStore(path) as store:
        assert len(store.recent_errors()) == 1


def test_new_database_starts_at_the_current_version(db_path: Path) -> None:
    with HistoryStore(db_path):
        pass
    assert user_version(db_path) == SCHEMA_VERSION
    # Opening it again does not migrate (or fail) a second time.
    with HistoryStore(db_path) as store:
        assert store.list_conversations() == []

"""The history store: every conversation, turn, tool call and error, in one SQLite file.

It is the source of truth for everything a user said, so every write is committed before the
method returns (WAL journal, ``synchronous=FULL``), the user's words are stored the moment a turn
starts, and a database made by an older Hark is migrated in one transaction that keeps every row.

Layout (schema version 2):

- ``conversations`` - one row per conversation; ``id`` is the public id (``conv_…``).
- ``turns`` - one row per request and answer, numbered by ``seq`` inside its conversation.
- ``tool_calls``, ``handoffs`` - what happened inside a turn, in order.
- ``unhandled_requests`` - what the assistant could not do (v2), ``errors`` - what went wrong.
- ``turns_fts``, ``conversations_fts`` - FTS5 indexes with external content (the rows above),
  kept in sync by triggers, for :meth:`HistoryStore.search`.

Text tables use an ``INTEGER PRIMARY KEY`` (``pk``) next to the public id so that the FTS rowids
stay stable across ``VACUUM``.

Every method is synchronous, short and guarded by one lock around one connection, so the event
loop may call it directly and the audio thread may record errors at the same time.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from src.domain.history import Conversation, ToolCall, Turn, Usage, make_title, new_id

__all__ = [
    "DEFAULT_TITLE",
    "INTERRUPTED_ERROR",
    "MIGRATIONS",
    "SCHEMA_V1",
    "SCHEMA_V2_CHANGES",
    "SCHEMA_VERSION",
    "AmbiguousId",
    "ConversationSummary",
    "ErrorRecord",
    "HistoryStore",
    "NotFound",
    "SearchHit",
    "StorageError",
    "UnhandledRequest",
    "match_query",
]

log = logging.getLogger(__name__)

DEFAULT_TITLE = "New conversation"
INTERRUPTED_ERROR = "interrupted: Hark stopped before the answer finished"

BUSY_TIMEOUT_S = 5.0
MAX_QUERY_WORDS = 32
SNIPPET_TOKENS = 12
MARK_OPEN, MARK_CLOSE = "[", "]"
# Private markers for snippet(): they tell which column matched, then become [ and ].
_SNIP_OPEN, _SNIP_CLOSE = "\x02", "\x03"


# --------------------------------------------------------------------------------------------
# Errors


class StorageError(Exception):
    """The history could not be read or written; the message says why in plain words."""


class NotFound(StorageError):
    """No conversation (or turn, or tool call) has that id."""


class AmbiguousId(StorageError):
    """A short id matches more than one conversation."""

    def __init__(self, prefix: str, candidates: Sequence[tuple[str, str]], more: bool) -> None:
        self.prefix = prefix
        self.candidates = [cid for cid, _ in candidates]
        listed = ", ".join(f"{cid} ({title})" for cid, title in candidates)
        suffix = " and more" if more else ""
        super().__init__(
            f"'{prefix}' matches more than one conversation: {listed}{suffix}; type more of the id"
        )


# --------------------------------------------------------------------------------------------
# Records returned by the store (the history model itself lives in src.domain.history)


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str
    created_at: float
    updated_at: float
    turn_count: int
    cost_usd: float
    model: str = ""


@dataclass(frozen=True)
class SearchHit:
    """One place where a search matched; ``snippet`` marks the matched words with [ ]."""

    conversation_id: str
    title: str
    turn_id: str | None
    field: Literal["title", "user", "assistant"]
    snippet: str
    at: float


@dataclass(frozen=True)
class UnhandledRequest:
    id: int
    conversation_id: str | None
    turn_id: str | None
    text: str
    reason: str
    created_at: float


@dataclass(frozen=True)
class ErrorRecord:
    id: int
    source: str
    message: str
    conversation_id: str | None
    turn_id: str | None
    created_at: float


# --------------------------------------------------------------------------------------------
# Schema and migrations. The DDL of each version is data: a migration test builds a database
# of an old version from it. Never edit a released version's statements; add a migration.

SCHEMA_V1: tuple[str, ...] = (
    """CREATE TABLE conversations (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        title TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        model TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX conversations_updated ON conversations(updated_at)",
    """CREATE TABLE turns (
        pk INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('text', 'voice')),
        status TEXT NOT NULL
            CHECK (status IN ('in_progress', 'completed', 'cancelled', 'failed')),
        user_text TEXT NOT NULL,
        assistant_text TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        error TEXT,
        started_at REAL NOT NULL,
        finished_at REAL,
        UNIQUE (conversation_id, seq)
    )""",
    "CREATE INDEX turns_in_progress ON turns(status) WHERE status = 'in_progress'",
    """CREATE TABLE tool_calls (
        turn_id TEXT NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
        call_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        agent TEXT NOT NULL,
        name TEXT NOT NULL,
        arguments TEXT NOT NULL,
        result TEXT,
        ok INTEGER NOT NULL DEFAULT 1 CHECK (ok IN (0, 1)),
        started_at REAL NOT NULL,
        finished_at REAL,
        PRIMARY KEY (turn_id, call_id)
    )""",
    """CREATE TABLE handoffs (
        turn_id TEXT NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        to_agent TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (turn_id, seq)
    )""",
    """CREATE TABLE errors (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
        turn_id TEXT REFERENCES turns(id) ON DELETE CASCADE,
        source TEXT NOT NULL,
        message TEXT NOT NULL,
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX errors_conversation ON errors(conversation_id)",
    "CREATE INDEX errors_turn ON errors(turn_id)",
    """CREATE VIRTUAL TABLE turns_fts USING fts5(
        user_text, assistant_text,
        content='turns', content_rowid='pk',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
        INSERT INTO turns_fts(rowid, user_text, assistant_text)
        VALUES (new.pk, new.user_text, new.assistant_text);
    END""",
    """CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
        INSERT INTO turns_fts(turns_fts, rowid, user_text, assistant_text)
        VALUES ('delete', old.pk, old.user_text, old.assistant_text);
    END""",
    """CREATE TRIGGER turns_fts_update AFTER UPDATE OF user_text, assistant_text ON turns BEGIN
        INSERT INTO turns_fts(turns_fts, rowid, user_text, assistant_text)
        VALUES ('delete', old.pk, old.user_text, old.assistant_text);
        INSERT INTO turns_fts(rowid, user_text, assistant_text)
        VALUES (new.pk, new.user_text, new.assistant_text);
    END""",
    """CREATE VIRTUAL TABLE conversations_fts USING fts5(
        title,
        content='conversations', content_rowid='pk',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts(rowid, title) VALUES (new.pk, new.title);
    END""",
    """CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
        INSERT INTO conversations_fts(conversations_fts, rowid, title)
        VALUES ('delete', old.pk, old.title);
    END""",
    """CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
        INSERT INTO conversations_fts(conversations_fts, rowid, title)
        VALUES ('delete', old.pk, old.title);
        INSERT INTO conversations_fts(rowid, title) VALUES (new.pk, new.title);
    END""",
)

# Version 2: how long the user waited for the answer, and what the assistant could not do.
SCHEMA_V2_CHANGES: tuple[str, ...] = (
    "ALTER TABLE turns ADD COLUMN latency_ms INTEGER CHECK (latency_ms IS NULL OR latency_ms >= 0)",
    """CREATE TABLE unhandled_requests (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
        turn_id TEXT REFERENCES turns(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    )""",
    "CREATE INDEX unhandled_requests_created ON unhandled_requests(created_at)",
    "CREATE INDEX unhandled_requests_conversation ON unhandled_requests(conversation_id)",
    "CREATE INDEX unhandled_requests_turn ON unhandled_requests(turn_id)",
)


def _run_all(statements: Sequence[str]) -> Callable[[sqlite3.Connection], None]:
    # One statement at a time: executescript() would commit the migration's transaction.
    def migrate(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)

    return migrate


# MIGRATIONS[i] takes a database from version i to version i + 1.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _run_all(SCHEMA_V1),
    _run_all(SCHEMA_V2_CHANGES),
)
SCHEMA_VERSION = len(MIGRATIONS)


# --------------------------------------------------------------------------------------------
# Search query building


def match_query(text: str) -> str | None:
    """An FTS5 MATCH expression for what a user typed, or None when nothing is searchable.

    Every word becomes a quoted phrase (double quotes doubled), so operators and punctuation
    typed by the user are plain text; the phrases are ANDed and the last one matches as a
    prefix, so results appear while the user is still typing. Words with no letter or digit
    would be empty phrases (which match nothing) and are dropped.
    """
    words = [word.replace("\x00", "") for word in text.split()]
    words = [word for word in words if any(ch.isalnum() for ch in word)][:MAX_QUERY_WORDS]
    if not words:
        return None
    phrases = ['"' + word.replace('"', '""') + '"' for word in words]
    phrases[-1] += "*"
    return " AND ".join(phrases)


def _marked(snippet: str | None) -> str | None:
    """The snippet with [ ] marks if the column matched, else None."""
    if not snippet or _SNIP_OPEN not in snippet:
        return None
    return snippet.replace(_SNIP_OPEN, MARK_OPEN).replace(_SNIP_CLOSE, MARK_CLOSE)


def _clean_title(title: str) -> str:
    return " ".join(title.split()) or DEFAULT_TITLE


# --------------------------------------------------------------------------------------------
# The store


class HistoryStore:
    """Conversations on disk. Open it once per process; every write is durable on return."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._last_ts = 0.0
        self._prepare_file()
        self._conn: sqlite3.Connection | None = self._open()

    # ---- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            with suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
            conn.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _prepare_file(self) -> None:
        """Create the parent directory (0700) and an empty database file (0600) if missing.

        SQLite gives its -wal and -shm files the database file's mode, so they stay private too.
        """
        try:
            parent = self.path.parent
            if not parent.exists():
                parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return
            os.close(fd)
        except OSError as exc:
            raise StorageError(
                f"cannot create the history database {self.path}: {exc.strerror or exc}"
            ) from exc

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
                check_same_thread=False,  # guarded by self._lock
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the history database {self.path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            version = self._check_version(conn)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("history database %s runs in %s mode, not WAL", self.path, mode)
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            if version < SCHEMA_VERSION:
                self._migrate(conn, version)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"cannot open the history database {self.path}: {exc}") from exc
            raise
        return conn

    def _check_version(self, conn: sqlite3.Connection) -> int:
        """The file's schema version; refuses files this Hark must not touch."""
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            objects = 0
            if version == 0:
                objects = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            name = getattr(exc, "sqlite_errorname", "")
            if name == "SQLITE_NOTADB":
                raise StorageError(
                    f"{self.path} is not a Hark history database (it is not an SQLite file); "
                    "it was left untouched - move it aside to start a new history"
                ) from exc
            if name == "SQLITE_CORRUPT":
                raise StorageError(
                    f"the history database {self.path} is damaged; it was left untouched"
                ) from exc
            raise StorageError(f"cannot read the history database {self.path}: {exc}") from exc
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"the history database {self.path} was made by a newer Hark (schema version "
                f"{version}; this Hark knows up to {SCHEMA_VERSION}); update Hark to open it. "
                "The file was left untouched."
            )
        if version == 0 and objects:
            raise StorageError(
                f"{self.path} is an SQLite database but not a Hark history; it was left untouched"
            )
        return version

    def _migrate(self, conn: sqlite3.Connection, found: int) -> None:
        """Bring the file to SCHEMA_VERSION in one transaction: all steps or none."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            found = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if found > SCHEMA_VERSION:
                raise StorageError(
                    f"the history database {self.path} was made by a newer Hark (schema "
                    f"version {found}; this Hark knows up to {SCHEMA_VERSION})"
                )
            for version in range(found, SCHEMA_VERSION):
                MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
            conn.execute("COMMIT")
        except BaseException as exc:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, StorageError) or not isinstance(exc, Exception):
                raise
            raise StorageError(
                f"could not upgrade the history database {self.path} from schema version "
                f"{found} to {SCHEMA_VERSION}; nothing was changed ({exc})"
            ) from exc
        if found:
            log.info("history database migrated from v%d to v%d", found, SCHEMA_VERSION)

    # ---- transactions ------------------------------------------------------------------

    def _require_open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError("the history store is closed")
        return self._conn

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed before the caller returns."""
        with self._lock:
            conn = self._require_open()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"could not {what}: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"could not {what}: {exc}") from exc
                raise

    @contextmanager
    def _read(self, what: str) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot across several SELECTs."""
        with self._lock:
            conn = self._require_open()
            try:
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StorageError(f"could not {what}: {exc}") from exc

    def _now(self) -> float:
        """Wall-clock time, strictly increasing within this store so orderings never tie."""
        now = max(time.time(), self._last_ts + 1e-6)
        self._last_ts = now
        return now

    # ---- conversations -----------------------------------------------------------------

    def create_conversation(self, title: str = DEFAULT_TITLE, model: str = "") -> Conversation:
        with self._write("create a conversation") as conn:
            now = self._now()
            conversation = Conversation(
                id=new_id("conv"), title=_clean_title(title), created_at=now, updated_at=now
            )
            conn.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, model)"
                " VALUES (?, ?, ?, ?, ?)",
                (conversation.id, conversation.title, now, now, model),
            )
        return conversation

    def set_title(self, conversation_id: str, title: str) -> None:
        with self._write("rename the conversation") as conn:
            cur = conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ?",
                (_clean_title(title), conversation_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no conversation with id {conversation_id}")

    def delete_conversation(self, conversation_id: str) -> None:
        """Forget a conversation with its turns, tool calls, handoffs and errors."""
        with self._write("delete the conversation") as conn:
            cur = conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            if cur.rowcount == 0:
                raise NotFound(f"no conversation with id {conversation_id}")

    def latest_conversation_id(self) -> str | None:
        with self._read("find the latest conversation") as conn:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated_at DESC, pk DESC LIMIT 1"
            ).fetchone()
        return None if row is None else str(row["id"])

    def resolve_id(self, prefix: str) -> str:
        """The conversation id that ``prefix`` names: a full id or a unique start of one.

        The ``conv_`` part may be left out (``3fa9`` finds ``conv_3fa9…``).
        """
        text = prefix.strip().lower()
        if not text:
            raise NotFound("no conversation id given")
        if "_" not in text and not "conv_".startswith(text):
            text = "conv_" + text
        with self._read("look up the conversation id") as conn:
            rows = conn.execute(
                "SELECT id, title FROM conversations WHERE substr(id, 1, ?) = ?"
                " ORDER BY updated_at DESC, pk DESC LIMIT 6",
                (len(text), text),
            ).fetchall()
        ids = [str(row["id"]) for row in rows]
        if text in ids:
            return text
        if not rows:
            raise NotFound(f"no conversation id starts with '{prefix.strip()}'")
        if len(rows) == 1:
            return ids[0]
        shown = [(str(row["id"]), str(row["title"])) for row in rows[:5]]
        raise AmbiguousId(prefix.strip(), shown, more=len(rows) > 5)

    def list_conversations(self, limit: int = 20, offset: int = 0) -> list[ConversationSummary]:
        """Conversations with their turn count and cost, most recently active first."""
        with self._read("list conversations") as conn:
            rows = conn.execute(
                """SELECT c.id, c.title, c.created_at, c.updated_at, c.model,
                          count(t.pk) AS turn_count, coalesce(sum(t.cost_usd), 0) AS cost
                   FROM conversations c LEFT JOIN turns t ON t.conversation_id = c.id
                   GROUP BY c.pk
                   ORDER BY c.updated_at DESC, c.pk DESC
                   LIMIT ? OFFSET ?""",
                (max(limit, 0), max(offset, 0)),
            ).fetchall()
        return [
            ConversationSummary(
                id=row["id"],
                title=row["title"],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                turn_count=row["turn_count"],
                cost_usd=round(row["cost"], 8),
                model=row["model"],
            )
            for row in rows
        ]

    def load_conversation(self, conversation_id: str) -> Conversation | None:
        """The whole conversation, turns in order, each with its tool calls and handoffs."""
        with self._read("load the conversation") as conn:
            head = conn.execute(
                "SELECT id, title, created_at, updated_at FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            if head is None:
                return None
            turn_rows = conn.execute(
                "SELECT * FROM turns WHERE conversation_id = ? ORDER BY seq", (conversation_id,)
            ).fetchall()
            call_rows = conn.execute(
                """SELECT c.* FROM tool_calls c JOIN turns t ON t.id = c.turn_id
                   WHERE t.conversation_id = ? ORDER BY t.seq, c.seq""",
                (conversation_id,),
            ).fetchall()
            handoff_rows = conn.execute(
                """SELECT h.turn_id, h.to_agent FROM handoffs h JOIN turns t ON t.id = h.turn_id
                   WHERE t.conversation_id = ? ORDER BY t.seq, h.seq""",
                (conversation_id,),
            ).fetchall()
        calls: dict[str, list[ToolCall]] = {}
        for row in call_rows:
            calls.setdefault(row["turn_id"], []).append(
                ToolCall(
                    call_id=row["call_id"],
                    name=row["name"],
                    agent=row["agent"],
                    arguments=row["arguments"],
                    result=row["result"],
                    ok=bool(row["ok"]),
                    started_at=row["started_at"],
                    finished_at=row["finished_at"],
                )
            )
        handoffs: dict[str, list[str]] = {}
        for row in handoff_rows:
            handoffs.setdefault(row["turn_id"], []).append(row["to_agent"])
        turns = [
            Turn(
                id=row["id"],
                conversation_id=row["conversation_id"],
                user_text=row["user_text"],
                source=row["source"],
                assistant_text=row["assistant_text"],
                status=row["status"],
                tool_calls=calls.get(row["id"], []),
                handoffs=handoffs.get(row["id"], []),
                usage=Usage(row["input_tokens"], row["output_tokens"], row["cost_usd"]),
                model=row["model"],
                error=row["error"],
                started_at=row["started_at"],
                finished_at=row["finished_at"],
            )
            for row in turn_rows
        ]
        return Conversation(
            id=head["id"],
            title=head["title"],
            created_at=head["created_at"],
            updated_at=head["updated_at"],
            turns=turns,
        )

    def usage_totals(self, conversation_id: str) -> Usage:
        with self._read("add up the conversation's usage") as conn:
            self._require_conversation(conn, conversation_id)
            row = conn.execute(
                """SELECT coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
                          coalesce(sum(cost_usd), 0)
                   FROM turns WHERE conversation_id = ?""",
                (conversation_id,),
            ).fetchone()
        return Usage(int(row[0]), int(row[1]), round(float(row[2]), 8))

    # ---- turns -------------------------------------------------------------------------

    def start_turn(self, turn: Turn) -> None:
        """Store a new turn with the user's words before any answer exists.

        Bumps the conversation's ``updated_at`` and, while the conversation still has the
        default title, names it after this request.
        """
        with self._write("save the request") as conn:
            self._require_conversation(conn, turn.conversation_id)
            now = self._now()
            self._insert_turn(conn, turn, latency_ms=None)
            self._upsert_tool_calls(conn, turn.id, turn.tool_calls)
            self._append_handoffs(conn, turn.id, turn.handoffs, now)
            self._touch_conversation(conn, turn.conversation_id, turn.user_text, now)

    def finish_turn(self, turn: Turn, latency_ms: int | None = None) -> None:
        """Write how the turn ended: status, answer, usage, model, error and timings.

        Tool calls and handoffs in ``turn`` that were not recorded yet are added; results
        already stored are never replaced by a missing one. A non-empty ``user_text`` replaces
        the stored one (a voice transcript may arrive after the turn started). A turn that was
        never started is stored whole.
        """
        with self._write("save the answer") as conn:
            now = self._now()
            finished_at = turn.finished_at if turn.finished_at is not None else now
            cur = conn.execute(
                """UPDATE turns SET
                       status = ?, assistant_text = ?, model = ?, input_tokens = ?,
                       output_tokens = ?, cost_usd = ?, error = ?, finished_at = ?,
                       latency_ms = ?,
                       user_text = CASE WHEN ? <> '' THEN ? ELSE user_text END
                   WHERE id = ?""",
                (
                    turn.status,
                    turn.assistant_text,
                    turn.model,
                    turn.usage.input_tokens,
                    turn.usage.output_tokens,
                    turn.usage.cost_usd,
                    turn.error,
                    finished_at,
                    latency_ms,
                    turn.user_text,
                    turn.user_text,
                    turn.id,
                ),
            )
            if cur.rowcount == 0:
                self._require_conversation(conn, turn.conversation_id)
                self._insert_turn(conn, turn, latency_ms=latency_ms, finished_at=finished_at)
            self._upsert_tool_calls(conn, turn.id, turn.tool_calls)
            self._append_handoffs(conn, turn.id, turn.handoffs, now)
            conversation_id = conn.execute(
                "SELECT conversation_id FROM turns WHERE id = ?", (turn.id,)
            ).fetchone()[0]
            self._touch_conversation(conn, conversation_id, turn.user_text, now)

    def mark_interrupted_turns(self) -> int:
        """Turn every turn left ``in_progress`` by a crash into a failed one; returns how many.

        Call it at startup, before this process starts turns of its own (one Hark per history
        file). The user's words are kept.
        """
        with self._write("recover interrupted turns") as conn:
            cur = conn.execute(
                "UPDATE turns SET status = 'failed', error = ? WHERE status = 'in_progress'",
                (INTERRUPTED_ERROR,),
            )
            return cur.rowcount

    # ---- tool calls and handoffs -------------------------------------------------------

    def record_tool_call(self, turn_id: str, call: ToolCall) -> None:
        with self._write("save the tool call") as conn:
            self._require_turn(conn, turn_id)
            self._upsert_tool_calls(conn, turn_id, [call])

    def finish_tool_call(self, turn_id: str, call_id: str, result: str, ok: bool) -> None:
        with self._write("save the tool result") as conn:
            cur = conn.execute(
                """UPDATE tool_calls SET result = ?, ok = ?, finished_at = ?
                   WHERE turn_id = ? AND call_id = ?""",
                (result, int(ok), self._now(), turn_id, call_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no tool call {call_id} in turn {turn_id}")

    def record_handoff(self, turn_id: str, to_agent: str) -> None:
        with self._write("save the handoff") as conn:
            self._require_turn(conn, turn_id)
            conn.execute(
                """INSERT INTO handoffs (turn_id, seq, to_agent, at)
                   VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM handoffs WHERE turn_id = ?),
                           ?, ?)""",
                (turn_id, turn_id, to_agent, self._now()),
            )

    # ---- unhandled requests and errors -------------------------------------------------

    def record_unhandled(
        self, conversation_id: str | None, turn_id: str | None, text: str, reason: str
    ) -> int:
        """Remember a request the assistant could not fulfil; returns its row id."""
        with self._write("save the unhandled request") as conn:
            if conversation_id is not None:
                self._require_conversation(conn, conversation_id)
            if turn_id is not None:
                self._require_turn(conn, turn_id)
            cur = conn.execute(
                """INSERT INTO unhandled_requests
                       (conversation_id, turn_id, text, reason, created_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (conversation_id, turn_id, text, reason, self._now()),
            )
            return int(cur.lastrowid or 0)

    def list_unhandled(self, limit: int = 50) -> list[UnhandledRequest]:
        """Unhandled requests, newest first."""
        with self._read("list unhandled requests") as conn:
            rows = conn.execute(
                """SELECT id, conversation_id, turn_id, text, reason, created_at
                   FROM unhandled_requests ORDER BY created_at DESC, id DESC LIMIT ?""",
                (max(limit, 0),),
            ).fetchall()
        return [UnhandledRequest(*row) for row in rows]

    def record_error(
        self,
        source: str,
        message: str,
        conversation_id: str | None = None,
        turn_id: str | None = None,
    ) -> int:
        """Log an error; returns its row id. Safe from any thread.

        An id that names nothing stored is kept in the message rather than refusing the error.
        """
        with self._write("save the error") as conn:
            if conversation_id is not None and not self._exists(
                conn, "conversations", conversation_id
            ):
                message = f"{message} (unknown conversation {conversation_id})"
                conversation_id = None
            if turn_id is not None and not self._exists(conn, "turns", turn_id):
                message = f"{message} (unknown turn {turn_id})"
                turn_id = None
            cur = conn.execute(
                """INSERT INTO errors (conversation_id, turn_id, source, message, created_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (conversation_id, turn_id, source, message, self._now()),
            )
            return int(cur.lastrowid or 0)

    def recent_errors(self, limit: int = 50) -> list[ErrorRecord]:
        """Recorded errors, newest first."""
        with self._read("list errors") as conn:
            rows = conn.execute(
                """SELECT id, source, message, conversation_id, turn_id, created_at
                   FROM errors ORDER BY created_at DESC, id DESC LIMIT ?""",
                (max(limit, 0),),
            ).fetchall()
        return [ErrorRecord(*row) for row in rows]

    # ---- search ------------------------------------------------------------------------

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Where the words of ``query`` occur: titles, requests and answers, best first.

        Any text is a valid query (see :func:`match_query`); an empty one finds nothing.
        """
        expression = match_query(query)
        if expression is None or limit <= 0:
            return []
        marks = (_SNIP_OPEN, _SNIP_CLOSE, "…", SNIPPET_TOKENS)
        hits: list[tuple[float, SearchHit]] = []
        with self._read("search the history") as conn:
            for row in conn.execute(
                """SELECT c.id, c.title, c.updated_at,
                          snippet(conversations_fts, 0, ?, ?, ?, ?) AS snip,
                          bm25(conversations_fts) AS score
                   FROM conversations_fts JOIN conversations c ON c.pk = conversations_fts.rowid
                   WHERE conversations_fts MATCH ?
                   ORDER BY score LIMIT ?""",
                (*marks, expression, limit),
            ):
                snippet = _marked(row["snip"]) or row["title"]
                hits.append(
                    (
                        row["score"],
                        SearchHit(
                            row["id"], row["title"], None, "title", snippet, row["updated_at"]
                        ),
                    )
                )
            for row in conn.execute(
                """SELECT t.id AS turn_id, t.conversation_id, c.title, t.started_at,
                          snippet(turns_fts, 0, ?, ?, ?, ?) AS user_snip,
                          snippet(turns_fts, 1, ?, ?, ?, ?) AS assistant_snip,
                          bm25(turns_fts) AS score
                   FROM turns_fts
                   JOIN turns t ON t.pk = turns_fts.rowid
                   JOIN conversations c ON c.id = t.conversation_id
                   WHERE turns_fts MATCH ?
                   ORDER BY score LIMIT ?""",
                (*marks, *marks, expression, limit),
            ):
                fields: tuple[tuple[Literal["user", "assistant"], str | None], ...] = (
                    ("user", _marked(row["user_snip"])),
                    ("assistant", _marked(row["assistant_snip"])),
                )
                for field_name, snippet in fields:
                    if snippet is not None:
                        hit = SearchHit(
                            row["conversation_id"],
                            row["title"],
                            row["turn_id"],
                            field_name,
                            snippet,
                            row["started_at"],
                        )
                        hits.append((row["score"], hit))
        hits.sort(key=lambda item: (item[0], -item[1].at))
        return [hit for _, hit in hits[:limit]]

    # ---- helpers (called inside a transaction) -----------------------------------------

    @staticmethod
    def _exists(
        conn: sqlite3.Connection, table: Literal["conversations", "turns"], id_: str
    ) -> bool:
        return conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (id_,)).fetchone() is not None

    def _require_conversation(self, conn: sqlite3.Connection, conversation_id: str) -> None:
        if not self._exists(conn, "conversations", conversation_id):
            raise NotFound(f"no conversation with id {conversation_id}")

    def _require_turn(self, conn: sqlite3.Connection, turn_id: str) -> None:
        if not self._exists(conn, "turns", turn_id):
            raise NotFound(f"no turn with id {turn_id}")

    def _insert_turn(
        self,
        conn: sqlite3.Connection,
        turn: Turn,
        latency_ms: int | None,
        finished_at: float | None = None,
    ) -> None:
        if self._exists(conn, "turns", turn.id):
            raise StorageError(f"turn {turn.id} is already stored")
        conn.execute(
            """INSERT INTO turns (
                   id, conversation_id, seq, source, status, user_text, assistant_text, model,
                   input_tokens, output_tokens, cost_usd, error, started_at, finished_at,
                   latency_ms)
               VALUES (?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM turns
                              WHERE conversation_id = ?),
                       ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                turn.id,
                turn.conversation_id,
                turn.conversation_id,
                turn.source,
                turn.status,
                turn.user_text,
                turn.assistant_text,
                turn.model,
                turn.usage.input_tokens,
                turn.usage.output_tokens,
                turn.usage.cost_usd,
                turn.error,
                turn.started_at,
                finished_at if finished_at is not None else turn.finished_at,
                latency_ms,
            ),
        )

    @staticmethod
    def _upsert_tool_calls(
        conn: sqlite3.Connection, turn_id: str, calls: Sequence[ToolCall]
    ) -> None:
        for call in calls:
            conn.execute(
                """INSERT INTO tool_calls (
                       turn_id, call_id, seq, agent, name, arguments, result, ok,
                       started_at, finished_at)
                   VALUES (?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM tool_calls
                                  WHERE turn_id = ?),
                           ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (turn_id, call_id) DO UPDATE SET
                       result = coalesce(excluded.result, tool_calls.result),
                       ok = CASE WHEN excluded.result IS NULL THEN tool_calls.ok
                                 ELSE excluded.ok END,
                       finished_at = coalesce(excluded.finished_at, tool_calls.finished_at)""",
                (
                    turn_id,
                    call.call_id,
                    turn_id,
                    call.agent,
                    call.name,
                    call.arguments,
                    call.result,
                    int(call.ok),
                    call.started_at,
                    call.finished_at,
                ),
            )

    @staticmethod
    def _append_handoffs(
        conn: sqlite3.Connection, turn_id: str, handoffs: Sequence[str], now: float
    ) -> None:
        """Store the handoffs of ``handoffs`` beyond those already recorded for the turn."""
        stored = conn.execute(
            "SELECT count(*) FROM handoffs WHERE turn_id = ?", (turn_id,)
        ).fetchone()[0]
        for seq, agent in enumerate(handoffs[stored:], start=stored + 1):
            conn.execute(
                "INSERT INTO handoffs (turn_id, seq, to_agent, at) VALUES (?, ?, ?, ?)",
                (turn_id, seq, agent, now),
            )

    @staticmethod
    def _touch_conversation(
        conn: sqlite3.Connection, conversation_id: str, user_text: str, now: float
    ) -> None:
        title = make_title(user_text)
        conn.execute(
            """UPDATE conversations
               SET updated_at = max(updated_at, ?),
                   title = CASE WHEN title = ? THEN ? ELSE title END
               WHERE id = ?""",
            (now, DEFAULT_TITLE, title, conversation_id),
        )

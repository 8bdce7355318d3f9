"""The socket's methods: each checks its params, publishes a command or query, and answers.

Like every front end, the socket changes nothing itself: commands go out as bus events and
answers come back as events (``QueryResult``, ``ConversationOpened``, the turn's events).
Methods read the bridge's view of the session for the cheap checks that deserve a precise
error code (an approval that is not pending, voice known to be unavailable, no key).
"""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from src.config.settings import AudioSettings
from src.events.approvals import ApprovalResolved
from src.events.base import Event, event_types
from src.events.commands import (
    CancelTurn,
    NewConversation,
    PushToTalk,
    ResolveApproval,
    ResumeConversation,
    SelectAudioDevice,
    SetMuted,
    SetTurnDetection,
    Shutdown,
    StartListening,
    StopListening,
)
from src.events.conversation import (
    ConversationOpened,
    ErrorReported,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
)
from src.events.queries import QueryKind
from src.presentation.socket_bridge import QUERY_TIMEOUT_SECONDS, BusBridge, TurnRequest
from src.presentation.socket_outbox import Outbox
from src.presentation.socket_params import EventSelection, Params, check_event_patterns, invalid
from src.presentation.socket_protocol import (
    ErrorCode,
    Request,
    RpcError,
    encode,
    result_document,
)

TURN_DETECTION_MODES: Final[tuple[str, ...]] = typing.get_args(
    AudioSettings.model_fields["turn_detection"].annotation
)
DECISIONS: Final = ("approve", "reject", "always")
LIST_LIMIT, SEARCH_LIMIT, UNHANDLED_LIMIT = (1, 500), (1, 200), (1, 500)


class _Deferred:
    """A method's reply was (or will be) queued by someone else, in bus order."""


DEFERRED: Final = _Deferred()


class Session(Protocol):
    """The connection a call arrived on, as methods see it."""

    outbox: Outbox
    subscriptions: EventSelection
    turns: set[str]

    @property
    def closed(self) -> bool: ...


@dataclass
class Call:
    session: Session
    bridge: BusBridge
    request: Request
    in_batch: bool
    closing: Callable[[], bool]

    async def publish(self, event: Event) -> None:
        await self.bridge.bus.publish(event)


Handler = Callable[[Call, Params], Awaitable[Any]]


@dataclass(frozen=True)
class Method:
    name: str
    handler: Handler
    params: tuple[str, ...]
    summary: str


METHODS: dict[str, Method] = {}


def method(name: str, *params: str, summary: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name] = Method(name, handler, params, summary)
        return handler

    return register


async def dispatch(call: Call) -> Any:
    """Run the request's method; ``RpcError`` for anything the client should be told."""
    spec = METHODS.get(call.request.method)
    if spec is None:
        raise RpcError(
            ErrorCode.METHOD_NOT_FOUND,
            f"Method not found: {call.request.method!r} (see the `methods` method)",
        )
    return await spec.handler(call, Params(call.request.params, spec.params))


ACCEPTED: Final = {"accepted": True}


# -- basics ---------------------------------------------------------------------------------


@method("ping", summary="Check that Hark answers.")
async def _ping(call: Call, p: Params) -> Any:
    return "pong"


@method("methods", summary="Every method with its parameters.")
async def _methods(call: Call, p: Params) -> Any:
    return [
        {"name": m.name, "params": list(m.params), "summary": m.summary}
        for m in sorted(METHODS.values(), key=lambda m: m.name)
    ]


@method("shutdown", summary="Ask Hark to finish what it must store and stop.")
async def _shutdown(call: Call, p: Params) -> Any:
    await call.publish(Shutdown(reason="requested over the control socket"))
    return ACCEPTED


# -- queries --------------------------------------------------------------------------------


async def _ask(
    call: Call,
    kind: QueryKind,
    params: dict[str, Any] | None = None,
    *,
    failure: ErrorCode = ErrorCode.REQUEST_FAILED,
) -> Any:
    try:
        result = await call.bridge.query(kind, params)
    except TimeoutError:
        raise RpcError(
            ErrorCode.TIMEOUT, f"Hark did not answer {kind} within {QUERY_TIMEOUT_SECONDS:g} s"
        ) from None
    if not result.ok:
        raise RpcError(failure, result.error or f"{kind} failed")
    return result.data


def _bounded(p: Params, name: str, bounds: tuple[int, int]) -> int | None:
    value = p.integer(name)
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise invalid(f"{name} must be between {bounds[0]} and {bounds[1]}")
    return value


def _present(**params: Any) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


@method("status", summary="What Hark is doing: state, conversation, model.")
async def _status(call: Call, p: Params) -> Any:
    return await _ask(call, "status")


@method("tools.list", summary="Every tool, its connector and whether it has side effects.")
async def _tools(call: Call, p: Params) -> Any:
    return await _ask(call, "tools.list")


@method("connections.list", summary="Every connector and whether its secrets are stored.")
async def _connections(call: Call, p: Params) -> Any:
    return await _ask(call, "connections.list")


@method("unhandled.list", "limit", summary="Requests Hark could not serve.")
async def _unhandled(call: Call, p: Params) -> Any:
    return await _ask(call, "unhandled.list", _present(limit=_bounded(p, "limit", UNHANDLED_LIMIT)))


@method("conversations.list", "limit", "offset", summary="Recent conversations, newest first.")
async def _conversations_list(call: Call, p: Params) -> Any:
    params = _present(
        limit=_bounded(p, "limit", LIST_LIMIT), offset=_bounded(p, "offset", (0, 1_000_000))
    )
    return await _ask(call, "conversations.list", params)


@method("conversations.show", "id", summary="One conversation in full (id or unique prefix).")
async def _conversations_show(call: Call, p: Params) -> Any:
    ident = _conversation_id(p)
    return await _ask(
        call, "conversations.show", {"id": ident}, failure=ErrorCode.CONVERSATION_NOT_FOUND
    )


@method("conversations.search", "query", "limit", summary="Full-text search of past turns.")
async def _conversations_search(call: Call, p: Params) -> Any:
    query = p.text("query").strip()
    if not query:
        raise invalid("query is empty")
    params = _present(query=query, limit=_bounded(p, "limit", SEARCH_LIMIT))
    return await _ask(call, "conversations.search", params)


def _conversation_id(p: Params) -> str:
    ident = p.text("id").strip()
    if not ident:
        raise invalid("id is empty")
    return ident


def _opened(event: ConversationOpened) -> dict[str, Any]:
    return {
        "conversation_id": event.conversation_id,
        "title": event.title,
        "resumed": event.resumed,
        "turn_count": event.turn_count,
    }


@method(
    "conversations.resume",
    "id",
    summary='Make a stored conversation current (id, unique prefix or "latest").',
)
async def _conversations_resume(call: Call, p: Params) -> Any:
    ident = _conversation_id(p)
    if ident != "latest":
        shown = await _ask(
            call, "conversations.show", {"id": ident}, failure=ErrorCode.CONVERSATION_NOT_FOUND
        )
        ident = shown["id"]

    def answer(event: Event) -> bool:
        if isinstance(event, ErrorReported):
            return event.source == "history"
        return isinstance(event, ConversationOpened) and (
            ident == "latest" or event.conversation_id == ident
        )

    with call.bridge.expecting(answer) as reply:
        await call.publish(
            ResumeConversation(conversation_id=ident, request_id=call.bridge.new_id())
        )
        event = await reply
    if isinstance(event, ErrorReported):
        raise RpcError(ErrorCode.CONVERSATION_NOT_FOUND, event.message)
    assert isinstance(event, ConversationOpened)
    return _opened(event)


@method("conversations.new", summary="Start a fresh conversation (after any running turn).")
async def _conversations_new(call: Call, p: Params) -> Any:
    def fresh(event: Event) -> bool:
        return isinstance(event, ConversationOpened) and not event.resumed

    with call.bridge.expecting(fresh) as reply:
        await call.publish(NewConversation())
        event = await reply
    assert isinstance(event, ConversationOpened)
    return _opened(event)


# -- turns ----------------------------------------------------------------------------------


class _StreamToClient:
    """Owns a turn for one client: replies ``{turn_id}`` then streams the turn's events."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.replied = False

    def turn_started(self, request: TurnRequest) -> None:
        session = self.call.session
        if session.closed:
            return
        session.turns.add(request.turn_id)
        req = self.call.request
        if not req.notification and not self.call.in_batch:
            # Queued here, in bus order, so the reply precedes the turn's first event.
            session.outbox.put_reply(encode(result_document(req.id, _started(request))))
            self.replied = True

    def turn_ended(self, request: TurnRequest) -> None:
        self.call.session.turns.discard(request.turn_id)


def _started(request: TurnRequest) -> dict[str, Any]:
    return {"turn_id": request.turn_id, "conversation_id": request.conversation_id}


@method(
    "message.send",
    "text",
    "wait",
    "queue",
    summary="Ask Hark something; streams the answer as events, or returns it with wait.",
)
async def _message_send(call: Call, p: Params) -> Any:
    text = p.text("text").strip()
    wait = p.boolean("wait", default=False)
    queue = p.boolean("queue", default=True)
    if not text:
        raise invalid("text is empty")
    if call.closing():
        raise RpcError(ErrorCode.SHUTTING_DOWN, "Hark is shutting down")
    # No refusal up front when the key was refused: Hark reads the secrets store again
    # before the turn, so a key stored meanwhile (``hark keys set openai``) is used.
    if not queue and call.bridge.busy:
        raise RpcError(
            ErrorCode.BUSY,
            "Hark is answering another message",
            {"active_turns": sorted(call.bridge.state.active_turns)},
        )
    owner = None if wait else _StreamToClient(call)
    request = await call.bridge.submit(text, owner)
    if await request.started is None:
        raise RpcError(ErrorCode.REQUEST_FAILED, "Hark could not start this turn; see its log")
    if owner is not None:
        return DEFERRED if owner.replied else _started(request)
    return _outcome(request, await request.ended)


def _outcome(request: TurnRequest, end: Event) -> Any:
    if isinstance(end, TurnFailed):
        raise RpcError(
            ErrorCode.NO_OPENAI_KEY if end.setup_needed == "openai_key" else ErrorCode.TURN_FAILED,
            end.message,
            {"turn_id": end.turn_id, "retryable": end.retryable},
        )
    if isinstance(end, TurnCancelled):
        raise RpcError(ErrorCode.TURN_CANCELLED, end.reason, {"turn_id": end.turn_id})
    assert isinstance(end, TurnCompleted)
    return {
        **_started(request),
        "text": request.answer,
        "followups": list(request.followups),
        "usage": {
            "input_tokens": end.input_tokens,
            "output_tokens": end.output_tokens,
            "cost_usd": end.cost_usd,
        },
    }


@method("interrupt", summary="Stop the answer in progress (it is stored as cancelled).")
async def _interrupt(call: Call, p: Params) -> Any:
    running = bool(call.bridge.state.active_turns)
    await call.publish(CancelTurn(reason="interrupted over the control socket"))
    return {"interrupted": running}


@method(
    "approval.resolve",
    "approval_id",
    "decision",
    summary="Answer a pending side-effecting tool call: approve, reject or always.",
)
async def _approval_resolve(call: Call, p: Params) -> Any:
    approval_id = p.text("approval_id")
    decision = p.choice("decision", DECISIONS)
    pending = call.bridge.state.pending_approvals
    if approval_id not in pending:
        raise RpcError(
            ErrorCode.APPROVAL_NOT_PENDING,
            f"no approval {approval_id!r} is waiting for an answer",
            {"pending": sorted(pending)},
        )

    def resolved(event: Event) -> bool:
        return isinstance(event, ApprovalResolved) and event.approval_id == approval_id

    with call.bridge.expecting(resolved) as reply:
        await call.publish(ResolveApproval(approval_id=approval_id, decision=decision))  # type: ignore[arg-type]
        event = await _within(reply, "approval.resolve")
    assert isinstance(event, ApprovalResolved)
    return {"approval_id": approval_id, "decision": event.decision}


async def _within(future: Awaitable[Event], what: str) -> Event:
    try:
        return await asyncio.wait_for(future, QUERY_TIMEOUT_SECONDS)
    except TimeoutError:
        raise RpcError(
            ErrorCode.TIMEOUT, f"Hark did not confirm {what} within {QUERY_TIMEOUT_SECONDS:g} s"
        ) from None


# -- voice ----------------------------------------------------------------------------------


def _voice_available(call: Call) -> None:
    voice = call.bridge.state.voice
    if voice is not None and not voice.available:
        raise RpcError(
            ErrorCode.VOICE_UNAVAILABLE,
            voice.reason or "voice is not available",
            {"reason": voice.reason},
        )


@method("listen.start", summary="Start listening on the microphone.")
async def _listen_start(call: Call, p: Params) -> Any:
    _voice_available(call)
    await call.publish(StartListening())
    return ACCEPTED


@method("listen.stop", summary="Stop listening.")
async def _listen_stop(call: Call, p: Params) -> Any:
    await call.publish(StopListening())
    return ACCEPTED


@method("listen.mute", "muted", summary="Mute (default) or unmute the microphone.")
async def _listen_mute(call: Call, p: Params) -> Any:
    muted = p.boolean("muted", default=True)
    await call.publish(SetMuted(muted=muted))
    return {"muted": muted}


@method("listen.push_to_talk", "pressed", summary="The push-to-talk key went down or up.")
async def _push_to_talk(call: Call, p: Params) -> Any:
    pressed = p.boolean("pressed")
    _voice_available(call)
    await call.publish(PushToTalk(pressed=pressed))
    return {"pressed": pressed}


@method("turn_detection.set", "mode", summary="Switch who decides the user finished speaking.")
async def _turn_detection(call: Call, p: Params) -> Any:
    mode = p.choice("mode", TURN_DETECTION_MODES)
    await call.publish(SetTurnDetection(mode=mode))
    return {"mode": mode}


@method("audio.select_device", "kind", "name", summary="Use another microphone or speaker.")
async def _select_device(call: Call, p: Params) -> Any:
    kind = p.choice("kind", ("input", "output"))
    name = p.text("name", default="")
    await call.publish(SelectAudioDevice(kind=kind, name=name))  # type: ignore[arg-type]
    return {"kind": kind, "name": name}


# -- events ---------------------------------------------------------------------------------


@method("events.types", summary="Every event type name Hark can send.")
async def _event_types(call: Call, p: Params) -> Any:
    return sorted(event_types())


@method(
    "events.subscribe",
    "types",
    summary='Receive events of these types ("*" for all, "turn.*" for a family).',
)
async def _subscribe(call: Call, p: Params) -> Any:
    patterns = check_event_patterns(p.strings("types") or [])
    call.session.subscriptions.add(patterns)
    return {"types": call.session.subscriptions.describe()}


@method("events.unsubscribe", "types", summary="Stop receiving these event types (all if none).")
async def _unsubscribe(call: Call, p: Params) -> Any:
    patterns = p.strings("types", required=False)
    call.session.subscriptions.remove(patterns)
    return {"types": call.session.subscriptions.describe()}

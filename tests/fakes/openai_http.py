"""The fake OpenAI's HTTP surface: one aiohttp handler per endpoint, OpenAI-shaped errors.

Each handler records the request, applies OpenAI's checks (API key, scripted failures, a body
with a model), asks the brain, and sends the rendered turn through the wire log, which validates
every payload before it leaves. Streaming goes through the script's pacer, so chunk delays and
held replies behave the same on every API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from tests.fakes.openai_brain import ModelRequest, Reply, chat_request, responses_request
from tests.fakes.openai_http_turns import ChatTurn, Emit, ResponsesTurn, TokenCounts, new_id
from tests.fakes.openai_realtime import RealtimeConnection
from tests.fakes.openai_records import RealtimeConnectionRecord, RecordedRequest, WireLog
from tests.fakes.openai_script import ReplyPacer, ServerScript, error_body, masked_key
from tests.fakes.openai_wire import WireKind, WireValidationError

ApiName = Literal["responses", "chat", "realtime", "models", "unknown"]
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass
class AccessPolicy:
    """OpenAI's key checks: a request needs a bearer key, and some keys are refused."""

    rejected_keys: set[str]
    require_api_key: bool = True


class OpenAIRoutes:
    """The handlers behind /v1: Responses, Chat Completions, Realtime, models, and 404s."""

    def __init__(
        self,
        *,
        script: ServerScript,
        wire: WireLog,
        access: AccessPolicy,
        models: tuple[str, ...],
        connections: set[RealtimeConnection],
    ) -> None:
        self.script = script
        self.access = access
        self.models = models
        self._wire = wire
        self._connections = connections

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/realtime", self._realtime)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def _record(self, request: web.Request, api: ApiName) -> RecordedRequest:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
        recorded = RecordedRequest(
            api=api,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            body=body,
            authorization=request.headers.get("Authorization"),
        )
        self._wire.requests.append(recorded)
        return recorded

    def _error(
        self,
        recorded: RecordedRequest,
        status: int,
        body: dict[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        self._wire.settle(recorded, status, "rejected")
        return web.json_response(body, status=status, headers=self._headers(headers))

    @staticmethod
    def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"x-request-id": new_id("req"), "openai-processing-ms": "1", **(extra or {})}

    def _gatekeep(self, recorded: RecordedRequest) -> web.Response | None:
        """OpenAI's answers before any model runs: missing or rejected key, scripted errors."""
        key = recorded.api_key
        if self.access.require_api_key and not key:
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return self._error(recorded, 401, error_body(None, message=message))
        if key is not None and key in self.access.rejected_keys:
            message = (
                f"Incorrect API key provided: {masked_key(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return self._error(recorded, 401, error_body("invalid_api_key", message=message))
        failure = self.script.failures.take()
        if failure is not None:
            return self._error(recorded, failure.status, failure.body(), failure.response_headers())
        return None

    def _decide(self, recorded: RecordedRequest, request: ModelRequest) -> Reply | web.Response:
        try:
            return self.script.ask(request)
        except Exception as exc:  # a scripted brain's bug must reach the test as a failure
            self._wire.fail("brain", f"brain raised {exc!r}", recorded.body)
            body = error_body("server_error", message=f"The scripted brain failed: {exc!r}")
            return self._error(recorded, 500, body)

    def _bad_body(self, recorded: RecordedRequest) -> web.Response | None:
        if isinstance(recorded.body, dict) and recorded.body.get("model"):
            return None
        message = "We could not parse the JSON body of your request, or it has no 'model'."
        return self._error(recorded, 400, error_body(None, message=message))

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request, "responses")
        rejection = self._gatekeep(recorded) or self._bad_body(recorded)
        if rejection is not None:
            return rejection
        model_request = responses_request(recorded.body)
        reply = self._decide(recorded, model_request)
        if isinstance(reply, web.Response):
            return reply
        turn = ResponsesTurn(
            model_request,
            reply,
            TokenCounts.of(model_request, reply),
            chunk_size=self.script.chunk_size,
        )
        if recorded.stream:
            return await self._sse(
                request, recorded, turn.stream(), WireKind.RESPONSES_EVENT, named_events=True
            )
        return self._json(recorded, WireKind.RESPONSE, turn.response("completed"))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request, "chat")
        rejection = self._gatekeep(recorded) or self._bad_body(recorded)
        if rejection is not None:
            return rejection
        model_request = chat_request(recorded.body)
        reply = self._decide(recorded, model_request)
        if isinstance(reply, web.Response):
            return reply
        turn = ChatTurn(
            model_request,
            reply,
            TokenCounts.of(model_request, reply),
            chunk_size=self.script.chunk_size,
        )
        if recorded.stream:
            options = recorded.body.get("stream_options") or {}
            chunks = turn.stream(include_usage=bool(options.get("include_usage")))
            return await self._sse(request, recorded, chunks, WireKind.CHAT_CHUNK, done=True)
        return self._json(recorded, WireKind.CHAT_COMPLETION, turn.completion())

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request, "models")
        rejection = self._gatekeep(recorded)
        if rejection is not None:
            return rejection
        data = [
            {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "openai"}
            for model in self.models
        ]
        for entry in data:
            self._wire.checked_json(WireKind.MODEL, entry)
        self._wire.settle(recorded, 200, "completed")
        return web.json_response({"object": "list", "data": data}, headers=self._headers())

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request, "unknown")
        message = f"Invalid URL ({request.method} {request.path})"
        return self._error(recorded, 404, error_body(None, message=message))

    def _json(
        self, recorded: RecordedRequest, kind: WireKind, payload: dict[str, Any]
    ) -> web.Response:
        text = self._wire.checked_json(kind, payload)
        self._wire.settle(recorded, 200, "completed")
        return web.Response(text=text, content_type="application/json", headers=self._headers())

    async def _sse(
        self,
        request: web.Request,
        recorded: RecordedRequest,
        emits: Iterator[Emit],
        kind: WireKind,
        *,
        named_events: bool = False,
        done: bool = False,
    ) -> web.StreamResponse:
        """Stream `emits` as server-sent events, paced and held as the test scripted."""
        response = web.StreamResponse(
            headers={
                **self._headers(),
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            }
        )
        await response.prepare(request)
        pacer = self.script.pacer()
        try:
            async for emit in self._paced(list(emits), pacer):
                text = self._wire.checked_json(kind, emit.payload)
                prefix = f"event: {emit.payload['type']}\n" if named_events else ""
                await response.write(f"{prefix}data: {text}\n\n".encode())
            if done:
                await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except asyncio.CancelledError:
            self._wire.settle(recorded, 200, "client_disconnected")
            raise
        except ConnectionResetError:
            self._wire.settle(recorded, 200, "client_disconnected")
            return response
        except WireValidationError:
            self._wire.settle(recorded, 200, "failed")
            raise
        self._wire.settle(recorded, 200, "completed")
        return response

    @staticmethod
    async def _paced(emits: list[Emit], pacer: ReplyPacer) -> AsyncIterator[Emit]:
        for position, emit in enumerate(emits):
            await pacer.before(emit, is_last=position == len(emits) - 1)
            yield emit
            pacer.after(emit)

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request, "realtime")
        rejection = self._gatekeep(recorded)
        if rejection is not None:
            return rejection
        model = request.query.get("model")
        if not model and not request.query.get("call_id"):
            message = "Missing required parameter: 'model'."
            return self._error(
                recorded, 400, error_body("missing_required_parameter", message=message)
            )
        transport = request.transport
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        record = RealtimeConnectionRecord(
            model=model or "", query=dict(request.query), authorization=recorded.authorization
        )
        self._wire.realtime_connections.append(record)
        connection = RealtimeConnection(ws, transport, record, script=self.script, wire=self._wire)
        self._connections.add(connection)
        try:
            await connection.run()
            self._wire.settle(recorded, 101, "completed")
        except WireValidationError:
            self._wire.settle(recorded, 101, "failed")
            await ws.close(code=1011, message=b"fake server sent an invalid event")
        except ConnectionResetError:
            self._wire.settle(recorded, 101, "client_disconnected")
        finally:
            self._connections.discard(connection)
            if record.close_code is None:
                record.close_code = ws.close_code
            record.closed.set()
        return ws

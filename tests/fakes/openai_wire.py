"""Wire validation against the installed `openai` SDK's own pydantic types.

The scripted server is only worth trusting if what it sends is what OpenAI sends. So every
payload goes through a `WireValidator` before it leaves the server: it is serialised to JSON
and validated in pydantic strict mode against the SDK type for its kind (the same check the
conformance corpus in ../shared/conformance/ was scored with). Unions are resolved by their
`type` discriminator, as openai-agents does, so an error names the one event model that failed
instead of listing all fifty members of the union.

The SDK models accept unknown fields silently (`extra="allow"`), which would hide a misspelt
optional field. The validator therefore also reports the field paths the SDK does not know;
the server treats them as violations unless the real API is known to send them.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

import pydantic
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.realtime import (
    RealtimeClientEvent,
    RealtimeServerEvent,
    ResponseItemReference,
)
from openai.types.responses import Response, ResponseStreamEvent


class WireKind(enum.StrEnum):
    """What a payload is on the wire: decides which SDK type it must validate against."""

    RESPONSES_EVENT = "responses_event"
    RESPONSE = "response"
    CHAT_CHUNK = "chat_chunk"
    CHAT_COMPLETION = "chat_completion"
    REALTIME_SERVER_EVENT = "realtime_server_event"
    REALTIME_CLIENT_EVENT = "realtime_client_event"
    MODEL = "model"


class WireValidationError(ValueError):
    """A payload does not have the shape the `openai` SDK expects for its kind."""

    def __init__(self, kind: WireKind, payload: Mapping[str, Any], detail: str) -> None:
        self.kind = kind
        self.payload = dict(payload)
        self.detail = detail
        event_type = payload.get("type", payload.get("object", "?"))
        super().__init__(f"{kind.value} {event_type!r} is not valid for the openai SDK: {detail}")


@dataclass(frozen=True)
class ValidatedPayload:
    """The SDK model a payload parsed into, and the field paths the SDK does not know."""

    model: pydantic.BaseModel
    extra_fields: tuple[str, ...]

    @property
    def model_name(self) -> str:
        return type(self.model).__name__


# Fields the real API sends that the SDK's models do not declare, seen in OpenAI's own examples
# (../shared/conformance/). Only these may appear as extras in what the server emits.
KNOWN_WIRE_EXTRAS: Mapping[WireKind, frozenset[str]] = {
    WireKind.REALTIME_SERVER_EVENT: frozenset(
        {"session.id", "session.object", "session.expires_at"}
    ),
}


def _discriminated(union: Any) -> Any:
    """The SDK union, discriminated on `type` for pydantic (the SDK's own marker is not)."""
    members = _union_members(union)
    return Annotated[Union[tuple(members)], pydantic.Field(discriminator="type")]  # noqa: UP007


def _union_members(union: Any) -> list[type[pydantic.BaseModel]]:
    if get_origin(union) is Annotated:
        union = get_args(union)[0]
    return list(get_args(union))


def _event_types(union: Any) -> frozenset[str]:
    names: set[str] = set()
    for member in _union_members(union):
        names.update(get_args(member.model_fields["type"].annotation))
    return frozenset(names)


class WireValidator:
    """Validates wire payloads (dicts) against the installed SDK's types, one adapter per kind.

    Build it once: the adapters are costly to create and cheap to use.
    """

    def __init__(self) -> None:
        self._adapters: dict[WireKind, pydantic.TypeAdapter[Any]] = {
            WireKind.RESPONSES_EVENT: pydantic.TypeAdapter(_discriminated(ResponseStreamEvent)),
            WireKind.RESPONSE: pydantic.TypeAdapter(Response),
            WireKind.CHAT_CHUNK: pydantic.TypeAdapter(ChatCompletionChunk),
            WireKind.CHAT_COMPLETION: pydantic.TypeAdapter(ChatCompletion),
            WireKind.REALTIME_SERVER_EVENT: pydantic.TypeAdapter(
                _discriminated(RealtimeServerEvent)
            ),
            WireKind.REALTIME_CLIENT_EVENT: pydantic.TypeAdapter(
                _discriminated(RealtimeClientEvent)
            ),
            WireKind.MODEL: pydantic.TypeAdapter(Model),
        }
        self.realtime_client_event_types = _event_types(RealtimeClientEvent)
        self._item_reference = pydantic.TypeAdapter(ResponseItemReference)

    def validate(self, kind: WireKind, payload: Mapping[str, Any]) -> ValidatedPayload:
        """Parse `payload` as its JSON text would be parsed; raise `WireValidationError` if not."""
        try:
            text = json.dumps(payload)
        except (TypeError, ValueError) as exc:
            raise WireValidationError(kind, payload, f"not JSON-serialisable: {exc}") from exc
        try:
            model = self._adapters[kind].validate_json(text, strict=True)
        except pydantic.ValidationError as exc:
            raise WireValidationError(kind, payload, _summarise(exc)) from exc
        return ValidatedPayload(model=model, extra_fields=tuple(sorted(_extra_paths(model, ""))))

    def validate_client_event(self, event: Mapping[str, Any]) -> ValidatedPayload:
        """A Realtime client event, allowing the item references the SDK itself can send.

        `response.create` may list `item_reference`s in `response.input` (the SDK's
        `ResponseCreateEventWithReferencesParam`), which the `RealtimeClientEvent` models lack:
        those entries are checked against `ResponseItemReference` and the rest as usual.
        """
        response = event.get("response")
        if not isinstance(response, Mapping) or not isinstance(response.get("input"), list):
            return self.validate(WireKind.REALTIME_CLIENT_EVENT, event)
        inputs = response["input"]
        references = [item for item in inputs if _is_reference(item)]
        for reference in references:
            try:
                self._item_reference.validate_python(reference, strict=True)
            except pydantic.ValidationError as exc:
                raise WireValidationError(
                    WireKind.REALTIME_CLIENT_EVENT, event, _summarise(exc)
                ) from exc
        rest = [item for item in inputs if not _is_reference(item)]
        return self.validate(
            WireKind.REALTIME_CLIENT_EVENT, {**event, "response": {**response, "input": rest}}
        )

    def check_emitted(self, kind: WireKind, payload: Mapping[str, Any]) -> ValidatedPayload:
        """The server's stricter check: valid, and no field the SDK and the real API lack."""
        result = self.validate(kind, payload)
        unexpected = set(result.extra_fields) - KNOWN_WIRE_EXTRAS.get(kind, frozenset())
        if unexpected:
            detail = f"fields unknown to the SDK: {sorted(unexpected)}"
            raise WireValidationError(kind, payload, detail)
        return result


def _is_reference(item: object) -> bool:
    return isinstance(item, Mapping) and item.get("type") == "item_reference"


def _summarise(exc: pydantic.ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(piece) for piece in error["loc"])
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def _extra_paths(value: object, prefix: str) -> Iterable[str]:
    """Dotted paths of fields a model accepted without declaring them (list indices dropped)."""
    if isinstance(value, pydantic.BaseModel):
        for name in value.model_extra or {}:
            yield f"{prefix}{name}"
        for name in type(value).model_fields:
            yield from _extra_paths(getattr(value, name), f"{prefix}{name}.")
    elif isinstance(value, list | tuple):
        for element in value:
            yield from _extra_paths(element, prefix)
    elif isinstance(value, dict):
        for element in value.values():
            yield from _extra_paths(element, prefix)


_shared_validator: WireValidator | None = None


def wire_validator() -> WireValidator:
    """One process-wide validator: servers and tests share it so they check with the same rules."""
    global _shared_validator
    if _shared_validator is None:
        _shared_validator = WireValidator()
    return _shared_validator

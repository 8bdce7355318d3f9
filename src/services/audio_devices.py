"""Sound devices: list them, pick one by name, and say plainly when there are none.

``sounddevice`` (PortAudio) is imported lazily: the text-only mode must start on a machine
without ``libportaudio2``, and importing it costs time on the path to the first screen. Its
import raises ``OSError`` when the PortAudio library is missing; that and "no device at all"
become :class:`AudioUnavailable` here, with a message written for the user.

PortAudio enumerates devices once, when it initialises. A sound server started later, or a
headset plugged in, stays invisible until it is re-initialised: :func:`refresh` does that.
Re-initialising closes every open PortAudio stream under its owner's feet, so Hark's streams
register themselves (:func:`stream_opened` / :func:`stream_closed`) and :func:`refresh` refuses
while any is open. All PortAudio calls that open, close or re-enumerate go through
:data:`PORTAUDIO_LOCK`, because PortAudio itself is not safe against concurrent setup calls.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

log = logging.getLogger(__name__)

__all__ = [
    "NO_DEVICE_MESSAGE",
    "NO_PORTAUDIO_MESSAGE",
    "PORTAUDIO_LOCK",
    "AmbiguousDevice",
    "AudioDevice",
    "AudioError",
    "AudioStreamError",
    "AudioUnavailable",
    "DeviceKind",
    "DeviceNotFound",
    "choose_device",
    "list_devices",
    "load_sounddevice",
    "open_stream_count",
    "refresh",
    "stream_closed",
    "stream_opened",
]

DeviceKind = Literal["input", "output"]

NO_DEVICE_MESSAGE = (
    "No microphone or speaker found. Voice needs a sound device; use --text-only to type instead."
)
NO_PORTAUDIO_MESSAGE = (
    "Voice needs the PortAudio library, which is not installed "
    "(on Debian or Ubuntu: apt install libportaudio2). Use --text-only to type instead."
)

PORTAUDIO_LOCK = threading.RLock()
"""Serialises PortAudio setup calls (open, close, re-initialise) across threads."""

_open_streams = 0


class AudioError(Exception):
    """Base of every audio error; ``str()`` is a sentence a user can act on."""


class AudioUnavailable(AudioError):
    """Voice cannot run here at all: no PortAudio, or no sound device of the needed kind."""


class DeviceNotFound(AudioError):
    """No device's name contains what the user asked for."""

    def __init__(self, message: str, *, query: str, available: Sequence[str]) -> None:
        super().__init__(message)
        self.query = query
        self.available = tuple(available)


class AmbiguousDevice(AudioError):
    """Several devices match the name the user gave; ``candidates`` lists them."""

    def __init__(self, message: str, *, query: str, candidates: Sequence[str]) -> None:
        super().__init__(message)
        self.query = query
        self.candidates = tuple(candidates)


class AudioStreamError(AudioError):
    """A stream could not be opened or started on a device that does exist.

    ``retryable`` is true for failures that may clear by themselves (a device that is busy or
    a sound server that is restarting).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class AudioDevice:
    """One direction of one PortAudio device (a duplex device is listed once per kind)."""

    index: int
    name: str
    kind: DeviceKind
    channels: int
    default_rate: float
    is_default: bool
    host_api: str = ""

    def describe(self) -> str:
        """A one-line label for lists and messages."""
        api = f", {self.host_api}" if self.host_api else ""
        return f"{self.name} ({self.channels} ch, {self.default_rate:g} Hz{api})"


def load_sounddevice() -> ModuleType:
    """Import ``sounddevice`` on first use; :class:`AudioUnavailable` if PortAudio is absent."""
    try:
        return importlib.import_module("sounddevice")
    except OSError as exc:
        raise AudioUnavailable(NO_PORTAUDIO_MESSAGE) from exc


def stream_opened() -> None:
    """Record that a Hark stream is open (so :func:`refresh` will not pull it away)."""
    global _open_streams
    with PORTAUDIO_LOCK:
        _open_streams += 1


def stream_closed() -> None:
    """Record that a Hark stream registered with :func:`stream_opened` is closed."""
    global _open_streams
    with PORTAUDIO_LOCK:
        _open_streams = max(0, _open_streams - 1)


def open_stream_count() -> int:
    """How many Hark streams are open right now."""
    with PORTAUDIO_LOCK:
        return _open_streams


def refresh() -> bool:
    """Re-initialise PortAudio so it sees devices (or a sound server) that appeared since.

    Returns False, and changes nothing, while a Hark stream is open: PortAudio's terminate
    would close it behind its owner's back.
    """
    sd = load_sounddevice()
    with PORTAUDIO_LOCK:
        if _open_streams:
            log.debug("not re-initialising PortAudio: %d stream(s) open", _open_streams)
            return False
        sd._terminate()
        sd._initialize()
    return True


def list_devices(kind: DeviceKind | None = None) -> list[AudioDevice]:
    """Every input and output PortAudio knows, defaults marked; empty when there are none."""
    sd = load_sounddevice()
    with PORTAUDIO_LOCK:
        raw: Sequence[dict[str, Any]] = list(sd.query_devices())
        apis = [str(api["name"]) for api in sd.query_hostapis()]
        default_in, default_out = _default_indexes(sd)
    devices: list[AudioDevice] = []
    for index, info in enumerate(raw):
        host = int(info["hostapi"])
        api = apis[host] if host < len(apis) else ""
        directions: tuple[tuple[DeviceKind, str, int], ...] = (
            ("input", "max_input_channels", default_in),
            ("output", "max_output_channels", default_out),
        )
        for direction, key, default in directions:
            channels = int(info[key])
            if channels > 0 and kind in (None, direction):
                devices.append(
                    AudioDevice(
                        index=index,
                        name=str(info["name"]),
                        kind=direction,
                        channels=channels,
                        default_rate=float(info["default_samplerate"]),
                        is_default=index == default,
                        host_api=api,
                    )
                )
    return devices


def _default_indexes(sd: ModuleType) -> tuple[int, int]:
    """The default input and output indexes; -1 when there is none.

    ``sd.default.device`` falls back to PortAudio's own defaults unless Hark set it.
    """
    pair = sd.default.device
    return int(pair[0]), int(pair[1])


def choose_device(
    kind: DeviceKind,
    query: str | int | None = None,
    devices: Sequence[AudioDevice] | None = None,
) -> AudioDevice:
    """Pick the device of ``kind`` that ``query`` names.

    ``None`` or "" means the system default (or the first device if none is marked default);
    an int is a PortAudio index; a string matches case-insensitively, an exact name winning
    over names that merely contain it. Raises :class:`AudioUnavailable` when there is no
    device of this kind at all, :class:`DeviceNotFound` or :class:`AmbiguousDevice` otherwise.
    """
    pool = [d for d in (list_devices(kind) if devices is None else devices) if d.kind == kind]
    if not pool:
        raise AudioUnavailable(NO_DEVICE_MESSAGE)
    if query is None or query == "":
        return next((d for d in pool if d.is_default), pool[0])
    if isinstance(query, int):
        for device in pool:
            if device.index == query:
                return device
        raise _not_found(kind, str(query), pool)
    wanted = query.strip().casefold()
    exact = [d for d in pool if d.name.casefold() == wanted]
    matches = exact or [d for d in pool if wanted in d.name.casefold()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise _not_found(kind, query, pool)
    names = [f"{d.index}: {d.name}" for d in matches]
    listing = "; ".join(names)
    raise AmbiguousDevice(
        f"More than one {kind} device matches {query!r}: {listing}. "
        "Give more of the name, or the number.",
        query=query,
        candidates=names,
    )


def _not_found(kind: DeviceKind, query: str, pool: Sequence[AudioDevice]) -> DeviceNotFound:
    names = [f"{d.index}: {d.name}" for d in pool]
    return DeviceNotFound(
        f"No {kind} device matches {query!r}. Available: {'; '.join(names)}. "
        "Run 'hark devices' to see them all.",
        query=query,
        available=names,
    )

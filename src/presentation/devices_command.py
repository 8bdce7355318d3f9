"""``hark devices``: show the microphones and speakers Hark can use, defaults marked.

The names shown are what ``--input-device`` / ``--output-device`` (any unique part of a name,
or the number) match against. When voice cannot work at all the command says why in one plain
sentence and exits with status 3, so scripts can tell "no sound device" from other errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TextIO

from src.services.audio_devices import (
    NO_DEVICE_MESSAGE,
    AudioDevice,
    AudioUnavailable,
    list_devices,
)

EXIT_OK = 0
EXIT_NO_AUDIO = 3


def print_devices(devices: Sequence[AudioDevice], out: TextIO) -> int:
    """Write the device table to ``out``; returns the exit status (3 when there are none)."""
    if not devices:
        out.write(NO_DEVICE_MESSAGE + "\n")
        return EXIT_NO_AUDIO
    for title, kind in (("Microphones (input)", "input"), ("Speakers (output)", "output")):
        section = [d for d in devices if d.kind == kind]
        out.write(f"{title}:\n")
        if not section:
            out.write("  (none)\n")
        for device in section:
            mark = "*" if device.is_default else " "
            out.write(f" {mark}{device.index:>3}  {device.describe()}\n")
    out.write(
        "\n* = system default. Choose another by any unique part of its name, or its number.\n"
    )
    return EXIT_OK


def devices_command(out: TextIO, lister: Callable[[], Sequence[AudioDevice]] = list_devices) -> int:
    """Entry point for ``python main.py devices``: list, or explain why voice is unavailable."""
    try:
        devices = lister()
    except AudioUnavailable as exc:
        out.write(f"{exc}\n")
        return EXIT_NO_AUDIO
    return print_devices(devices, out)

"""Handing work from a sound card's thread to the event loop.

PortAudio calls Hark on its own threads; anything that touches asyncio objects (queues,
tasks, the bus) must run on the loop instead. ``call_soon_threadsafe`` does that, but it
raises once the loop is closed, and a sound card can outlive the loop by a callback or two at
shutdown. A notice that arrives then has nobody left to read it, so it is dropped (and
logged at debug level) rather than raised into the audio thread, where an exception would
abort the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def hand_to_loop(
    loop: asyncio.AbstractEventLoop | None, callback: Callable[..., object], *args: Any
) -> bool:
    """Schedule ``callback(*args)`` on ``loop`` from any thread; False if the loop is gone."""
    if loop is None or loop.is_closed():
        return False
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        log.debug("event loop closed; %r dropped", callback)
        return False
    return True

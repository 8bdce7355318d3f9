"""A one-shot loopback redirect listener for native-app OAuth (RFC 8252 section 7.3).

The listener binds ``127.0.0.1`` on a port the OS chooses (RFC 8252 section 8.3: the literal
address, not ``localhost``, so no resolver or firewall name rule can redirect it) and accepts
exactly one ``GET /callback``. Its query parameters go to the waiting flow; the browser tab
is answered only once the flow says how it ended, so the page tells the user the truth
("connected" or why not). Anything else (``/favicon.ico``, a second hit) gets a 404/410.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from src.services.oauth_errors import AuthorizationTimeout

log = logging.getLogger(__name__)

LOOPBACK_HOST = "127.0.0.1"
CALLBACK_PATH = "/callback"
MAX_REQUEST_BYTES = 16 * 1024
REQUEST_READ_TIMEOUT = 10.0
"""A connection that does not send its request line and headers in this time is dropped."""
VERDICT_TIMEOUT = 120.0
"""How long the browser tab waits for the flow's verdict before a generic page is shown."""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hark</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 4em auto">
<h1>{heading}</h1><p>{text}</p></body></html>
"""


class LoopbackRedirect:
    """An async context manager: ``redirect_uri`` while open, ``wait()`` for the redirect.

    Use::

        async with LoopbackRedirect() as listener:
            ...send the user to a URL with listener.redirect_uri...
            params = await listener.wait(timeout=300)
            listener.finish(True, "Hark is connected. You can close this tab.")
    """

    def __init__(self, *, host: str = LOOPBACK_HOST, path: str = CALLBACK_PATH) -> None:
        self._host = host
        self._path = path
        self._server: asyncio.Server | None = None
        self._port = 0
        self._params: asyncio.Future[dict[str, str]] | None = None
        self._verdict: asyncio.Future[tuple[bool, str]] | None = None

    @property
    def redirect_uri(self) -> str:
        if self._server is None:
            raise RuntimeError("the loopback listener is not open")
        return f"http://{self._host}:{self._port}{self._path}"

    async def __aenter__(self) -> LoopbackRedirect:
        loop = asyncio.get_running_loop()
        self._params = loop.create_future()
        self._verdict = loop.create_future()
        self._server = await asyncio.start_server(self._handle, self._host, 0)
        self._port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._verdict is not None and not self._verdict.done():
            self._verdict.set_result((False, "Hark stopped waiting for this sign-in."))
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def wait(self, timeout: float) -> dict[str, str]:
        """The redirect's query parameters; ``AuthorizationTimeout`` if none came in time."""
        if self._params is None:
            raise RuntimeError("the loopback listener is not open")
        try:
            return await asyncio.wait_for(asyncio.shield(self._params), timeout)
        except TimeoutError:
            minutes = max(1, round(timeout / 60))
            raise AuthorizationTimeout(
                f"No answer came back from the browser within {minutes} minute"
                f"{'s' if minutes != 1 else ''}; nothing was connected. Try again."
            ) from None

    def finish(self, ok: bool, message: str) -> None:
        """Tell the waiting browser tab how the sign-in ended."""
        if self._verdict is not None and not self._verdict.done():
            self._verdict.set_result((ok, message))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(REQUEST_READ_TIMEOUT):
                    head = await reader.readuntil(b"\r\n\r\n")
            except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            if len(head) > MAX_REQUEST_BYTES:
                await _respond(writer, 431, "Request too large", "The request was too large.")
                return
            await self._answer(head, writer)
        except OSError as exc:
            log.debug("loopback connection failed: %s", type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or parts[0] != "GET":
            await _respond(writer, 405, "Not allowed", "Only the sign-in redirect is served here.")
            return
        target = urlsplit(parts[1])
        if target.path != self._path:
            await _respond(writer, 404, "Not found", "Nothing here.")
            return
        assert self._params is not None and self._verdict is not None
        if self._params.done():
            await _respond(writer, 410, "Already used", "This sign-in answer was already received.")
            return
        params = dict(parse_qsl(target.query, keep_blank_values=True))
        self._params.set_result(params)
        try:
            ok, message = await asyncio.wait_for(asyncio.shield(self._verdict), VERDICT_TIMEOUT)
        except TimeoutError:
            ok, message = False, "Hark received the answer; the terminal says how it went."
        heading = "Connected" if ok else "Not connected"
        await _respond(writer, 200, heading, message)


async def _respond(writer: asyncio.StreamWriter, status: int, heading: str, text: str) -> None:
    reasons = {
        200: "OK",
        404: "Not Found",
        405: "Method Not Allowed",
        410: "Gone",
        431: "Request Header Fields Too Large",
    }
    body = _PAGE.format(heading=html.escape(heading), text=html.escape(text)).encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Referrer-Policy: no-referrer\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")
    writer.write(head + body)
    await writer.drain()

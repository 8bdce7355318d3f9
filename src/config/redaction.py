"""Keep secrets out of logs and error text.

A :class:`Redactor` replaces two kinds of text with ``[REDACTED]``:

* values it has been told about at run time (``redactor.add(api_key)``), wherever they occur;
* things that look like credentials even when nobody registered them: OpenAI-style keys,
  ``Bearer`` tokens, ``Authorization``-style headers, credential query/form parameters and
  JSON (or Python ``repr``) fields named like a key, token, secret or password.

:class:`RedactionFilter` applies a redactor to whole log records (message, arguments, exception
text and stack), so it can sit on every handler. ``REDACTOR`` is the process-wide instance that
the secrets store and the logging setup share.

This module uses only the standard library: it sits at the bottom of the layering.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "REDACTOR", "RedactionFilter", "Redactor"]

REDACTED = "[REDACTED]"

MIN_SECRET_LENGTH = 6
"""Registered values shorter than this are ignored: redacting them would shred ordinary text."""

# Characters that make up a bearer token or an API key (RFC 6750 b64token plus a little slack).
_TOKEN_CHARS = r"[A-Za-z0-9._~+/=-]"

# OpenAI-style keys: sk-..., sk-proj-..., sk-svcacct-... (the class includes '-').
_OPENAI_KEY = re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{16,}")

# "Bearer <token>" anywhere (headers, reprs, free text). The scheme word is kept; a token is
# at least 8 characters, so prose such as "missing bearer token" is left alone.
_BEARER = re.compile(rf"(?i)(?<![A-Za-z0-9_-])(bearer)(\s+){_TOKEN_CHARS}{{8,}}")

# Header-like credentials: "Authorization: Basic abc", "'x-api-key': 'abc'",
# "(b'Authorization', b'Bearer abc')" as httpcore logs it. An auth scheme word is kept.
_CREDENTIAL_HEADER = re.compile(
    r"(?i)(?<![A-Za-z0-9_-])"
    r"((?:proxy-)?authorization|x-api-key|api-key|openai-api-key)"
    r"((?>[\"']?\s*[:=,]\s*(?:b?[\"'])?))"
    r"(?>(?:(basic|bearer|token|digest|negotiate|apikey)(\s+))?)"
    r"(?!\[REDACTED\])([^\s\"',;)}\]]+)"
)

# Cookies carry sessions: everything after the header name, up to the end of the line or quote.
_COOKIE_HEADER = re.compile(
    r"(?i)(?<![A-Za-z0-9_-])((?:set-)?cookie(?>[\"']?\s*[:=,]\s*(?:b?[\"'])?))"
    r"(?!\[REDACTED\])[^\r\n\"']+"
)

# Query-string / form / keyword parameters: "?api_key=abc&x=1", "token=abc", "api_key='abc'".
_PARAM_NAMES = (
    r"api[_-]?key|key|token|access[_-]?token|refresh[_-]?token|id[_-]?token|"
    r"client[_-]?secret|secret|password|passwd"
)
_CREDENTIAL_PARAM = re.compile(
    rf"(?i)(?<![A-Za-z0-9_-])({_PARAM_NAMES})(\s*=\s*)([\"']?)(?!\[REDACTED\])[^\s&\"'#,;)]+"
)

# JSON (double quotes) and Python repr (single quotes) string fields whose key names a secret:
# "api_key": "abc", 'refresh_token': 'abc', "client_secret":"abc", "password": "abc".
_SECRET_KEY_NAME = (
    r"[A-Za-z0-9_.-]*(?:api[_-]?key|apikey|token|secret|password|passwd|"
    r"credential)[A-Za-z0-9_.-]*"
)
_SECRET_FIELD = re.compile(rf"(?i)([\"'])({_SECRET_KEY_NAME})\1(\s*:\s*)([\"'])(?:\\.|(?!\4).)*\4")


def _secret_field_replacement(match: re.Match[str]) -> str:
    key_quote, key, separator, value_quote = match.group(1, 2, 3, 4)
    return f"{key_quote}{key}{key_quote}{separator}{value_quote}{REDACTED}{value_quote}"


def _header_replacement(match: re.Match[str]) -> str:
    scheme = match.group(3)
    spacing = match.group(4) or ""
    prefix = f"{match.group(1)}{match.group(2)}"
    if scheme:
        return f"{prefix}{scheme}{spacing}{REDACTED}"
    return f"{prefix}{REDACTED}"


class Redactor:
    """Replaces known secret values and credential-shaped text with ``[REDACTED]``.

    Thread-safe: values may be added from any thread while others redact.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._known: re.Pattern[str] | None = None
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        """Register a secret value so it is redacted wherever it appears.

        Values shorter than :data:`MIN_SECRET_LENGTH` characters are ignored. The URL-encoded
        form of the value is registered as well, since secrets often travel in URLs.
        """
        if not isinstance(value, str):
            raise TypeError("Redactor.add expects a str")
        candidates = {value, value.strip(), quote(value, safe="")}
        fresh = {c for c in candidates if len(c) >= MIN_SECRET_LENGTH} - self._values
        if not fresh:
            return
        with self._lock:
            self._values |= fresh
            # Longest first, so a value that contains another is replaced whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._known = re.compile("|".join(re.escape(v) for v in ordered))

    def __len__(self) -> int:
        return len(self._values)

    def redact(self, text: str) -> str:
        """Return ``text`` with every known value and credential-shaped span redacted."""
        if not text:
            return text
        known = self._known
        if known is not None:
            text = known.sub(REDACTED, text)
        text = _OPENAI_KEY.sub(REDACTED, text)
        text = _SECRET_FIELD.sub(_secret_field_replacement, text)
        text = _CREDENTIAL_HEADER.sub(_header_replacement, text)
        text = _COOKIE_HEADER.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        text = _CREDENTIAL_PARAM.sub(
            lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{REDACTED}", text
        )
        return text


REDACTOR = Redactor()
"""The process-wide redactor: the secrets store registers every value it hands out here."""

# Used only to render tracebacks; the handler's own formatter then appends the (redacted) text.
_TRACEBACK_FORMATTER = logging.Formatter()


class RedactionFilter(logging.Filter):
    """A handler-level filter that redacts a record in place and lets it through.

    The message is formatted (``msg % args``) here, redacted and stored back with
    ``args = None``; exception information is rendered into ``exc_text`` and redacted, and
    ``exc_info`` cleared so no handler renders the raw traceback again; ``stack_info`` is
    redacted too. Running it twice on one record (one per handler) is harmless.
    """

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor.redact
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            # Mismatched format and arguments: keep both, as text, for the reader to see.
            message = f"{record.msg!s} [unformattable log arguments: {record.args!r}]"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = _TRACEBACK_FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True

"""What a spoken answer to "Shall I go ahead?" means: yes, no, always, or not clear.

A side-effecting tool in a voice session runs only after the user says so aloud. Speech
recognition gives a free sentence ("yeah go ahead", "no, wait", "don't ask me again"), so the
answer is read from its words, cautiously: anything mixed ("yes... no, wait") or unrelated
counts as unclear and is asked again, never as consent. Pure code, no I/O.
"""

from __future__ import annotations

import re
from typing import Literal

Consent = Literal["approve", "reject", "always"]

_ALWAYS = (
    "always",
    "every time",
    "dont ask again",
    "dont ask me again",
    "stop asking",
    "no need to ask",
)
_NO = (
    "no",
    "nope",
    "nah",
    "dont",
    "do not",
    "not",
    "cancel",
    "stop",
    "negative",
    "wait",
    "hold on",
    "never",
    "abort",
)
_YES = (
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "alright",
    "all right",
    "go ahead",
    "go for it",
    "do it",
    "send it",
    "please do",
    "confirm",
    "confirmed",
    "correct",
    "affirmative",
    "absolutely",
    "of course",
    "fine",
    "approve",
    "approved",
)


_UNSURE = ("not sure", "dont know", "maybe", "perhaps", "i guess", "let me think")
_NEGATORS = ("dont", "do not", "not", "never")


def _words(text: str) -> str:
    """Lower case, apostrophes dropped ("don't" -> "dont"), everything else a single space."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    return " " + " ".join(re.findall(r"[a-z]+", text)) + " "


def _says(words: str, phrases: tuple[str, ...]) -> bool:
    return any(f" {phrase} " in words for phrase in phrases)


def read_consent(transcript: str) -> Consent | None:
    """The decision a transcript states, or None when it states none or contradicts itself."""
    words = _words(transcript)
    if _says(words, _UNSURE):
        return None
    # A negated yes ("do not send it", "don't do it") is a no.
    for negator in _NEGATORS:
        for phrase in _YES:
            words = words.replace(f" {negator} {phrase} ", " no ")
    if _says(words, _ALWAYS):
        # "always" with a refusal ("no, not always") is not a standing permission.
        stripped = words
        for phrase in _ALWAYS:
            stripped = stripped.replace(f" {phrase} ", " ")
        return None if _says(stripped, _NO) else "always"
    yes, no = _says(words, _YES), _says(words, _NO)
    if yes and no:
        return None
    if yes:
        return "approve"
    if no:
        return "reject"
    return None

"""Spoken answers to an approval question: only a clear yes is consent."""

from __future__ import annotations

import pytest

from src.domain.spoken_consent import read_consent


@pytest.mark.parametrize(
    "said",
    [
        "Yes.",
        "yeah go ahead",
        "Yep!",
        "Sure, send it.",
        "OK",
        "okay do it",
        "Go for it.",
        "Please do.",
        "Confirm",
        "That's correct.",
        "Absolutely",
        "All right",
    ],
)
def test_clear_yes_approves(said: str) -> None:
    assert read_consent(said) == "approve"


@pytest.mark.parametrize(
    "said",
    [
        "No.",
        "nope",
        "Nah.",
        "Don't.",
        "Do not send it",
        "Cancel that",
        "Stop!",
        "Wait.",
        "Hold on",
        "never mind",
        "Abort",
    ],
)
def test_clear_no_rejects(said: str) -> None:
    assert read_consent(said) == "reject"


@pytest.mark.parametrize(
    "said",
    [
        "Always.",
        "Yes, always",
        "yes and don't ask me again",
        "Every time, yes.",
        "you can stop asking",
    ],
)
def test_always_allows_from_now_on(said: str) -> None:
    assert read_consent(said) == "always"


@pytest.mark.parametrize(
    "said",
    [
        "",
        "   ",
        "What's the weather in Paris?",
        "Yes... no, wait.",
        "I'm not sure",
        "No, not always",
        "hmm",
        "yesterday was nice",  # "yes" inside another word is not a yes
        "Maybe, I guess",
    ],
)
def test_unclear_or_mixed_answers_are_asked_again(said: str) -> None:
    assert read_consent(said) is None


def test_words_inside_other_words_do_not_count() -> None:
    assert read_consent("Notably, okay") == "approve"
    assert read_consent("Nobody knows") is None
    assert read_consent("I'm never sure... fine") is None


def test_curly_apostrophes_from_transcription_are_read_too() -> None:
    assert read_consent("Don\u2019t do that") == "reject"
    assert read_consent("Don\u2019t ask me again, go ahead") == "always"

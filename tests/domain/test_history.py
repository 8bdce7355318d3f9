"""Titles, usage arithmetic, costs and the context replayed when a conversation resumes."""

from __future__ import annotations

import pytest

from src.domain.history import Conversation, Turn, Usage, make_title, new_id
from src.domain.pricing import cost_usd, price_for


@pytest.mark.parametrize(
    ("request_text", "title"),
    [
        ("what's the weather in Paris?", "What's the weather in Paris"),
        ("Hey, can you tell me the time in Tokyo", "Tell me the time in Tokyo"),
        ("hello hark please   read   this page", "Read this page"),
        ("   ", "New conversation"),
        ("?!", "New conversation"),
    ],
)
def test_titles_from_the_first_request(request_text: str, title: str) -> None:
    assert make_title(request_text) == title


def test_long_titles_are_cut_at_a_word() -> None:
    title = make_title("summarise " + "the very long article about sustainable farming " * 3)
    assert len(title) <= 60 and title.endswith("…")
    assert not title[:-1].endswith(" ")


def test_ids_are_unique_and_prefixed() -> None:
    ids = {new_id("conv") for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("conv_") for i in ids)


def test_context_replays_answered_turns_and_marks_interruptions() -> None:
    conv = Conversation(id="c", title="t")
    conv.turns = [
        Turn(
            id="1", conversation_id="c", user_text="hi", assistant_text="Hello!", status="completed"
        ),
        Turn(
            id="2",
            conversation_id="c",
            user_text="tell me a story",
            assistant_text="Once upon",
            status="cancelled",
        ),
        Turn(id="3", conversation_id="c", user_text="weather?", status="failed"),
        Turn(id="4", conversation_id="c", user_text="in flight", status="in_progress"),
    ]
    assert conv.context_messages() == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "tell me a story"},
        {"role": "assistant", "content": "Once upon [interrupted by the user]"},
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "[no answer: the request failed]"},
    ]
    assert len(conv.context_messages(max_turns=1)) == 0  # only the in-progress turn is left


def test_usage_adds_up_per_conversation() -> None:
    conv = Conversation(id="c", title="t")
    conv.turns = [
        Turn(id="1", conversation_id="c", user_text="a", usage=Usage(100, 20, 0.001)),
        Turn(id="2", conversation_id="c", user_text="b", usage=Usage(50, 10, 0.0005)),
    ]
    assert conv.usage == Usage(150, 30, 0.0015)


def test_costs_use_the_longest_matching_model_prefix() -> None:
    mini = price_for("gpt-4.1-mini-2025-04-14")
    assert mini is not None and mini.input_per_million == 0.40
    assert cost_usd("gpt-4.1-mini", 1_000_000, 1_000_000) == pytest.approx(2.00)
    assert cost_usd("gpt-4.1", 1000, 500) == pytest.approx(0.006)
    assert cost_usd("llama3.2:3b", 10_000, 10_000) == 0.0

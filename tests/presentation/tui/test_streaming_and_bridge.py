"""The Markdown throttle and the bus bridge, on their own."""

from __future__ import annotations

from textual.app import App, ComposeResult

from src.events.bus import EventBus
from src.events.conversation import AssistantTextDelta, TurnStarted
from src.events.queries import Query
from src.presentation.tui.bridge import BusBridge
from src.presentation.tui.widgets.streaming_markdown import StreamingMarkdown

from .conftest import wait_until


class CountingMarkdown(StreamingMarkdown):
    appends = 0

    def append(self, markdown: str):  # type: ignore[no-untyped-def]
        type(self).appends += 1
        return super().append(markdown)


class OneMarkdown(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingMarkdown()


async def test_many_deltas_make_one_render_per_flush() -> None:
    app = OneMarkdown()
    async with app.run_test() as pilot:
        block = app.query_one(CountingMarkdown)
        CountingMarkdown.appends = 0
        for piece in ["# Plan", "\n\n", "1. pack", "\n2. ", "go **now**"]:
            block.feed(piece)
        # Fed, not drawn yet: the text is known, the widget has not re-rendered.
        assert block.text == "# Plan\n\n1. pack\n2. go **now**"
        assert block.source == ""
        await block.flush()
        assert block.source == "# Plan\n\n1. pack\n2. go **now**"
        assert CountingMarkdown.appends == 1
        # Left alone, the throttle timer draws what was fed.
        block.feed("\n3. rest")
        await wait_until(pilot, lambda: block.source.endswith("3. rest"), "timer flush")
        assert CountingMarkdown.appends == 2


async def test_the_bridge_forwards_rendered_events_and_matches_answers() -> None:
    bus = EventBus()
    received: list[object] = []
    bridge = BusBridge(bus, received.append, query_timeout=5)
    bridge.attach()

    async def answer(query: Query) -> None:
        from src.events.queries import QueryResult

        await bus.publish(QueryResult(request_id="someone-else", kind=query.kind, ok=True))
        await bus.publish(
            QueryResult(request_id=query.request_id, kind=query.kind, ok=True, data=[1])
        )

    bus.subscribe(Query, answer)
    result = await bridge.ask("conversations.list", {"limit": 3})
    assert result.ok and result.data == [1]
    await bus.publish(TurnStarted(conversation_id="c", turn_id="t", text="x"))
    await bus.publish(AssistantTextDelta(turn_id="t", delta="y"))
    await bus.drain()
    assert [type(e).__name__ for e in received] == ["TurnStarted", "AssistantTextDelta"]
    await bridge.detach()
    await bus.close()


async def test_an_unanswered_query_fails_with_a_sentence() -> None:
    bus = EventBus()
    bridge = BusBridge(bus, lambda event: None, query_timeout=0.01)
    bridge.attach()
    result = await bridge.ask("devices.list")
    assert not result.ok and "did not answer" in result.error
    await bridge.detach()
    await bus.close()


def test_the_tui_loads_no_heavy_sdk_before_its_first_paint() -> None:
    """openai costs 0.3 s and agents 1 s to import: neither may be on the path to the screen."""
    import subprocess
    import sys

    probe = (
        "import sys, src.presentation.tui.app; "
        "print(sorted(m for m in ('openai', 'agents', 'httpx', 'sounddevice') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"

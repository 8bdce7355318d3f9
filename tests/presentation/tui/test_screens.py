"""History, keys and connections, settings, help, the command palette and the theme."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from textual.binding import Binding
from textual.command import CommandList, CommandPalette
from textual.screen import Screen
from textual.widgets import DataTable, Input, OptionList, Select, Static, Switch

from src.events.bus import EventBus
from src.events.commands import (
    ResumeConversation,
    SelectAudioDevice,
    SetMuted,
    SetTurnDetection,
)
from src.events.conversation import ConversationOpened
from src.events.session import SetupNeeded, VoiceAvailability
from src.presentation.tui.actions import ACTIONS, CTRL_C
from src.presentation.tui.app import HarkApp, make_app
from src.presentation.tui.palette import HarkCommands
from src.presentation.tui.screens.conversation import ConversationScreen
from src.presentation.tui.screens.help import HelpScreen
from src.presentation.tui.screens.history import HistoryScreen
from src.presentation.tui.screens.keys import KeysScreen
from src.presentation.tui.screens.settings import SettingsScreen, device_names, flatten
from src.presentation.tui.widgets.transcript import SpeakerLine

from .conftest import (
    SETTINGS_VIEW,
    CommandLog,
    FakeKeyStore,
    FakeQueries,
    notifications,
    screen_text,
    settle,
    wait_until,
)

SUMMARIES = [
    {
        "id": "conv_b",
        "title": "Weather in Paris",
        "created_at": 0.0,
        "updated_at": 0.0,
        "turn_count": 2,
        "cost_usd": 0.004,
        "model": "gpt",
    },
    {
        "id": "conv_a",
        "title": "Train to Lyon",
        "created_at": 0.0,
        "updated_at": 0.0,
        "turn_count": 1,
        "cost_usd": 0.001,
        "model": "gpt",
    },
]


def conversation(conv_id: str) -> dict[str, Any]:
    return {
        "id": conv_id,
        "title": "Train to Lyon",
        "created_at": 0.0,
        "updated_at": 0.0,
        "turns": [
            {
                "id": "t1",
                "source": "text",
                "status": "completed",
                "user_text": "trains to Lyon tomorrow?",
                "assistant_text": "The 9:04 TGV.",
                "error": None,
                "model": "gpt",
                "started_at": 0.0,
                "finished_at": 0.0,
                "handoffs": [],
                "tool_calls": [
                    {
                        "call_id": "c",
                        "name": "find_trains",
                        "agent": "travel",
                        "arguments": "{}",
                        "result": "9:04",
                        "ok": True,
                    }
                ],
                "usage": {"input_tokens": 100, "output_tokens": 20, "cost_usd": 0.001},
            },
        ],
        "usage": {"input_tokens": 100, "output_tokens": 20, "cost_usd": 0.001},
    }


def history_queries() -> FakeQueries:
    return FakeQueries(
        answers={
            "conversations.list": SUMMARIES,
            "conversations.search": lambda p: [
                {
                    "conversation_id": "conv_a",
                    "title": "Train to Lyon",
                    "turn_id": "t1",
                    "field": "user",
                    "snippet": f"[{p['query']}] to Lyon",
                    "at": 0.0,
                },
                {
                    "conversation_id": "conv_a",
                    "title": "Train to Lyon",
                    "turn_id": "t1",
                    "field": "assistant",
                    "snippet": "TGV",
                    "at": 0.0,
                },
            ],
            "conversations.show": lambda p: conversation(p["id"]),
        }
    )


async def test_history_lists_searches_shows_and_resumes(app: HarkApp, bus: EventBus) -> None:
    queries = history_queries()
    log = CommandLog()
    async with app.run_test(size=(100, 30)) as pilot:
        queries.attach(bus)
        log.attach(bus)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen), "history open")
        options = app.screen.query_one(OptionList)
        await wait_until(pilot, lambda: options.option_count == 2, "recent listed")
        assert "Weather in Paris" in str(options.get_option_at_index(0).prompt)

        # Search: two hits in one conversation make one row.
        app.screen.query_one("#history-search", Input).focus()
        await pilot.press(*"trains", "enter")
        await wait_until(pilot, lambda: options.option_count == 1, "search results")
        assert options.get_option_at_index(0).id == "conv_a"
        assert [q.params for q in queries.asked if q.kind == "conversations.search"] == [
            {"query": "trains"}
        ]

        await pilot.press("enter")  # show the highlighted conversation
        preview = app.screen.query_one("#history-text", Static)
        await wait_until(pilot, lambda: "The 9:04 TGV." in str(preview.render()), "shown")
        assert "✓ travel · find_trains" in str(preview.render())

        await pilot.press("r")
        await wait_until(pilot, lambda: log.of(ResumeConversation), "resume published")
        assert log.of(ResumeConversation)[0].conversation_id == "conv_a"
        assert isinstance(app.screen, ConversationScreen)


async def test_escape_leaves_history_without_resuming(app: HarkApp, bus: EventBus) -> None:
    queries = history_queries()
    log = CommandLog()
    async with app.run_test() as pilot:
        queries.attach(bus)
        log.attach(bus)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen), "history open")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConversationScreen), "back")
        await settle(pilot, bus)
        assert log.of(ResumeConversation) == []


async def test_history_says_so_when_the_query_fails(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        FakeQueries().attach(bus)  # answers everything with an error
        await pilot.press("ctrl+r")
        await wait_until(
            pilot,
            lambda: (
                "History: not here" in notifications(app)
                or any("not here" in n for n in notifications(app))
            ),
            "error shown",
        )


async def test_a_resumed_conversation_shows_its_earlier_turns_and_totals(
    app: HarkApp, bus: EventBus
) -> None:
    async with app.run_test() as pilot:
        history_queries().attach(bus)
        await bus.publish(
            ConversationOpened(
                conversation_id="conv_a", title="Train to Lyon", resumed=True, turn_count=1
            )
        )
        await wait_until(pilot, lambda: list(app.screen.query(SpeakerLine)), "past turns")
        await settle(pilot, bus)
        text = screen_text(app)
        assert "trains to Lyon tomorrow?" in text and "The 9:04 TGV." in text
        assert "Total: 1 turn · 120 tok · $0.0010" in text


async def test_first_run_opens_the_keys_screen_and_saving_the_key_returns(
    bus: EventBus,
) -> None:
    store = FakeKeyStore()
    saved: list[str] = []

    async def key_saved(name: str) -> None:
        saved.append(name)

    app = make_app(bus, key_store=store, first_run=True, on_key_saved=key_saved)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "keys screen")
        assert "needs an OpenAI API key" in screen_text(app)
        value = app.screen.query_one("#key-value", Input)
        assert value.has_focus and value.password
        await pilot.press(*"sk-test-123", "enter")
        await wait_until(pilot, lambda: saved == ["openai"], "key saved hook")
        assert store.values == {"openai": "sk-test-123"}
        await wait_until(pilot, lambda: isinstance(app.screen, ConversationScreen), "back")
        assert any("openai key is stored" in n for n in notifications(app))
        assert not any("sk-test-123" in n for n in notifications(app))


async def test_the_keys_screen_lists_connections_and_stored_names(
    bus: EventBus,
) -> None:
    app = make_app(bus, key_store=FakeKeyStore(["openai", "gmail"]))
    async with app.run_test() as pilot:
        FakeQueries(
            answers={
                "connections.list": [
                    {"name": "weather", "title": "Weather", "requires": [], "connected": True},
                    {"name": "mail", "title": "Mail", "requires": ["gmail"], "connected": False},
                ]
            }
        ).attach(bus)
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "keys screen")
        table = app.screen.query_one("#connections", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, "connections listed")
        assert [str(c) for c in table.get_row_at(1)] == ["Mail", "gmail", "no"]
        await wait_until(pilot, lambda: "Stored keys: gmail, openai" in screen_text(app), "names")
        assert "stored\n" not in screen_text(app)


async def test_setup_needed_opens_the_keys_screen_and_voice_off_is_explained(
    app: HarkApp, bus: EventBus
) -> None:
    async with app.run_test() as pilot:
        await bus.publish(VoiceAvailability(available=False, reason="No microphone found."))
        await bus.publish(SetupNeeded(what="openai_key", message="No OpenAI key is set up."))
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "keys screen")
        assert "No OpenAI key is set up." in screen_text(app)
        assert any("No microphone found." in n for n in notifications(app))


async def test_a_key_store_failure_is_told_without_the_key(
    app: HarkApp, bus: EventBus, key_store: FakeKeyStore
) -> None:
    key_store.fail_with = RuntimeError("keyring is locked (tried sk-secret-9)")
    async with app.run_test() as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "keys screen")
        await pilot.press(*"sk-secret-9", "enter")
        await wait_until(pilot, lambda: any("locked" in n for n in notifications(app)), "told")
        assert not any("sk-secret-9" in n for n in notifications(app))
        assert isinstance(app.screen, KeysScreen)


async def test_without_a_key_store_the_keys_screen_says_how(bus: EventBus) -> None:
    app = make_app(bus)
    async with app.run_test() as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "keys screen")
        assert "keys set openai" in screen_text(app)
        assert not app.screen.query("#key-value")


async def test_settings_show_the_view_and_switch_at_run_time(app: HarkApp, bus: EventBus) -> None:
    log = CommandLog()
    async with app.run_test(size=(100, 40)) as pilot:
        log.attach(bus)
        FakeQueries(
            answers={
                "devices.list": [
                    {"name": "pulse", "kind": "input"},
                    {"name": "USB headset", "kind": "input"},
                    {"name": "pulse", "kind": "output"},
                ]
            }
        ).attach(bus)
        await bus.publish(VoiceAvailability(available=True, input_device="pulse"))
        await settle(pilot, bus)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), "settings")
        table = app.screen.query_one("#settings-table", DataTable)
        rows = {
            str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)
        }
        assert rows["api.model"] == "gpt-4.1-mini"
        assert rows["api.key"] == "set (secrets store) ********"

        mic: Select[str] = app.screen.query_one("#input-device", Select)
        await wait_until(pilot, lambda: len(mic._options) == 3, "devices listed")
        assert mic.value == "pulse"
        await settle(pilot, bus)
        assert log.of(SelectAudioDevice) == [], "showing the current device is not a choice"

        mic.value = "USB headset"
        app.screen.query_one("#turn-detection", Select).value = "push_to_talk"
        app.screen.query_one("#mute", Switch).value = True
        await wait_until(
            pilot,
            lambda: log.of(SelectAudioDevice) and log.of(SetTurnDetection) and log.of(SetMuted),
            "three commands",
        )
        assert [(c.kind, c.name) for c in log.of(SelectAudioDevice)] == [("input", "USB headset")]
        assert log.of(SetTurnDetection)[0].mode == "push_to_talk"
        assert log.of(SetMuted)[0].muted is True
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConversationScreen), "back")
        assert "turns: push-to-talk" in screen_text(app)


def test_settings_helpers_flatten_and_read_device_lists() -> None:
    assert dict(flatten(SETTINGS_VIEW))["voice.turn_detection"] == "server_vad"
    assert dict(flatten({"a": {"b": [1, 2]}, "c": None})) == {"a.b": "[1, 2]", "c": ""}
    assert device_names({"input": [{"name": "mic"}], "output": ["spk"]}, "output") == ["spk"]
    assert device_names([{"name": "x", "kind": "output"}], "input") == []


async def test_help_lists_every_binding(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test(size=(100, 50)) as pilot:
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        text = app.screen.query_one("#help-keys", Static)
        rendered = _table_text(text)
        for spec in (*ACTIONS, CTRL_C):
            assert spec.shown_keys in rendered and spec.title in rendered
        bound = {b.action for b in app.BINDINGS if isinstance(b, Binding)}
        assert bound == {spec.action for spec in (*ACTIONS, CTRL_C) if spec.keys}
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConversationScreen), "back")


def _table_text(widget: Static) -> str:
    from rich.console import Console

    console = Console(width=100, record=True)
    console.print(widget.content)
    return console.export_text()


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda s: s.action)
async def test_the_palette_offers_every_action(app: HarkApp, bus: EventBus, spec: Any) -> None:
    async with app.run_test() as pilot:
        provider = HarkCommands(app.screen)
        found = [hit async for hit in provider.search(spec.title)]
        assert found and found[0].text is not None and spec.title in found[0].text
        discovered = [hit.text or "" async for hit in provider.discover()]
        assert any(spec.title in text for text in discovered)
        await pilot.pause()


async def test_the_palette_runs_what_it_finds(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette")
        await pilot.press(*"Help: keys")
        hits = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: hits.option_count > 0, "hits listed")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help via palette")


async def test_ctrl_t_switches_light_and_dark(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        assert app.current_theme.dark
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert not app.current_theme.dark
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.current_theme.dark


async def test_escape_leaves_keys_settings_and_help(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        screens: list[tuple[str, type[Screen[Any]]]] = [
            ("ctrl+o", KeysScreen),
            ("ctrl+s", SettingsScreen),
            ("ctrl+g", HelpScreen),
        ]
        for key, screen in screens:
            await pilot.press(key)
            await wait_until(pilot, functools.partial(_is_on, app, screen), key)
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, ConversationScreen), "back")


def _is_on(app: HarkApp, screen: type[Screen[Any]]) -> bool:
    return isinstance(app.screen, screen)


async def test_one_screen_replaces_another(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), "settings")
        assert len(app.screen_stack) == 2


async def test_slash_jumps_to_the_history_search(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        history_queries().attach(bus)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen), "history")
        await wait_until(pilot, lambda: app.screen.query_one(OptionList).has_focus, "list focus")
        await pilot.press("slash")
        assert app.screen.query_one("#history-search", Input).has_focus
        await pilot.press("r")  # a letter typed into the search box, not "resume"
        assert app.screen.query_one("#history-search", Input).value == "r"
        assert isinstance(app.screen, HistoryScreen)


async def test_ctrl_q_quits(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: not app.is_running, "app stopped")

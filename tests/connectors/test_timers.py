"""Timers and reminders: a fake clock and sleep, a real JSON file, notifications observed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.clipboard import CommandResult
from src.connectors.timers import (
    CONNECTOR,
    DesktopNotifier,
    TimerService,
    TimerStore,
    parse_reminder_time,
    service_from_settings,
    timer_tools,
    timers_path,
)

START = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)  # 3:00 PM in Paris
ZONE = "Europe/Paris"


class FakeClock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeSleep:
    """Timer tasks park here until the test wakes them; nothing waits on the wall clock."""

    def __init__(self) -> None:
        self.parked: list[tuple[float, asyncio.Future[None]]] = []
        self._changed = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.parked.append((seconds, future))
        self._changed.set()
        await future

    async def until_parked(self, count: int) -> list[float]:
        while len(self.parked) < count:
            self._changed.clear()
            await self._changed.wait()
        return [seconds for seconds, _ in self.parked]

    def wake_all(self) -> None:
        parked, self.parked = self.parked, []
        for _, future in parked:
            if not future.done():
                future.set_result(None)


class Notifications:
    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []
        self._changed = asyncio.Event()

    async def __call__(self, title: str, body: str) -> None:
        self.shown.append((title, body))
        self._changed.set()

    async def until(self, count: int) -> list[tuple[str, str]]:
        while len(self.shown) < count:
            self._changed.clear()
            await self._changed.wait()
        return self.shown


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def shown() -> Notifications:
    return Notifications()


@pytest.fixture
def settings(
    tmp_path: Path, clock: FakeClock, sleep: FakeSleep, shown: Notifications
) -> SimpleNamespace:
    return SimpleNamespace(
        timezone=ZONE,
        notes_dir=tmp_path / "data" / "notes",
        now=clock,
        notifier=shown,
        timer_sleep=sleep,
    )


@pytest.fixture
async def service(settings: SimpleNamespace) -> AsyncIterator[TimerService]:
    svc = service_from_settings(settings)
    yield svc
    await svc.close()


@pytest.fixture
def tools(service: TimerService, settings: SimpleNamespace) -> dict[str, ToolDef]:
    return {tool.name: tool for tool in timer_tools(service, settings)}


def saved(settings: SimpleNamespace) -> list[dict[str, Any]]:
    path = timers_path(settings)
    assert path is not None
    return list(json.loads(path.read_text())["timers"])


# ---------------------------------------------------------------- timers


async def test_a_timer_is_saved_fires_and_is_forgotten(
    tools: dict[str, ToolDef],
    settings: SimpleNamespace,
    clock: FakeClock,
    sleep: FakeSleep,
    shown: Notifications,
) -> None:
    said = await tools["set_timer"].func(minutes=5, label="tea")

    assert said == "Tea timer set for 5 minutes; it ends at 3:05 PM today."
    assert saved(settings) == [
        {
            "id": 1,
            "kind": "timer",
            "label": "tea",
            "due": "2026-11-21T14:05:00+00:00",
            "seconds": 300,
            "created": "2026-11-21T14:00:00+00:00",
        }
    ]
    path = timers_path(settings)
    assert path == settings.notes_dir.parent / "timers.json"
    assert path is not None
    assert path.stat().st_mode & 0o777 == 0o600
    assert await sleep.until_parked(1) == [30.0]  # short steps: the wall clock is re-read

    clock.advance(minutes=5)
    sleep.wake_all()

    assert await shown.until(1) == [("Timer done", "The tea timer (5 minutes) is done.")]
    assert saved(settings) == []
    assert await tools["list_timers"].func() == "You have no timers or reminders."


async def test_a_suspended_laptop_wakes_to_the_right_time(
    tools: dict[str, ToolDef], clock: FakeClock, sleep: FakeSleep, shown: Notifications
) -> None:
    await tools["set_timer"].func(minutes=2)
    await sleep.until_parked(1)

    clock.advance(seconds=30)  # an ordinary step: not due yet, so it parks again
    sleep.wake_all()
    assert await sleep.until_parked(1) == [30.0]
    clock.advance(minutes=10)  # asleep with the lid shut, well past the end
    sleep.wake_all()

    assert await shown.until(1) == [
        ("Missed timer", "Your timer for 2 minutes ended at 3:02 PM today.")
    ]


async def test_list_and_spoken_lengths(tools: dict[str, ToolDef], clock: FakeClock) -> None:
    await tools["set_timer"].func(minutes=1.5)
    await tools["set_timer"].func(minutes=90, label="roast timer")
    await tools["set_reminder"].func(text="call mom", time="tomorrow 9am")
    clock.advance(seconds=20)

    said = await tools["list_timers"].func()

    assert said.splitlines() == [
        "2 timers and 1 reminder:",
        "1: the timer for 1 minute 30 seconds, 1 minute 10 seconds left (ends 3:01 PM today)",
        "2: the roast timer, 1 hour 29 minutes left (ends 4:30 PM today)",
        "3: reminder “call mom” at 9:00 AM tomorrow",
    ]


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        ({}, "How long should the timer run?"),
        ({"minutes": -5}, "How long should the timer run?"),
        ({"minutes": 60 * 24 * 8}, "Timers can run for up to a week; set a reminder for later."),
    ],
)
async def test_bad_timers(
    tools: dict[str, ToolDef], settings: SimpleNamespace, args: dict[str, Any], sentence: str
) -> None:
    with pytest.raises(ConnectorError) as caught:
        await tools["set_timer"].func(**args)

    assert caught.value.message == sentence
    assert timers_path(settings).exists() is False  # type: ignore[union-attr]


async def test_too_many(tools: dict[str, ToolDef]) -> None:
    for _ in range(50):
        await tools["set_timer"].func(minutes=1)

    with pytest.raises(ConnectorError, match="You already have 50 timers and reminders"):
        await tools["set_timer"].func(minutes=1)


# ---------------------------------------------------------------- reminders


async def test_a_reminder_in_the_users_zone(
    tools: dict[str, ToolDef],
    settings: SimpleNamespace,
    clock: FakeClock,
    sleep: FakeSleep,
    shown: Notifications,
) -> None:
    said = await tools["set_reminder"].func(text=" call   mom ", time="6pm")

    assert said == "Reminder set for 6:00 PM today: call mom."
    assert saved(settings)[0]["due"] == "2026-11-21T17:00:00+00:00"
    await sleep.until_parked(1)

    clock.now = datetime(2026, 11, 21, 17, 0, 5, tzinfo=UTC)
    sleep.wake_all()

    assert await shown.until(1) == [("Reminder", "call mom")]


@pytest.mark.parametrize(
    ("spoken", "due", "sentence"),
    [
        ("tomorrow 9am", "2026-11-22T08:00:00+00:00", "9:00 AM tomorrow"),
        ("tomorrow at 9:30", "2026-11-22T08:30:00+00:00", "9:30 AM tomorrow"),
        ("2pm", "2026-11-22T13:00:00+00:00", "2:00 PM tomorrow"),  # passed today: tomorrow
        ("in 20 minutes", "2026-11-21T14:20:00+00:00", "3:20 PM today"),
        ("in 2 hours", "2026-11-21T16:00:00+00:00", "5:00 PM today"),
        ("2026-12-01 08:15", "2026-12-01T07:15:00+00:00", "8:15 AM on Tuesday 1 December"),
    ],
)
async def test_reminder_times(
    tools: dict[str, ToolDef], settings: SimpleNamespace, spoken: str, due: str, sentence: str
) -> None:
    said = await tools["set_reminder"].func(text="stretch", time=spoken)

    assert said == f"Reminder set for {sentence}: stretch."
    assert saved(settings)[0]["due"] == due


@pytest.mark.parametrize(
    ("spoken", "sentence"),
    [
        ("today 8am", "8:00 AM today has already passed."),
        ("2026-11-01 10:00", "10:00 AM on Sunday 1 November has already passed."),
        ("teatime", "I couldn't understand the time 'teatime'."),
        ("2027-12-25 10:00", "Reminders can be set up to a year ahead."),
    ],
)
async def test_bad_reminder_times(tools: dict[str, ToolDef], spoken: str, sentence: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        await tools["set_reminder"].func(text="x", time=spoken)

    assert caught.value.message.startswith(sentence)


async def test_a_reminder_needs_text(tools: dict[str, ToolDef]) -> None:
    with pytest.raises(ConnectorError, match=r"What should I remind you of\?"):
        await tools["set_reminder"].func(text="  ", time="6pm")


def test_reminder_time_parsing_directly() -> None:
    from zoneinfo import ZoneInfo

    due = parse_reminder_time("Tomorrow 7AM", START, ZoneInfo("America/New_York"))
    assert due.isoformat() == "2026-11-22T07:00:00-05:00"


# ---------------------------------------------------------------- cancelling


async def test_cancel_by_name_number_and_all(
    tools: dict[str, ToolDef], settings: SimpleNamespace
) -> None:
    await tools["set_timer"].func(minutes=10, label="pasta")
    await tools["set_timer"].func(minutes=20, label="bread")
    await tools["set_reminder"].func(text="call mom", time="6pm")
    await tools["set_reminder"].func(text="water plants", time="7pm")

    assert await tools["cancel_timer"].func(which="the pasta timer") == "Cancelled the pasta timer."
    assert await tools["cancel_timer"].func(which="4") == "Cancelled water plants."
    assert [t["label"] for t in saved(settings)] == ["bread", "call mom"]
    assert await tools["cancel_timer"].func(which="all") == "Cancelled 2 timers and reminders."
    assert saved(settings) == []


async def test_cancel_the_only_timer(tools: dict[str, ToolDef]) -> None:
    await tools["set_timer"].func(minutes=3)
    await tools["set_reminder"].func(text="stand up", time="6pm")

    assert await tools["cancel_timer"].func(which="timer") == ("Cancelled the timer for 3 minutes.")


async def test_cancel_stops_the_task(
    tools: dict[str, ToolDef], clock: FakeClock, sleep: FakeSleep, shown: Notifications
) -> None:
    await tools["set_timer"].func(minutes=1)
    await tools["set_timer"].func(minutes=1, label="other")
    await sleep.until_parked(2)
    await tools["cancel_timer"].func(which="1")

    clock.advance(minutes=2)
    sleep.wake_all()

    assert await shown.until(1) == [("Timer done", "The other timer (1 minute) is done.")]


@pytest.mark.parametrize(
    ("which", "sentence"),
    [
        ("egg", "I couldn't find a timer or reminder matching “egg”."),
        ("9", "I couldn't find a timer or reminder matching “9”."),
        (
            "timer",
            "Several match “timer”: 1: the tea timer; 2: the timer for 5 minutes. "
            "Which one (by number)?",
        ),
    ],
)
async def test_cancel_what_isnt_clear(tools: dict[str, ToolDef], which: str, sentence: str) -> None:
    await tools["set_timer"].func(minutes=4, label="tea")
    await tools["set_timer"].func(minutes=5)

    with pytest.raises(ConnectorError) as caught:
        await tools["cancel_timer"].func(which=which)

    assert caught.value.message == sentence


async def test_cancel_with_nothing_set(tools: dict[str, ToolDef]) -> None:
    with pytest.raises(ConnectorError, match=r"You have no timers or reminders to cancel\."):
        await tools["cancel_timer"].func(which="all")


# ---------------------------------------------------------------- surviving a restart


def write_file(path: Path, timers: Sequence[dict[str, Any]], next_id: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "next_id": next_id, "timers": list(timers)}))


async def test_a_restart_reschedules_and_reports_missed(
    settings: SimpleNamespace, sleep: FakeSleep, shown: Notifications, clock: FakeClock
) -> None:
    path = timers_path(settings)
    assert path is not None
    write_file(
        path,
        [
            {
                "id": 3,
                "kind": "reminder",
                "label": "take the bins out",
                "due": "2026-11-21T07:00:00+00:00",
                "seconds": None,
                "created": "2026-11-20T20:00:00+00:00",
            },
            {
                "id": 4,
                "kind": "reminder",
                "label": "dentist",
                "due": "2026-11-22T09:00:00+00:00",
                "seconds": None,
                "created": "2026-11-20T20:00:00+00:00",
            },
        ],
    )
    ctx = ConnectorContext(http=httpx.AsyncClient(), settings=settings)

    tools = {t.name: t for t in CONNECTOR.build_tools(ctx)}  # a fresh start, in a loop

    assert await shown.until(1) == [
        ("Missed reminder", "take the bins out (due 8:00 AM today)")
    ]  # shown without any tool being called
    said = await tools["list_timers"].func()
    assert said.splitlines()[1] == "4: reminder “dentist” at 10:00 AM tomorrow"
    assert [t["id"] for t in saved(settings)] == [4]
    await tools["set_timer"].func(minutes=1)
    assert sorted(t["id"] for t in saved(settings)) == [4, 10]  # ids carry on from the file


async def test_building_the_tools_twice_shares_one_service(
    settings: SimpleNamespace, shown: Notifications
) -> None:
    path = timers_path(settings)
    assert path is not None
    overdue = {
        "id": 1,
        "kind": "reminder",
        "label": "stretch",
        "due": "2026-11-21T13:00:00+00:00",
        "seconds": None,
        "created": "2026-11-21T12:00:00+00:00",
    }
    write_file(path, [overdue])
    ctx = ConnectorContext(http=httpx.AsyncClient(), settings=settings)

    first = {t.name: t for t in CONNECTOR.build_tools(ctx)}
    second = {t.name: t for t in CONNECTOR.build_tools(ctx)}  # e.g. the core rebuilt
    await first["set_timer"].func(minutes=5)

    assert await shown.until(1) == [("Missed reminder", "stretch (due 2:00 PM today)")]
    assert (await second["list_timers"].func()).startswith("1 timer:\n10: ")  # same service
    assert len(shown.shown) == 1  # restored once, not twice


async def test_an_unreadable_file_is_set_aside_and_the_user_told(
    tools: dict[str, ToolDef], settings: SimpleNamespace
) -> None:
    path = timers_path(settings)
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_text("{not json")

    said = await tools["list_timers"].func()

    assert said.startswith("You have no timers or reminders.\n(Your saved timers couldn't be read")
    assert not path.exists()
    assert len(list(path.parent.glob("timers.json.unreadable-*"))) == 1
    assert "couldn't be read" not in await tools["list_timers"].func()  # told once


async def test_memory_only_without_a_data_dir(
    clock: FakeClock, sleep: FakeSleep, shown: Notifications
) -> None:
    settings = SimpleNamespace(timezone=ZONE, now=clock, notifier=shown, timer_sleep=sleep)
    service = service_from_settings(settings)
    tools = {t.name: t for t in timer_tools(service, settings)}
    try:
        await tools["set_timer"].func(seconds=45)
        assert service.store.path is None
        assert "45 seconds left" in await tools["list_timers"].func()
    finally:
        await service.close()


async def test_an_explicit_timers_file(tmp_path: Path) -> None:
    assert timers_path(SimpleNamespace(timers_file=tmp_path / "t.json")) == tmp_path / "t.json"
    assert timers_path(None) is None


async def test_a_save_failure_is_said_but_the_timer_still_runs(
    settings: SimpleNamespace, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    settings.timers_file = blocker / "timers.json"
    service = service_from_settings(settings)
    tools = {t.name: t for t in timer_tools(service, settings)}
    try:
        with pytest.raises(ConnectorError, match="I couldn't save your timers to disk"):
            await tools["set_timer"].func(minutes=1)
        assert len(service.pending()) == 1
    finally:
        await service.close()


# ---------------------------------------------------------------- the desktop notifier


class FakeRunner:
    def __init__(self, result: CommandResult | BaseException) -> None:
        self.result = result
        self.calls: list[list[str]] = []

    async def __call__(self, argv: Sequence[str], **_: Any) -> CommandResult:
        self.calls.append(list(argv))
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def notifier_settings(
    tmp_path: Path, programs: Sequence[str], runner: FakeRunner, **kw: Any
) -> Any:
    for name in programs:
        program = tmp_path / name
        program.write_text("#!/bin/sh\nexit 0\n")
        program.chmod(0o755)
    return SimpleNamespace(
        command_runner=runner, command_path=str(tmp_path), platform=kw.get("platform", "linux")
    )


async def test_notify_send(tmp_path: Path) -> None:
    runner = FakeRunner(CommandResult(0))

    await DesktopNotifier(notifier_settings(tmp_path, ["notify-send"], runner))("Reminder", "hi")

    assert runner.calls == [
        [str(tmp_path / "notify-send"), "--app-name=Hark", "--urgency=critical", "Reminder", "hi"]
    ]


async def test_osascript_passes_text_as_arguments(tmp_path: Path) -> None:
    runner = FakeRunner(CommandResult(0))
    settings = notifier_settings(tmp_path, ["osascript"], runner, platform="darwin")

    await DesktopNotifier(settings)("Reminder", 'say "hi" & quit')

    (argv,) = runner.calls
    assert argv[-2:] == ["Reminder", 'say "hi" & quit']  # data, never spliced into the script


async def test_no_notifier_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    runner = FakeRunner(CommandResult(0))

    await DesktopNotifier(notifier_settings(tmp_path, [], runner))("Reminder", "hi")

    assert runner.calls == []
    assert "no desktop notifier" in caplog.text


async def test_a_failing_notifier_does_not_break_the_timer(
    settings: SimpleNamespace, tmp_path: Path, clock: FakeClock, sleep: FakeSleep
) -> None:
    runner = FakeRunner(OSError(8, "Exec format error"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    settings.notifier = None
    settings.command_runner = runner
    settings.command_path = str(bin_dir)
    settings.platform = "linux"
    (bin_dir / "notify-send").write_text("#!/bin/sh\n")
    (bin_dir / "notify-send").chmod(0o755)
    service = service_from_settings(settings)
    tools = {t.name: t for t in timer_tools(service, settings)}
    try:
        await tools["set_timer"].func(seconds=10)
        await sleep.until_parked(1)
        clock.advance(seconds=10)
        sleep.wake_all()
        while service.pending():
            await asyncio.sleep(0)  # yield to the timer task; no wall-clock waiting
        assert runner.calls and runner.calls[0][-2:] == [
            "Timer done",
            "Your timer for 10 seconds is done.",
        ]
        assert saved(settings) == []
    finally:
        await service.close()


# ---------------------------------------------------------------- metadata


def test_only_cancelling_needs_approval() -> None:
    ctx = ConnectorContext(http=httpx.AsyncClient())
    tools = {t.name: t for t in CONNECTOR.build_tools(ctx)}
    assert sorted(tools) == ["cancel_timer", "list_timers", "set_reminder", "set_timer"]
    assert [n for n, t in tools.items() if t.side_effect] == ["cancel_timer"]
    assert render_progress(tools["cancel_timer"].readback, {"which": "pasta"}) == (
        "Cancel the timer or reminder “pasta”"
    )
    assert render_progress(tools["set_reminder"].progress, {"time": "6pm"}) == (
        "Setting a reminder for 6pm..."
    )


async def test_store_round_trip(tmp_path: Path) -> None:
    store = TimerStore(tmp_path / "t.json")
    service = TimerService(store, clock=FakeClock(), notifier=Notifications(), sleep=FakeSleep())
    try:
        service.start()
        service.add("reminder", "x", START + timedelta(hours=1))
        timers, next_id, warning = store.load()
        assert [(t.id, t.label, t.due) for t in timers] == [(1, "x", START + timedelta(hours=1))]
        assert (next_id, warning) == (2, None)
    finally:
        await service.close()

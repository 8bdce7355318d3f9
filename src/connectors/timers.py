"""Timers and reminders that pop up as desktop notifications, and survive a restart.

Each timer or reminder is an asyncio task owned by one ``TaskOwner`` (so none is orphaned and
all stop on ``close``) and a row in a small JSON file in Hark's data directory (the
``timers_file`` setting, else ``timers.json`` next to the notes folder). When Hark starts
again, the file is read back: what is still ahead is scheduled again, and what fell due while
Hark was closed is shown at once as missed, so a reminder is never silently lost.

A task sleeps in short steps and re-reads the wall clock after each, because a laptop that
was suspended wakes with a monotonic timer that knows nothing of the time asleep. When one
fires, the notifier shows it: ``notify-send`` on Linux, ``osascript`` on macOS, or, if neither
exists, only the log. A ``notifier`` callable in the settings replaces it, which is how a
front end (or a test) can be told instead.

Only cancelling is a side effect that needs approval: setting a timer is what the user just
asked for and harms nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal, NoReturn

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef
from src.connectors.clipboard import command_tools
from src.connectors.clock import local_zone, parse_when, spoken_clock, spoken_date
from src.events.tasks import TaskOwner

log = logging.getLogger(__name__)

NAME = "timers"
FILE_VERSION = 1
MAX_ACTIVE = 50
MAX_TIMER = timedelta(days=7)
MAX_REMINDER = timedelta(days=366)
MAX_SLEEP_S = 30.0  # re-read the wall clock this often (suspend, clock changes)
MISSED_AFTER = timedelta(minutes=2)  # later than this, a notification says it was missed
NOTIFY_TIMEOUT_S = 5.0

Kind = Literal["timer", "reminder"]
Clock = Callable[[], datetime]
Sleeper = Callable[[float], Awaitable[None]]
Notifier = Callable[[str, str], Awaitable[None]]

_RELATIVE = re.compile(
    r"^in\s+(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)$", re.I
)
_EXPLICIT_DAY = re.compile(r"\b(today|tomorrow)\b|^\d{4}-\d{2}-\d{2}", re.I)


@dataclass
class Timer:
    """One pending timer or reminder. ``due`` is aware (UTC in the file)."""

    id: int
    kind: Kind
    label: str
    due: datetime
    seconds: int | None = None  # how long a timer was set for, for the notification
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "due": self.due.astimezone(UTC).isoformat(),
            "seconds": self.seconds,
            "created": self.created.astimezone(UTC).isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timer:
        kind = data["kind"]
        if kind not in ("timer", "reminder"):
            raise ValueError(f"unknown kind {kind!r}")
        due = datetime.fromisoformat(str(data["due"]))
        created = datetime.fromisoformat(str(data.get("created") or data["due"]))
        return cls(
            id=int(data["id"]),
            kind=kind,
            label=str(data.get("label") or ""),
            due=due if due.tzinfo else due.replace(tzinfo=UTC),
            seconds=None if data.get("seconds") is None else int(data["seconds"]),
            created=created if created.tzinfo else created.replace(tzinfo=UTC),
        )


def spoken_duration(seconds: int) -> str:
    """ "5 minutes", "1 hour 30 minutes", "2 minutes 30 seconds", "45 seconds"."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    if secs and not hours:
        parts.append(f"{secs} second{'s' if secs != 1 else ''}")
    return " ".join(parts) or "0 seconds"


def spoken_when(moment: datetime, now: datetime) -> str:
    """ "3:05 PM", "9:00 AM tomorrow", "9:00 AM on Tuesday 1 December" (in ``moment``'s zone)."""
    local_now = now.astimezone(moment.tzinfo)
    days = (moment.date() - local_now.date()).days
    if days == 0:
        return f"{spoken_clock(moment)} today"
    if days == 1:
        return f"{spoken_clock(moment)} tomorrow"
    return f"{spoken_clock(moment)} on {spoken_date(moment.date())}"


def describe(timer: Timer) -> str:
    """How a timer is named aloud: "the tea timer", "the 5-minute timer", "call mom"."""
    if timer.kind == "reminder":
        return timer.label
    if timer.label:
        return f"the {timer.label} timer"
    return f"the timer for {spoken_duration(timer.seconds or 0)}"


class TimerStore:
    """The JSON file (or nothing: ``path=None`` keeps timers in memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> tuple[list[Timer], int, str | None]:
        """(timers, next id, a warning for the user if the file had to be set aside)."""
        if self.path is None or not self.path.exists():
            return [], 1, None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            timers = [Timer.from_json(item) for item in data["timers"]]
            next_id = max([int(data.get("next_id") or 1), *(t.id + 1 for t in timers)])
            return timers, next_id, None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            log.warning("timers file %s is unreadable (%s); moving it to %s", self.path, exc, aside)
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            return [], 1, f"(Your saved timers couldn't be read, so the file was kept as {aside}.)"

    def save(self, timers: Iterable[Timer], next_id: int) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = {
            "version": FILE_VERSION,
            "next_id": next_id,
            "timers": [t.to_json() for t in sorted(timers, key=lambda t: t.due)],
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, self.path)


class TimerService:
    """Pending timers, their tasks, their file, and what happens when one fires."""

    def __init__(
        self,
        store: TimerStore,
        *,
        clock: Clock,
        notifier: Notifier,
        sleep: Sleeper = asyncio.sleep,
        zone: Callable[[], tzinfo] = lambda: UTC,
    ) -> None:
        self.store = store
        self._clock = clock
        self._zone = zone
        self._notify = notifier
        self._sleep = sleep
        self._owner = TaskOwner("timers")
        self._timers: dict[int, Timer] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._next_id = 1
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.warning: str | None = None

    def now(self) -> datetime:
        moment = self._clock()
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def start(self) -> None:
        """Load the file once and schedule everything in it (overdue ones fire at once).

        Needs a running event loop (the tasks live in it).
        """
        if self._started:
            return
        self._loop = asyncio.get_running_loop()
        self._started = True
        timers, self._next_id, self.warning = self.store.load()
        for timer in timers:
            self._schedule(timer)

    def pending(self) -> list[Timer]:
        return sorted(self._timers.values(), key=lambda t: t.due)

    def add(self, kind: Kind, label: str, due: datetime, seconds: int | None = None) -> Timer:
        if len(self._timers) >= MAX_ACTIVE:
            raise ConnectorError(
                f"You already have {MAX_ACTIVE} timers and reminders; cancel some first."
            )
        timer = Timer(self._next_id, kind, label, due, seconds, created=self.now())
        self._next_id += 1
        self._schedule(timer)
        self._persist()
        return timer

    def cancel(self, timers: Iterable[Timer]) -> None:
        for timer in timers:
            self._timers.pop(timer.id, None)
            task = self._tasks.pop(timer.id, None)
            if task is not None:
                task.cancel()
        self._persist()

    def usable_here(self) -> bool:
        """Not started yet, or started in the event loop that is running now."""
        if not self._started:
            return True
        try:
            return self._loop is asyncio.get_running_loop() and not self._loop.is_closed()
        except RuntimeError:
            return False

    async def close(self) -> None:
        await self._owner.close()

    def _schedule(self, timer: Timer) -> None:
        self._timers[timer.id] = timer
        self._tasks[timer.id] = self._owner.spawn(self._run(timer), name=f"{timer.kind}-{timer.id}")

    def _persist(self) -> None:
        try:
            self.store.save(self._timers.values(), self._next_id)
        except OSError as exc:
            log.warning("could not save timers to %s: %s", self.store.path, exc)
            raise ConnectorError(
                f"I couldn't save your timers to disk ({exc.strerror or exc}); they will still "
                "go off while Hark is running, but not after a restart."
            ) from exc

    async def _run(self, timer: Timer) -> None:
        while (remaining := (timer.due - self.now()).total_seconds()) > 0:
            await self._sleep(min(remaining, MAX_SLEEP_S))
        late = self.now() - timer.due
        self._timers.pop(timer.id, None)
        self._tasks.pop(timer.id, None)
        with contextlib.suppress(ConnectorError):  # already logged; the user is told below
            self._persist()
        title, body = notification(timer, late, self.now().astimezone(self._zone()))
        try:
            await self._notify(title, body)
        except (OSError, TimeoutError, ConnectorError) as exc:
            log.warning("could not show the notification %r: %s", body, exc)


def notification(timer: Timer, late: timedelta, now: datetime) -> tuple[str, str]:
    """(title, body) for a timer that fired ``late`` after it was due; ``now`` is local."""
    missed = late > MISSED_AFTER
    due = timer.due.astimezone(now.tzinfo)
    if timer.kind == "reminder":
        if missed:
            return "Missed reminder", f"{timer.label} (due {spoken_when(due, now)})"
        return "Reminder", timer.label
    length = spoken_duration(timer.seconds or 0)
    what = f"The {timer.label} timer ({length})" if timer.label else f"Your timer for {length}"
    if missed:
        return "Missed timer", f"{what} ended at {spoken_when(due, now)}."
    return "Timer done", f"{what} is done."


class DesktopNotifier:
    """Shows a notification with whatever this desktop has; logs when it has nothing."""

    def __init__(self, settings: Any) -> None:
        self._settings = settings

    async def __call__(self, title: str, body: str) -> None:
        log.info("notification: %s: %s", title, body)
        tools = command_tools(self._settings)
        argv: list[str] | None = None
        if tools.platform == "darwin":
            osascript = tools.which("osascript")
            if osascript:
                script = "display notification (item 2 of argv) with title (item 1 of argv)"
                argv = [osascript, "-e", "on run argv", "-e", script, "-e", "end run", title, body]
        else:
            notify_send = tools.which("notify-send")
            if notify_send:
                argv = [notify_send, "--app-name=Hark", "--urgency=critical", title, body]
        if argv is None:
            log.warning("no desktop notifier (notify-send or osascript) to show %r", body)
            return
        result = await tools.run(argv, timeout=NOTIFY_TIMEOUT_S)
        if result.returncode not in (0, None):
            log.warning("%s failed (%s): %s", argv[0], result.returncode, result.error_line)


def timers_path(settings: Any) -> Path | None:
    """``timers_file``, else timers.json beside the notes folder, else None (memory only)."""
    explicit = getattr(settings, "timers_file", None)
    if explicit:
        return Path(explicit).expanduser()
    notes = getattr(settings, "notes_dir", None)
    if notes:
        return Path(notes).expanduser().parent / "timers.json"
    return None


def parse_reminder_time(text: str, now: datetime, zone: tzinfo) -> datetime:
    """When a reminder is due, from "15:30", "3pm", "tomorrow 9am", "in 20 minutes", ISO.

    A bare time of day that has already passed today means tomorrow; a time said with
    "today" (or a date) that has passed is refused rather than moved.
    """
    cleaned = " ".join(text.strip().lower().split())
    cleaned = re.sub(r"\bat\s+", "", cleaned)  # "tomorrow at 9am"
    relative = _RELATIVE.match(cleaned)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2)[0]
        scale = {"s": 1, "m": 60, "h": 3600}[unit]
        return (now + timedelta(seconds=round(amount * scale))).astimezone(zone)
    local_now = now.astimezone(zone)
    try:
        parsed = parse_when(cleaned, local_now.date())
    except ValueError as exc:
        raise ConnectorError(
            f"I couldn't understand the time {text!r}. Try 15:30, 3pm, tomorrow 9am or "
            "in 20 minutes."
        ) from exc
    due = parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    if due <= now:
        if _EXPLICIT_DAY.search(cleaned):
            raise ConnectorError(f"{spoken_when(due.astimezone(zone), now)} has already passed.")
        due = datetime.combine(local_now.date() + timedelta(days=1), parsed.time(), zone)
    return due.astimezone(zone)


def choose(timers: list[Timer], which: str) -> list[Timer]:
    """The timers meant by "2", "tea", "the tea timer", "reminders", "all"."""
    wanted = " ".join(which.strip().lower().split())
    wanted = re.sub(r"^(the|my)\s+", "", wanted)
    if not timers:
        raise ConnectorError("You have no timers or reminders to cancel.")
    if wanted in ("all", "everything", "all of them", "all timers and reminders"):
        return list(timers)
    if wanted in ("all timers", "timers"):
        return [t for t in timers if t.kind == "timer"] or _none_match(which)
    if wanted in ("all reminders", "reminders"):
        return [t for t in timers if t.kind == "reminder"] or _none_match(which)
    number = re.sub(r"^(number|#)\s*", "", wanted)
    if number.isdigit():
        found = [t for t in timers if t.id == int(number)]
        return found or _none_match(which)
    words = re.sub(r"\s+(timer|reminder)$", "", wanted)
    if words in ("timer", "reminder", ""):
        kind = words or "timer"
        matches = [t for t in timers if t.kind == kind]
    else:
        matches = [t for t in timers if words in t.label.lower() or words in describe(t).lower()]
    if len(matches) == 1:
        return matches
    if not matches:
        return _none_match(which)
    names = "; ".join(f"{t.id}: {describe(t)}" for t in matches[:6])
    raise ConnectorError(f"Several match “{which}”: {names}. Which one (by number)?")


def _none_match(which: str) -> NoReturn:
    raise ConnectorError(f"I couldn't find a timer or reminder matching “{which}”.")


def timer_tools(service: TimerService, settings: Any) -> list[ToolDef]:
    """The tools over one service (``build_tools`` makes the service from settings)."""

    def zone() -> tzinfo:
        return local_zone(settings).zone

    async def ready() -> str:
        service.start()
        warning, service.warning = service.warning, None
        return f"\n{warning}" if warning else ""

    async def set_timer(minutes: float = 0, seconds: int = 0, label: str = "") -> str:
        """Start a countdown timer that pops up a notification when it ends.

        Args:
            minutes: Minutes to count (may be fractional, e.g. 1.5; 90 for an hour and a half).
            seconds: Extra seconds to count.
            label: Optional short name, e.g. "tea" or "pasta"; empty for none.
        """
        note = await ready()
        total = round(float(minutes) * 60 + int(seconds))
        if total <= 0:
            raise ConnectorError("How long should the timer run?")
        if timedelta(seconds=total) > MAX_TIMER:
            raise ConnectorError("Timers can run for up to a week; set a reminder for later.")
        now = service.now()
        name = re.sub(r"\s*\btimer$", "", " ".join(label.split()), flags=re.I)
        timer = service.add("timer", name, now + timedelta(seconds=total), seconds=total)
        ends = spoken_when(timer.due.astimezone(zone()), now)
        what = f"{name.capitalize()} timer" if name else "Timer"
        return f"{what} set for {spoken_duration(total)}; it ends at {ends}.{note}"

    async def set_reminder(text: str, time: str) -> str:
        """Remind the user of something at a time, with a desktop notification.

        Args:
            text: What to remind them of, e.g. "call mom".
            time: When, in the user's time zone: "15:30", "3pm", "tomorrow 9am",
                "2026-11-22 09:00" or "in 20 minutes".
        """
        note = await ready()
        what = " ".join(text.split())
        if not what:
            raise ConnectorError("What should I remind you of?")
        now = service.now()
        due = parse_reminder_time(time, now, zone())
        if due - now > MAX_REMINDER:
            raise ConnectorError("Reminders can be set up to a year ahead.")
        service.add("reminder", what, due)
        return f"Reminder set for {spoken_when(due, now)}: {what}.{note}"

    async def list_timers() -> str:
        """List the running timers and upcoming reminders, with their numbers."""
        note = await ready()
        timers = service.pending()
        if not timers:
            return f"You have no timers or reminders.{note}"
        now, here = service.now(), zone()
        lines = []
        for t in timers:
            if t.kind == "timer":
                left = spoken_duration(round((t.due - now).total_seconds()))
                ends = spoken_when(t.due.astimezone(here), now)
                lines.append(f"{t.id}: {describe(t)}, {left} left (ends {ends})")
            else:
                lines.append(
                    f"{t.id}: reminder “{t.label}” at {spoken_when(t.due.astimezone(here), now)}"
                )
        counts = [
            f"{n} {kind}{'s' if n != 1 else ''}"
            for kind in ("timer", "reminder")
            if (n := sum(1 for t in timers if t.kind == kind))
        ]
        heading = " and ".join(counts)
        return f"{heading}:\n" + "\n".join(lines) + note

    async def cancel_timer(which: str) -> str:
        """Cancel a timer or reminder.

        Args:
            which: Its number from the list, its name (e.g. "tea" or "call mom"), "timer"
                when there's only one, or "all".
        """
        note = await ready()
        chosen = choose(service.pending(), which)
        service.cancel(chosen)
        if len(chosen) == 1:
            return f"Cancelled {describe(chosen[0])}.{note}"
        return f"Cancelled {len(chosen)} timers and reminders.{note}"

    return [
        ToolDef(set_timer, progress="Setting a timer..."),
        ToolDef(set_reminder, progress="Setting a reminder for {time}..."),
        ToolDef(list_timers, progress="Checking your timers..."),
        ToolDef(
            cancel_timer,
            progress="Cancelling {which}...",
            side_effect=True,
            readback="Cancel the timer or reminder “{which}”",
        ),
    ]


def _clock(settings: Any) -> Clock:
    now = getattr(settings, "now", None)
    if callable(now):
        injected: Clock = now
        return injected
    return lambda: datetime.now(UTC)


def service_from_settings(settings: Any) -> TimerService:
    """Settings hooks: ``now``, ``notifier``, ``timer_sleep`` (tests), plus the file path."""
    notifier = getattr(settings, "notifier", None)
    sleep = getattr(settings, "timer_sleep", None)
    return TimerService(
        TimerStore(timers_path(settings)),
        clock=_clock(settings),
        notifier=notifier if notifier is not None else DesktopNotifier(settings),
        sleep=sleep if sleep is not None else asyncio.sleep,
        zone=lambda: local_zone(settings).zone,
    )


# One service per timers file: building the tools again in the same process (the core is
# rebuilt after a key is saved) must not restore, and fire, every reminder twice.
_services: dict[Path, TimerService] = {}


def shared_service(settings: Any) -> TimerService:
    path = timers_path(settings)
    if path is None:
        return service_from_settings(settings)
    existing = _services.get(path)
    if existing is not None and existing.usable_here():
        return existing
    service = _services[path] = service_from_settings(settings)
    return service


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    service = shared_service(ctx.settings)
    path = service.store.path
    if path is not None and path.exists():
        # Saved reminders must fire even if no timer tool is used this session.
        with contextlib.suppress(RuntimeError):  # no running loop: the first call starts it
            asyncio.get_running_loop().call_soon(service.start)
    return timer_tools(service, ctx.settings)


CONNECTOR = Connector(
    name=NAME,
    title="Timers and reminders",
    description=(
        "Countdown timers, and reminders that remind the user of something at a time of day, "
        "shown as desktop notifications; lists and cancels them. They survive a restart."
    ),
    instructions=(
        "You set timers and reminders. For 'in N minutes' use a timer (or a reminder with "
        "text); for a clock time use a reminder, passing the time as the user said it "
        "(like '3pm' or 'tomorrow 9am'). Confirm in one short sentence with when it ends. To "
        "cancel, list first if it's unclear which one. If a tool reports a problem, say that "
        "sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Set a timer for 10 minutes.",
        "Remind me to call mom at 6pm.",
        "What timers do I have?",
        "Cancel the pasta timer.",
    ),
    followups=("How long is left on my timers?", "Cancel {label}"),
)

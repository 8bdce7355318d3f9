"""Date, time and time zones, from the standard library.

Places resolve, in order, from a few spoken aliases ("Pacific time", "UTC"), IANA names
("Europe/Paris"), the city part of IANA names ("Tokyo", "new york"), and finally Open-Meteo
geocoding, whose results carry a time zone ("Lyon" -> Europe/Paris). The current time comes from
an injectable clock (``settings.now``) so answers are reproducible in tests.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef
from src.connectors.weather import DEFAULT_GEOCODING_URL, OpenMeteoClient, PlaceNotFoundError

Clock = Callable[[], datetime]

_CANONICAL_AREAS = (
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)

# Spoken names that are not IANA zone names: (zone, how to say it back).
_ALIASES: Mapping[str, tuple[str, str]] = {
    "utc": ("UTC", "UTC"),
    "gmt": ("UTC", "UTC"),
    "zulu": ("UTC", "UTC"),
    "universal": ("UTC", "UTC"),
    "pacific": ("America/Los_Angeles", "Pacific time"),
    "pst": ("America/Los_Angeles", "Pacific time"),
    "pdt": ("America/Los_Angeles", "Pacific time"),
    "mountain": ("America/Denver", "Mountain time"),
    "mst": ("America/Denver", "Mountain time"),
    "mdt": ("America/Denver", "Mountain time"),
    "central": ("America/Chicago", "Central time"),
    "cst": ("America/Chicago", "Central time"),
    "cdt": ("America/Chicago", "Central time"),
    "eastern": ("America/New_York", "Eastern time"),
    "est": ("America/New_York", "Eastern time"),
    "edt": ("America/New_York", "Eastern time"),
    "alaska": ("America/Anchorage", "Alaska"),
    "hawaii": ("Pacific/Honolulu", "Hawaii"),
    "cet": ("Europe/Paris", "Central European time"),
    "cest": ("Europe/Paris", "Central European time"),
    "bst": ("Europe/London", "UK time"),
    "ist": ("Asia/Kolkata", "India"),
    "jst": ("Asia/Tokyo", "Japan"),
    "aest": ("Australia/Sydney", "Sydney"),
}

_LOCAL_WORDS = frozenset({"", "here", "local", "my time", "my time zone", "home"})


@dataclass(frozen=True)
class ResolvedZone:
    zone: tzinfo
    label: str
    is_local: bool = False


def _normalise(text: str) -> str:
    """Lower-case, underscores and runs of spaces to single spaces, no dots or apostrophes."""
    text = text.strip().lower().replace("_", " ")
    text = re.sub(r"[.'’?!]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _city_label(key: str) -> str:
    return key.rsplit("/", 1)[-1].replace("_", " ")


@functools.cache
def _zone_index() -> tuple[dict[str, str], dict[str, str]]:
    """(normalised full IANA name -> key, normalised city part -> key)."""
    keys = sorted(k for k in available_timezones() if not k.startswith(("posix/", "right/")))
    by_name = {_normalise(k): k for k in keys}
    by_city: dict[str, str] = {}

    def preference(key: str) -> tuple[int, int, str]:
        canonical = key.split("/", 1)[0] in _CANONICAL_AREAS
        return (0 if canonical else 1, key.count("/"), key)

    for key in sorted((k for k in keys if "/" in k and not k.startswith("Etc/")), key=preference):
        by_city.setdefault(_normalise(_city_label(key)), key)
    return by_name, by_city


def lookup_zone_name(place: str) -> tuple[str, str] | None:
    """Resolve a place offline to (IANA key, label), or None."""
    text = _normalise(place)
    if text.endswith(" time"):
        text = text[: -len(" time")].strip()
    for prefix in ("the ", "time in "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text in _ALIASES:
        return _ALIASES[text]
    by_name, by_city = _zone_index()
    if text in by_name:
        key = by_name[text]
        return key, (_city_label(key) if "/" in key else key)
    if text in by_city:
        key = by_city[text]
        return key, _city_label(key)
    return None


def system_zone() -> tzinfo:
    """This machine's zone: $TZ, /etc/localtime's target, /etc/timezone, else its UTC offset."""
    candidates: list[str] = []
    tz_env = os.environ.get("TZ", "").lstrip(":")
    if tz_env:
        candidates.append(tz_env)
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        candidates.append(target.split("zoneinfo/", 1)[1])
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return datetime.now().astimezone().tzinfo or UTC


def local_zone(settings: Any) -> ResolvedZone:
    """The user's zone: ``settings.timezone`` if set, else the system's."""
    name = getattr(settings, "timezone", None)
    if name:
        try:
            zone: tzinfo = ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConnectorError(
                f"Your time zone setting, {name}, isn't a time zone I know."
            ) from exc
    else:
        zone = system_zone()
    return ResolvedZone(zone=zone, label="your time zone", is_local=True)


class TimeZoneResolver:
    """Turns a spoken place into a time zone, using geocoding only when offline lookup fails."""

    def __init__(self, geocoder: OpenMeteoClient | None, local: Callable[[], ResolvedZone]):
        self._geocoder = geocoder
        self._local = local

    async def resolve(self, place: str) -> ResolvedZone:
        if _normalise(place) in _LOCAL_WORDS:
            return self._local()
        candidates = [place]
        if "," in place:
            candidates.append(place.split(",", 1)[0])
        for candidate in candidates:
            found = lookup_zone_name(candidate)
            if found:
                key, label = found
                return ResolvedZone(zone=ZoneInfo(key), label=label)
        return await self._geocode(place.strip())

    async def _geocode(self, place: str) -> ResolvedZone:
        not_found = ConnectorError(f"I couldn't find a place or time zone called {place}.")
        if self._geocoder is None:
            raise not_found
        try:
            hit = await self._geocoder.geocode(place)
        except PlaceNotFoundError as exc:
            raise not_found from exc
        except ConnectorError as exc:
            raise ConnectorError(
                f"I don't know the time zone of {place}, and looking it up failed. {exc.message}",
                retryable=exc.retryable,
                status=exc.status,
            ) from exc
        if not hit.timezone:
            raise not_found
        try:
            zone = ZoneInfo(hit.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise not_found from exc
        label = f"{hit.name}, {hit.country}" if hit.country else hit.name
        return ResolvedZone(zone=zone, label=label)


# ---------------------------------------------------------------- formatting


def spoken_clock(moment: datetime) -> str:
    """ "3:05 PM"."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def spoken_date(day: date, *, year: bool = False) -> str:
    """ "Saturday 21 November" (with the year when asked)."""
    text = f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"
    return f"{text} {day.year}" if year else text


def utc_offset_label(moment: datetime) -> str:
    """ "UTC+9", "UTC-3:30", "UTC"."""
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _zone_label(moment: datetime) -> str:
    abbreviation = moment.tzname() or ""
    offset = utc_offset_label(moment)
    if abbreviation.isalpha() and abbreviation != offset:
        return f"{abbreviation}, {offset}"
    return offset


def _duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " and ".join(parts)


def _difference(there: datetime, here: datetime) -> str:
    delta = (there.utcoffset() or timedelta(0)) - (here.utcoffset() or timedelta(0))
    minutes = int(delta.total_seconds() // 60)
    if minutes == 0:
        return "That's the same time as yours."
    direction = "ahead of" if minutes > 0 else "behind"
    return f"That's {_duration(abs(minutes))} {direction} you."


# ---------------------------------------------------------------- parsing

_TIME_12H = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?\s*m\.?$")
_TIME_24H = re.compile(r"^(\d{1,2})[:h.](\d{2})(?::\d{2})?$")
_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ t](.+)$")


def parse_clock_time(text: str) -> time:
    """ "15:30", "3pm", "3:30 p.m.", "noon", "midnight" -> a time; ValueError otherwise."""
    text = text.strip().lower()
    if text == "noon":
        return time(12, 0)
    if text == "midnight":
        return time(0, 0)
    match = _TIME_12H.match(text)
    if match:
        hour, minute = int(match[1]), int(match[2] or 0)
        if not 1 <= hour <= 12:
            raise ValueError(text)
        hour = hour % 12 + (12 if match[3] == "p" else 0)
        return time(hour, minute)
    match = _TIME_24H.match(text)
    if match:
        return time(int(match[1]), int(match[2]))
    if text.isdigit() and len(text) <= 2:
        return time(int(text), 0)
    raise ValueError(text)


def parse_when(text: str, today: date) -> datetime:
    """A naive date and time from "15:30", "3pm", "tomorrow 9am", "2026-11-21 09:00"."""
    text = text.strip().lower()
    relative = {"today": 0, "tomorrow": 1, "yesterday": -1}
    for word, shift in relative.items():
        if text.startswith(word + " ") or text.endswith(" " + word):
            rest = text.removeprefix(word + " ").removesuffix(" " + word)
            return datetime.combine(today + timedelta(days=shift), parse_clock_time(rest))
    match = _ISO_DATE.match(text)
    if match:
        try:
            return datetime.combine(date.fromisoformat(match[1]), parse_clock_time(match[2]))
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return datetime.combine(today, parse_clock_time(text))
    return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed


def parse_date(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat(text).date()


# ---------------------------------------------------------------- tools


def _clock_from(settings: Any) -> Clock:
    now = getattr(settings, "now", None)
    if callable(now):
        injected: Clock = now
        return injected

    def utc_now() -> datetime:
        return datetime.now(UTC)

    return utc_now


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    clock = _clock_from(ctx.settings)
    geocoder = OpenMeteoClient(
        ctx.http, geocoding_url=ctx.endpoint("open_meteo_geocoding", DEFAULT_GEOCODING_URL)
    )
    resolver = TimeZoneResolver(geocoder, lambda: local_zone(ctx.settings))

    def now_utc() -> datetime:
        moment = clock()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    async def current_time(place: str = "") -> str:
        """Tell the current time and date somewhere, or here.

        Args:
            place: A city, country capital, IANA time zone (e.g. "Europe/Paris") or zone name
                (e.g. "Pacific time"); an empty string means the user's own time zone.
        """
        target = await resolver.resolve(place)
        moment = now_utc().astimezone(target.zone)
        when = f"{spoken_clock(moment)} on {spoken_date(moment.date())}"
        if target.is_local:
            return f"It's {when} ({_zone_label(moment)})."
        here = now_utc().astimezone(local_zone(ctx.settings).zone)
        return f"In {target.label} it's {when} ({_zone_label(moment)}). {_difference(moment, here)}"

    async def convert_time(time: str, from_place: str, to_place: str) -> str:
        """Convert a time of day from one place's time zone to another's.

        Args:
            time: The time to convert, e.g. "15:30", "3pm", "tomorrow 9am" or
                "2026-11-21 09:00". Without a date it means today in from_place.
            from_place: Where that time applies: a city, IANA zone or zone name; an empty
                string means the user's own time zone.
            to_place: Where to convert it to: a city, IANA zone or zone name; an empty string
                means the user's own time zone.
        """
        source = await resolver.resolve(from_place)
        target = await resolver.resolve(to_place)
        today = now_utc().astimezone(source.zone).date()
        try:
            parsed = parse_when(time, today)
        except ValueError as exc:
            raise ConnectorError(
                f"I couldn't understand the time {time!r}. Try something like 15:30 or 3pm."
            ) from exc
        start = parsed if parsed.tzinfo else parsed.replace(tzinfo=source.zone)
        end = start.astimezone(target.zone)
        there_from = "your time" if source.is_local else f"in {source.label}"
        there_to = "your time" if target.is_local else f"in {target.label}"
        if start.date() == end.date():
            return (
                f"{spoken_clock(start)} {there_from} is {spoken_clock(end)} {there_to}, "
                f"on {spoken_date(start.date())}."
            )
        return (
            f"{spoken_clock(start)} on {spoken_date(start.date())} {there_from} is "
            f"{spoken_clock(end)} on {spoken_date(end.date())} {there_to}."
        )

    async def days_until(date: str) -> str:
        """Count the days from today until a date (or since it, if it has passed).

        Args:
            date: The date in ISO form, year-month-day, e.g. "2026-12-25".
        """
        try:
            target = parse_date(date)
        except ValueError as exc:
            raise ConnectorError(
                f"I couldn't understand the date {date!r}. "
                "Please give it as year-month-day, like 2026-12-25."
            ) from exc
        today = now_utc().astimezone(local_zone(ctx.settings).zone).date()
        days = (target - today).days
        named = spoken_date(target, year=True)
        if days == 0:
            return f"That's today, {named}."
        plural = "s" if abs(days) != 1 else ""
        if days > 0:
            return f"{named} is in {days} day{plural}."
        return f"{named} was {-days} day{plural} ago."

    return [
        ToolDef(func=current_time, progress="Looking up the time in {place}..."),
        ToolDef(func=convert_time, progress="Converting {time} from {from_place} to {to_place}..."),
        ToolDef(func=days_until, progress="Counting the days until {date}..."),
    ]


CONNECTOR = Connector(
    name="clock",
    title="Clock",
    description=(
        "The current date and time here or anywhere in the world, converting times between "
        "time zones, and counting days until a date."
    ),
    instructions=(
        "You answer questions about the time, dates and time zones using your tools; never "
        "work out the current time yourself. For the user's own time pass an empty place. "
        "For a date like 'Christmas' or 'next Friday', work out the ISO date first and pass "
        "it. Reply in one short spoken sentence, with times like '3:05 PM' and no time zone "
        "codes unless asked. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What time is it?",
        "What time is it in Tokyo?",
        "If it's 3pm in New York, what time is it in Paris?",
        "How many days until 2026-12-25?",
    ),
    followups=(
        "What's the weather like in {place}?",
        "What time is it in {to_place} right now?",
        "How many weeks until {date}?",
    ),
)

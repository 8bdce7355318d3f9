"""How the laptop is doing: battery, network, disk space, uptime, load and memory.

Everything is read from the kernel's own files (``/sys/class/power_supply``,
``/sys/class/net``, ``/proc/net/route``, ``/proc/uptime``, ``/proc/loadavg``,
``/proc/meminfo``), so no dependency is needed on Linux; where those files don't exist (macOS,
Windows) the answer falls back to ``psutil`` if it happens to be installed and to the standard
library, or says plainly what it can't see. The root of those paths is a setting
(``system_root``) so tests read a fake tree.

Nothing here touches the network except ``check_internet_connection``, and only when asked:
it fetches a captive-portal check URL (the ``connectivity_check`` endpoint, Firefox's by
default), which tells "online" from "stuck behind a hotel Wi-Fi sign-in page".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef

NAME = "system_status"
DEFAULT_CHECK_URL = "http://detectportal.firefox.com/success.txt"
CHECK_TIMEOUT = httpx.Timeout(5.0)
RTF_UP, RTF_GATEWAY = 0x1, 0x2
_VPN_PREFIXES = ("tun", "tap", "wg", "ppp", "tailscale", "zt")


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


DiskUsageFn = Callable[[str], DiskUsage]


@dataclass(frozen=True)
class Battery:
    name: str
    percent: int | None
    status: str  # Charging, Discharging, Full, Not charging, Unknown
    minutes_left: int | None  # to empty when discharging, to full when charging


@dataclass(frozen=True)
class Interface:
    name: str
    kind: str  # Wi-Fi, Ethernet, VPN
    up: bool


class SystemReader:
    """Reads the status files under ``root`` ("/" on a real machine)."""

    def __init__(
        self,
        root: Path,
        *,
        disk_usage: DiskUsageFn | None = None,
        cpu_count: int | None = None,
        use_psutil: bool | None = None,
    ) -> None:
        self.root = root
        # psutil (if installed) only speaks for the real machine, never for a fake tree.
        self._use_psutil = root == Path("/") if use_psutil is None else use_psutil
        self._disk_usage = disk_usage or _real_disk_usage
        self._cpus = cpu_count

    def _read(self, *parts: str) -> str | None:
        try:
            return self.root.joinpath(*parts).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None

    def _number(self, folder: Path, name: str) -> int | None:
        try:
            return int((folder / name).read_text().strip())
        except (OSError, ValueError):
            return None

    # -- power

    def batteries(self) -> tuple[list[Battery], bool | None]:
        """Laptop batteries (not a mouse's), and whether mains power is connected."""
        supplies = self.root / "sys" / "class" / "power_supply"
        batteries: list[Battery] = []
        on_mains: bool | None = None
        try:
            entries = sorted(supplies.iterdir())
        except OSError:
            return self._psutil_battery()
        for folder in entries:
            kind = _text(folder / "type")
            if kind == "Mains":
                online = self._number(folder, "online")
                if online is not None:
                    on_mains = bool(online) or bool(on_mains)
            elif kind == "Battery" and _text(folder / "scope") != "Device":
                batteries.append(self._battery(folder))
        return batteries, on_mains

    def _battery(self, folder: Path) -> Battery:
        status = _text(folder / "status") or "Unknown"
        percent = self._number(folder, "capacity")
        now = self._number(folder, "energy_now") or self._number(folder, "charge_now")
        full = self._number(folder, "energy_full") or self._number(folder, "charge_full")
        rate = self._number(folder, "power_now") or self._number(folder, "current_now")
        if percent is None and now and full:
            percent = round(100 * now / full)
        minutes = None
        if rate and now is not None:
            if status == "Discharging":
                minutes = round(60 * now / abs(rate))
            elif status == "Charging" and full:
                minutes = round(60 * max(0, full - now) / abs(rate))
        return Battery(folder.name, percent, status, minutes)

    def _psutil_battery(self) -> tuple[list[Battery], bool | None]:
        if not self._use_psutil:
            return [], None
        try:
            import psutil  # optional: present on some systems, never a dependency
        except ImportError:
            return [], None
        info = psutil.sensors_battery()
        if info is None:
            return [], None
        plugged = bool(info.power_plugged) if info.power_plugged is not None else None
        seconds = info.secsleft if isinstance(info.secsleft, int) and info.secsleft > 0 else None
        status = "Charging" if plugged and info.percent < 100 else "Discharging"
        if plugged and info.percent >= 100:
            status = "Full"
        minutes = seconds // 60 if seconds is not None and not plugged else None
        return [Battery("battery", round(info.percent), status, minutes)], plugged

    # -- network

    def interfaces(self) -> list[Interface]:
        folder = self.root / "sys" / "class" / "net"
        found = []
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            return []
        for entry in entries:
            name = entry.name
            if name == "lo":
                continue
            if (entry / "wireless").exists() or (entry / "phy80211").exists():
                kind = "Wi-Fi"
            elif name.startswith(_VPN_PREFIXES):
                kind = "VPN"
            elif (entry / "device").exists():
                kind = "Ethernet"
            else:
                continue  # bridges, containers and other virtual plumbing
            state = _text(entry / "operstate") or "unknown"
            carrier = self._number(entry, "carrier")
            up = state == "up" or (state == "unknown" and carrier == 1)
            found.append(Interface(name, kind, up))
        return found

    def default_route(self) -> tuple[str, str] | None:
        """(interface, gateway IPv4 address) of the best default route, if any."""
        table = self._read("proc", "net", "route")
        if not table:
            return None
        best: tuple[int, str, str] | None = None
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 8:
                continue
            iface, destination, gateway, flags = fields[:4]
            metric = fields[6]
            try:
                flag_bits, metric_value = int(flags, 16), int(metric)
                if int(destination, 16) != 0 or not flag_bits & RTF_UP:
                    continue
                address = socket.inet_ntoa(struct.pack("<L", int(gateway, 16)))
            except (ValueError, struct.error):
                continue
            if best is None or metric_value < best[0]:
                best = (metric_value, iface, address)
        return (best[1], best[2]) if best else None

    def ipv6_default_route(self) -> str | None:
        table = self._read("proc", "net", "ipv6_route")
        for line in (table or "").splitlines():
            fields = line.split()
            if len(fields) != 10 or fields[9] == "lo":
                continue
            try:
                if int(fields[0], 16) == 0 and fields[1] == "00" and int(fields[8], 16) & RTF_UP:
                    return fields[9]
            except ValueError:
                continue
        return None

    # -- disk, time, load, memory

    def disk(self, path: str) -> DiskUsage:
        return self._disk_usage(path)

    def uptime_seconds(self) -> float | None:
        text = self._read("proc", "uptime")
        try:
            return float(text.split()[0]) if text else None
        except (ValueError, IndexError):
            return None

    def load(self) -> tuple[float, float, float] | None:
        text = self._read("proc", "loadavg")
        if text:
            with contextlib.suppress(ValueError, IndexError):
                parts = text.split()
                return float(parts[0]), float(parts[1]), float(parts[2])
        if self.root == Path("/") and hasattr(os, "getloadavg"):
            with contextlib.suppress(OSError):
                return os.getloadavg()
        return None

    def cpu_count(self) -> int:
        return self._cpus or os.cpu_count() or 1

    def memory(self) -> tuple[int, int] | None:
        """(available, total) in bytes."""
        text = self._read("proc", "meminfo")
        if not text:
            return None
        values: dict[str, int] = {}
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            with contextlib.suppress(ValueError, IndexError):
                values[key.strip()] = int(rest.split()[0]) * 1024
        if "MemTotal" not in values or "MemAvailable" not in values:
            return None
        return values["MemAvailable"], values["MemTotal"]


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _real_disk_usage(path: str) -> DiskUsage:
    usage = shutil.disk_usage(path)
    return DiskUsage(usage.total, usage.used, usage.free)


# ---------------------------------------------------------------- sentences


def size(count: int) -> str:
    """Bytes as a spoken size: "512 MB", "7.5 GB", "1.2 TB"."""
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            if unit == "bytes":
                return f"{int(value)} bytes"
            if value < 10 and round(value, 1) != round(value):
                return f"{value:.1f} {unit}"
            return f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.0f} TB"


def _minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest:02d} min"
    return f"{hours} hour{'s' if hours != 1 else ''}" if hours else f"{rest} minutes"


def battery_sentence(reader: SystemReader) -> str:
    batteries, on_mains = reader.batteries()
    if not batteries:
        if on_mains:
            return "This computer has no battery; it's running on mains power."
        return "I can't see a battery on this computer."
    parts = []
    for battery in batteries:
        level = f"{battery.percent}%" if battery.percent is not None else "an unknown level"
        label = "Battery" if len(batteries) == 1 else f"Battery {battery.name}"
        status = battery.status.lower()
        if battery.status == "Discharging":
            text = f"{label} at {level}, on battery power"
            if battery.minutes_left:
                text += f", about {_minutes(battery.minutes_left)} left"
        elif battery.status == "Charging":
            text = f"{label} at {level} and charging"
            if battery.minutes_left:
                text += f", full in about {_minutes(battery.minutes_left)}"
        elif battery.status == "Full":
            text = f"{label} full ({level})"
        elif battery.status == "Not charging":
            text = f"{label} at {level}, plugged in but not charging"
        else:
            text = f"{label} at {level} ({status})"
        parts.append(text + ".")
    return " ".join(parts)


def network_sentence(reader: SystemReader) -> str:
    interfaces = reader.interfaces()
    route = reader.default_route()
    ipv6 = reader.ipv6_default_route()
    if not interfaces and route is None:
        return "I can't see this computer's network interfaces."
    up = [i for i in interfaces if i.up]
    down = [i for i in interfaces if not i.up and i.kind != "VPN"]
    parts = []
    if up:
        parts.append("Connected: " + ", ".join(f"{i.kind} ({i.name})" for i in up) + ".")
    else:
        parts.append("No network connection is up.")
    if down:
        parts.append("Down: " + ", ".join(f"{i.kind} ({i.name})" for i in down) + ".")
    if route:
        parts.append(f"Traffic goes out through {route[0]} via the router at {route[1]}.")
    elif ipv6:
        parts.append(f"There's an IPv6 route out through {ipv6}, but no IPv4 one.")
    elif up:
        parts.append("There's no default route, so the internet is probably unreachable.")
    return " ".join(parts)


def disk_sentence(reader: SystemReader, paths: list[tuple[str, str]]) -> str:
    parts = []
    seen: set[tuple[int, int]] = set()
    for label, path in paths:
        try:
            usage = reader.disk(path)
        except OSError:
            parts.append(f"I couldn't check the disk for {label}.")
            continue
        key = (usage.total, usage.free)
        if key in seen:
            continue
        seen.add(key)
        used = round(100 * usage.used / usage.total) if usage.total else 0
        text = f"{size(usage.free)} free of {size(usage.total)} on {label} ({used}% used)"
        if usage.total and usage.free / usage.total < 0.05:
            text += "; that's nearly full"
        parts.append(text + ".")
    return " ".join(parts)


def load_sentence(reader: SystemReader) -> str:
    parts = []
    uptime = reader.uptime_seconds()
    if uptime is not None:
        minutes = int(uptime // 60)
        days, rest = divmod(minutes, 1440)
        hours = rest // 60
        if days:
            span = f"{days} day{'s' if days != 1 else ''}, {hours} hour{'s' if hours != 1 else ''}"
        elif hours:
            span = f"{hours} hour{'s' if hours != 1 else ''}, {rest % 60} minutes"
        else:
            span = f"{minutes} minute{'s' if minutes != 1 else ''}"
        parts.append(f"Up for {span}.")
    load = reader.load()
    if load is not None:
        cpus = reader.cpu_count()
        share = load[0] / cpus
        feel = (
            "idle"
            if share < 0.1
            else "light"
            if share < 0.5
            else "busy"
            if share < 1
            else "overloaded"
        )
        parts.append(f"Load {load[0]:.2f} over the last minute on {cpus} cores ({feel}).")
    memory = reader.memory()
    if memory is not None:
        parts.append(f"{size(memory[0])} of {size(memory[1])} memory free.")
    return " ".join(parts) or "I can't read uptime, load or memory on this system."


# ---------------------------------------------------------------- tools


def reader_from(settings: Any) -> SystemReader:
    """Settings hooks: ``system_root`` (a fake tree), ``disk_usage``, ``cpu_count``."""
    root = getattr(settings, "system_root", None)
    cpus = getattr(settings, "cpu_count", None)
    return SystemReader(
        Path(root) if root else Path("/"),
        disk_usage=getattr(settings, "disk_usage", None),
        cpu_count=int(cpus) if cpus else None,
    )


def _disk_paths(settings: Any) -> list[tuple[str, str]]:
    configured = getattr(settings, "disk_paths", None)
    if configured:
        return [(str(p), str(p)) for p in configured]
    return [("your home folder's disk", str(Path.home())), ("the system disk", "/")]


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    async def get_battery_status() -> str:
        """Get the battery level, whether it's charging, and roughly how long it will last."""
        return battery_sentence(reader_from(ctx.settings))

    async def get_network_status() -> str:
        """Get which network connections (Wi-Fi, Ethernet, VPN) are up and the way out."""
        return network_sentence(reader_from(ctx.settings))

    async def get_disk_space() -> str:
        """Get how much disk space is free."""
        return disk_sentence(reader_from(ctx.settings), _disk_paths(ctx.settings))

    async def get_system_load() -> str:
        """Get how long the computer has been up, how busy it is, and free memory."""
        return load_sentence(reader_from(ctx.settings))

    async def get_system_overview() -> str:
        """Get a quick health check of the computer: battery, network, disk, load and memory."""
        reader = reader_from(ctx.settings)
        return "\n".join(
            [
                battery_sentence(reader),
                network_sentence(reader),
                disk_sentence(reader, _disk_paths(ctx.settings)),
                load_sentence(reader),
            ]
        )

    async def check_internet_connection() -> str:
        """Check whether the internet is reachable right now (one small web request)."""
        url = ctx.endpoint("connectivity_check", DEFAULT_CHECK_URL)
        host = httpx.URL(url).host
        try:
            response = await ctx.http.get(url, timeout=CHECK_TIMEOUT, follow_redirects=False)
        except httpx.TimeoutException:
            return f"The internet seems down or very slow: {host} didn't answer within 5 seconds."
        except httpx.HTTPError:
            return f"The internet seems to be down: I couldn't reach {host}."
        if response.is_redirect:
            return (
                "You're connected to a network that wants you to sign in first (a captive "
                "portal, like hotel or café Wi-Fi). Open any web page to sign in."
            )
        if response.status_code == 204 or (
            response.status_code == 200 and (url != DEFAULT_CHECK_URL or "success" in response.text)
        ):
            return f"The internet is reachable ({host} answered)."
        if response.status_code == 200:
            return (
                "You're connected, but something is rewriting web pages, probably a sign-in "
                "page for this network. Open any web page to sign in."
            )
        raise ConnectorError(
            f"The connectivity check at {host} answered oddly (HTTP {response.status_code}); "
            "the internet may or may not be working."
        )

    return [
        ToolDef(get_battery_status, progress="Checking the battery..."),
        ToolDef(get_network_status, progress="Checking the network..."),
        ToolDef(get_disk_space, progress="Checking disk space..."),
        ToolDef(get_system_load, progress="Checking how busy the computer is..."),
        ToolDef(get_system_overview, progress="Checking how the computer is doing..."),
        ToolDef(check_internet_connection, progress="Checking the internet connection..."),
    ]


CONNECTOR = Connector(
    name=NAME,
    title="Computer status",
    description=(
        "The state of this laptop or computer: battery charge and how long it will last, "
        "whether it's connected to Wi-Fi, a network and the internet, free disk space, "
        "uptime, load and memory."
    ),
    instructions=(
        "You report on the user's computer. Use the narrowest tool for the question, and "
        "check the internet only when asked about being online. Answer in one or two "
        "sentences with round numbers (say 'about 3 hours', '120 gigabytes'). Don't read "
        "interface names or addresses unless the user asks for details. If a tool reports a "
        "problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "How much battery do I have left?",
        "Am I online?",
        "How much disk space is free?",
        "Is my computer busy?",
    ),
    followups=("Am I online right now?", "How much disk space is left?"),
)

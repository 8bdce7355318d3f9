"""System status read from a fake /sys and /proc tree, and the connectivity check's wire."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.system_status import CONNECTOR, DiskUsage, SystemReader, size

GB = 1_000_000_000

ROUTE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "wlp2s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
    "enp3s0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    "wlp2s0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n"
)
IPV6_ROUTE = (
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000001 00000000 00450003 wlp2s0\n"
)
MEMINFO = "MemTotal:       16314436 kB\nMemFree:         1048576 kB\nMemAvailable:    7340032 kB\n"


def write(root: Path, relative: str, text: str = "") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A laptop on battery, on Wi-Fi with a VPN, Ethernet unplugged."""
    r = tmp_path / "root"
    supply = "sys/class/power_supply"
    for name, text in {
        "type": "Battery\n",
        "status": "Discharging\n",
        "capacity": "76\n",
        "energy_now": "38000000\n",
        "energy_full": "50000000\n",
        "power_now": "9500000\n",
    }.items():
        write(r, f"{supply}/BAT0/{name}", text)
    write(r, f"{supply}/AC/type", "Mains\n")
    write(r, f"{supply}/AC/online", "0\n")
    write(r, f"{supply}/hidpp_battery_0/type", "Battery\n")  # a wireless mouse
    write(r, f"{supply}/hidpp_battery_0/scope", "Device\n")
    write(r, f"{supply}/hidpp_battery_0/capacity", "10\n")
    net = "sys/class/net"
    write(r, f"{net}/lo/operstate", "unknown\n")
    write(r, f"{net}/wlp2s0/operstate", "up\n")
    (r / net / "wlp2s0" / "wireless").mkdir()
    (r / net / "wlp2s0" / "device").mkdir()
    write(r, f"{net}/enp3s0/operstate", "down\n")
    (r / net / "enp3s0" / "device").mkdir()
    write(r, f"{net}/docker0/operstate", "up\n")  # virtual: not mentioned
    write(r, f"{net}/wg0/operstate", "unknown\n")
    write(r, f"{net}/wg0/carrier", "1\n")
    write(
        r,
        "proc/net/route",
        ROUTE.replace("enp3s0\t00000000\t0100000A\t0003", "enp3s0\t00000000\t0100000A\t0002"),
    )
    write(r, "proc/net/ipv6_route", IPV6_ROUTE)
    write(r, "proc/uptime", "273845.12 1045633.50\n")
    write(r, "proc/loadavg", "0.52 0.58 0.59 1/467 12345\n")
    write(r, "proc/meminfo", MEMINFO)
    return r


def disks(table: dict[str, DiskUsage]) -> Callable[[str], DiskUsage]:
    def usage(path: str) -> DiskUsage:
        if path not in table:
            raise FileNotFoundError(path)
        return table[path]

    return usage


def tools_for(
    settings: Any, handler: Callable[[httpx.Request], httpx.Response] | None = None, **kw: Any
) -> dict[str, ToolDef]:
    transport = httpx.MockTransport(handler or (lambda r: httpx.Response(500)))
    ctx = ConnectorContext(http=httpx.AsyncClient(transport=transport), settings=settings, **kw)
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


def settings_for(root: Path, **kw: Any) -> SimpleNamespace:
    home = DiskUsage(total=500 * GB, used=380 * GB, free=120 * GB)
    defaults: dict[str, Any] = {
        "system_root": root,
        "cpu_count": 8,
        "disk_usage": disks({str(Path.home()): home, "/": home}),
    }
    defaults.update(kw)
    return SimpleNamespace(**defaults)


# ---------------------------------------------------------------- battery


async def test_battery_on_the_go(root: Path) -> None:
    said = await tools_for(settings_for(root))["get_battery_status"].func()

    assert said == "Battery at 76%, on battery power, about 4 hours left."


async def test_battery_charging(root: Path) -> None:
    write(root, "sys/class/power_supply/BAT0/status", "Charging\n")
    write(root, "sys/class/power_supply/AC/online", "1\n")

    said = await tools_for(settings_for(root))["get_battery_status"].func()

    assert said == "Battery at 76% and charging, full in about 1 h 16 min."


@pytest.mark.parametrize(
    ("status", "said"),
    [
        ("Full", "Battery full (76%)."),
        ("Not charging", "Battery at 76%, plugged in but not charging."),
        ("Unknown", "Battery at 76% (unknown)."),
    ],
)
async def test_battery_other_states(root: Path, status: str, said: str) -> None:
    write(root, "sys/class/power_supply/BAT0/status", status + "\n")

    assert await tools_for(settings_for(root))["get_battery_status"].func() == said


async def test_charge_counters_instead_of_energy(root: Path) -> None:
    folder = root / "sys/class/power_supply/BAT0"
    for name in ("capacity", "energy_now", "energy_full", "power_now"):
        (folder / name).unlink()
    write(root, "sys/class/power_supply/BAT0/charge_now", "2000000\n")
    write(root, "sys/class/power_supply/BAT0/charge_full", "4000000\n")
    write(root, "sys/class/power_supply/BAT0/current_now", "1000000\n")

    said = await tools_for(settings_for(root))["get_battery_status"].func()

    assert said == "Battery at 50%, on battery power, about 2 hours left."


async def test_a_desktop_on_mains(tmp_path: Path) -> None:
    write(tmp_path, "sys/class/power_supply/AC/type", "Mains\n")
    write(tmp_path, "sys/class/power_supply/AC/online", "1\n")

    said = await tools_for(settings_for(tmp_path))["get_battery_status"].func()

    assert said == "This computer has no battery; it's running on mains power."


async def test_no_power_supply_files_at_all(tmp_path: Path) -> None:
    said = await tools_for(settings_for(tmp_path))["get_battery_status"].func()

    assert said == "I can't see a battery on this computer."


def test_psutil_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = ModuleType("psutil")
    fake.sensors_battery = lambda: SimpleNamespace(  # type: ignore[attr-defined]
        percent=41.6, secsleft=5400, power_plugged=False
    )
    monkeypatch.setitem(sys.modules, "psutil", fake)

    batteries, plugged = SystemReader(tmp_path, use_psutil=True).batteries()

    assert plugged is False
    assert [(b.percent, b.status, b.minutes_left) for b in batteries] == [(42, "Discharging", 90)]


# ---------------------------------------------------------------- network


async def test_network(root: Path) -> None:
    said = await tools_for(settings_for(root))["get_network_status"].func()

    assert said == (
        "Connected: VPN (wg0), Wi-Fi (wlp2s0). Down: Ethernet (enp3s0). "
        "Traffic goes out through wlp2s0 via the router at 192.168.1.1."
    )


async def test_the_lowest_metric_default_route_wins(root: Path) -> None:
    write(root, "proc/net/route", ROUTE)

    said = await tools_for(settings_for(root))["get_network_status"].func()

    assert said.endswith("Traffic goes out through enp3s0 via the router at 10.0.0.1.")


async def test_only_ipv6(root: Path) -> None:
    write(root, "proc/net/route", ROUTE.splitlines()[0] + "\n")

    said = await tools_for(settings_for(root))["get_network_status"].func()

    assert said.endswith("There's an IPv6 route out through wlp2s0, but no IPv4 one.")


async def test_offline(root: Path) -> None:
    write(root, "sys/class/net/wlp2s0/operstate", "down\n")
    write(root, "sys/class/net/wg0/carrier", "0\n")
    write(root, "proc/net/route", ROUTE.splitlines()[0] + "\n")
    write(root, "proc/net/ipv6_route", "")

    said = await tools_for(settings_for(root))["get_network_status"].func()

    assert said == "No network connection is up. Down: Ethernet (enp3s0), Wi-Fi (wlp2s0)."


async def test_no_network_files(tmp_path: Path) -> None:
    said = await tools_for(settings_for(tmp_path))["get_network_status"].func()

    assert said == "I can't see this computer's network interfaces."


# ---------------------------------------------------------------- disk, load, memory


async def test_disk_space_counts_one_disk_once(root: Path) -> None:
    said = await tools_for(settings_for(root))["get_disk_space"].func()

    assert said == "120 GB free of 500 GB on your home folder's disk (76% used)."


async def test_two_disks_and_a_nearly_full_one(root: Path) -> None:
    usage = disks(
        {
            str(Path.home()): DiskUsage(1000 * GB, 980 * GB, 20 * GB),
            "/": DiskUsage(64 * GB, 32 * GB, 32 * GB),
        }
    )

    said = await tools_for(settings_for(root, disk_usage=usage))["get_disk_space"].func()

    assert said == (
        "20 GB free of 1 TB on your home folder's disk (98% used); that's nearly full. "
        "32 GB free of 64 GB on the system disk (50% used)."
    )


async def test_a_disk_that_cant_be_read(root: Path) -> None:
    settings = settings_for(root, disk_usage=disks({}), disk_paths=["/mnt/usb"])

    said = await tools_for(settings)["get_disk_space"].func()

    assert said == "I couldn't check the disk for /mnt/usb."


async def test_the_real_disk_is_readable(tmp_path: Path) -> None:
    settings = SimpleNamespace(system_root=tmp_path, disk_paths=[str(tmp_path)])

    said = await tools_for(settings)["get_disk_space"].func()

    assert f"on {tmp_path} (" in said and "free of" in said


async def test_uptime_load_and_memory(root: Path) -> None:
    said = await tools_for(settings_for(root))["get_system_load"].func()

    assert said == (
        "Up for 3 days, 4 hours. Load 0.52 over the last minute on 8 cores (idle). "
        "7.5 GB of 17 GB memory free."
    )


async def test_a_busy_machine_up_for_minutes(root: Path) -> None:
    write(root, "proc/uptime", "754.2 100.0\n")
    write(root, "proc/loadavg", "7.90 5.10 3.00 9/467 12345\n")

    said = await tools_for(settings_for(root))["get_system_load"].func()

    assert said.startswith("Up for 12 minutes. Load 7.90 over the last minute on 8 cores (busy).")


async def test_nothing_readable(tmp_path: Path) -> None:
    said = await tools_for(settings_for(tmp_path))["get_system_load"].func()

    assert said == "I can't read uptime, load or memory on this system."


async def test_overview(root: Path) -> None:
    said = await tools_for(settings_for(root))["get_system_overview"].func()

    lines = said.splitlines()
    assert lines[0].startswith("Battery at 76%")
    assert lines[1].startswith("Connected: VPN (wg0), Wi-Fi (wlp2s0).")
    assert lines[2].startswith("120 GB free")
    assert lines[3].startswith("Up for 3 days")


@pytest.mark.parametrize(
    ("count", "spoken"),
    [
        (512, "512 bytes"),
        (2_500_000, "2.5 MB"),
        (120 * GB, "120 GB"),
        (1200 * GB, "1.2 TB"),
        (3 * GB, "3 GB"),
    ],
)
def test_sizes(count: int, spoken: str) -> None:
    assert size(count) == spoken


# ---------------------------------------------------------------- the internet, only when asked


async def test_no_tool_but_the_check_touches_the_network(root: Path) -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="success\n")

    tools = tools_for(settings_for(root), record)
    for name in (
        "get_battery_status",
        "get_network_status",
        "get_disk_space",
        "get_system_load",
        "get_system_overview",
    ):
        await tools[name].func()
    assert seen == []

    said = await tools["check_internet_connection"].func()

    assert said == "The internet is reachable (detectportal.firefox.com answered)."
    (request,) = seen
    assert str(request.url) == "http://detectportal.firefox.com/success.txt"


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (
            httpx.Response(302, headers={"Location": "http://portal.hotel.example/login"}),
            "You're connected to a network that wants you to sign in first",
        ),
        (
            httpx.Response(200, text="<html>Welcome to Café Wi-Fi</html>"),
            "You're connected, but something is rewriting web pages",
        ),
    ],
)
async def test_captive_portals(root: Path, reply: httpx.Response, said: str) -> None:
    tools = tools_for(settings_for(root), lambda _r: reply)

    assert (await tools["check_internet_connection"].func()).startswith(said)


async def test_offline_check(root: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Network is unreachable", request=request)

    said = await tools_for(settings_for(root), refuse)["check_internet_connection"].func()

    assert said == "The internet seems to be down: I couldn't reach detectportal.firefox.com."


async def test_slow_check(root: Path) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    said = await tools_for(settings_for(root), hang)["check_internet_connection"].func()

    assert said.startswith("The internet seems down or very slow")


async def test_a_configured_check_url(root: Path) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(204)

    tools = tools_for(
        settings_for(root),
        answer,
        endpoints={"connectivity_check": "http://127.0.0.1:8080/generate_204"},
    )

    assert await tools["check_internet_connection"].func() == (
        "The internet is reachable (127.0.0.1 answered)."
    )
    assert seen == ["http://127.0.0.1:8080/generate_204"]


async def test_an_odd_check_answer(root: Path) -> None:
    tools = tools_for(settings_for(root), lambda _r: httpx.Response(503))

    with pytest.raises(ConnectorError, match=r"answered oddly \(HTTP 503\)"):
        await tools["check_internet_connection"].func()


def test_metadata() -> None:
    tools = tools_for(None)
    assert sorted(tools) == [
        "check_internet_connection",
        "get_battery_status",
        "get_disk_space",
        "get_network_status",
        "get_system_load",
        "get_system_overview",
    ]
    assert not any(t.side_effect for t in tools.values())
    assert render_progress(tools["get_battery_status"].progress, {}) == "Checking the battery..."

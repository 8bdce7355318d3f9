"""The control socket: ``status`` round trip against a bare socket echo, and event fan-out.

1. Round trip: ``status`` over the socket to a real Hark core (the query goes over the bus to
   the query service and back), p50/p99 over many calls, against a bare asyncio Unix-socket
   echo of a line of the same size, measured in the same run. The ratio is what the JSON-RPC
   layer, the bus round trip and the query cost on top of the socket itself.
2. Fan-out: Hark publishes events on its bus while 100 clients, each subscribed, read them;
   prints events/s delivered (over all clients) and how many were lost. Hark publishes in
   bursts of ``--burst`` events, yielding to its loop between bursts as a live source would
   (server deltas arrive a network read at a time). Target: no loss when clients keep up.

Hark and the clients run in separate processes (each on its own core where there are two).

    python bench/socket_bench.py [--calls 2000] [--clients 100] [--events 5000] [--burst 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

END_MARK = b'"source":"bench-end"'


# -- the processes under test -----------------------------------------------------------------


def serve_hark(home: str, ready: MpEvent, go: MpEvent, done: MpEvent, args: Any, out: Any) -> None:
    """A real Hark core and socket (``run_headless``); on ``go``, publish the fan-out events."""
    os.environ.update(
        HARK_HOME=home, OPENAI_BASE_URL="http://127.0.0.1:9/v1", HARK_LOGGING__LEVEL="WARNING"
    )
    from main import build_core
    from src.config.settings import load_settings
    from src.events.conversation import AssistantTextDelta, ErrorReported
    from src.events.tasks import TaskOwner
    from src.presentation.headless import run_headless

    async def main() -> None:
        settings = load_settings(Path(home) / "config.toml")
        core = build_core(settings, "sk-bench-not-used")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        tasks = TaskOwner("bench")

        async def fan_out() -> None:
            await loop.run_in_executor(None, go.wait)
            started = time.monotonic()
            for n in range(args.events):
                await core.bus.publish(AssistantTextDelta(turn_id="bench", delta=f"{n:08d} words"))
                if n % args.burst == args.burst - 1:
                    await asyncio.sleep(0)
            await core.bus.publish(ErrorReported(source="bench-end", message="done"))
            out.put(("published", started, time.monotonic()))
            await loop.run_in_executor(None, done.wait)
            stop.set()

        def on_ready(_: Any) -> None:
            ready.set()
            tasks.spawn(fan_out(), "fan-out")

        limits = {"max_clients": args.clients + 8}
        with open(os.devnull, "w") as quiet:
            await run_headless(core, stop=stop, stderr=quiet, limits=limits, on_ready=on_ready)
        await tasks.close()

    asyncio.run(main())


def serve_echo(path: str, ready: MpEvent, done: MpEvent) -> None:
    """The baseline: an asyncio Unix-socket server that echoes each line."""

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_unix_server(echo, path)
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, done.wait)
        server.close()

    asyncio.run(main())


def read_events(path: str, clients: int, subscribed: MpEvent, out: Any) -> None:
    """``clients`` connections subscribed to the bench events; each reads to the end mark."""

    async def one(n: int) -> tuple[int, int, float]:
        reader, writer = await asyncio.open_unix_connection(path, limit=1 << 20)
        request = {
            "jsonrpc": "2.0",
            "id": n,
            "method": "events.subscribe",
            "params": {"types": ["assistant.text.delta", "error"]},
        }
        writer.write(json.dumps(request).encode() + b"\n")
        await reader.readline()
        counted.append(n)
        if len(counted) == clients:
            subscribed.set()
        events = lost = 0
        while line := await reader.readline():
            if END_MARK in line:
                break
            if b'"events.dropped"' in line:
                lost += json.loads(line)["params"]["count"]
            else:
                events += 1
        writer.close()
        return events, lost, time.monotonic()

    counted: list[int] = []

    async def main() -> list[tuple[int, int, float]]:
        return list(await asyncio.gather(*(one(n) for n in range(clients))))

    out.put(("clients", asyncio.run(main())))


# -- measuring --------------------------------------------------------------------------------


def round_trips(path: str, line: bytes, calls: int) -> list[float]:
    """Microseconds per request/response over one connection, after a warm-up."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    reader = sock.makefile("rb")
    for _ in range(50):
        sock.sendall(line)
        reader.readline()
    times = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        sock.sendall(line)
        reply = reader.readline()
        times.append((time.perf_counter_ns() - start) / 1000)
    assert reply, "the server closed the connection"
    sock.close()
    return times


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="hark-bench-")
    hark_path = str(Path(home) / "run" / "hark.sock")
    echo_path = str(Path(home) / "echo.sock")
    ready, go, done = mp.Event(), mp.Event(), mp.Event()
    echo_ready, subscribed = mp.Event(), mp.Event()
    out: Any = mp.Queue()
    hark = mp.Process(target=serve_hark, args=(home, ready, go, done, args, out))
    echo = mp.Process(target=serve_echo, args=(echo_path, echo_ready, done))
    hark.start()
    echo.start()
    if not (ready.wait(60) and echo_ready.wait(60)):
        raise SystemExit("the servers did not start")

    status = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status", "params": {}}).encode()
    hark_times = round_trips(hark_path, status + b"\n", args.calls)
    echo_line = b"x" * 200 + b"\n"  # about the size of a status reply
    echo_times = round_trips(echo_path, echo_line, args.calls)

    readers = mp.Process(target=read_events, args=(hark_path, args.clients, subscribed, out))
    readers.start()
    if not subscribed.wait(60):
        raise SystemExit("the clients did not subscribe")
    go.set()
    results: dict[str, Any] = {}
    while len(results) < 2:
        kind, *value = out.get(timeout=300)
        results[kind] = value
    readers.join(60)
    done.set()
    hark.join(60)
    echo.join(60)
    shutil.rmtree(home, ignore_errors=True)

    published_at, publish_end = results["published"]
    per_client = results["clients"][0]
    delivered = sum(c[0] for c in per_client)
    lost = sum(c[1] for c in per_client)
    expected = args.events * args.clients
    finished = max(c[2] for c in per_client)
    seconds = finished - published_at

    print(f"status round trip over {args.calls} calls (µs):")
    for name, times in (("hark status", hark_times), ("bare echo", echo_times)):
        print(
            f"  {name:12s} p50 {percentile(times, 50):7.1f}  p99 {percentile(times, 99):7.1f}"
            f"  mean {statistics.fmean(times):7.1f}"
        )
    print(
        f"  ratio hark/echo: p50 {percentile(hark_times, 50) / percentile(echo_times, 50):.1f}x"
        f"  p99 {percentile(hark_times, 99) / percentile(echo_times, 99):.1f}x"
    )
    print(
        f"fan-out: {args.events} events to {args.clients} clients (bursts of {args.burst}): "
        f"published in {publish_end - published_at:.2f} s, all read in {seconds:.2f} s"
    )
    print(
        f"  delivered {delivered}/{expected} ({delivered / seconds:,.0f} events/s), "
        f"lost {lost} (reported), missing {expected - delivered - lost}"
    )


if __name__ == "__main__":
    main()

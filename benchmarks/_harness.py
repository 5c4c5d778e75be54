"""What the CTI benchmarks share: the child CTI process, its CPU, the client
process, percentiles and the measurer's own noise.

Not meant to be run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cti.runner import LOOPS

R = TypeVar("R")

WS_CLIENTS = Path(__file__).resolve().parent / "_ws_clients.py"


def add_loop_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loop", choices=LOOPS, default=LOOPS[0], help="the CTI's event loop (uvloop, as shipped)"
    )
    parser.add_argument(
        "--loop-peer",
        action="store_true",
        help="run again on the other event loop and compare (the same load, one after the other)",
    )


def _loops_to_run(args: argparse.Namespace) -> list[str]:
    chosen: str = args.loop
    return [chosen, *(loop for loop in LOOPS if loop != chosen)] if args.loop_peer else [chosen]


def use_loop(name: str) -> None:
    """CTI children started from now on run on `name` (they inherit $CTI_LOOP)."""
    os.environ["CTI_LOOP"] = name


def run_on_loops(
    args: argparse.Namespace,
    measure: Callable[[], Coroutine[Any, Any, R]],
    report: Callable[[R, str], None],
) -> dict[str, R]:
    """`measure()` with the CTI on --loop, and on the other loop too with
    --loop-peer, reporting each; the children are left on --loop."""
    results: dict[str, R] = {}
    for loop in _loops_to_run(args):
        use_loop(loop)
        results[loop] = asyncio.run(measure())
        report(results[loop], loop)
    use_loop(args.loop)
    return results


def compare_loops(
    results: Mapping[str, R],
    cpu: Callable[[R], float],
    cpu_unit: str,
    latencies_ms: Callable[[R], Sequence[float]],
) -> None:
    """One line of ratios when `run_on_loops` ran both loops."""
    if len(results) < 2:
        return
    (first, a), (second, b) = results.items()
    la, lb = latencies_ms(a), latencies_ms(b)
    print(
        f"\nevent loops ({first} / {second}): CTI CPU {cpu_unit} {cpu(a):.2f} / {cpu(b):.2f} "
        f"= {cpu(a) / cpu(b):.2f}x; p50 {percentile(la, 50):.2f} / {percentile(lb, 50):.2f} ms; "
        f"p99 {percentile(la, 99):.2f} / {percentile(lb, 99):.2f} ms"
    )


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of sorted values (nan when empty)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


@dataclass(slots=True)
class LoopLag:
    """How late this process's event loop wakes up from a short sleep."""

    samples_ms: list[float] = field(default_factory=list)
    recording: bool = False

    async def run(self, period: float = 0.005) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(period)
            if self.recording:
                self.samples_ms.append((time.perf_counter() - start - period) * 1000.0)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_log(path: Path) -> str:
    return path.read_text(errors="replace")


def log_summary(text: str, top: int = 5) -> list[str]:
    """The CTI's most frequent log lines, with timestamps and ids folded away."""
    kinds = Counter(
        re.sub(r"[0-9][0-9.:,-]*", "#", line.split(" ", 2)[-1])[:110]
        for line in text.splitlines()
        if line and not line.startswith(" ")
    )
    return [f"{n:6d}  {kind}" for kind, n in kinds.most_common(top)]


# -- the CTI under test, in a process of its own ---------------------------------------


@dataclass(slots=True)
class Child:
    process: asyncio.subprocess.Process
    http_port: int
    pid: int


async def start_child(script: Path, args: Sequence[str], stderr_path: Path) -> Child:
    """Start `script args`; it prints `{"http_port", "pid"}` once it listens.
    Its stderr is appended to `stderr_path` (several children may share one)."""
    with stderr_path.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60.0):
            line = await process.stdout.readline()
        ready = json.loads(line)
    except (TimeoutError, ValueError) as exc:
        await stop_child(process)
        tail = read_log(stderr_path)[-3000:]
        raise RuntimeError(f"the CTI did not start; its stderr:\n{tail}") from exc
    return Child(process, int(ready["http_port"]), int(ready["pid"]))


async def stop_child(process: asyncio.subprocess.Process, grace: float = 5.0) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


# -- the browsers, in a process of their own (benchmarks/_ws_clients.py) ---------------


@dataclass(frozen=True, slots=True)
class ClientsCounts:
    """The clients' counters at one instant (C's `time.perf_counter()`)."""

    stamp: float
    frames: list[int]  # per user (index in the users given to `WsClients.start`)
    matched: list[int]  # per user: frames holding `match`
    counted: list[list[int]]  # [i][user]: frames holding the i-th `count` substring

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ClientsCounts:
        return cls(
            float(raw["stamp"]),
            [int(n) for n in raw["frames"]],
            [int(n) for n in raw["matched"]],
            [[int(n) for n in per_user] for per_user in raw["counted"]],
        )


@dataclass(frozen=True, slots=True)
class ClientsReport:
    # (read stamp, user index, parsed message or its `fields`' values), in read order
    messages: list[tuple[float, int, Any]]
    lag: list[tuple[float, float]]  # (stamp, ms late) of the clients' loop
    counts: ClientsCounts  # at the end
    marks: list[ClientsCounts]  # one per `WsClients.mark()`, in order
    closed: list[str]  # per user: "closed <code>" if the server closed it, else ""


class WsClients:
    """One WebSocket per user, read by `_ws_clients.py`; see its docstring."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        return self._process.pid

    @classmethod
    async def start(
        cls,
        port: int,
        secret: str,
        users: Sequence[tuple[str, str, str, str | None]],
        match: str,
        *,
        fields: Sequence[str] | None = None,
        keep: Sequence[int] | None = None,
        count: Sequence[str] = (),
    ) -> WsClients:
        """Connect every user (login, name, role, interface); keep messages holding
        `match` (only their `fields`, dotted paths, if given; only those of the
        users in `keep`, if given) and count those holding each `count` substring."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WS_CLIENTS),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 30,  # the report is one (long) line
            start_new_session=True,
        )
        assert process.stdin is not None
        assert process.stdout is not None
        config: dict[str, Any] = {
            "port": port,
            "secret": secret,
            "users": list(users),
            "match": match,
            "count": list(count),
        }
        if fields is not None:
            config["fields"] = list(fields)
        if keep is not None:
            config["keep"] = list(keep)
        process.stdin.write(json.dumps(config).encode() + b"\n")
        await process.stdin.drain()
        async with asyncio.timeout(180.0):
            line = await process.stdout.readline()
        if not line:
            await process.wait()
            raise RuntimeError(f"the client process failed (exit {process.returncode})")
        return cls(process)

    async def mark(self) -> None:
        """Have the clients snapshot their counters now (`ClientsReport.marks`)."""
        assert self._process.stdin is not None
        self._process.stdin.write(b"mark\n")
        await self._process.stdin.drain()

    async def stop(self) -> ClientsReport:
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(b"stop\n")
        await process.stdin.drain()
        async with asyncio.timeout(60.0):
            line = await process.stdout.readline()
            await process.wait()
        report = json.loads(line)
        return ClientsReport(
            [(float(t), int(user), m) for t, user, m in report["messages"]],
            [(float(t), float(ms)) for t, ms in report["lag"]],
            ClientsCounts.parse(report["counts"]),
            [ClientsCounts.parse(raw) for raw in report["marks"]],
            [str(c) for c in report["closed"]],
        )

    async def kill(self) -> None:
        await stop_child(self._process, grace=1.0)

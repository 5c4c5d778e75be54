"""The browsers of a benchmark, in a process of their own.

Strategy: the measuring process also runs the fake Asterisk, whose bursts of
frame generation (tens of ms at 50-100 calls/s) would hold back the reading
of the sockets and be counted as CTI latency. Here the sockets have a loop to
themselves. Every stamp is `time.perf_counter()`, which on Linux reads
CLOCK_MONOTONIC, one clock for every process of the machine, so the parent
can subtract its own write stamps from these read stamps.

Protocol, JSON lines: the parent writes one config line on stdin
`{"port", "secret", "users": [[login, name, role, interface], ...], "match"}`
with optional keys `"fields"` (dotted paths, e.g. "today.offered"), `"keep"`
(indices of the users whose matching messages are kept; all by default) and
`"count"` (more substrings, only counted). This process connects every
user's socket (tokens minted with the CTI's secret), reads each hello, and
prints `{"ready": n}`. A kept message (its text holds `match`, its user is
kept) is parsed and stored as `[stamp, user, value]`: `value` is the message,
or with `fields` the list of those values only (a queue board is a few KB:
thousands a second would make the report hundreds of MB). Every user's
frames, matching frames and frames holding each `count` substring are
counted. A `mark` line on stdin snapshots those counters (the parent marks
the bounds of its measured window); `stop` (or EOF) prints one line
`{"messages", "counts", "marks", "closed", "lag"}` and exits: `counts` is
`{"stamp", "frames": [per user], "matched": [...], "counted": [[per user]
per count substring]}`, `marks` a list of such snapshots, `closed` per user
the close code of a socket the server closed ("" if none). `lag` samples
how late this loop wakes from a 5 ms sleep, `[[stamp, ms], ...]`: the
measurement noise that belongs to this side.

Not meant to be run by hand: the benchmarks start it (`WsClients`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from cti.config import Settings  # noqa: E402
from cti.runner import run  # noqa: E402
from cti.web.auth import TokenAuth  # noqa: E402
from cti.web.ports import User  # noqa: E402


class _NoUsers:
    """`TokenAuth` only signs here: it never looks anyone up."""

    async def authenticate(self, login: str, password: str) -> User | None:
        return None

    async def get_user(self, login: str) -> User | None:
        return None


@dataclass(slots=True)
class _Reading:
    """What every socket feeds: the kept messages and the counters per user."""

    match: str
    fields: list[list[str]] | None  # dotted paths, split
    count: list[str]
    kept: list[tuple[float, int, Any]]
    frames: list[int]
    matched: list[int]
    counted: list[list[int]]  # [substring][user]
    closed: list[str]

    def counts(self) -> dict[str, Any]:
        return {
            "stamp": time.perf_counter(),
            "frames": list(self.frames),
            "matched": list(self.matched),
            "counted": [list(c) for c in self.counted],
        }


def _pick(message: Any, paths: Sequence[Sequence[str]]) -> list[Any]:
    values: list[Any] = []
    for path in paths:
        value = message
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        values.append(value)
    return values


async def _client(
    url: str,
    user: int,
    keep: bool,
    reading: _Reading,
    ready: asyncio.Future[None],
    gate: asyncio.Semaphore,
) -> None:
    ws: ClientConnection
    async with gate:
        ws = await connect(url, open_timeout=60.0, ping_interval=None, max_size=None)
        await ws.recv()  # the hello
    ready.set_result(None)
    match, fields, kept = reading.match, reading.fields, reading.kept
    frames, matched = reading.frames, reading.matched
    counted = list(zip(reading.count, reading.counted, strict=True))
    try:
        while True:
            text = str(await ws.recv(decode=True))
            now = time.perf_counter()
            frames[user] += 1
            if match in text:
                matched[user] += 1
                if keep:
                    message = json.loads(text)
                    kept.append((now, user, message if fields is None else _pick(message, fields)))
            for substring, counters in counted:
                if substring in text:
                    counters[user] += 1
    except ConnectionClosed as exc:
        reading.closed[user] = f"closed {exc.rcvd.code if exc.rcvd else '?'}"
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await ws.close()


async def _lag(samples: list[tuple[float, float]], period: float = 0.005) -> None:
    while True:
        start = time.perf_counter()
        await asyncio.sleep(period)
        end = time.perf_counter()
        samples.append((end, (end - start - period) * 1000.0))


async def _stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main() -> None:
    stdin = await _stdin_lines()
    config = json.loads(await stdin.readline())
    auth = TokenAuth(_NoUsers(), Settings(token_secret=config["secret"]))
    users = config["users"]
    n = len(users)
    fields = config.get("fields")
    count = [str(s) for s in config.get("count", ())]
    keep = set(config["keep"]) if config.get("keep") is not None else set(range(n))
    reading = _Reading(
        match=str(config["match"]),
        fields=None if fields is None else [str(f).split(".") for f in fields],
        count=count,
        kept=[],
        frames=[0] * n,
        matched=[0] * n,
        counted=[[0] * n for _ in count],
        closed=[""] * n,
    )
    lag: list[tuple[float, float]] = []
    gate = asyncio.Semaphore(32)
    loop = asyncio.get_running_loop()
    readies: list[asyncio.Future[None]] = []
    tasks: list[asyncio.Task[None]] = []
    for index, (login, name, role, interface) in enumerate(users):
        token = auth.issue(User(login, name, role, interface)).token
        url = f"ws://127.0.0.1:{config['port']}/ws?token={token}"
        ready: asyncio.Future[None] = loop.create_future()
        client = _client(url, index, index in keep, reading, ready, gate)
        tasks.append(asyncio.create_task(client))
        readies.append(ready)
    async with asyncio.timeout(120.0):
        for ready, task in zip(readies, tasks, strict=True):
            await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
            if not ready.done():
                task.result()  # the connection failed: raise why
                raise RuntimeError("a socket closed before its hello")
    # A collection pauses this loop for tens of ms (1,000 sockets' objects),
    # stamping messages late: park what set-up made and collect no more. The
    # cycles a minute of reading leaves behind cost a few MB, not latency.
    gc.collect()
    gc.freeze()
    gc.disable()
    lag_task = asyncio.create_task(_lag(lag))
    print(json.dumps({"ready": len(tasks)}), flush=True)
    marks: list[dict[str, Any]] = []
    while (await stdin.readline()).strip() == b"mark":  # else "stop", or EOF
        marks.append(reading.counts())
    lag_task.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=10.0)
    report = {
        "messages": reading.kept,
        "counts": reading.counts(),
        "marks": marks,
        "closed": reading.closed,
        "lag": lag,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    # uvloop: this loop's lag is added to every latency measured (noise of
    # the measurer, not the CTI's); it is the lowest on uvloop
    run(main(), loop="uvloop")

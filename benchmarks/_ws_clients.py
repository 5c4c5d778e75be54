"""The agents' browsers of a benchmark, in a process of their own.

Strategy: the measuring process also runs the fake Asterisk, whose bursts of
frame generation (tens of ms at 50-100 calls/s) would hold back the reading
of the sockets and be counted as CTI latency. Here the sockets have a loop to
themselves. Every stamp is `time.perf_counter()`, which on Linux reads
CLOCK_MONOTONIC, one clock for every process of the machine, so the parent
can subtract its own write stamps from these read stamps.

Protocol, JSON lines: the parent writes one config line on stdin
`{"port", "secret", "users": [[login, name, role, interface], ...], "match"}`;
this process connects every user's socket (tokens minted with the CTI's
secret), reads each hello, and prints `{"ready": n}`. Each message whose text
contains `match` is parsed and kept with its read stamp. When stdin says
`stop` (or closes), it prints one line `{"messages": [[stamp, message], ...],
"lag": [[stamp, ms], ...]}` and exits. `lag` samples how late this loop
wakes from a 5 ms sleep: the measurement noise that belongs to this side.

Not meant to be run by hand: the benchmarks start it (`WsClients`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from cti.config import Settings  # noqa: E402
from cti.web.auth import TokenAuth  # noqa: E402
from cti.web.ports import User  # noqa: E402


class _NoUsers:
    """`TokenAuth` only signs here: it never looks anyone up."""

    async def authenticate(self, login: str, password: str) -> User | None:
        return None

    async def get_user(self, login: str) -> User | None:
        return None


async def _client(
    url: str,
    match: str,
    kept: list[tuple[float, Any]],
    ready: asyncio.Future[None],
    gate: asyncio.Semaphore,
) -> None:
    ws: ClientConnection
    async with gate:
        ws = await connect(url, open_timeout=60.0, ping_interval=None, max_size=None)
        await ws.recv()  # the hello
    ready.set_result(None)
    try:
        while True:
            text = str(await ws.recv(decode=True))
            now = time.perf_counter()
            if match in text:
                kept.append((now, json.loads(text)))
    except ConnectionClosed:
        pass
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
    match = str(config["match"])
    kept: list[tuple[float, Any]] = []
    lag: list[tuple[float, float]] = []
    gate = asyncio.Semaphore(32)
    loop = asyncio.get_running_loop()
    readies: list[asyncio.Future[None]] = []
    tasks: list[asyncio.Task[None]] = []
    for login, name, role, interface in config["users"]:
        token = auth.issue(User(login, name, role, interface)).token
        url = f"ws://127.0.0.1:{config['port']}/ws?token={token}"
        ready: asyncio.Future[None] = loop.create_future()
        tasks.append(asyncio.create_task(_client(url, match, kept, ready, gate)))
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
    await stdin.readline()  # "stop", or EOF
    lag_task.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=10.0)
    print(json.dumps({"messages": kept, "lag": lag}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())

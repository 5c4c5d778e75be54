"""Queue metrics under load: a call's end written by Asterisk -> the supervisor's queue_board.

Strategy: two processes, so the CTI under test has a core of its own.
  A (child, benchmarks/_cti_board_under_test.py): the real `CtiService`
    (AMI client, engine, queue metrics, supervisor feed, uvicorn, SQLite)
    with --agents agents and --supervisors supervisors of every queue.
  B (this process): the fake Asterisk generating --rate calls/s over --queues
    queues (each agent a member of two), one WebSocket per supervisor and,
    with --agent-sockets, per agent (the pops they get are part of the load).

The event measured is the end of a queue call: it is what moves the board's
counters (`today.offered` counts each queue call once, when it ends), which
makes the matching exact: in a fresh store, the k-th call to end in queue Q
is reflected by the first board of Q with `today.offered >= k`. B sees the
end as the fake writes the Hangup of the call's last channel (clocked with
`time.perf_counter()` right after the write), and each supervisor socket
stamps each board as it reads it. Latency = first reflecting board read -
end written, per supervisor. Ends written during --warmup are not measured.

Coalescing holds a change for up to 250 ms by design (at most 4 boards per
second per queue; the first change of a quiet queue goes out at once): at
100 calls/s over 50 queues every queue changes many times per interval, so
most ends wait for the next 250 ms tick. The peer run (--interval 0: every
change sent at once) shows what the pipeline alone costs, and what sending
every board would cost in CPU and frames. CPU per event = CTI process CPU
time (/proc/<pid>/stat) / AMI events written by the fake, over the window.

Run: `.venv/bin/python benchmarks/queue_metrics.py [--agents 500] [--queues 50]
[--rate 100] [--seconds 20] [--warmup 5] [--supervisors 5] [--no-peer]`.
Goal (issue 4): p99 <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cti_board_under_test import queue_name, supervisor_login  # noqa: E402
from _cti_under_test import agent_interface, agent_login, agent_name  # noqa: E402
from _harness import (  # noqa: E402
    Child,
    LoopLag,
    cpu_seconds,
    log_summary,
    percentile,
    read_log,
    start_child,
    stop_child,
)
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from cti.config import Settings  # noqa: E402
from cti.sim import AgentConfig, FakeAsterisk, QueueConfig, Scenario  # noqa: E402
from cti.web.auth import TokenAuth  # noqa: E402
from cti.web.ports import User  # noqa: E402

CHILD = Path(__file__).resolve().parent / "_cti_board_under_test.py"
GOAL_P99_MS = 250.0

_NEWCHANNEL = b"Event: Newchannel\r\n"
_HANGUP = b"Event: Hangup\r\n"
_JOIN = b"Event: QueueCallerJoin\r\n"
_LINKEDID = b"\r\nLinkedid: "
# perf_counter() + _WALL = time.time(), the clock of the boards' "at" (same machine)
_WALL = time.time() - time.perf_counter()
_QUEUE = b"\r\nQueue: "


def _field(frame: bytes, key: bytes) -> str:
    start = frame.find(key)
    if start < 0:
        return ""
    start += len(key)
    return frame[start : frame.find(b"\r\n", start)].decode()


@dataclass(slots=True)
class Ends:
    """When each queue call ended, from the frames the fake writes (B's clock)."""

    measuring: bool = False
    events: int = 0  # AMI events written while measuring
    open_channels: dict[str, int] = field(default_factory=dict)  # by Linkedid
    queue_of: dict[str, str] = field(default_factory=dict)  # Linkedid -> queue
    # queue -> (written at, measured) of each call end, in order
    by_queue: dict[str, list[tuple[float, bool]]] = field(default_factory=dict)

    def on_frames(self, frames: Sequence[bytes], _loop_time: float) -> None:
        now = time.perf_counter()
        if self.measuring:
            self.events += len(frames)
        for frame in frames:
            if frame.startswith(_NEWCHANNEL):
                linked = _field(frame, _LINKEDID)
                self.open_channels[linked] = self.open_channels.get(linked, 0) + 1
            elif frame.startswith(_JOIN):
                self.queue_of[_field(frame, _LINKEDID)] = _field(frame, _QUEUE)
            elif frame.startswith(_HANGUP):
                linked = _field(frame, _LINKEDID)
                left = self.open_channels.get(linked, 0) - 1
                if left > 0:
                    self.open_channels[linked] = left
                    continue
                self.open_channels.pop(linked, None)
                queue = self.queue_of.pop(linked, None)
                if queue is not None:
                    self.by_queue.setdefault(queue, []).append((now, self.measuring))


@dataclass(slots=True)
class Screen:
    """One supervisor's socket: every board read, (queue -> [(read at, offered)])."""

    boards: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    frames: int = 0
    agent_states: int = 0
    closed: str = ""
    delivery_ms: list[float] = field(default_factory=list)  # board computed -> read


def latencies(ends: Ends, screen: Screen) -> tuple[list[float], int]:
    """Milliseconds from each measured end to the first board reflecting it; and
    how many measured ends no board reflected."""
    out: list[float] = []
    missing = 0
    for queue, written in ends.by_queue.items():
        boards = screen.boards.get(queue, [])
        i = 0
        for k, (at, measured) in enumerate(written, start=1):
            while i < len(boards) and boards[i][1] < k:
                i += 1
            if not measured:
                continue
            if i == len(boards):
                missing += 1
            else:
                out.append((boards[i][0] - at) * 1000.0)
    return out, missing


# -- the child -----------------------------------------------------------------------


async def start_cti(tmp: Path, ami_port: int, opts: Options, secret: str, interval: float) -> Child:
    return await start_child(
        CHILD,
        [
            "--ami-port",
            str(ami_port),
            "--database-url",
            f"sqlite+aiosqlite:///{tmp / 'bench.sqlite3'}",
            "--token-secret",
            secret,
            "--agents",
            str(opts.agents),
            "--supervisors",
            str(opts.supervisors),
            "--queues",
            str(opts.queues),
            "--board-interval",
            str(interval),
            "--stats-file",
            str(tmp / "feed.json"),
        ],
        tmp / "cti.stderr",
    )


# -- the browsers ----------------------------------------------------------------------


class _NoUsers:
    """`TokenAuth` only signs here: it never looks anyone up."""

    async def authenticate(self, login: str, password: str) -> User | None:
        return None

    async def get_user(self, login: str) -> User | None:
        return None


async def supervisor_client(url: str, screen: Screen, ends: Ends, ready: asyncio.Event) -> None:
    try:
        async with connect(url, open_timeout=30.0, ping_interval=None, max_size=None) as ws:
            await ws.recv()  # the hello
            ready.set()
            async for message in ws:
                now = time.perf_counter()
                screen.frames += 1
                text = str(message)
                if '"queue_board"' in text:
                    board = json.loads(text)
                    offered = board["today"]["offered"]
                    screen.boards[board["queue"]].append((now, offered))
                    # "at" is the CTI's wall clock when it computed the board
                    if ends.measuring:
                        screen.delivery_ms.append((now + _WALL - board["at"]) * 1000.0)
                elif '"agent_state"' in text:
                    screen.agent_states += 1
    except ConnectionClosed as exc:
        screen.closed = f"closed {exc.rcvd.code if exc.rcvd else '?'}"


async def agent_client(url: str, counts: dict[str, int], gate: asyncio.Semaphore) -> None:
    async with gate:
        ws = await connect(url, open_timeout=30.0, ping_interval=None, max_size=None)
        await ws.recv()
    counts["connected"] += 1
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            counts["frames"] += 1
            if '"queue_board"' in str(message):
                counts["boards"] += 1


# -- the run ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    agents: int
    queues: int
    rate: float
    seconds: float
    warmup: float
    supervisors: int
    agent_sockets: bool
    ivr_time_scale: float


@dataclass(slots=True)
class Result:
    interval: float
    latencies_ms: list[float]
    missing: int
    cpu_seconds: float
    events: int
    calls: int
    wall: float
    supervisor_frames: int
    supervisor_boards: int
    supervisor_agent_states: int
    closed: list[str]
    agent_boards: int
    agent_frames: int
    unmatched_queues: int
    measurer_cpu: float
    cti_events: int  # AMI events the CTI's engine took in during the window
    ami_connects: int  # 1 unless the fake dropped the CTI (it stopped reading)
    load_average: float  # the machine's 1-minute load at the window's end
    delivery_ms: list[float]
    feed: dict[str, int]
    loop_lag_ms: list[float]
    cti_log: str


def _child_stats(tmp: Path) -> dict[str, dict[str, int]]:
    """The counters the child keeps in feed.json (empty before its first write)."""
    try:
        found = json.loads((tmp / "feed.json").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _engine(stats: dict[str, dict[str, int]], name: str) -> int:
    return stats.get("engine", {}).get(name, 0)


def _seen(screens: Sequence[Screen]) -> tuple[int, int, int]:
    """Frames, boards and agent states read so far by all supervisors."""
    return (
        sum(s.frames for s in screens),
        sum(len(b) for s in screens for b in s.boards.values()),
        sum(s.agent_states for s in screens),
    )


def _unmatched(ends: Ends, screens: Sequence[Screen]) -> int:
    """Queues whose last board's `today.offered` differs from the call ends B saw:
    the matching is only exact when this is 0."""
    bad = 0
    for screen in screens:
        for queue in ends.by_queue.keys() | screen.boards.keys():
            boards = screen.boards.get(queue)
            bad += (boards[-1][1] if boards else 0) != len(ends.by_queue.get(queue, ()))
    return bad


def agents_and_queues(opts: Options) -> tuple[tuple[AgentConfig, ...], tuple[QueueConfig, ...]]:
    """Agent i is a member of queues i and i+1 (mod --queues): 2 queues each."""
    n = opts.queues
    agents = tuple(
        AgentConfig(agent_interface(i), agent_name(i), (queue_name(i % n), queue_name((i + 1) % n)))
        for i in range(opts.agents)
    )
    queues = tuple(QueueConfig(queue_name(i), strategy="rrmemory") for i in range(n))
    return agents, queues


async def run(opts: Options, interval: float) -> Result:
    agents, queues = agents_and_queues(opts)
    secret = secrets.token_hex(32)
    auth = TokenAuth(_NoUsers(), Settings(token_secret=secret))
    ends = Ends()
    lag = LoopLag()
    screens = [Screen() for _ in range(opts.supervisors)]
    agent_counts = {"frames": 0, "boards": 0, "connected": 0}
    gc.unfreeze()
    with tempfile.TemporaryDirectory(prefix="cti-bench-") as tmpdir:
        tmp = Path(tmpdir)
        async with FakeAsterisk(agents=agents, queues=queues) as fake:
            fake.add_listener(ends.on_frames)
            child = await start_cti(tmp, fake.port, opts, secret, interval)
            base = f"ws://127.0.0.1:{child.http_port}/ws?token="
            tasks: list[asyncio.Task[None]] = []
            lag_task = asyncio.create_task(lag.run())
            try:
                async with asyncio.timeout(30.0):
                    await fake.wait_logged_in(1)
                for i, screen in enumerate(screens):
                    user = User(supervisor_login(i), f"Supervisor {i}", "supervisor", None)
                    ready = asyncio.Event()
                    url = base + auth.issue(user).token
                    tasks.append(asyncio.create_task(supervisor_client(url, screen, ends, ready)))
                    async with asyncio.timeout(30.0):
                        await ready.wait()
                if opts.agent_sockets:
                    gate = asyncio.Semaphore(32)
                    for i in range(opts.agents):
                        user = User(agent_login(i), agent_name(i), "agent", agent_interface(i))
                        url = base + auth.issue(user).token
                        tasks.append(asyncio.create_task(agent_client(url, agent_counts, gate)))
                    async with asyncio.timeout(120.0):
                        while agent_counts["connected"] < opts.agents:
                            if any(t.done() for t in tasks):
                                raise RuntimeError("an agent's socket failed to open")
                            await asyncio.sleep(0.05)
                gc.collect()
                gc.freeze()
                fake.start_traffic(
                    Scenario(
                        agents=agents,
                        queues=queues,
                        rate=opts.rate,
                        p_internal=0.0,
                        talk_time=(1.0, 3.0),
                        ring_time=(0.0, 1.0),
                        ivr_time_scale=opts.ivr_time_scale,
                        seed=11,
                    )
                )
                await asyncio.sleep(opts.warmup)
                cpu0, calls0, t0 = cpu_seconds(child.pid), fake.traffic.calls_started, time.time()
                seen0 = _seen(screens)
                cti0 = _child_stats(tmp)
                own0 = time.process_time()
                ends.measuring = lag.recording = True
                await asyncio.sleep(opts.seconds)
                ends.measuring = lag.recording = False
                cpu1, calls1, t1 = cpu_seconds(child.pid), fake.traffic.calls_started, time.time()
                seen1 = _seen(screens)
                cti1 = _child_stats(tmp)
                own_cpu = time.process_time() - own0
                load = os.getloadavg()[0]
                fake.stop_traffic()
                async with asyncio.timeout(60.0):  # the calls in progress end
                    # the simulator has no event for "idle": poll its counter
                    while fake.traffic.active_calls:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)  # their boards (the trailing ones too)
            finally:
                lag_task.cancel()
                for task in tasks:
                    task.cancel()
                if tasks:
                    await asyncio.wait(tasks, timeout=10.0)
                await stop_child(child.process)
        feed = _child_stats(tmp).get("feed", {})
        cti_log = read_log(tmp / "cti.stderr")
    pooled: list[float] = []
    missing = 0
    for screen in screens:
        values, lost = latencies(ends, screen)
        pooled += values
        missing += lost
    pooled.sort()
    return Result(
        interval=interval,
        latencies_ms=pooled,
        missing=missing,
        cpu_seconds=cpu1 - cpu0,
        events=ends.events,
        calls=calls1 - calls0,
        wall=t1 - t0,
        supervisor_frames=seen1[0] - seen0[0],
        supervisor_boards=seen1[1] - seen0[1],
        supervisor_agent_states=seen1[2] - seen0[2],
        unmatched_queues=_unmatched(ends, screens),
        measurer_cpu=own_cpu,
        cti_events=_engine(cti1, "events") - _engine(cti0, "events"),
        ami_connects=_engine(cti1, "connects"),
        load_average=load,
        delivery_ms=sorted(v for screen in screens for v in screen.delivery_ms),
        closed=[s.closed for s in screens if s.closed],
        agent_boards=agent_counts["boards"],
        agent_frames=agent_counts["frames"],
        feed=feed,
        loop_lag_ms=sorted(lag.samples_ms),
        cti_log=cti_log,
    )


def report(opts: Options, r: Result) -> None:
    lat = r.latencies_ms
    p99 = percentile(lat, 99)
    label = f"coalesced every {r.interval * 1000:g} ms" if r.interval else "not coalesced (peer)"
    verdict = "met" if p99 <= GOAL_P99_MS and not r.missing else "MISSED"
    print(
        f"\n[{label}] {opts.agents} agents, {opts.queues} queues, {opts.rate:g} calls/s, "
        f"{opts.supervisors} supervisors, {r.wall:.1f} s measured"
    )
    print(
        f"  call end written -> queue_board read: p50 {percentile(lat, 50):.1f} ms  "
        f"p90 {percentile(lat, 90):.1f} ms  p99 {p99:.1f} ms  "
        f"max {lat[-1] if lat else math.nan:.1f} ms  (goal p99 <= {GOAL_P99_MS:g} ms: {verdict})"
    )
    dl = r.delivery_ms
    print(
        f"  of which board computed -> read (hub, WebSocket, B's read): p50 "
        f"{percentile(dl, 50):.1f} ms  p99 {percentile(dl, 99):.1f} ms; the rest is the "
        f"CTI's intake and the coalescing hold"
    )
    print(
        f"  measured {len(lat)} (call end, supervisor) pairs; never reflected: {r.missing}; "
        f"(supervisor, queue) whose last offered != call ends seen: {r.unmatched_queues}"
    )
    per_event = r.cpu_seconds / r.cti_events * 1e6 if r.cti_events else math.nan
    print(
        f"  CTI process CPU: {per_event:.1f} us per AMI event ({r.cti_events} events taken in "
        f"of {r.events} written, {r.calls} calls, {r.cpu_seconds / r.wall * 100:.0f}% of one "
        f"core; AMI connections: {r.ami_connects})"
    )
    per_sup = r.wall * max(1, opts.supervisors)
    print(
        f"  per supervisor: {r.supervisor_frames / per_sup:.0f} frames/s, of which "
        f"{r.supervisor_boards / per_sup:.0f} queue_board/s and "
        f"{r.supervisor_agent_states / per_sup:.0f} agent_state/s"
    )
    if r.feed:
        print(
            f"  feed: {r.feed.get('boards_sent', 0)} boards sent for "
            f"{r.feed.get('board_changes', 0)} board changes; {r.feed.get('agents_sent', 0)} "
            f"agent states for {r.feed.get('agent_changes', 0)} changes; "
            f"failures {r.feed.get('failures', 0)}"
        )
    print(
        f"  agents: {r.agent_frames} frames received, queue_board among them: {r.agent_boards}; "
        f"supervisor sockets closed early: {r.closed or 'none'}"
    )
    lag = r.loop_lag_ms
    print(
        f"  measurer (B: fake Asterisk + sockets): {r.measurer_cpu / r.wall * 100:.0f}% of one "
        f"core; machine load average {r.load_average:.1f} on {os.cpu_count()} cores; "
        f"B's loop lag (noise): p50 {percentile(lag, 50):.2f} ms  "
        f"p99 {percentile(lag, 99):.2f} ms  max {lag[-1] if lag else math.nan:.2f} ms"
    )
    lines = log_summary(r.cti_log)
    if lines:
        print("  CTI log (lines of each kind, numbers stripped):")
        for line in lines:
            print("    " + line)


def compare(main: Result, peer: Result) -> None:
    def cpu(r: Result) -> float:
        return r.cpu_seconds / r.cti_events if r.cti_events else math.nan

    print(
        f"\npeer/ratio (coalesced vs. every change sent): CPU per event "
        f"{cpu(main) * 1e6:.1f} / {cpu(peer) * 1e6:.1f} us = {cpu(main) / cpu(peer):.2f}x; "
        f"boards to supervisors {main.supervisor_boards} / {peer.supervisor_boards} = "
        f"{main.supervisor_boards / max(1, peer.supervisor_boards):.2f}x; "
        f"p50 {percentile(main.latencies_ms, 50):.1f} / "
        f"{percentile(peer.latencies_ms, 50):.1f} ms; "
        f"p99 {percentile(main.latencies_ms, 99):.1f} / "
        f"{percentile(peer.latencies_ms, 99):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=500, help="agents (500)")
    parser.add_argument("--queues", type=int, default=50, help="queues (50)")
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second (100)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window (20)")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured start (5)")
    parser.add_argument("--supervisors", type=int, default=5, help="supervisor sockets (5)")
    parser.add_argument("--interval", type=float, default=0.25, help="feed interval (0.25 s)")
    parser.add_argument("--no-agent-sockets", action="store_true", help="no agent sockets")
    parser.add_argument("--no-peer", action="store_true", help="skip the uncoalesced peer run")
    parser.add_argument(
        "--ivr-time-scale", type=float, default=0.1, help="IVR speed-up (0.1: about 0.7 s)"
    )
    a = parser.parse_args()
    opts = Options(
        a.agents,
        a.queues,
        a.rate,
        a.seconds,
        a.warmup,
        a.supervisors,
        not a.no_agent_sockets,
        a.ivr_time_scale,
    )
    result = asyncio.run(run(opts, a.interval))
    report(opts, result)
    if not a.no_peer:
        peer = asyncio.run(run(opts, 0.0))
        report(opts, peer)
        compare(result, peer)


if __name__ == "__main__":
    main()

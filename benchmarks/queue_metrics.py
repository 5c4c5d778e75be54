"""Queue metrics under load: a call's end written by Asterisk -> the supervisor's queue_board.

Strategy: three processes, so the CTI under test has a core of its own and
the fake Asterisk's bursts of frame generation (tens of ms) do not delay the
reading of the sockets, which would count as CTI latency.
  A (child, benchmarks/_cti_board_under_test.py): the real `CtiService`
    (AMI client, engine, queue metrics, supervisor feed, uvicorn, SQLite)
    with --agents agents and --supervisors supervisors of every queue.
  B (this process, the measurer): the fake Asterisk generating --rate calls/s
    over --queues queues (each agent a member of two); it defines the
    measured window.
  C (child, benchmarks/_ws_clients.py through `WsClients`): one WebSocket per
    supervisor and, unless --no-agent-sockets, per agent (the pops and boards
    they get are part of the load). It keeps (read stamp, supervisor, queue,
    today.offered, at) of each supervisor's board, not the board, and counts
    every socket's frames, boards and agent states; B has it snapshot those
    counters at the window's bounds.

The event measured is the end of a queue call: it is what moves the board's
counters (`today.offered` counts each queue call once, when it ends), which
makes the matching exact: in a fresh store, the k-th call to end in queue Q
is reflected by the first board of Q with `today.offered >= k`. B sees the
end as the fake writes the Hangup of the call's last channel (clocked with
`time.perf_counter()` right after the write), and C stamps each board as a
supervisor's socket reads it, also with `time.perf_counter()`: CLOCK_MONOTONIC,
one clock for every process of the machine. Latency = first reflecting board
read - end written, per supervisor. Ends written during --warmup are not
measured; the delivery time (board computed, the CTI's wall clock "at" ->
read) counts the boards read inside B's window. The loop lag of B and C is
printed as noise (C's adds to the latency: a board read late is stamped late),
and so are A's garbage-collector pauses inside the window (A records each with
`gc.callbacks`): a pause holds every board due meanwhile, so a 50 ms one
shows in the tail.

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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _cti_board_under_test import queue_name, supervisor_login  # noqa: E402
from _cti_under_test import agent_interface, agent_name, agent_user  # noqa: E402
from _harness import (  # noqa: E402
    Child,
    ClientsCounts,
    LoopLag,
    WsClients,
    add_loop_options,
    compare_loops,
    cpu_seconds,
    log_summary,
    percentile,
    read_log,
    run_on_loops,
    start_child,
    stop_child,
)

from cti.sim import AgentConfig, FakeAsterisk, QueueConfig, Scenario  # noqa: E402

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
    delivery_ms: list[float] = field(default_factory=list)  # board computed -> read
    computed: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # "at"


# A board's "at" is read when it is computed, up to a few boards' computation
# after the feed's send time that the rate limit counts (and on the wall clock,
# not the feed's monotonic one): a window this much shorter than 1 s
_STAMP_SLACK = 0.001


def rate_seen(screen: Screen) -> tuple[float, int]:
    """The rate limit as one supervisor saw it, from the boards' computation times:
    the closest two boards of one queue (ms), and the most boards of one queue
    in any 1 s."""
    closest, most = math.inf, 0
    for times in screen.computed.values():
        times = sorted(times)
        first = 0
        for last, at in enumerate(times):
            if last:
                closest = min(closest, (at - times[last - 1]) * 1000.0)
            while at - times[first] >= 1.0 - _STAMP_SLACK:
                first += 1
            most = max(most, last - first + 1)
    return closest, most


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
    supervisor_queue_states: int
    closed: list[str]
    agent_boards: int
    agent_frames: int
    unmatched_queues: int
    measurer_cpu: float
    clients_cpu: float
    cti_events: int  # AMI events the CTI's engine took in during the window
    ami_connects: int  # 1 unless the fake dropped the CTI (it stopped reading)
    load_average: float  # the machine's 1-minute load at the window's end
    delivery_ms: list[float]
    feed: dict[str, int]
    loop_lag_ms: list[float]  # B's
    clients_lag_ms: list[float]  # C's
    cti_log: str
    closest_boards_ms: float  # of one queue, one supervisor (the first)
    most_boards_in_1s: int
    gc_pauses: list[tuple[int, float]]  # the CTI's, in the window: (generation, ms)


def _child_stats(tmp: Path) -> dict[str, Any]:
    """The counters and GC pauses the child keeps in feed.json (empty before its
    first write)."""
    try:
        found = json.loads((tmp / "feed.json").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _engine(stats: dict[str, Any], name: str) -> int:
    return int(stats.get("engine", {}).get(name, 0))


def _seen(counts: ClientsCounts, users: range) -> tuple[int, int, int, int]:
    """Frames, boards, agent states and queue states read so far by these users' sockets."""
    return (
        sum(counts.frames[u] for u in users),
        sum(counts.matched[u] for u in users),
        sum(counts.counted[0][u] for u in users),
        sum(counts.counted[1][u] for u in users),
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
    ends = Ends()
    lag = LoopLag()
    screens = [Screen() for _ in range(opts.supervisors)]
    supervisors = range(opts.supervisors)
    users: list[tuple[str, str, str, str | None]] = [
        (supervisor_login(i), f"Supervisor {i}", "supervisor", None) for i in supervisors
    ]
    if opts.agent_sockets:
        users += map(agent_user, range(opts.agents))
    agent_users = range(opts.supervisors, len(users))
    gc.unfreeze()
    with tempfile.TemporaryDirectory(prefix="cti-bench-") as tmpdir:
        tmp = Path(tmpdir)
        async with FakeAsterisk(agents=agents, queues=queues) as fake:
            fake.add_listener(ends.on_frames)
            child = await start_cti(tmp, fake.port, opts, secret, interval)
            clients: WsClients | None = None
            lag_task = asyncio.create_task(lag.run())
            try:
                async with asyncio.timeout(30.0):
                    await fake.wait_logged_in(1)
                # Only the supervisors' boards are kept, and only what the
                # matching needs: the agents' boards are counted, not parsed.
                clients = await WsClients.start(
                    child.http_port,
                    secret,
                    users,
                    '"queue_board"',
                    fields=["queue", "today.offered", "at"],
                    keep=supervisors,
                    count=['"agent_state"', '"queue_state"'],
                )
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
                clients_cpu0 = cpu_seconds(clients.pid)
                await clients.mark()
                cti0 = _child_stats(tmp)
                own0 = time.process_time()
                window = time.perf_counter()
                ends.measuring = lag.recording = True
                await asyncio.sleep(opts.seconds)
                ends.measuring = lag.recording = False
                window_end = time.perf_counter()
                cpu1, calls1, t1 = cpu_seconds(child.pid), fake.traffic.calls_started, time.time()
                clients_cpu1 = cpu_seconds(clients.pid)
                await clients.mark()
                cti1 = _child_stats(tmp)
                own_cpu = time.process_time() - own0
                load = os.getloadavg()[0]
                fake.stop_traffic()
                async with asyncio.timeout(60.0):  # the calls in progress end
                    # the simulator has no event for "idle": poll its counter
                    while fake.traffic.active_calls:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)  # their boards (the trailing ones too)
                read = await clients.stop()
                clients = None
            finally:
                lag_task.cancel()
                if clients is not None:
                    await clients.kill()
                await stop_child(child.process)
        last = _child_stats(tmp)
        feed = last.get("feed", {})
        pauses = [
            (gen, ms) for gen, ms, at in last.get("gc_pauses", []) if window <= at <= window_end
        ]
        cti_log = read_log(tmp / "cti.stderr")
    for stamp, user, (queue, offered, at) in read.messages:
        screen = screens[user]
        screen.boards[queue].append((stamp, offered))
        screen.computed[queue].append(at)
        if window <= stamp <= window_end:
            # "at" is the CTI's wall clock when it computed the board
            screen.delivery_ms.append((stamp + _WALL - at) * 1000.0)
    pooled: list[float] = []
    missing = 0
    for screen in screens:
        values, lost = latencies(ends, screen)
        pooled += values
        missing += lost
    pooled.sort()
    seen0, seen1 = (_seen(mark, supervisors) for mark in read.marks)
    agent_frames, agent_boards, _, _ = _seen(read.counts, agent_users)
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
        supervisor_queue_states=seen1[3] - seen0[3],
        unmatched_queues=_unmatched(ends, screens),
        measurer_cpu=own_cpu,
        clients_cpu=clients_cpu1 - clients_cpu0,
        cti_events=_engine(cti1, "events") - _engine(cti0, "events"),
        ami_connects=_engine(cti1, "connects"),
        load_average=load,
        delivery_ms=sorted(v for screen in screens for v in screen.delivery_ms),
        closed=[read.closed[u] for u in supervisors if read.closed[u]],
        agent_boards=agent_boards,
        agent_frames=agent_frames,
        feed=feed,
        gc_pauses=pauses,
        loop_lag_ms=sorted(lag.samples_ms),
        clients_lag_ms=sorted(ms for stamp, ms in read.lag if window <= stamp <= window_end),
        cti_log=cti_log,
        closest_boards_ms=rate_seen(screens[0])[0] if screens else math.nan,
        most_boards_in_1s=rate_seen(screens[0])[1] if screens else 0,
    )


def report(opts: Options, r: Result, loop: str) -> None:
    lat = r.latencies_ms
    p99 = percentile(lat, 99)
    label = f"coalesced every {r.interval * 1000:g} ms" if r.interval else "not coalesced (peer)"
    label += f", CTI on {loop}"
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
        f"  of which board computed -> read (hub, WebSocket, C's read): p50 "
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
        f"{r.supervisor_boards / per_sup:.0f} queue_board/s, "
        f"{r.supervisor_queue_states / per_sup:.0f} queue_state/s and "
        f"{r.supervisor_agent_states / per_sup:.0f} agent_state/s"
    )
    if r.feed:
        print(
            f"  feed: {r.feed.get('boards_sent', 0)} boards sent for "
            f"{r.feed.get('board_changes', 0)} board changes; "
            f"{r.feed.get('queue_states_sent', 0)} queue states for "
            f"{r.feed.get('queue_state_changes', 0)} changes; {r.feed.get('agents_sent', 0)} "
            f"agent states for {r.feed.get('agent_changes', 0)} changes; "
            f"failures {r.feed.get('failures', 0)}"
        )
    if r.interval:
        print(
            f"  rate limit as seen (board computation times, one supervisor): boards of a "
            f"queue at least {r.closest_boards_ms:.1f} ms apart, at most "
            f"{r.most_boards_in_1s} in any 1 s, give or take 1 ms (slots of "
            f"{r.interval * 1000:g} ms; a late one is caught up by up to a tenth of one, "
            f"never to a fifth board in 1 s: cti/feed/coalescer.py)"
        )
    by_gen = defaultdict(list)
    for gen, ms in r.gc_pauses:
        by_gen[gen].append(ms)
    print(
        "  CTI garbage collections in the window (each holds every board due meanwhile): "
        + (
            "; ".join(
                f"generation {gen}: {len(ms)}, longest {max(ms):.1f} ms, {sum(ms):.0f} ms in all"
                for gen, ms in sorted(by_gen.items())
            )
            or "none"
        )
    )
    print(
        f"  agents: {r.agent_frames} frames received, queue_board among them: {r.agent_boards}; "
        f"supervisor sockets closed early: {r.closed or 'none'}"
    )

    def noise(lag: list[float]) -> str:
        return (
            f"p50 {percentile(lag, 50):.2f} ms  p99 {percentile(lag, 99):.2f} ms  "
            f"max {lag[-1] if lag else math.nan:.2f} ms"
        )

    print(
        f"  measurer: B (fake Asterisk) {r.measurer_cpu / r.wall * 100:.0f}% of one core, "
        f"C (sockets) {r.clients_cpu / r.wall * 100:.0f}%; machine load average "
        f"{r.load_average:.1f} on {os.cpu_count()} cores; loop lag (noise): "
        f"B's {noise(r.loop_lag_ms)}; C's (adds to latency) {noise(r.clients_lag_ms)}"
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
    add_loop_options(parser)
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
    by_loop = run_on_loops(
        a, lambda: run(opts, a.interval), lambda result, loop: report(opts, result, loop)
    )
    result = by_loop[a.loop]
    if not a.no_peer:
        peer = asyncio.run(run(opts, 0.0))
        report(opts, peer, a.loop)
        compare(result, peer)
    compare_loops(
        by_loop,
        lambda r: r.cpu_seconds / r.cti_events * 1e6 if r.cti_events else math.nan,
        "us per AMI event (coalesced)",
        lambda r: r.latencies_ms,
    )


if __name__ == "__main__":
    main()

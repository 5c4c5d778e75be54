"""Event bus throughput and latency: InProcessBus beside AmqpBus (RabbitMQ), one command.

Strategy: one process, one clock. For each bus, two runs on one topic with
one subscriber:
  throughput: --messages messages published as fast as `publish` returns;
    messages/s = messages / (last received - first published).
  latency: --rate messages/s for --seconds, paced in 1 ms ticks; each body
    carries its `perf_counter()` send time, the handler stamps its arrival;
    p50/p99/max of the difference. (Latency at saturation would only measure
    the queue, hence the paced run.)
In process, publisher and subscriber share one bus. Over RabbitMQ they are
two `AmqpBus` nodes (A publishes, B subscribes) on a fresh exchange: the path
a chat message or a relayed hub event takes between CTI nodes. Bodies are
--size bytes. "cpu us/msg" is this process's CPU per message in the
throughput run (publisher and subscriber; RabbitMQ's own CPU not included):
unlike wall-clock figures it barely moves when other work shares the cores.
Messages that did not arrive within --timeout are "lost", and
a subscriber's overflow is reported as "dropped".

Run: `.venv/bin/python benchmarks/bus_throughput.py [--messages 50000]
[--rate 5000] [--seconds 5] [--size 256] [--amqp-url amqp://guest:guest@127.0.0.1:5672/]`
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import struct
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import aio_pika

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cti.bus import AmqpBus, EventBus, InProcessBus, Message

TOPIC = "bench.chat.conv.1"
_HEAD = struct.Struct("<dQ")  # send time (perf_counter), index


@dataclass(slots=True)
class Result:
    name: str
    per_second: float = 0.0
    cpu_us: float = 0.0  # this process's CPU (user + system) per message, throughput run
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    lost: int = 0
    dropped: int = 0


class Receiver:
    """The subscriber: counts arrivals, keeps one latency per message."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.latencies: list[float] = []
        self.last_at = 0.0
        self.done = asyncio.Event()

    async def __call__(self, message: Message) -> None:
        now = time.perf_counter()
        sent, _ = _HEAD.unpack_from(message.body)
        self.latencies.append(now - sent)
        self.last_at = now
        if len(self.latencies) >= self.expected:
            self.done.set()


def body(index: int, size: int) -> bytes:
    head = _HEAD.pack(time.perf_counter(), index)
    return head + b"x" * max(0, size - len(head))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


Pair = tuple[EventBus, EventBus]  # (publisher's bus, subscriber's bus)
MakePair = Callable[[], AbstractAsyncContextManager[Pair]]


@asynccontextmanager
async def in_process() -> AsyncIterator[Pair]:
    bus = InProcessBus(queue_limit=100_000)
    await bus.start()
    try:
        yield bus, bus
    finally:
        await bus.aclose()


def over_amqp(url: str) -> MakePair:
    @asynccontextmanager
    async def pair() -> AsyncIterator[Pair]:
        exchange = f"cti.bench.{uuid.uuid4().hex[:8]}"
        a = AmqpBus(url, node_id="bench-a", exchange=exchange, queue_limit=100_000)
        b = AmqpBus(url, node_id="bench-b", exchange=exchange, queue_limit=100_000)
        await a.start()
        await b.start()
        try:
            yield a, b
        finally:
            await a.aclose()
            await b.aclose()
            conn = await aio_pika.connect(url, timeout=5)
            async with conn:
                await (await conn.channel()).exchange_delete(exchange)

    return pair


async def throughput(pair: Pair, messages: int, size: int, wait: float) -> tuple[float, float, int]:
    publisher, subscriber = pair
    got = Receiver(messages)
    sub = await subscriber.subscribe(TOPIC, got)
    cpu = os.times()
    started = time.perf_counter()
    for i in range(messages):
        await publisher.publish(TOPIC, body(i, size))
    with suppress(TimeoutError):
        await asyncio.wait_for(got.done.wait(), wait)
    await sub.aclose()
    elapsed = (got.last_at or time.perf_counter()) - started
    used = os.times()
    cpu_us = (used.user + used.system - cpu.user - cpu.system) / max(1, len(got.latencies)) * 1e6
    return len(got.latencies) / elapsed, cpu_us, messages - len(got.latencies)


async def latency(
    pair: Pair, rate: float, seconds: float, size: int, wait: float
) -> tuple[list[float], int]:
    publisher, subscriber = pair
    total = int(rate * seconds)
    got = Receiver(total)
    sub = await subscriber.subscribe(TOPIC, got)
    started = time.perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - started) * rate) + 1)
        while sent < due:
            await publisher.publish(TOPIC, body(sent, size))
            sent += 1
        await asyncio.sleep(0.001)
    with suppress(TimeoutError):
        await asyncio.wait_for(got.done.wait(), wait)
    await sub.aclose()
    return got.latencies, total - len(got.latencies)


async def measure(name: str, make: MakePair, args: argparse.Namespace) -> Result:
    result = Result(name)
    async with make() as pair:
        result.per_second, result.cpu_us, lost = await throughput(
            pair, args.messages, args.size, args.timeout
        )
    async with make() as pair:
        latencies, lost_paced = await latency(
            pair, args.rate, args.seconds, args.size, args.timeout
        )
        result.dropped = pair[1].stats.dropped
    result.lost = lost + lost_paced
    if latencies:
        result.p50_ms = percentile(latencies, 0.50) * 1000
        result.p99_ms = percentile(latencies, 0.99) * 1000
        result.max_ms = max(latencies) * 1000
    return result


async def run(args: argparse.Namespace) -> None:
    results = [await measure("in-process", in_process, args)]
    results.append(await measure("amqp (node A -> node B)", over_amqp(args.amqp_url), args))
    print(
        f"bus throughput: {args.messages} messages of {args.size} B; "
        f"latency at {args.rate:g} msg/s for {args.seconds:g} s"
    )
    head = ("bus", "msg/s", "cpu us/msg", "p50 ms", "p99 ms", "max ms", "lost", "dropped")
    print("{:<26}{:>10}{:>12}{:>9}{:>9}{:>9}{:>6}{:>9}".format(*head))
    for r in results:
        print(
            f"{r.name:<26}{r.per_second:>10,.0f}{r.cpu_us:>12.1f}{r.p50_ms:>9.3f}{r.p99_ms:>9.3f}"
            f"{r.max_ms:>9.3f}{r.lost:>6}{r.dropped:>9}"
        )
    memory, amqp = results
    print(
        f"ratio in-process / amqp: throughput x{memory.per_second / amqp.per_second:.1f}, "
        f"p99 latency x{amqp.p99_ms / memory.p99_ms:.1f} lower, "
        f"CPU per message x{amqp.cpu_us / memory.cpu_us:.1f} lower in process"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=5_000.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

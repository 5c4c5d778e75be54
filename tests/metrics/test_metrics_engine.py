"""The engine feeds queue metrics and writes their buckets off the hot path.

The recorded queue_answered trace goes through the real Engine (clocked at the
trace's own times, publishing to a real Hub with nobody connected); the store
is a fake sink that can fail on demand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from trace_paths import TRACES

from cti.ami.protocol import AmiParser, Event
from cti.engine import Engine
from cti.metrics import QueueMetrics, StoredBucket
from cti.model.model import Model
from cti.replay import read_chunks
from cti.web.hub import Hub


class Sink:
    """Stands in for Store.save_queue_intervals; fails while `down`."""

    def __init__(self) -> None:
        self.written: dict[tuple[str, float], StoredBucket] = {}
        self.down = False
        self.calls = 0

    async def save(self, buckets: Sequence[StoredBucket]) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("database gone")
        for b in buckets:
            self.written[(b.queue, b.start)] = b


def timed_events(name: str) -> list[tuple[float, Event]]:
    parser = AmiParser()
    out: list[tuple[float, Event]] = []
    for at, data in read_chunks(TRACES / f"{name}.jsonl"):
        assert at is not None
        out += [(at, m) for m in parser.feed(data) if isinstance(m, Event)]
    return out


async def test_engine_feeds_metrics_and_writes_buckets_even_after_a_failure() -> None:
    clock = [0.0]
    sink = Sink()
    metrics = QueueMetrics()
    engine = Engine(
        model=Model(["PJSIP/1001"]),
        publisher=Hub(),
        clock=lambda: clock[0],
        tick_interval=0,
        metrics=metrics,
        save_metrics=sink.save,
        metrics_flush_interval=3600,  # only explicit flushes in this test
    )
    heard: list[set[str]] = []
    engine.on_metrics_changed = heard.append
    for at, event in timed_events("queue_answered"):
        clock[0] = at
        await engine.handle(event)
    assert {"support"} in heard
    assert metrics.board("support", clock[0]).today.answered == 1

    assert engine.stats.failures == 0
    sink.down = True
    assert await engine.flush_metrics() is False
    assert sink.written == {}
    assert engine.stats.failures == 1
    sink.down = False
    await engine.flush_records()  # shutdown: the failed buckets are written now
    counts = [b.counts for b in sink.written.values()]
    assert sum(c["answered"] for c in counts) == 1
    assert sum(c["offered"] for c in counts) == 1
    calls = sink.calls
    await engine.flush_metrics()
    assert sink.calls == calls  # nothing changed: nothing to write


async def test_the_writer_task_flushes_periodically() -> None:
    sink = Sink()
    metrics = QueueMetrics()
    engine = Engine(
        model=Model(["PJSIP/1001"]),
        publisher=Hub(),
        tick_interval=0,
        metrics=metrics,
        save_metrics=sink.save,
        metrics_flush_interval=0.01,
    )
    stream: asyncio.Queue[Any] = asyncio.Queue()
    for _, event in timed_events("queue_answered"):
        stream.put_nowait(event)
    runner = asyncio.create_task(engine.run(stream))
    try:
        async with asyncio.timeout(5):
            while not any(b.counts["answered"] for b in sink.written.values()):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

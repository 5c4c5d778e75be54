"""Interval buckets: one queue's counters for one minute.

Strategy: every counter a board shows is a sum over buckets, so "today" and
the sliding windows are the same computation over different bucket ranges, and
a bucket is also the unit the store keeps (table queue_intervals: one row per
queue and bucket start). A bucket holds plain numbers in a list indexed by
`FIELDS` (summing windows is then one loop), plus ring-no-answers per agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "BUCKET_SECONDS",
    "FIELDS",
    "Bucket",
    "StoredBucket",
    "bucket_start",
    "split_span",
]

BUCKET_SECONDS = 60

# Every counter of a bucket; the store has one column per name (migration 0004).
FIELDS: tuple[str, ...] = (
    "offered",  # queue calls that ended (answered + abandoned + unanswered)
    "answered",
    "abandoned",  # the caller hung up while waiting (QueueCallerAbandon)
    "short_abandoned",  # abandoned after waiting less than the short-abandon threshold
    "unanswered",  # left the queue unanswered otherwise (timeout, exit, never rung)
    "answered_within_sl",  # answered after waiting at most T
    "abandoned_within_sl",  # abandoned after waiting at most T
    "answered_timed",  # answered calls whose queue wait is known
    "wait_answered_sum",  # seconds, over answered_timed
    "wait_abandoned_sum",  # seconds, over abandoned calls with a known wait
    "handled",  # answered calls whose hang-up was seen (not ended by a resync)
    "talk_sum",  # seconds, over handled
    "acw_count",  # wrap-up spells that ended
    "acw_sum",  # seconds, over acw_count
    "ring_no_answer",  # agents rung who did not answer (AgentRingNoAnswer)
    "lost_by_resync",  # unanswered calls found gone by a resync: fate unknown
    "contact_seconds",  # member time on contact (on_call, wrap_up)
    "idle_seconds",  # member time available and idle (available, ringing)
)
INDEX: dict[str, int] = {name: i for i, name in enumerate(FIELDS)}


def bucket_start(at: float) -> int:
    return int(at // BUCKET_SECONDS) * BUCKET_SECONDS


@dataclass(slots=True)
class Bucket:
    values: list[float] = field(default_factory=lambda: [0.0] * len(FIELDS))
    ring_no_answer_by_agent: dict[str, int] = field(default_factory=dict)

    def add(self, other: Bucket) -> None:
        values = self.values
        for i, v in enumerate(other.values):
            if v:
                values[i] += v
        for agent, n in other.ring_no_answer_by_agent.items():
            self.ring_no_answer_by_agent[agent] = self.ring_no_answer_by_agent.get(agent, 0) + n

    def counts(self) -> dict[str, float]:
        return dict(zip(FIELDS, self.values, strict=True))


@dataclass(frozen=True, slots=True)
class StoredBucket:
    """A bucket as the store keeps it (dump/load of QueueMetrics)."""

    queue: str
    start: float  # epoch seconds, a multiple of BUCKET_SECONDS
    counts: Mapping[str, float]
    ring_no_answer_by_agent: Mapping[str, int]

    def to_bucket(self) -> Bucket:
        values = [float(self.counts.get(name, 0.0) or 0.0) for name in FIELDS]
        return Bucket(values, dict(self.ring_no_answer_by_agent))


def split_span(start: float, end: float, floor: float) -> Iterable[tuple[int, float]]:
    """(bucket start, seconds) pieces of [start, end), ignoring what lies before `floor`."""
    start = max(start, floor)
    while start < end:
        b = bucket_start(start)
        piece_end = min(end, b + BUCKET_SECONDS)
        yield b, piece_end - start
        start = piece_end

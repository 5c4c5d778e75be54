"""Rate-limit updates per key (a queue, an agent) without ever losing the last one.

Strategy: leading edge plus trailing edge. A key that changes while quiet (its
last send is at least `interval` ago) is sent at once, so an isolated event
costs no delay. A change inside the interval after a send is only marked
pending: however many arrive, the key is sent once, when the interval ends
(`due`). Whoever sends reads the state at send time, so the trailing send
carries the latest state: changes are merged, never lost. Hence two sends of a
key are never closer than `interval` (4 per second at 0.25 s), and every
change is covered by a send at most `interval` after it.

Pure: no clock, no I/O, no asyncio. The caller passes the time (a monotonic
clock: wall time may jump) and asks `next_wake()` when to call `due` again.

Memory: one float per key ever sent (queues and agents are bounded by the
deployment), plus the pending keys.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

__all__ = ["Coalescer"]


@dataclass(slots=True)
class Coalescer:
    interval: float = 0.25
    _last_sent: dict[str, float] = field(default_factory=dict)
    _pending: dict[str, float] = field(default_factory=dict)  # key -> when it is due
    _heap: list[tuple[float, str]] = field(default_factory=list)  # (due, key), may be stale

    def __post_init__(self) -> None:
        if self.interval < 0:
            raise ValueError("interval must be >= 0")

    def changed(self, key: str, now: float) -> bool:
        """`key` changed at `now`: True means send it now; False, it is pending."""
        if key in self._pending:
            return False
        last = self._last_sent.get(key)
        if last is None or not last <= now < last + self.interval:
            self._last_sent[key] = now
            return True
        due = last + self.interval
        self._pending[key] = due
        heapq.heappush(self._heap, (due, key))
        return False

    def due(self, now: float) -> list[str]:
        """The pending keys whose interval is over at `now`, to send now (oldest first)."""
        out: list[str] = []
        heap, pending = self._heap, self._pending
        while heap and heap[0][0] <= now:
            due, key = heapq.heappop(heap)
            if pending.get(key) != due:
                continue  # stale entry
            del pending[key]
            self._last_sent[key] = now
            out.append(key)
        return out

    def next_wake(self) -> float | None:
        """When `due` has something to send, or None when nothing is pending."""
        heap, pending = self._heap, self._pending
        while heap and pending.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    @property
    def pending(self) -> frozenset[str]:
        return frozenset(self._pending)

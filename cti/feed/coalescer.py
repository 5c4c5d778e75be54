"""Rate-limit updates per key (a queue, an agent) without ever losing the last one.

Strategy: leading edge plus trailing edge. A key that changes while quiet (its
last send is at least `interval` ago) is sent at once, so an isolated event
costs no delay. A change inside the interval after a send is only marked
pending: however many arrive, the key is sent once, when the interval ends
(`due`). Whoever sends reads the state at send time, so the trailing send
carries the latest state: changes are merged, never lost. Hence the slots of
two sends of a key are never closer than `interval` (4 per second at 0.25 s),
and every change is covered by a send at most `interval` after it, plus the
caller's lateness in calling `due`.

Slots, not send times: a key's next slot starts `interval` after its last
slot was due, not after the (late) call to `due` that sent it, as a token
bucket refills on time whenever its token is spent. A busy event loop wakes
up a few ms late (1.2 ms on average, 6 ms p99 at 100 calls/s in
benchmarks/queue_metrics.py); counted from the send, that lateness would
stretch every interval of a busy key and hold each of its changes longer.
Up to `interval / 10` of lateness is caught up that way (25 ms at 0.25 s),
so a send can follow a late one by 0.9 x `interval`. What is never given:
a fifth send within four intervals (1 s at 0.25 s): a slot that would make
one waits until the fourth last send is four intervals old, so "4 per
second" holds over any second, measured on the actual sends.

Pure: no clock, no I/O, no asyncio. The caller passes the time (a monotonic
clock: wall time may jump) and asks `next_wake()` when to call `due` again.

Memory: five floats per key ever sent (queues and agents are bounded by the
deployment), plus the pending keys.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Coalescer"]

_FORGIVEN = 0.1  # of an interval: the lateness of a send that keeps the next slot on time
_PER_WINDOW = 4  # sends of a key in any `_PER_WINDOW` intervals, at most


@dataclass(slots=True)
class Coalescer:
    interval: float = 0.25
    _last_sent: dict[str, float] = field(default_factory=dict)  # key -> slot of its last send
    _sends: dict[str, deque[float]] = field(default_factory=dict)  # key -> its last send times
    _pending: dict[str, float] = field(default_factory=dict)  # key -> when it is due
    _heap: list[tuple[float, str]] = field(default_factory=list)  # (due, key), may be stale

    def __post_init__(self) -> None:
        if self.interval < 0:
            raise ValueError("interval must be >= 0")

    def changed(self, key: str, now: float) -> bool:
        """`key` changed at `now`: True means send it now; False, it is pending."""
        if key in self._pending:
            return False
        due = self._next_slot(key, now)
        if due is None:
            self._sent(key, now, now)
            return True
        self._pending[key] = due
        heapq.heappush(self._heap, (due, key))
        return False

    def _next_slot(self, key: str, now: float) -> float | None:
        """When `key` may be sent next, or None for now."""
        last = self._last_sent.get(key)
        if last is None or now < last:  # never sent, or the clock went back
            self._sends.pop(key, None)
            return None
        due = last + self.interval
        sends = self._sends.get(key)
        if sends is not None and len(sends) == _PER_WINDOW:
            due = max(due, sends[0] + _PER_WINDOW * self.interval)
        return due if now < due else None

    def _sent(self, key: str, slot: float, now: float) -> None:
        self._last_sent[key] = slot
        sends = self._sends.get(key)
        if sends is None:
            sends = self._sends[key] = deque(maxlen=_PER_WINDOW)
        sends.append(now)

    def sent_late(self, key: str, now: float) -> None:
        """`key`, let through by `changed`, was only sent at `now`: that send read
        the state after its pending changes too (nothing is left to send for
        them), and it is the one that counts toward "4 in any second"."""
        self._pending.pop(key, None)
        sends = self._sends.get(key)
        if sends:
            sends[-1] = max(sends[-1], now)

    def due(self, now: float) -> list[str]:
        """The pending keys whose interval is over at `now`, to send now (oldest first)."""
        out: list[str] = []
        heap, pending = self._heap, self._pending
        while heap and heap[0][0] <= now:
            due, key = heapq.heappop(heap)
            if pending.get(key) != due:
                continue  # stale entry
            del pending[key]
            self._sent(key, max(due, now - self.interval * _FORGIVEN), now)
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

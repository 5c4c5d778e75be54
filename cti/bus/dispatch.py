"""Local fan-out shared by both buses: subscriptions, bounded queues, workers.

Strategy: every subscription owns a bounded deque and one worker task that
awaits its handler for one message at a time, so a subscription sees its
messages in the order `deliver` was called, and a slow or failing handler
only ever holds up itself. `deliver` never awaits: it finds the matching
subscriptions (cached per topic until the subscriptions change), appends to
each queue, and drops (counting) where a queue is full rather than block the
publisher. A queue more than half full asks the publisher to yield once to
the loop (a burst must not starve workers that are merely waiting for CPU).
A handler that raises is logged and counted; the worker goes on.

`drain` waits (bounded) until every queue is empty and every handler has
returned, so closing a bus delivers what was already published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from cti.bus.topics import check_pattern, matches
from cti.bus.types import BusStats, Handler, Message

__all__ = ["LocalDispatcher", "LocalSubscription"]

log = logging.getLogger("cti.bus")


class LocalSubscription:
    """One handler for one pattern on this node; `aclose()` unsubscribes."""

    __slots__ = (
        "_busy",
        "_dispatcher",
        "_handler",
        "_pattern",
        "_queue",
        "_task",
        "_wake",
        "dropped",
    )

    def __init__(self, dispatcher: LocalDispatcher, pattern: str, handler: Handler) -> None:
        self._dispatcher = dispatcher
        self._pattern = pattern
        self._handler = handler
        self._queue: deque[Message] = deque()
        self._wake = asyncio.Event()
        self._busy = False
        self.dropped = 0
        self._task = asyncio.create_task(self._run(), name=f"cti-bus-sub:{pattern}")

    @property
    def pattern(self) -> str:
        return self._pattern

    @property
    def idle(self) -> bool:
        return not self._queue and not self._busy

    def offer(self, message: Message, limit: int) -> bool:
        if len(self._queue) >= limit:
            self.dropped += 1
            return False
        self._queue.append(message)
        self._wake.set()
        return True

    def crowded(self, limit: int) -> bool:
        return len(self._queue) > limit // 2

    async def _run(self) -> None:
        stats = self._dispatcher.stats
        queue = self._queue
        while True:
            if not queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            message = queue.popleft()
            self._busy = True
            try:
                await self._handler(message)
                stats.delivered += 1
            except Exception:
                stats.handler_errors += 1
                log.exception("bus handler for %r failed on %r", self._pattern, message.topic)
            finally:
                self._busy = False
                self._dispatcher.poke()

    async def aclose(self) -> None:
        await self._dispatcher.remove(self)

    async def stop(self) -> None:
        self._queue.clear()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class LocalDispatcher:
    """The subscriptions of one node and the per-topic match cache."""

    def __init__(self, stats: BusStats, queue_limit: int) -> None:
        if queue_limit < 1:
            raise ValueError("queue_limit must be >= 1")
        self.stats = stats
        self.queue_limit = queue_limit
        self._subs: list[LocalSubscription] = []
        self._by_topic: dict[str, tuple[LocalSubscription, ...]] = {}
        self._idle = asyncio.Event()
        # called with a pattern when its last subscription goes (AmqpBus unbinds)
        self.on_pattern_unused: Callable[[str], Awaitable[None]] | None = None

    @property
    def subscriptions(self) -> tuple[LocalSubscription, ...]:
        return tuple(self._subs)

    def add(self, pattern: str, handler: Handler) -> LocalSubscription:
        sub = LocalSubscription(self, check_pattern(pattern), handler)
        self._subs.append(sub)
        self._by_topic.clear()
        return sub

    async def remove(self, sub: LocalSubscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._by_topic.clear()
            await sub.stop()
            if self.on_pattern_unused is not None and not self.has_pattern(sub.pattern):
                await self.on_pattern_unused(sub.pattern)

    def has_pattern(self, pattern: str) -> bool:
        return any(s.pattern == pattern for s in self._subs)

    def _matching(self, topic: str) -> tuple[LocalSubscription, ...]:
        found = self._by_topic.get(topic)
        if found is None:
            if len(self._by_topic) > 10_000:  # topics like chat.conv.<id> are unbounded
                self._by_topic.clear()
            found = self._by_topic[topic] = tuple(
                s for s in self._subs if matches(s.pattern, topic)
            )
        return found

    def deliver(self, message: Message) -> bool:
        """Queue `message` for every matching subscription; never awaits.

        True when some queue is more than half full: the publisher should then
        yield once to the loop, so workers that merely had no CPU during a
        burst catch up, while a stuck one still drops.
        """
        limit = self.queue_limit
        crowded = False
        for sub in self._matching(message.topic):
            if sub.offer(message, limit):
                crowded = crowded or sub.crowded(limit)
            else:
                crowded = True
                self.stats.dropped += 1
                if sub.dropped in (1, 10, 100) or sub.dropped % 1000 == 0:
                    log.warning(
                        "bus subscription %r is too slow: %d message(s) dropped",
                        sub.pattern,
                        sub.dropped,
                    )
        return crowded

    def poke(self) -> None:
        self._idle.set()

    async def drain(self, within: float) -> bool:
        """Wait until every subscription is idle; False if `within` seconds ran out first."""
        try:
            async with asyncio.timeout(within):
                while not all(s.idle for s in self._subs):
                    self._idle.clear()
                    await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        subs, self._subs = self._subs, []
        self._by_topic.clear()
        for sub in subs:
            await sub.stop()

"""`InProcessBus`: the embedded default, one process, no broker.

Strategy: publishing encodes the payload once and hands the message to the
`LocalDispatcher`, which queues it for each matching subscription without
awaiting; each subscription's worker calls its handler in order. Nothing
leaves the process, so a single CTI node needs no RabbitMQ at all, and the
same code paths (topics, fan-out, bounded queues) run as with `AmqpBus`.

A slow subscriber: its queue (`queue_limit` messages) fills, then further
messages for it are dropped and counted (`stats.dropped`, `sub.dropped`,
a warning in the log); the publisher and the other subscribers never wait
for it. (While some queue is over half full, each publish yields once to the
loop, so a burst does not starve handlers that are merely short of CPU.)
"""

from __future__ import annotations

import asyncio
import secrets

from cti.bus.dispatch import LocalDispatcher
from cti.bus.topics import check_topic
from cti.bus.types import BusClosedError, BusStats, Handler, Message, Payload, encode_payload
from cti.bus.types import Subscription as Subscription

__all__ = ["InProcessBus"]


class InProcessBus:
    def __init__(
        self, *, node_id: str | None = None, queue_limit: int = 10_000, drain_timeout: float = 2.0
    ) -> None:
        self._node_id = node_id or f"node-{secrets.token_hex(4)}"
        self._stats = BusStats()
        self._queue_limit = queue_limit
        self._drain_timeout = drain_timeout
        self._dispatcher: LocalDispatcher | None = None
        self._closed = False

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def stats(self) -> BusStats:
        return self._stats

    async def start(self) -> None:
        if self._closed:
            raise BusClosedError("bus already closed")
        if self._dispatcher is None:  # made on the running loop (its workers are tasks)
            self._dispatcher = LocalDispatcher(self._stats, self._queue_limit)

    def _live(self) -> LocalDispatcher:
        if self._closed or self._dispatcher is None:
            raise BusClosedError("bus is closed" if self._closed else "bus not started")
        return self._dispatcher

    async def publish(self, topic: str, payload: Payload) -> None:
        dispatcher = self._live()
        message = Message(check_topic(topic), encode_payload(payload), self._node_id)
        self._stats.published += 1
        if dispatcher.deliver(message):
            await asyncio.sleep(0)  # let the subscribers' workers catch up

    async def subscribe(self, pattern: str, handler: Handler) -> Subscription:
        return self._live().add(pattern, handler)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._dispatcher is not None:
            await self._dispatcher.drain(self._drain_timeout)
            await self._dispatcher.close()

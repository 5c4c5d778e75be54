"""Group commit for chat messages: many senders, one transaction per batch.

Strategy: `ChatWriter.append` queues the message with a future and returns
when that future is resolved, that is after the batch holding it committed
(or failed: then every message of the batch gets the error, and none of them
is stored). One drain task, started when the first message arrives and ending
when the queue is empty, takes up to `max_batch` waiting messages at a time
and writes them in one transaction (`cti.store.chat.append_messages`). While
a batch commits, the next one fills up: the busier the chat, the larger the
batches and the fewer the commits, at no cost in latency when it is quiet
(a lone message is written at once). It is also the one chat writer of the
process, so SQLite never makes chat senders wait in its busy handler.
Messages of one sender are queued in the order they are sent (the socket
awaits each), and batches keep each conversation's order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from cti.chat.core import Appended
from cti.store.chat import NewMessage

__all__ = ["ChatWriter", "WriterStats"]

log = logging.getLogger("cti.store.chat_writer")

WriteBatch = Callable[[Sequence[NewMessage]], Awaitable[list[Appended | None]]]


@dataclass(slots=True)
class WriterStats:
    messages: int = 0
    batches: int = 0
    failed_batches: int = 0
    largest_batch: int = 0


class ChatWriter:
    def __init__(self, write: WriteBatch, max_batch: int = 200) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._write = write
        self._max_batch = max_batch
        self._queue: deque[tuple[NewMessage, asyncio.Future[Appended | None]]] = deque()
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self.stats = WriterStats()

    async def append(self, item: NewMessage) -> Appended | None:
        """Store `item`; returns once its batch has committed (see append_messages)."""
        future: asyncio.Future[Appended | None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if not self._draining:
            self._draining = True
            self._task = asyncio.create_task(self._drain(), name="cti-chat-writer")
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                count = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
                await self._commit(batch)
        finally:
            # no await between the emptiness check and this: an append that
            # comes later sees False and starts a new drain
            self._draining = False

    async def _commit(
        self, batch: list[tuple[NewMessage, asyncio.Future[Appended | None]]]
    ) -> None:
        stats = self.stats
        stats.batches += 1
        stats.messages += len(batch)
        stats.largest_batch = max(stats.largest_batch, len(batch))
        try:
            results = await self._write([item for item, _ in batch])
        except Exception as exc:
            stats.failed_batches += 1
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled: the batch's fate is unknown to its senders
            for _, future in batch:
                if not future.done():
                    future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a sender that gave up waiting
                future.set_result(result)

    async def aclose(self) -> None:
        """Wait for what is queued to be written (shutdown)."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.shield(task)

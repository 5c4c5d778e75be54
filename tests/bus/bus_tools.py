"""Bus test tools: where RabbitMQ is, a recording handler, waits, shared cases."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import NoReturn

import aio_pika
import pytest

from cti.bus import EventBus, Message

AMQP_URL = os.environ.get("CTI_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

# `await make_bus(**kwargs)`: a started bus, closed after the test
MakeBus = Callable[..., Awaitable[EventBus]]

# topics, and which of them each pattern receives (RabbitMQ topic rules)
TOPICS = ["chat", "chat.conv", "chat.conv.1", "chat.conv.1.typing", "hub.role.supervisor", "x.y"]
EXPECTED = {
    "chat.#": ["chat", "chat.conv", "chat.conv.1", "chat.conv.1.typing"],
    "chat.*": ["chat.conv"],
    "chat.*.1": ["chat.conv.1"],
    "*.conv.#": ["chat.conv", "chat.conv.1", "chat.conv.1.typing"],
    "#.typing": ["chat.conv.1.typing"],
    "#": TOPICS,
    "hub.role.supervisor": ["hub.role.supervisor"],
    "*": ["chat"],
}


async def delete_exchange(name: str) -> None:
    """Delete a test's exchange on the broker (from outside any bus)."""
    conn = await aio_pika.connect(AMQP_URL, timeout=3)
    async with conn:
        channel = await conn.channel()
        await channel.exchange_delete(name)


def amqp_missing(reason: str) -> NoReturn:
    """Skip on a developer's machine; fail when CI=true (CI must run them)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"RabbitMQ is required in CI but unreachable: {reason}", pytrace=False)
    pytest.skip(f"RabbitMQ unreachable at {AMQP_URL} ({reason})")


class Recorder:
    """An async handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._changed = asyncio.Event()

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)
        self._changed.set()

    @property
    def topics(self) -> list[str]:
        return [m.topic for m in self.messages]

    @property
    def bodies(self) -> list[bytes]:
        return [m.body for m in self.messages]

    async def wait_for(self, count: int, within: float = 5.0) -> list[Message]:
        """The first `count` messages; TimeoutError if they do not all come in time."""
        async with asyncio.timeout(within):
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.messages[:count]


async def settle(seconds: float = 0.2) -> None:
    """Give a broker round-trip time to deliver anything (still) in flight."""
    await asyncio.sleep(seconds)


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `condition()` holds; TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (a state polled from outside: no event to await)
            await asyncio.sleep(0.01)

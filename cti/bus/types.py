"""What every event bus offers: the `EventBus` protocol, `Message`, errors, stats.

Strategy: callers see one small, typed surface whichever bus is configured.
`publish(topic, payload)` sends bytes, or a mapping encoded once as JSON;
`subscribe(pattern, handler)` calls `handler(message)` for every message whose
topic matches `pattern` (AMQP topic rules, see `topics.py`) on this node,
whichever node published it. Each `Message` names its `origin` node, so a
relay that already delivered locally can ignore its own echo.

Delivery guarantees (the contract tests in tests/bus/ check each one):
- one subscription receives its messages in publish order (per publisher);
- every matching subscription receives the message (fan-out), including
  subscriptions on the publishing node;
- a handler that raises is logged and counted, and delivery goes on;
- a slow handler never slows the publisher or other subscribers: each
  subscription has a bounded queue, and when it is full the newest messages
  for that subscription are dropped and counted (`BusStats.dropped`).
  The bus carries notifications, not records: the store is the truth, and
  clients resume from it by sequence.
- at most once: nothing is redelivered or persisted by the bus.

Errors (the caller's mistakes stay builtin: `ValueError` for a bad topic or
pattern, `TypeError` for a payload that is neither bytes nor a mapping):

    BusError
    ├── BusClosedError       publish/subscribe before start() or after aclose()
    └── BusUnavailableError  start(): the broker cannot be reached
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

__all__ = [
    "BusClosedError",
    "BusError",
    "BusStats",
    "BusUnavailableError",
    "EventBus",
    "Handler",
    "Message",
    "Payload",
    "Subscription",
    "encode_payload",
]

Payload = bytes | Mapping[str, Any]


class BusError(Exception):
    """Base of the bus's own errors."""


class BusClosedError(BusError):
    """The bus was closed (or never started) and cannot carry messages."""


class BusUnavailableError(BusError):
    """The broker could not be reached when the bus started."""


@dataclass(frozen=True, slots=True)
class Message:
    """One delivered message: its topic, raw body and the node that published it."""

    topic: str
    body: bytes
    origin: str  # the publishing bus's node_id

    def json(self) -> Any:
        """The body decoded as JSON (a `msgspec.DecodeError` if it is not)."""
        return msgspec.json.decode(self.body)


Handler = Callable[[Message], Awaitable[None]]


def encode_payload(payload: Payload) -> bytes:
    """Bytes as they are; a mapping as compact UTF-8 JSON."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, Mapping):
        return msgspec.json.encode(payload)
    raise TypeError(f"payload must be bytes or a mapping, not {type(payload).__name__}")


@dataclass(slots=True)
class BusStats:
    published: int = 0  # publish() calls accepted
    delivered: int = 0  # handler calls that returned
    handler_errors: int = 0  # handler calls that raised
    dropped: int = 0  # messages a full subscription queue could not take
    remote_received: int = 0  # messages from other nodes (AmqpBus)
    remote_failed: int = 0  # publishes the broker did not take (outage)
    reconnects: int = 0  # broker connections restored (AmqpBus)


class Subscription(Protocol):
    @property
    def pattern(self) -> str: ...
    @property
    def dropped(self) -> int: ...
    async def aclose(self) -> None:
        """Stop delivery to this handler (messages still queued are discarded)."""


class EventBus(Protocol):
    """Publish/subscribe by topic, in process or across CTI nodes."""

    @property
    def node_id(self) -> str: ...
    @property
    def stats(self) -> BusStats: ...
    async def start(self) -> None:
        """Connect (AmqpBus) and get ready; publish/subscribe need it first."""

    async def publish(self, topic: str, payload: Payload) -> None:
        """Send to every subscription matching `topic`, on every node."""

    async def subscribe(self, pattern: str, handler: Handler) -> Subscription:
        """Call `handler` for each message matching `pattern` from now on."""

    async def aclose(self) -> None:
        """Deliver what is queued (bounded wait), then stop. Idempotent."""

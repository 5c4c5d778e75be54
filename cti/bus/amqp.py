"""`AmqpBus`: the event bus across CTI nodes, on RabbitMQ (aio-pika).

Strategy: every node publishes to one topic exchange (default "cti.bus")
with the topic as routing key, and consumes from one exclusive, auto-deleted
queue of its own ("<exchange>.node.<node_id>"), bound once per distinct
subscribed pattern, so the broker only sends a node what its subscribers
asked for. Messages that reach the node go through the same
`LocalDispatcher` as `InProcessBus` (AMQP delivers a message once per queue
even when several bindings match, so the node matches patterns itself).

Local first: `publish` hands the message to this node's subscribers at once,
then writes it to the broker; the copy that comes back from the broker (its
`app_id` is our node id) is ignored. Local delivery therefore needs no broker
and keeps working during an outage.

Speed over ceremony: the queue is consumed with no_ack and the channel has
no publisher confirms, so a publish costs one socket write. Publishing and
consuming go straight to aiormq's channel under aio-pika's robust one, which
halves the CPU that aio-pika's `Message`/`IncomingMessage` cost per message
(measured here: publish 78 vs 152 us, receive 64 vs 120 us). aio-pika still
restores the exchange, queue and bindings whenever it reopens the channel
(after a reconnection, or a channel the broker closed); the consumer is ours,
so `_on_reopen` starts it again. Nothing is
persisted (transient messages, auto-delete queues): the bus carries
notifications, and the store is the truth (chat clients resume by sequence).

Outage: the connection is aio-pika's robust one; it reconnects every
`reconnect_interval` seconds and re-declares the exchange, the queue, its
bindings and the consumer. While it is down, a publish is still delivered
locally but not to other nodes (`stats.remote_failed`, a warning), and
messages other nodes publish meanwhile are lost for this node, as is
whatever sat in its queue on a broker that restarted. `stats.reconnects`
counts recoveries.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import Any, Final

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractExchange,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)
from aiormq.abc import DeliveredMessage
from aiormq.exceptions import AMQPError, ChannelInvalidStateError

from cti.bus.dispatch import LocalDispatcher
from cti.bus.topics import check_topic
from cti.bus.types import (
    BusClosedError,
    BusStats,
    BusUnavailableError,
    Handler,
    Message,
    Payload,
    Subscription,
    encode_payload,
)

__all__ = ["DEFAULT_EXCHANGE", "AmqpBus"]

log = logging.getLogger("cti.bus.amqp")

DEFAULT_EXCHANGE: Final = "cti.bus"
# ChannelInvalidStateError (a RuntimeError) is what a publish meets while the
# robust connection is down and not yet restored.
_BROKER_ERRORS = (AMQPError, ChannelInvalidStateError, ConnectionError, OSError, TimeoutError)


class AmqpBus:
    def __init__(
        self,
        url: str,
        *,
        node_id: str | None = None,
        exchange: str = DEFAULT_EXCHANGE,
        queue_limit: int = 10_000,
        drain_timeout: float = 2.0,
        connect_timeout: float = 5.0,
        publish_timeout: float = 2.0,
        reconnect_interval: float = 1.0,
    ) -> None:
        self._url = url
        self._node_id = node_id or f"node-{secrets.token_hex(4)}"
        self._exchange_name = check_topic(exchange)
        self._stats = BusStats()
        self._queue_limit = queue_limit
        self._drain_timeout = drain_timeout
        self._connect_timeout = connect_timeout
        self._publish_timeout = publish_timeout
        self._reconnect_interval = reconnect_interval
        self._dispatcher: LocalDispatcher | None = None
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._properties = aiormq.spec.Basic.Properties(
            app_id=self._node_id, delivery_mode=int(aio_pika.DeliveryMode.NOT_PERSISTENT)
        )
        self._queue: AbstractQueue | None = None
        self._bind_lock = asyncio.Lock()
        self._closed = False
        self._reconnect_listeners: list[Callable[[], None]] = []

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def stats(self) -> BusStats:
        return self._stats

    @property
    def url(self) -> str:
        return self._url

    @property
    def queue_name(self) -> str:
        return f"{self._exchange_name}.node.{self._node_id}"

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up right now."""
        conn = self._connection
        return conn is not None and not conn.is_closed and conn.connected.is_set()

    async def start(self) -> None:
        if self._closed:
            raise BusClosedError("bus already closed")
        if self._dispatcher is not None:
            return
        try:
            async with asyncio.timeout(self._connect_timeout):
                conn = await aio_pika.connect_robust(
                    self._url,
                    reconnect_interval=self._reconnect_interval,
                    client_properties={"connection_name": f"cti {self._node_id}"},
                )
        except (*_BROKER_ERRORS, ValueError) as exc:
            raise BusUnavailableError(f"cannot reach the AMQP broker: {exc!r}") from exc
        try:
            conn.reconnect_callbacks.add(self._on_reconnect)
            channel = await conn.channel(publisher_confirms=False)
            channel.reopen_callbacks.add(self._on_reopen)
            self._channel = channel
            self._exchange = await channel.declare_exchange(
                self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=False
            )
            self._queue = await channel.declare_queue(
                self.queue_name, exclusive=True, auto_delete=True
            )
            await self._consume()
        except BaseException:
            await conn.close()
            raise
        self._connection = conn
        dispatcher = LocalDispatcher(self._stats, self._queue_limit)
        dispatcher.on_pattern_unused = self._unbind
        self._dispatcher = dispatcher

    def _live(self) -> LocalDispatcher:
        if self._closed or self._dispatcher is None:
            raise BusClosedError("bus is closed" if self._closed else "bus not started")
        return self._dispatcher

    def add_reconnect_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` each time the broker connection is restored (with its
        queue, bindings and consumer): what other nodes sent meanwhile is lost, so
        this is when to tell clients to resync."""
        self._reconnect_listeners.append(listener)

    async def _consume(self) -> None:
        assert self._channel is not None
        channel = await self._channel.get_underlay_channel()
        await channel.basic_consume(self.queue_name, self._on_delivery, no_ack=True)

    async def _on_reopen(self, *_: Any) -> None:
        # aio-pika calls this once it declared the queue and its bindings again
        try:
            await self._consume()
        except _BROKER_ERRORS:  # the connection failed again: the next one retries
            log.exception("AMQP bus %s: consuming again after reopening failed", self._node_id)

    def _on_reconnect(self, *_: Any) -> None:
        # after every channel was restored (and `_on_reopen` consumes again)
        self._stats.reconnects += 1
        log.warning("AMQP bus %s reconnected: messages sent meanwhile are lost", self._node_id)
        for listener in tuple(self._reconnect_listeners):
            try:
                listener()
            except Exception:
                log.exception("AMQP bus %s: reconnect listener failed", self._node_id)

    async def _on_delivery(self, delivered: DeliveredMessage) -> None:
        origin = delivered.header.properties.app_id or ""
        dispatcher = self._dispatcher
        if origin == self._node_id or dispatcher is None or self._closed:
            return  # our own echo: already delivered locally
        self._stats.remote_received += 1
        dispatcher.deliver(Message(delivered.routing_key or "", delivered.body, origin))

    async def publish(self, topic: str, payload: Payload) -> None:
        dispatcher = self._live()
        body = encode_payload(payload)
        crowded = dispatcher.deliver(Message(check_topic(topic), body, self._node_id))
        self._stats.published += 1
        assert self._channel is not None
        try:
            if not self.connected:  # fail at once rather than wait for the reconnection
                raise ConnectionError("broker connection down")
            async with asyncio.timeout(self._publish_timeout):
                channel = await self._channel.get_underlay_channel()
                await channel.basic_publish(
                    body,
                    exchange=self._exchange_name,
                    routing_key=topic,
                    properties=self._properties,
                    mandatory=False,
                )
        except _BROKER_ERRORS as exc:
            self._stats.remote_failed += 1
            if self._stats.remote_failed in (1, 10, 100) or self._stats.remote_failed % 1000 == 0:
                log.warning(
                    "AMQP bus %s: %d publish(es) not sent to other nodes (%r)",
                    self._node_id,
                    self._stats.remote_failed,
                    exc,
                )
        if crowded:
            await asyncio.sleep(0)  # let the subscribers' workers catch up

    async def subscribe(self, pattern: str, handler: Handler) -> Subscription:
        dispatcher = self._live()
        async with self._bind_lock:
            is_new = not dispatcher.has_pattern(pattern)
            local = dispatcher.add(pattern, handler)  # validates the pattern
            if is_new:
                assert self._queue is not None
                assert self._exchange is not None
                try:
                    await self._queue.bind(self._exchange, routing_key=pattern)
                except BaseException:
                    await dispatcher.remove(local)
                    raise
        return local  # closing its last subscription unbinds the pattern

    async def _unbind(self, pattern: str) -> None:
        if self._closed or self._queue is None or self._exchange is None:
            return
        async with self._bind_lock:
            if self._dispatcher is not None and self._dispatcher.has_pattern(pattern):
                return  # subscribed again meanwhile
            try:
                await self._queue.unbind(self._exchange, routing_key=pattern)
            except _BROKER_ERRORS as exc:  # the queue goes with the connection anyway
                log.info("AMQP bus %s: unbind %r failed: %r", self._node_id, pattern, exc)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._dispatcher is not None:
            await self._dispatcher.drain(self._drain_timeout)
            await self._dispatcher.close()
        if self._connection is not None:
            try:
                async with asyncio.timeout(self._connect_timeout):
                    await self._connection.close()
            except _BROKER_ERRORS as exc:
                log.info("AMQP bus %s: close failed: %r", self._node_id, exc)

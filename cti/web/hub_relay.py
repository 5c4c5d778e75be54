"""`HubRelay`: the hub's publish calls, shared with the other CTI nodes' hubs.

Strategy: the relay stands where a `Hub` stands for its publishers (the
engine, chat): each `publish_*` call is applied to the local hub at once,
exactly as before, and also queued as one typed message (a msgspec tagged
union, topic "hub.<kind>") for the event bus. Every node's relay subscribes
to "hub.*" and applies what other nodes sent to its own hub, so a client
connected to node B receives an event published on node A; a node skips its
own messages (the `sender` field), having delivered them locally already.

Publishing stays synchronous and never awaits (the hub's contract): messages
wait in a bounded deque that `run()` drains onto the bus, in order. If the
bus falls behind by `queue_size` messages, further ones are dropped for the
other nodes (counted, logged); the local hub still has them. Each hub numbers
its own streams, so a client's `seq` is per node: a client moving to another
node starts a new stream there (its `stream_id` changes, so it resyncs).

Only useful with several nodes (CTI_BUS_URL=amqp://...); a single node uses
the hub directly.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from cti.bus import EventBus, Message, Subscription
from cti.web.hub import Hub

__all__ = ["HubRelay", "RelayStats"]

log = logging.getLogger("cti.web.hub_relay")

TOPIC_PREFIX = "hub"


class _ToInterface(msgspec.Struct, tag="interface", frozen=True):
    sender: str
    interface: str
    payload: dict[str, Any]


class _ToInterfaces(msgspec.Struct, tag="interfaces", frozen=True):
    sender: str
    interfaces: list[str]
    payload: dict[str, Any]


class _ToRole(msgspec.Struct, tag="role", frozen=True):
    sender: str
    role: str
    payload: dict[str, Any]


class _ToLogins(msgspec.Struct, tag="logins", frozen=True):
    sender: str
    logins: list[str]
    payload: dict[str, Any]


class _AboutQueue(msgspec.Struct, tag="queue", frozen=True):
    sender: str
    queue: str
    payload: dict[str, Any]


class _AboutAgent(msgspec.Struct, tag="agent", frozen=True):
    sender: str
    interface: str
    queues: list[str]
    payload: dict[str, Any]


class _AboutCall(msgspec.Struct, tag="call", frozen=True):
    sender: str
    queue: str | None
    parties: list[str]
    payload: dict[str, Any]


_Relayed = (
    _ToInterface | _ToInterfaces | _ToRole | _ToLogins | _AboutQueue | _AboutAgent | _AboutCall
)
_DECODER = msgspec.json.Decoder(_Relayed)
_ENCODER = msgspec.json.Encoder()


@dataclass(slots=True)
class RelayStats:
    sent: int = 0  # messages handed to the bus
    applied: int = 0  # messages from other nodes applied to the local hub
    dropped: int = 0  # messages the bus could not take in time (local hub had them)
    rejected: int = 0  # undecodable or failing messages from other nodes


class HubRelay:
    def __init__(
        self, hub: Hub, bus: EventBus, *, node_id: str | None = None, queue_size: int = 10_000
    ) -> None:
        self.hub = hub
        self.bus = bus
        self.node_id = node_id or bus.node_id
        self.stats = RelayStats()
        self._queue_size = queue_size
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._subscription: Subscription | None = None

    # -- the hub's publishing surface (synchronous, never awaits) ------------------

    def publish_to_interface(self, interface: str, payload: Mapping[str, Any]) -> None:
        self.hub.publish_to_interface(interface, payload)
        self._send(_ToInterface(self.node_id, interface, dict(payload)))

    def publish_to_interfaces(self, interfaces: Iterable[str], payload: Mapping[str, Any]) -> None:
        interfaces = list(interfaces)
        self.hub.publish_to_interfaces(interfaces, payload)
        self._send(_ToInterfaces(self.node_id, interfaces, dict(payload)))

    def publish_to_role(self, role: str, payload: Mapping[str, Any]) -> None:
        self.hub.publish_to_role(role, payload)
        self._send(_ToRole(self.node_id, role, dict(payload)))

    def publish_to_logins(self, logins: Iterable[str], payload: Mapping[str, Any]) -> None:
        logins = list(logins)
        self.hub.publish_to_logins(logins, payload)
        self._send(_ToLogins(self.node_id, logins, dict(payload)))

    def publish_about_queue(self, queue: str, payload: Mapping[str, Any]) -> None:
        self.hub.publish_about_queue(queue, payload)
        self._send(_AboutQueue(self.node_id, queue, dict(payload)))

    def has_audience_for_queue(self, queue: str) -> bool:
        return True  # supervisors on other nodes are not known here

    def publish_about_agent(
        self, interface: str, queues: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        queues = list(queues)
        self.hub.publish_about_agent(interface, queues, payload)
        self._send(_AboutAgent(self.node_id, interface, queues, dict(payload)))

    def publish_about_call(
        self, queue: str | None, parties: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        parties = list(parties)
        self.hub.publish_about_call(queue, parties, payload)
        self._send(_AboutCall(self.node_id, queue, parties, dict(payload)))

    def _send(self, message: _Relayed) -> None:
        if len(self._outbox) >= self._queue_size:
            self.stats.dropped += 1
            if self.stats.dropped in (1, 10, 100) or self.stats.dropped % 1000 == 0:
                log.warning("hub relay behind: %d event(s) not relayed", self.stats.dropped)
            return
        tag = type(message).__struct_config__.tag
        self._outbox.append((f"{TOPIC_PREFIX}.{tag}", _ENCODER.encode(message)))
        self._wake.set()

    # -- the asyncio shell -------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the other nodes' hub events (the bus must be started)."""
        if self._subscription is None:
            self._subscription = await self.bus.subscribe(f"{TOPIC_PREFIX}.*", self._apply)

    async def run(self) -> None:
        """Hand queued messages to the bus, in order, until cancelled."""
        outbox = self._outbox
        while True:
            if not outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            topic, body = outbox[0]
            await self.bus.publish(topic, body)
            outbox.popleft()
            self.stats.sent += 1

    async def flush(self) -> None:
        """Hand everything queued to the bus now (tests, shutdown)."""
        while self._outbox:
            topic, body = self._outbox.popleft()
            await self.bus.publish(topic, body)
            self.stats.sent += 1

    async def aclose(self) -> None:
        if self._subscription is not None:
            await self._subscription.aclose()
            self._subscription = None

    async def _apply(self, message: Message) -> None:
        if message.origin == self.bus.node_id == self.node_id:
            return  # ours (delivered locally by the bus): the local hub had it first
        try:
            relayed = _DECODER.decode(message.body)
        except msgspec.DecodeError as exc:
            self.stats.rejected += 1
            log.warning(
                "hub relay: bad message on %r from %s: %s", message.topic, message.origin, exc
            )
            return
        if relayed.sender == self.node_id:
            return  # ours: the local hub had it first
        hub = self.hub
        match relayed:
            case _ToInterface(interface=interface, payload=payload):
                hub.publish_to_interface(interface, payload)
            case _ToInterfaces(interfaces=interfaces, payload=payload):
                hub.publish_to_interfaces(interfaces, payload)
            case _ToRole(role=role, payload=payload):
                hub.publish_to_role(role, payload)
            case _ToLogins(logins=logins, payload=payload):
                hub.publish_to_logins(logins, payload)
            case _AboutQueue(queue=queue, payload=payload):
                hub.publish_about_queue(queue, payload)
            case _AboutAgent(interface=interface, queues=queues, payload=payload):
                hub.publish_about_agent(interface, queues, payload)
            case _AboutCall(queue=queue, parties=parties, payload=payload):
                hub.publish_about_call(queue, parties, payload)
        self.stats.applied += 1

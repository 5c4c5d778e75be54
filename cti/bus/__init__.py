"""The event bus: call events and chat delivery, in process or across nodes.

See docs/bus.md. `EventBus` is the protocol; `InProcessBus` the embedded
default; `AmqpBus` the RabbitMQ one; `bus_from_settings` picks by CTI_BUS_URL.
"""

from cti.bus.amqp import AmqpBus
from cti.bus.factory import bus_from_settings, bus_from_url
from cti.bus.memory import InProcessBus
from cti.bus.topics import check_pattern, check_topic, matches
from cti.bus.types import (
    BusClosedError,
    BusError,
    BusStats,
    BusUnavailableError,
    EventBus,
    Handler,
    Message,
    Payload,
    Subscription,
)

__all__ = [
    "AmqpBus",
    "BusClosedError",
    "BusError",
    "BusStats",
    "BusUnavailableError",
    "EventBus",
    "Handler",
    "InProcessBus",
    "Message",
    "Payload",
    "Subscription",
    "bus_from_settings",
    "bus_from_url",
    "check_pattern",
    "check_topic",
    "matches",
]

"""`bus_from_settings`: CTI_BUS_URL picks the bus.

Empty (the default) is the embedded `InProcessBus`: one node, no broker.
`amqp://user:password@host:port/vhost` (or `amqps://`) is `AmqpBus` on
RabbitMQ, for several CTI nodes sharing events; `?exchange=NAME` picks the
topic exchange (default "cti.bus": nodes on one exchange share events, so
separate CTI installations on one broker each take their own). Anything else
is refused at start-up with a clear error rather than silently running
single-node.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cti.bus.amqp import DEFAULT_EXCHANGE, AmqpBus
from cti.bus.memory import InProcessBus
from cti.bus.types import EventBus
from cti.config import Settings

__all__ = ["bus_from_settings", "bus_from_url"]


def bus_from_url(url: str, *, node_id: str | None = None) -> EventBus:
    url = url.strip()
    if not url:
        return InProcessBus(node_id=node_id)
    scheme = url.partition("://")[0].lower()
    if scheme in ("amqp", "amqps"):
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        exchange = dict(query).get("exchange", DEFAULT_EXCHANGE)
        rest = urlencode([(k, v) for k, v in query if k != "exchange"])
        return AmqpBus(urlunsplit(parts._replace(query=rest)), node_id=node_id, exchange=exchange)
    raise ValueError(f"CTI_BUS_URL: expected empty or amqp://..., got scheme {scheme!r}")


def bus_from_settings(settings: Settings, *, node_id: str | None = None) -> EventBus:
    """The bus CTI_BUS_URL names (not started: call `await bus.start()`)."""
    return bus_from_url(settings.bus_url, node_id=node_id)

"""CTI_BUS_URL picks the bus; the topic matcher follows RabbitMQ's rules."""

from __future__ import annotations

import pytest

from cti.bus import AmqpBus, InProcessBus, bus_from_settings, bus_from_url, matches
from cti.config import Settings


def test_an_empty_bus_url_is_the_in_process_bus() -> None:
    assert isinstance(bus_from_settings(Settings(bus_url="")), InProcessBus)
    assert isinstance(bus_from_url("  "), InProcessBus)


def test_an_amqp_url_is_the_rabbitmq_bus() -> None:
    bus = bus_from_settings(Settings(bus_url="amqp://guest:guest@127.0.0.1:5672/"), node_id="n1")
    assert isinstance(bus, AmqpBus)
    assert bus.node_id == "n1"
    assert bus.queue_name == "cti.bus.node.n1"
    assert isinstance(bus_from_url("AMQPS://broker/"), AmqpBus)


def test_the_exchange_comes_from_the_url_and_the_rest_goes_to_the_client() -> None:
    bus = bus_from_url("amqp://u:p@h:5672/vh?exchange=cti.site2&heartbeat=30", node_id="n")
    assert isinstance(bus, AmqpBus)
    assert bus.queue_name == "cti.site2.node.n"
    assert bus.url == "amqp://u:p@h:5672/vh?heartbeat=30"
    with pytest.raises(ValueError, match="topic"):
        bus_from_url("amqp://h/?exchange=bad..name")


def test_the_bus_url_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTI_BUS_URL", "amqp://u:p@127.0.0.1:5672/")
    assert Settings().bus_url == "amqp://u:p@127.0.0.1:5672/"
    monkeypatch.delenv("CTI_BUS_URL")
    assert Settings().bus_url == ""


def test_an_unknown_bus_url_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"CTI_BUS_URL: expected empty or amqp://.*'redis'"):
        bus_from_url("redis://127.0.0.1:6379/0")


def test_node_ids_are_unique_by_default() -> None:
    assert InProcessBus().node_id != InProcessBus().node_id


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", False),
        ("a.*", "a", False),
        ("a.*", "a.b", True),
        ("a.#", "a", True),
        ("a.#", "a.b.c", True),
        ("a.#", "ab", False),
        ("#.c", "c", True),
        ("#.c", "a.b.c", True),
        ("#.c", "a.b.cd", False),
        ("a.#.c", "a.c", True),
        ("a.#.c", "a.x.y.c", True),
        ("a.#.c", "a.x.y", False),
        ("#.#", "a", True),
        ("#", "a.b.c", True),
        ("*.*", "a", False),
        ("*.*", "a.b", True),
        ("a.*.#", "a", False),
        ("a.*.#", "a.b", True),
    ],
)
def test_topic_matching(pattern: str, topic: str, expected: bool) -> None:
    assert matches(pattern, topic) is expected

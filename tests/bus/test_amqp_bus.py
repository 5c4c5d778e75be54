"""AmqpBus across nodes: two (or more) buses on one real RabbitMQ exchange."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import bus_fixtures
import pytest
from bus_tools import (
    AMQP_URL,
    EXPECTED,
    TOPICS,
    MakeBus,
    Recorder,
    amqp_missing,
    delete_exchange,
    eventually,
    settle,
)
from tcp_proxy import TcpProxy

from cti.bus import AmqpBus, BusUnavailableError

# the shared fixtures (see bus_fixtures.py for why they are not in a conftest.py)
amqp_bus_factory = bus_fixtures.amqp_bus_factory
exchange = bus_fixtures.exchange


@pytest.fixture
def make_node(amqp_bus_factory: MakeBus) -> MakeBus:
    return amqp_bus_factory


async def test_a_publish_on_node_a_reaches_node_b_once(make_node: MakeBus) -> None:
    a = await make_node(node_id="a")
    b = await make_node(node_id="b")
    on_a, on_b = Recorder(), Recorder()
    await a.subscribe("chat.#", on_a)
    await b.subscribe("chat.#", on_b)
    await a.publish("chat.conv.1", {"text": "from a"})
    await b.publish("chat.conv.1", {"text": "from b"})
    await on_a.wait_for(2)
    await on_b.wait_for(2)
    await settle()
    # each side: its own message (local, no echo duplicate) and the other's
    assert sorted((m.origin, m.json()["text"]) for m in on_a.messages) == [
        ("a", "from a"),
        ("b", "from b"),
    ]
    assert sorted((m.origin, m.json()["text"]) for m in on_b.messages) == [
        ("a", "from a"),
        ("b", "from b"),
    ]
    assert (a.stats.remote_received, b.stats.remote_received) == (1, 1)


async def test_the_broker_routes_patterns_as_the_local_matcher_does(make_node: MakeBus) -> None:
    a = await make_node()
    b = await make_node()
    recorders = {pattern: Recorder() for pattern in EXPECTED}
    for pattern, got in recorders.items():
        await b.subscribe(pattern, got)
    for topic in TOPICS:
        await a.publish(topic, topic.encode())
    for pattern, want in EXPECTED.items():
        await recorders[pattern].wait_for(len(want))
    await settle()
    assert {p: r.topics for p, r in recorders.items()} == EXPECTED
    # one queue per node: a message matching several bindings arrives once
    assert b.stats.remote_received == len(TOPICS)


async def test_order_holds_from_one_node_to_another(make_node: MakeBus) -> None:
    a = await make_node()
    b = await make_node()
    got = Recorder()
    await b.subscribe("calls.*", got)
    for i in range(2000):
        await a.publish(f"calls.{i % 7}", str(i).encode())
    messages = await got.wait_for(2000, within=20)
    assert [int(m.body) for m in messages] == list(range(2000))


async def test_the_last_unsubscribe_unbinds_the_pattern(make_node: MakeBus) -> None:
    a = await make_node()
    b = await make_node()
    first, second = Recorder(), Recorder()
    sub1 = await b.subscribe("t.*", first)
    sub2 = await b.subscribe("t.*", second)
    await sub1.aclose()  # the other subscription still holds the binding
    await a.publish("t.1", b"1")
    await second.wait_for(1)
    await sub2.aclose()
    await a.publish("t.2", b"2")
    await settle()
    assert b.stats.remote_received == 1
    assert first.messages == []
    assert second.bodies == [b"1"]


async def test_a_channel_the_broker_closed_comes_back_with_its_consumer(
    make_node: MakeBus, exchange: str
) -> None:
    a = await make_node(node_id="a")
    b = await make_node(node_id="b")
    got = Recorder()
    await b.subscribe("t", got)
    await delete_exchange(exchange)  # someone deletes it: b's queue loses its binding
    await b.publish("t", b"lost")  # NOT_FOUND: the broker closes b's channel
    # aio-pika reopens the channel (exchange, queue, binding) and b consumes again
    sent = 0
    async with asyncio.timeout(10):
        while not any(m.origin == "a" for m in got.messages):
            sent += 1
            await a.publish("t", str(sent).encode())
            await asyncio.sleep(0.05)
    assert b.stats.remote_received >= 1


async def test_an_unreachable_broker_fails_start_with_a_clear_error() -> None:
    bus = AmqpBus("amqp://guest:guest@127.0.0.1:1/", connect_timeout=2)
    with pytest.raises(BusUnavailableError, match="cannot reach the AMQP broker"):
        await bus.start()
    await bus.aclose()


def _via(port: int) -> str:
    parts = urlsplit(AMQP_URL)
    netloc = parts.netloc.rpartition("@")
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if netloc[1] else host))


async def test_a_node_reconnects_after_an_outage_and_says_what_was_lost(
    make_node: MakeBus, exchange: str
) -> None:
    target = urlsplit(AMQP_URL)
    async with TcpProxy(target.hostname or "127.0.0.1", target.port or 5672) as proxy:
        a = await make_node(node_id="a")
        b = AmqpBus(_via(proxy.port), node_id="b", exchange=exchange, reconnect_interval=0.2)
        try:
            await b.start()
        except BusUnavailableError as exc:
            amqp_missing(str(exc))
        restored: list[int] = []
        b.add_reconnect_listener(lambda: restored.append(b.stats.reconnects))
        try:
            on_a, on_b = Recorder(), Recorder()
            await a.subscribe("t", on_a)
            await b.subscribe("t", on_b)
            await a.publish("t", b"before")
            await on_b.wait_for(1)

            proxy.cut()
            await eventually(lambda: not b.connected)
            await a.publish("t", b"during, from a")  # b's queue is gone: lost for b
            await b.publish("t", b"during, from b")  # local only: lost for a
            await on_b.wait_for(2)
            assert on_b.bodies == [b"before", b"during, from b"]
            assert b.stats.remote_failed == 1

            proxy.restore()
            await eventually(lambda: b.stats.reconnects >= 1, within=10)
            assert restored == [1]  # told once, so it can have its clients resync
            # the callback ran after the queue, its binding and the consumer were
            # declared again: delivery between the nodes resumes at once
            await a.publish("t", b"after, from a")
            await b.publish("t", b"after, from b")
            await on_a.wait_for(4, within=10)
            await on_b.wait_for(4, within=10)
            await settle()
            assert on_a.bodies == [b"before", b"during, from a", b"after, from a", b"after, from b"]
            assert on_b.bodies[:2] == [b"before", b"during, from b"]
            assert sorted(on_b.bodies[2:]) == [b"after, from a", b"after, from b"]
        finally:
            await b.aclose()

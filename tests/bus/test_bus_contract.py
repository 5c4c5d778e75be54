"""The contract every EventBus keeps, run on InProcessBus and on AmqpBus (RabbitMQ)."""

from __future__ import annotations

import asyncio

import bus_fixtures
import pytest
from bus_tools import EXPECTED, TOPICS, MakeBus, Recorder, eventually, settle

from cti.bus import BusClosedError, Message

# the shared fixtures (see bus_fixtures.py for why they are not in a conftest.py)
amqp_bus_factory = bus_fixtures.amqp_bus_factory
exchange = bus_fixtures.exchange
make_bus = bus_fixtures.make_bus
memory_bus_factory = bus_fixtures.memory_bus_factory


async def test_a_subscription_receives_messages_in_publish_order(make_bus: MakeBus) -> None:
    bus = await make_bus()
    got = Recorder()
    await bus.subscribe("calls.#", got)
    for i in range(500):
        await bus.publish(f"calls.{'a' if i % 2 else 'b'}", str(i).encode())
    messages = await got.wait_for(500)
    assert [int(m.body) for m in messages] == list(range(500))


async def test_every_matching_subscription_receives_every_message(make_bus: MakeBus) -> None:
    bus = await make_bus()
    subscribers = [Recorder() for _ in range(3)]
    for got in subscribers:
        await bus.subscribe("chat.conv.7", got)
    other = Recorder()
    await bus.subscribe("chat.conv.8", other)
    for i in range(20):
        await bus.publish("chat.conv.7", {"n": i})
    for got in subscribers:
        assert [m.json()["n"] for m in await got.wait_for(20)] == list(range(20))
    await settle()
    assert other.messages == []
    assert all(len(got.messages) == 20 for got in subscribers)  # no duplicates either


async def test_topic_patterns_follow_amqp_rules(make_bus: MakeBus) -> None:
    bus = await make_bus()
    recorders = {pattern: Recorder() for pattern in EXPECTED}
    for pattern, got in recorders.items():
        await bus.subscribe(pattern, got)
    for topic in TOPICS:
        await bus.publish(topic, topic.encode())
    for pattern, want in EXPECTED.items():
        await recorders[pattern].wait_for(len(want))
    await settle()
    assert {p: r.topics for p, r in recorders.items()} == EXPECTED


async def test_a_failing_handler_does_not_stop_delivery(
    make_bus: MakeBus, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await make_bus()
    seen: list[int] = []

    async def flaky(message: Message) -> None:
        n = message.json()
        if n == 2:
            raise RuntimeError("handler bug")
        seen.append(n)

    healthy = Recorder()
    await bus.subscribe("t", flaky)
    await bus.subscribe("t", healthy)
    for n in range(5):
        await bus.publish("t", str(n).encode())
    await healthy.wait_for(5)
    await eventually(lambda: len(seen) == 4)
    assert seen == [0, 1, 3, 4]
    assert bus.stats.handler_errors == 1
    assert "handler bug" in caplog.text


async def test_a_slow_subscriber_drops_its_own_overflow_and_slows_nobody(
    make_bus: MakeBus,
) -> None:
    bus = await make_bus(queue_limit=5)
    release = asyncio.Event()
    slow_seen: list[bytes] = []

    async def slow(message: Message) -> None:
        await release.wait()
        slow_seen.append(message.body)

    fast = Recorder()
    slow_sub = await bus.subscribe("t", slow)
    await bus.subscribe("t", fast)
    async with asyncio.timeout(2):  # the publisher never waits for the stuck handler
        for i in range(20):
            await bus.publish("t", str(i).encode())
    assert [int(m.body) for m in await fast.wait_for(20)] == list(range(20))
    release.set()
    await settle()
    # one message in the stuck handler, five queued; the rest dropped and counted
    assert [int(b) for b in slow_seen] == list(range(6))
    assert slow_sub.dropped == 14
    assert bus.stats.dropped == 14


async def test_closing_a_subscription_stops_its_delivery_only(make_bus: MakeBus) -> None:
    bus = await make_bus()
    leaving, staying = Recorder(), Recorder()
    sub = await bus.subscribe("t.#", leaving)
    await bus.subscribe("t.#", staying)
    await bus.publish("t.1", b"1")
    await leaving.wait_for(1)
    await sub.aclose()
    await bus.publish("t.2", b"2")
    await staying.wait_for(2)
    await settle()
    assert leaving.bodies == [b"1"]
    assert staying.bodies == [b"1", b"2"]


async def test_close_delivers_what_was_published_then_refuses(make_bus: MakeBus) -> None:
    bus = await make_bus()
    got = Recorder()
    await bus.subscribe("t", got)
    for i in range(100):
        await bus.publish("t", str(i).encode())
    await bus.aclose()
    assert len(got.messages) == 100
    with pytest.raises(BusClosedError):
        await bus.publish("t", b"late")
    with pytest.raises(BusClosedError):
        await bus.subscribe("t", got)
    await bus.aclose()  # idempotent


async def test_messages_carry_topic_body_and_origin(make_bus: MakeBus) -> None:
    bus = await make_bus(node_id="node-a")
    got = Recorder()
    await bus.subscribe("chat.#", got)
    await bus.publish("chat.conv.9", {"text": "José <b>hi</b>", "seq": 3})
    await bus.publish("chat.conv.9", b"\x00raw")
    first, second = await got.wait_for(2)
    assert (first.topic, first.origin) == ("chat.conv.9", "node-a")
    assert first.json() == {"text": "José <b>hi</b>", "seq": 3}
    assert second.body == b"\x00raw"
    assert bus.node_id == "node-a"


@pytest.mark.parametrize("topic", ["", "a..b", "a.*", "a.#", "a b", "é", "x" * 256])
async def test_a_bad_topic_is_refused_with_a_clear_error(make_bus: MakeBus, topic: str) -> None:
    bus = await make_bus()
    with pytest.raises(ValueError, match="topic"):
        await bus.publish(topic, b"")
    assert bus.stats.published == 0


@pytest.mark.parametrize("pattern", ["", "a.**", "a.#x", "a..b", "a/b"])
async def test_a_bad_pattern_is_refused_with_a_clear_error(make_bus: MakeBus, pattern: str) -> None:
    bus = await make_bus()
    with pytest.raises(ValueError, match="pattern"):
        await bus.subscribe(pattern, Recorder())


async def test_a_payload_that_is_neither_bytes_nor_mapping_is_refused(make_bus: MakeBus) -> None:
    bus = await make_bus()
    with pytest.raises(TypeError, match="bytes or a mapping"):
        await bus.publish("t", "text")  # type: ignore[arg-type]

"""HubRelay: hub events published on one CTI node reach the hubs of the others.

In process: two relays with their own node ids on one InProcessBus stand for
two nodes. Over RabbitMQ: two web apps (two hubs, real uvicorn), each with
its own AmqpBus on one exchange; an event published on node A reaches a
WebSocket client connected to node B. An unreachable RabbitMQ skips the
RabbitMQ test on a developer's machine and fails it when CI=true.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import pytest
from web_fakes import ALICE, BOB, SETTINGS, SUE, FakeUsers, make_app, serve
from websockets.asyncio.client import ClientConnection, connect

from cti.bus import AmqpBus, BusUnavailableError, InProcessBus
from cti.web.auth import TokenAuth
from cti.web.hub import Hub
from cti.web.hub_relay import HubRelay
from cti.web.ports import User

AMQP_URL = os.environ.get("CTI_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
AUTH = TokenAuth(FakeUsers(), SETTINGS)


def pop(call_id: str) -> dict[str, Any]:
    return {"type": "screen_pop", "interface": ALICE.interface, "call_id": call_id}


@contextlib.asynccontextmanager
async def running(relay: HubRelay) -> AsyncIterator[HubRelay]:
    await relay.start()
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await relay.aclose()


async def bodies(hub: Hub, user: User) -> list[dict[str, Any]]:
    """What `user`'s stream on `hub` holds (a replay from 0), without the envelope."""
    conn = hub.attach(user, since=0)
    frames: list[dict[str, Any]] = []

    async def send(text: str) -> None:
        frames.append(json.loads(text))
        if not conn.pending:
            hub.detach(conn)

    await asyncio.wait_for(conn.pump(send), 2)
    return [{k: v for k, v in f.items() if k not in ("seq", "stream_id")} for f in frames[1:]]


async def test_every_publish_kind_reaches_the_other_node_once() -> None:
    bus = InProcessBus()
    await bus.start()
    hub_a, hub_b = Hub(), Hub()
    for hub in (hub_a, hub_b):
        for user in (ALICE, BOB, SUE):
            hub.register(user)
    async with (
        running(HubRelay(hub_a, bus, node_id="a")) as a,
        running(HubRelay(hub_b, bus, node_id="b")),
    ):
        a.publish_to_interface("PJSIP/1001", pop("c1"))
        a.publish_to_interfaces(["PJSIP/1001", "PJSIP/1002"], {"type": "answered"})
        a.publish_to_role("supervisor", {"type": "agent_state"})
        a.publish_to_logins(["bob"], {"type": "chat_message", "text": "<b>hi</b>"})
        a.publish_about_queue("support", {"type": "queue_state"})
        a.publish_about_agent("PJSIP/1001", ["support"], {"type": "agent_board"})
        a.publish_about_call("support", ["PJSIP/1001"], {"type": "call_ended"})
        await a.flush()
        await bus.aclose()  # delivers what was published
    for hub in (hub_a, hub_b):  # the same, once each, on both nodes
        assert await bodies(hub, ALICE) == [pop("c1"), {"type": "answered"}]
        assert await bodies(hub, BOB) == [
            {"type": "answered"},
            {"type": "chat_message", "text": "<b>hi</b>"},
        ]
        assert await bodies(hub, SUE) == [
            {"type": "agent_state"},
            {"type": "queue_state"},
            {"type": "agent_board"},
            {"type": "call_ended"},
        ]


async def test_a_bad_message_on_the_hub_topic_is_counted_and_ignored() -> None:
    bus = InProcessBus()
    await bus.start()
    hub = Hub()
    hub.register(ALICE)
    async with running(HubRelay(hub, bus, node_id="b")) as relay:
        await bus.publish("hub.interface", b'{"type":"interface","interface":1}')
        await bus.publish(
            "hub.interface",
            {"type": "interface", "sender": "a", "interface": "PJSIP/1001", "payload": pop("ok")},
        )
        await bus.aclose()
        assert relay.stats.rejected == 1
        assert relay.stats.applied == 1
    assert await bodies(hub, ALICE) == [pop("ok")]


async def test_a_full_outbox_drops_for_other_nodes_only() -> None:
    bus = InProcessBus()
    await bus.start()
    hub = Hub()
    hub.register(ALICE)
    relay = HubRelay(hub, bus, queue_size=2)  # not running: nothing drains it
    for n in range(4):
        relay.publish_to_interface("PJSIP/1001", pop(f"c{n}"))
    assert relay.stats.dropped == 2
    assert len(await bodies(hub, ALICE)) == 4  # the local hub has them all
    await bus.aclose()


# -- two web nodes on RabbitMQ ---------------------------------------------------


async def recv(ws: ClientConnection, wait: float = 5.0) -> dict[str, Any]:
    data = json.loads(await asyncio.wait_for(ws.recv(), wait))
    assert isinstance(data, dict)
    return data


@contextlib.asynccontextmanager
async def amqp_node(node_id: str, exchange: str) -> AsyncIterator[tuple[HubRelay, str]]:
    bus = AmqpBus(AMQP_URL, node_id=node_id, exchange=exchange, connect_timeout=3)
    try:
        await bus.start()
    except BusUnavailableError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"RabbitMQ is required in CI but unreachable: {exc}", pytrace=False)
        pytest.skip(f"RabbitMQ unreachable at {AMQP_URL} ({exc})")
    hub = Hub(stream_id=f"run-{node_id}")
    try:
        async with running(HubRelay(hub, bus)) as relay, serve(make_app(hub)) as base:
            yield relay, base
    finally:
        await bus.aclose()
        await _delete_exchange(exchange)


async def _delete_exchange(name: str) -> None:
    conn = await aio_pika.connect(AMQP_URL, timeout=3)
    async with conn:
        channel = await conn.channel()
        await channel.exchange_delete(name)


async def test_an_event_published_on_node_a_reaches_a_websocket_client_of_node_b() -> None:
    exchange = f"cti.test.{uuid.uuid4().hex[:12]}"
    token = AUTH.issue(ALICE).token
    async with (
        amqp_node("a", exchange) as (relay_a, _),
        amqp_node("b", exchange) as (_, base_b),
        connect(f"{base_b}/ws?token={token}") as ws,
    ):
        hello = await recv(ws)
        assert (hello["type"], hello["stream_id"]) == ("hello", "run-b")
        relay_a.publish_to_interface("PJSIP/1001", pop("from-a"))
        relay_a.publish_to_role("agent", {"type": "notice", "n": 2})
        got = [await recv(ws) for _ in range(2)]
    assert [(f["seq"], f["stream_id"], f["type"]) for f in got] == [
        (1, "run-b", "screen_pop"),
        (2, "run-b", "notice"),
    ]
    assert got[0]["call_id"] == "from-a"
    assert relay_a.hub.position("alice") == 0  # never logged in on node a: no stream there

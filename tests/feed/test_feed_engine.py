"""The engine with the feed attached: supervisors get coalesced news, the agent every change."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from cti.engine import Engine
from cti.feed import BoardFeed
from cti.ids import Interface, QueueName
from cti.metrics import QueueMetrics
from cti.model.events import MemberUpdated
from cti.model.model import Model
from cti.model.outputs import Output, QueueUpdated

ALICE = Interface("PJSIP/1001")
INTERVAL = 0.05


class Recorder:
    """The hub as lists: what went to the agent's device, and to supervisors."""

    def __init__(self) -> None:
        self.own: list[Mapping[str, Any]] = []
        self.supervisors: list[tuple[str, Mapping[str, Any]]] = []

    def publish_to_interface(self, interface: str, payload: Mapping[str, Any]) -> None:
        self.own.append(payload)

    def publish_to_interfaces(self, interfaces: Iterable[str], payload: Mapping[str, Any]) -> None:
        for interface in interfaces:
            self.publish_to_interface(interface, payload)

    def publish_to_role(self, role: str, payload: Mapping[str, Any]) -> None:
        self.supervisors.append((f"role:{role}", payload))

    def publish_about_queue(self, queue: str, payload: Mapping[str, Any]) -> None:
        self.supervisors.append((f"queue:{queue}", payload))

    def has_audience_for_queue(self, queue: str) -> bool:
        return True

    def publish_about_agent(
        self, interface: str, queues: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        self.supervisors.append((f"agent:{interface}", payload))

    def publish_about_call(
        self, queue: str | None, parties: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        self.supervisors.append((f"call:{queue}", payload))


def wired(publisher: Recorder, clock: list[float]) -> tuple[Engine, BoardFeed]:
    """An engine and its feed, hooked together as cti/app.py does; `clock[0]` is now."""
    metrics = QueueMetrics()
    engine = Engine(
        model=Model(), publisher=publisher, metrics=metrics, clock=lambda: clock[0], tick_interval=0
    )
    feed = BoardFeed(metrics, publisher, interval=INTERVAL, clock=lambda: clock[0])
    engine.on_metrics_changed = feed.queues_changed
    engine.on_agent_changed = feed.agent_changed
    engine.on_queue_updated = feed.queue_state_changed
    return engine, feed


def member(paused: bool, reason: str = "") -> MemberUpdated:
    return MemberUpdated(QueueName("support"), ALICE, "Alice", 1, paused, reason)


async def test_a_pause_flap_reaches_supervisors_twice_and_the_agent_every_time() -> None:
    publisher, clock = Recorder(), [1_764_331_200.0]
    engine, feed = wired(publisher, clock)
    for i in range(20):  # a script pausing and unpausing Alice in a loop
        clock[0] += 0.001
        event = member(i % 2 == 0, "break")

        def step(model: Model, at: float, event: MemberUpdated = event) -> list[Output]:
            return model.apply(event, at)

        await engine.apply_now(step)
        await asyncio.sleep(0)  # one AMI read each: the engine waits for the next
    own = [p["state"] for p in publisher.own if p["type"] == "agent_state"]
    assert own == ["paused", "available"] * 10  # the agent: every change
    await asyncio.sleep(INTERVAL * 3)
    agent_news = [p for t, p in publisher.supervisors if t == f"agent:{ALICE}"]
    assert [p["state"] for p in agent_news] == ["paused", "available"]  # first and latest
    boards = [p for t, p in publisher.supervisors if p["type"] == "queue_board"]
    assert len(boards) == 2
    assert {t for t, p in publisher.supervisors if p["type"] == "queue_board"} == {"queue:support"}
    assert boards[-1]["agents"]["available"] == 1
    assert boards[-1]["agents"]["paused"] == 0
    feed.close()


async def test_callers_joining_in_a_loop_reach_supervisors_with_the_boards() -> None:
    publisher, clock = Recorder(), [1_764_331_200.0]
    engine, feed = wired(publisher, clock)
    for count in range(1, 21):  # 20 callers join, one AMI read each
        clock[0] += 0.001
        update = QueueUpdated(QueueName("support"), count, 1_764_331_200.0, (ALICE,), clock[0])

        def step(model: Model, at: float, update: QueueUpdated = update) -> list[Output]:
            return [update]

        await engine.apply_now(step)
        await asyncio.sleep(0)
    await asyncio.sleep(INTERVAL * 3)
    news = [(p["type"], p["waiting"]) for t, p in publisher.supervisors if t == "queue:support"]
    # the first at once and the latest at the end of the interval, each just before its board
    assert news == [
        ("queue_state", 1),
        ("queue_board", 1),
        ("queue_state", 20),
        ("queue_board", 20),
    ]
    feed.close()

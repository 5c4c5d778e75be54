"""The engine's part in agent states: own-state publishing, batched rows, the tick."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cti.engine import Engine
from cti.ids import Interface, QueueName
from cti.model.events import MemberUpdated
from cti.model.model import Model
from cti.model.outputs import AgentStateChanged, SetMemberPause

ALICE = Interface("PJSIP/1001")


class Recorder:
    def __init__(self) -> None:
        self.to_interface: list[tuple[str, Mapping[str, Any]]] = []
        self.to_role: list[tuple[str, Mapping[str, Any]]] = []

    def publish_to_interface(self, interface: str, payload: Mapping[str, Any]) -> None:
        self.to_interface.append((interface, payload))

    def publish_to_interfaces(self, interfaces: Iterable[str], payload: Mapping[str, Any]) -> None:
        for interface in interfaces:
            self.publish_to_interface(interface, payload)

    def publish_to_role(self, role: str, payload: Mapping[str, Any]) -> None:
        self.to_role.append((role, payload))

    def publish_about_queue(self, queue: str, payload: Mapping[str, Any]) -> None:
        self.to_role.append((f"about_queue:{queue}", payload))

    def publish_about_agent(
        self, interface: str, queues: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        self.to_role.append((f"about_agent:{interface}", payload))

    def publish_about_call(
        self, queue: str | None, parties: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        self.to_role.append((f"about_call:{queue}", payload))


def member(queue: str, paused: bool, reason: str = "") -> MemberUpdated:
    return MemberUpdated(QueueName(queue), ALICE, "Alice", 1, paused, reason)


async def test_new_states_are_stored_queue_only_changes_are_not_and_the_agent_sees_them() -> None:
    saved: list[AgentStateChanged] = []

    async def save(batch: Sequence[AgentStateChanged]) -> None:
        saved.extend(batch)

    clock = [1000.0]
    publisher = Recorder()
    engine = Engine(
        model=Model(),
        publisher=publisher,
        save_states=save,
        clock=lambda: clock[0],
        tick_interval=0,
    )
    runner = asyncio.create_task(engine.run(asyncio.Queue()))
    try:
        await engine.apply_now(lambda m, at: m.apply(member("support", True, "lunch"), at))
        clock[0] = 1001.0
        await engine.apply_now(lambda m, at: m.apply(member("sales", True, "lunch"), at))
        clock[0] = 1300.0
        await engine.apply_now(lambda m, at: m.apply(member("support", False), at))
        await engine.apply_now(lambda m, at: m.apply(member("sales", False), at))
        await engine.flush_records()
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    assert [(c.state, c.reason, c.since) for c in saved] == [
        ("paused", "lunch", 1000.0),
        ("available", None, 1300.0),
    ]
    mine = [p["state"] for i, p in publisher.to_interface if i == ALICE]
    assert mine == ["paused", "paused", "available"]  # the agent's own state, every change
    assert [p["state"] for _, p in publisher.to_role if p["type"] == "agent_state"] == mine


async def test_the_tick_ends_wrap_up_and_hands_the_unpause_to_effects() -> None:
    clock = [2000.0]
    effects: list[SetMemberPause] = []
    engine = Engine(
        model=Model(wrapup={"support": 5}),
        publisher=Recorder(),
        clock=lambda: clock[0],
        effects=effects.append,
        tick_interval=0.01,
    )
    runner = asyncio.create_task(engine.run(asyncio.Queue()))
    try:
        # a "wrap-up" pause the CTI has no timer for: timed from now
        await engine.apply_now(lambda m, at: m.apply(member("support", True, "wrap-up"), at))
        await asyncio.sleep(0.05)
        assert effects == []  # not due yet on the fake clock
        clock[0] = 2005.0
        async with asyncio.timeout(2):
            while not effects:  # noqa: ASYNC110 (waiting for the ticker task)
                await asyncio.sleep(0.01)
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    assert effects == [SetMemberPause(ALICE, False, "", 2005.0)]

"""agent_state_changes: spells opened and closed in order, idempotent, open rows at start."""

from __future__ import annotations

from datetime import UTC, datetime

from cti.ids import Interface, QueueName
from cti.model.outputs import AgentStateChanged
from cti.store import Store

ALICE = Interface("PJSIP/1001")
BOB = Interface("PJSIP/1002")
T0 = 1_795_860_000.0


def change(who: Interface, state: str, at: float, reason: str | None = None) -> AgentStateChanged:
    return AgentStateChanged(who, "x", state, reason, (QueueName("support"),), at, at)


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def test_each_change_closes_the_open_row_and_opens_one(store: Store) -> None:
    batch = [
        change(ALICE, "available", T0),
        change(BOB, "paused", T0 + 1, "break"),
        change(ALICE, "on_call", T0 + 10),
        change(ALICE, "wrap_up", T0 + 70),
    ]
    await store.save_agent_states(batch)
    await store.save_agent_states(batch[-1:])  # a retried batch adds nothing
    rows = await store.agent_state_rows(utc(T0), utc(T0 + 3600), ALICE)
    assert [(r.state, r.started_at, r.ended_at) for r in rows] == [
        ("available", utc(T0), utc(T0 + 10)),
        ("on_call", utc(T0 + 10), utc(T0 + 70)),
        ("wrap_up", utc(T0 + 70), None),
    ]
    assert rows[1].seconds == 60.0
    current = {
        r.interface: (r.state, r.reason, r.started_at) for r in await store.open_agent_states()
    }
    assert current == {
        ALICE: ("wrap_up", None, utc(T0 + 70)),
        BOB: ("paused", "break", utc(T0 + 1)),
    }
    # a window that ends before the wrap-up started does not see it
    early = await store.agent_state_rows(utc(T0), utc(T0 + 20))
    assert {(r.interface, r.state) for r in early} == {
        (ALICE, "available"),
        (ALICE, "on_call"),
        (BOB, "paused"),
    }


async def test_a_later_batch_closes_the_open_row_where_its_first_change_begins(
    store: Store,
) -> None:
    await store.save_agent_states([change(ALICE, "available", T0)])
    await store.save_agent_states(
        [change(ALICE, "ringing", T0 + 5), change(ALICE, "on_call", T0 + 8)]
    )
    rows = await store.agent_state_rows(utc(T0), utc(T0 + 3600), ALICE)
    assert [(r.state, r.started_at, r.ended_at) for r in rows] == [
        ("available", utc(T0), utc(T0 + 5)),
        ("ringing", utc(T0 + 5), utc(T0 + 8)),
        ("on_call", utc(T0 + 8), None),
    ]

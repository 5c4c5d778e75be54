"""Call history in the store (SQLite and PostgreSQL): the replayed
queue_ringnoanswer call with its legs and ring attempts, dispositions set
before the record exists, search filters and who sees what."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from alembic import command
from history_tools import call_records
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from store_tools import T0, call_ended

from cti.history import Disposition, HistoryFilter, Scope
from cti.ids import Interface, QueueName
from cti.model.outputs import CallEnded, Transfer
from cti.store import Store
from cti.store.migrate import alembic_config

ALICE, BOB, CAROL = "PJSIP/1001", "PJSIP/1002", "PJSIP/1003"
EVERYTHING = Scope(everything=True)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def test_replayed_ring_no_answer_call_keeps_its_legs_and_ring_attempts(
    store: Store,
) -> None:
    (record,) = call_records("queue_ringnoanswer")
    await store.save_call_records([(record, None)])
    entry = await store.history_entry(record.call_id)
    assert entry is not None
    rings = [(r.interface, r.result) for r in entry.ring_attempts]
    # README: Alice rings 6 s without answer, is rung again, no answer; then Bob answers
    assert rings == [(ALICE, "no_answer"), (ALICE, "no_answer"), (BOB, "answered")]
    first, second, bob = entry.ring_attempts
    assert 5.0 < first.ended_at - first.rang_at < 7.0
    assert first.ended_at <= second.rang_at <= second.ended_at <= bob.rang_at
    assert entry.ring_attempts == record.ring_attempts  # read back exactly
    assert [leg.role for leg in entry.legs] == ["caller", "agent", "agent", "agent"]
    assert entry.legs == record.legs
    caller = entry.legs[0]
    assert caller.party_number == "15551230001"
    assert caller.ended_at is not None
    assert bob.queue == "support"
    assert entry.agent == BOB
    assert set(entry.involved) == {ALICE, BOB}
    assert [s.step for s in entry.ivr_path] == ["welcome", "menu", "account"]
    assert entry.started_at == _utc(record.started_at)
    assert entry.disposition is None


async def test_disposition_set_before_the_record_exists_is_joined_later(store: Store) -> None:
    ended = call_ended("1764331200.7")
    at = _utc(T0 + 30)
    await store.set_call_disposition(
        Disposition(ended.call_id, "callback", "call back at 5", "alice", at)
    )
    assert await store.history_entry(ended.call_id) is None  # the call is still up
    await store.save_call_records([(ended, None)])
    entry = await store.history_entry(ended.call_id)
    assert entry is not None
    assert entry.disposition is not None
    assert (entry.disposition.code, entry.disposition.notes) == ("callback", "call back at 5")
    assert entry.disposition.set_at == at
    # set again in wrap-up: replaced, and still one row per call
    await store.set_call_disposition(
        Disposition(ended.call_id, "resolved", "sorted", "carol", at + timedelta(seconds=5))
    )
    (found,) = await store.search_history(HistoryFilter(EVERYTHING))
    assert found.disposition is not None
    assert (found.disposition.code, found.disposition.set_by) == ("resolved", "carol")
    # writing the same record again (a retried batch) keeps the disposition
    await store.save_call_records([(ended, None)])
    again = await store.call_disposition(ended.call_id)
    assert again is not None
    assert again.code == "resolved"


def _calls() -> list[CallEnded]:
    return [
        call_ended("c1", caller_number="15551230001", started_at=T0, ended_at=T0 + 60),
        call_ended(
            "c2",
            caller_number="15559990002",
            queue=QueueName("sales"),
            answered_by=Interface(BOB),
            parties=(Interface(BOB),),
            recipients=(Interface(BOB),),
            started_at=T0 + 3600,
            ended_at=T0 + 3700,
        ),
        call_ended(
            "c3",
            caller_number="15551230003",
            outcome="abandoned",
            answered_by=None,
            parties=(),
            recipients=(Interface(ALICE),),
            started_at=T0 + 86400,
            ended_at=T0 + 86410,
        ),
        call_ended(
            "c4",
            caller_number="1003",
            dialed_number="1002",
            queue=None,
            answered_by=Interface(BOB),
            parties=(Interface(CAROL), Interface(BOB)),
            recipients=(Interface(BOB),),
            started_at=T0 + 7200,
            ended_at=T0 + 7260,
            transfers=(Transfer("blind", T0 + 7230, Interface(CAROL), None, "1002"),),
        ),
    ]


async def _ids(store: Store, f: HistoryFilter) -> list[str]:
    return [e.call_id for e in await store.search_history(f)]


async def test_search_filters_and_scopes(store: Store) -> None:
    await store.save_call_records([(c, None) for c in _calls()])
    everything = HistoryFilter(EVERYTHING)
    assert await _ids(store, everything) == ["c3", "c4", "c2", "c1"]  # newest first
    assert await _ids(store, replace(everything, number="1230")) == ["c3", "c1"]
    assert await _ids(store, replace(everything, number="1002")) == ["c4"]  # dialed number
    assert await _ids(store, replace(everything, number="%")) == []  # LIKE is escaped
    assert await _ids(store, replace(everything, agent=BOB)) == ["c4", "c2"]
    assert await _ids(store, replace(everything, agent=ALICE)) == ["c3", "c1"]  # rung counts
    assert await _ids(store, replace(everything, queue="sales")) == ["c2"]
    assert await _ids(store, replace(everything, outcome="abandoned")) == ["c3"]
    day = replace(everything, start=_utc(T0 - 1), end=_utc(T0 + 86400))
    assert await _ids(store, day) == ["c4", "c2", "c1"]
    assert await _ids(store, replace(everything, limit=2, offset=1)) == ["c4", "c2"]
    # scopes: the agent's own calls; a supervisor's queues plus their own
    assert await _ids(store, HistoryFilter(Scope(interfaces=(ALICE,)))) == ["c3", "c1"]
    assert await _ids(store, HistoryFilter(Scope(interfaces=(CAROL,)))) == ["c4"]
    sales = HistoryFilter(Scope(interfaces=(CAROL,), queues=("sales",)))
    assert await _ids(store, sales) == ["c4", "c2"]
    assert await _ids(store, HistoryFilter(Scope())) == []  # no phone, no queues
    team = HistoryFilter(Scope(interfaces=(CAROL, ALICE)))  # a supervisor with Alice's team
    assert await _ids(store, team) == ["c3", "c4", "c1"]
    (c4,) = await store.search_history(replace(everything, agent=CAROL))
    assert c4.transfers == (Transfer("blind", T0 + 7230, Interface(CAROL), None, "1002"),)


async def test_upgrade_to_0005_keeps_older_records_visible_to_their_agent(db_url: str) -> None:
    """A record written at revision 0004 (no history columns) reads after the
    upgrade, empty history, and its answering agent is involved (backfill)."""
    config = alembic_config(db_url)
    await asyncio.to_thread(command.upgrade, config, "0004")
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO call_records (call_id, caller_number, caller_name, "
                    "dialed_number, queue, answered_by, outcome, ivr, started_at, ended_at, "
                    "ended_by_resync) VALUES ('old.1', '155', '', '800', 'support', "
                    "'PJSIP/1001', 'answered', '{}', :at, :at, false)"
                ),
                {"at": _utc(T0)},
            )
    finally:
        await engine.dispose()
    async with Store(db_url) as store:  # start() upgrades to head
        (entry,) = await store.search_history(HistoryFilter(Scope(interfaces=(ALICE,))))
        assert entry.call_id == "old.1"
        assert (entry.legs, entry.ring_attempts, entry.transfers) == ((), (), ())
        assert entry.involved == (ALICE,)


async def test_a_call_that_rang_hundreds_of_agents_is_still_saved(store: Store) -> None:
    rung = tuple(Interface(f"Local/agent{n:04d}@agents") for n in range(300))
    ended = call_ended("ringall.1", answered_by=None, parties=(), recipients=rung)
    await store.save_call_records([(ended, None)])
    entry = await store.history_entry("ringall.1")
    assert entry is not None
    assert entry.involved == rung[: len(entry.involved)]
    assert 50 < len(entry.involved) < 300  # cut to the column, at an interface boundary

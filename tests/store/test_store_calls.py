from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from store_tools import T0, call_ended

from cti.ids import CallId, Interface
from cti.model.outputs import IvrStep
from cti.store import Store


async def test_save_is_idempotent_by_call_id(store: Store) -> None:
    ended = call_ended()
    await store.save_call_record(ended)
    (first,) = await store.recent_call_records(10)
    await store.save_call_record(ended)  # re-ended after a resync
    await store.save_call_record(replace(ended, outcome="failed", ended_at=T0 + 99))
    assert await store.recent_call_records(10) == [first]
    assert first.outcome == "answered"


async def test_record_round_trip(store: Store) -> None:
    ada = await store.create_customer("Ada", account="42")
    ended = call_ended()
    await store.save_call_record(ended, ada.id)
    (record,) = await store.recent_call_records(1)
    assert record.call_id == CallId("1764331200.101")
    assert (record.caller_number, record.caller_name) == ("15551230001", "Grace Hopper")
    assert record.dialed_number == "18005550100"
    assert record.queue == "support"
    assert record.answered_by == Interface("PJSIP/1001")
    assert record.outcome == "answered"
    assert record.account == "23456"
    assert record.customer_id == ada.id
    assert record.ivr_path == ended.ivr_path
    assert record.ivr_path[1] == IvrStep("menu", (("Choice", "1"),), T0 + 4.5)
    assert record.variables == (("CTI_ACCOUNT", "23456"), ("CTI_MENU", "1"))
    assert (record.wait_seconds, record.talk_seconds) == (8.0, 60.5)
    assert not record.ended_by_resync
    # timestamps: timezone-aware UTC, to the microsecond
    assert record.started_at == datetime.fromtimestamp(T0, UTC)
    assert record.started_at.tzinfo is not None
    assert record.started_at.utcoffset() is not None
    assert record.started_at.utcoffset() == UTC.utcoffset(None)
    assert record.answered_at == datetime.fromtimestamp(T0 + 20.0, UTC)
    assert record.ended_at == datetime.fromtimestamp(T0 + 80.5, UTC)
    data = record.to_json()
    assert data["started_at"] == "2025-11-28T12:00:00.250000+00:00"
    assert data["ivr_path"][2] == {"step": "account", "values": {"Account": "23456"}, "at": T0 + 9}
    assert data["variables"] == {"CTI_ACCOUNT": "23456", "CTI_MENU": "1"}


async def test_abandoned_call_without_agent_or_customer(store: Store) -> None:
    ended = call_ended(
        "1764331300.7",
        outcome="abandoned",
        answered_by=None,
        parties=(),
        answered_at=None,
        talk_seconds=None,
        ivr_path=(),
        variables=(),
        account=None,
    )
    await store.save_call_record(ended)
    (record,) = await store.recent_call_records(5)
    assert record.outcome == "abandoned"
    assert record.answered_by is None
    assert record.answered_at is None
    assert record.customer_id is None
    assert record.account is None
    assert record.ivr_path == ()
    assert record.variables == ()


async def test_real_hangup_replaces_a_resync_guess_but_not_the_reverse(store: Store) -> None:
    ada = await store.create_customer("Ada", account="42")
    guess = call_ended(ended_at=T0 + 300.0, ended_by_resync=True)
    await store.save_call_record(guess, ada.id)
    (guessed,) = await store.recent_call_records(5)
    assert guessed.ended_by_resync
    real = call_ended(ended_at=T0 + 80.5)
    await store.save_call_record(real)  # replaces the guess
    (record,) = await store.recent_call_records(5)
    assert record.ended_at == datetime.fromtimestamp(T0 + 80.5, UTC)
    assert not record.ended_by_resync
    assert record.customer_id == ada.id  # kept: the second write knew no customer
    await store.save_call_record(guess)  # a later guess never wins
    (record,) = await store.recent_call_records(5)
    assert record.ended_at == datetime.fromtimestamp(T0 + 80.5, UTC)


async def test_recent_newest_first_with_limit(store: Store) -> None:
    for i in range(5):
        await store.save_call_record(call_ended(f"c{i}", ended_at=T0 + 100 + i))
    records = await store.recent_call_records(3)
    assert [r.call_id for r in records] == ["c4", "c3", "c2"]
    assert len(await store.recent_call_records(50)) == 5
    assert await store.recent_call_records(0) == []


async def test_batch_save_writes_each_call_once(store: Store) -> None:
    ada = await store.create_customer("Ada", account="42")
    first = call_ended("1764331400.1")
    guessed = call_ended("1764331400.2", ended_by_resync=True, outcome="unanswered")
    real = replace(guessed, ended_by_resync=False, outcome="answered")
    # in one batch: a resync guess and the real hang-up of the same call
    await store.save_call_records([(first, ada.id), (guessed, None), (real, None)])
    await store.save_call_records([(first, None)])  # again: changes nothing
    records = {r.call_id: r for r in await store.recent_call_records(10)}
    assert set(records) == {first.call_id, real.call_id}
    assert records[first.call_id].customer_id == ada.id
    assert records[real.call_id].outcome == "answered"
    assert not records[real.call_id].ended_by_resync
    # a later batch with the real hang-up replaces an earlier guess
    late = call_ended("1764331400.3", ended_by_resync=True, outcome="unanswered")
    await store.save_call_records([(late, None)])
    await store.save_call_records([(replace(late, ended_by_resync=False), ada.id)])
    (stored,) = [r for r in await store.recent_call_records(10) if r.call_id == late.call_id]
    assert not stored.ended_by_resync
    assert stored.customer_id == ada.id
    await store.save_call_records([])

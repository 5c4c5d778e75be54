"""The engine with the recorded queue_answered trace: pops never wait for the
database, customers follow when late, records are stored in batches."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pytest
from trace_paths import TRACES

from cti.ami.protocol import AmiParser, Event
from cti.customers import CustomerKey
from cti.engine import Engine
from cti.model.model import Model
from cti.model.outputs import CallEnded
from cti.store.errors import StoreError

ALICE = "PJSIP/1001"
GRACE = {"id": 1, "name": "Grace Hopper", "account": "23456", "notes": "", "phones": []}
ADA = {"id": 42, "name": "Ada Lovelace", "account": "42", "notes": "", "phones": []}


class Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish_to_interface(self, interface: str, payload: Mapping[str, Any]) -> None:
        self.sent.append((interface, dict(payload)))

    def publish_to_interfaces(self, interfaces: Iterable[str], payload: Mapping[str, Any]) -> None:
        for interface in interfaces:
            self.publish_to_interface(interface, payload)

    def publish_to_role(self, role: str, payload: Mapping[str, Any]) -> None:
        self.sent.append((f"role:{role}", dict(payload)))

    def publish_about_queue(self, queue: str, payload: Mapping[str, Any]) -> None:
        self.sent.append((f"about_queue:{queue}", dict(payload)))

    def publish_about_agent(
        self, interface: str, queues: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        self.sent.append((f"about_agent:{interface}", dict(payload)))

    def publish_about_call(
        self, queue: str | None, parties: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        self.sent.append((f"about_call:{queue}:{','.join(parties)}", dict(payload)))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [p for _, p in self.sent if p["type"] == kind]


class Directory:
    """A customer look-up that answers after `delay` (a slow database)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.asked: list[tuple[str | None, str]] = []
        self.asked_ids: list[int] = []

    async def lookup(self, key: CustomerKey) -> dict[str, Any] | None:
        account, phone = key.account, key.phone
        await asyncio.sleep(self.delay)
        if key.customer_id is not None:
            self.asked_ids.append(key.customer_id)
            return ADA if key.customer_id == 42 else None
        self.asked.append((account, phone))
        return GRACE if account == "23456" or phone == "15551230001" else None


def trace_events(name: str) -> list[Event]:
    parser = AmiParser()
    events: list[Event] = []
    with (TRACES / name).open(encoding="utf-8") as fh:
        for line in fh:
            frame = json.loads(line)
            if frame["src"] == "ami":
                events += [m for m in parser.feed(frame["raw"].encode()) if isinstance(m, Event)]
    return events


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (the engine offers no event to wait on)
            await asyncio.sleep(0.01)


async def feed(engine: Engine, events: Sequence[Event], pause: float = 0.0) -> None:
    for event in events:
        await engine.handle(event)
        if pause:
            await asyncio.sleep(pause)


async def test_the_data_dips_customer_id_wins_over_the_callers_number() -> None:
    # ari_stasis_ivr: the caller id is "sipp" (nobody); the cti-ivr app set
    # CTI_CUSTOMER_ID=42 and Alice's pop must show customer 42.
    publisher, directory = Publisher(), Directory(delay=0.001)
    engine = Engine(model=Model(), publisher=publisher, lookup_customer=directory.lookup)
    await feed(engine, trace_events("ari_stasis_ivr.jsonl"), pause=0.0005)
    (pop,) = publisher.of_type("screen_pop")
    assert pop["interface"] == ALICE
    assert pop["customer_id"] == 42
    assert pop["customer"] == ADA
    assert directory.asked_ids == [42]
    (ended,) = [p for i, p in publisher.sent if i == ALICE and p["type"] == "call_ended"]
    assert ended["customer_id"] == 42
    assert ended["customer"] == ADA


async def test_customer_found_during_the_ivr_is_in_the_pop() -> None:
    publisher, directory = Publisher(), Directory(delay=0.001)
    engine = Engine(model=Model(), publisher=publisher, lookup_customer=directory.lookup)
    # a little time between events stands for the seconds a caller spends in the IVR
    await feed(engine, trace_events("queue_answered.jsonl"), pause=0.0005)
    (pop,) = publisher.of_type("screen_pop")
    assert pop["customer"] == GRACE
    assert pop["customer_pending"] is False
    assert publisher.of_type("call_customer") == []
    # looked up by number when the call appeared; the account entered is the
    # account of the customer found, so no second query
    assert directory.asked == [(None, "15551230001")]


async def test_an_account_of_someone_else_is_looked_up() -> None:
    publisher, directory = Publisher(), Directory(delay=0.001)
    engine = Engine(model=Model(), publisher=publisher, lookup_customer=directory.lookup)
    events = trace_events("queue_answered.jsonl")
    for event in events:  # a caller typing an account that is not the number's
        if event.name == "VarSet" and event.fields.get("Variable") == "CTI_ACCOUNT":
            event = Event("VarSet", {**event.fields, "Value": "77777"})
        await engine.handle(event)
        await asyncio.sleep(0.0005)
    assert directory.asked == [(None, "15551230001"), ("77777", "15551230001")]


async def test_a_slow_database_never_delays_the_pop() -> None:
    publisher, directory = Publisher(), Directory(delay=0.3)
    engine = Engine(model=Model(), publisher=publisher, lookup_customer=directory.lookup)
    started = asyncio.get_running_loop().time()
    await feed(engine, trace_events("queue_answered.jsonl"))
    assert asyncio.get_running_loop().time() - started < 0.25
    (pop,) = publisher.of_type("screen_pop")
    assert pop["interface"] == ALICE
    assert pop["customer"] is None
    assert pop["customer_pending"] is True
    await eventually(lambda: bool(publisher.of_type("call_customer")))
    (late,) = [(i, p) for i, p in publisher.sent if p["type"] == "call_customer"]
    assert late == (
        ALICE,
        {
            "type": "call_customer",
            "call_id": pop["call_id"],
            "interface": ALICE,
            "customer": GRACE,
            "lookup_failed": False,
        },
    )
    assert engine.stats.customers_late == 1


async def test_a_failing_lookup_is_reported_not_fatal() -> None:
    publisher = Publisher()

    async def broken(key: CustomerKey) -> dict[str, Any] | None:
        raise ConnectionError("database down")

    engine = Engine(model=Model(), publisher=publisher, lookup_customer=broken)
    await feed(engine, trace_events("queue_answered.jsonl"))
    await eventually(lambda: bool(publisher.of_type("call_customer")))
    (late,) = publisher.of_type("call_customer")
    assert late["lookup_failed"] is True
    assert late["customer"] is None
    ended = [(to, p["outcome"]) for to, p in publisher.sent if p["type"] == "call_ended"]
    # the agent by device; the supervisors of `support` and of Alice's team by scope
    assert ended == [(ALICE, "answered"), (f"about_call:support:{ALICE}", "answered")]
    assert engine.stats.failures == 0  # a look-up failure is counted by the cache


async def test_records_are_written_in_batches_and_retried() -> None:
    batches: list[list[str]] = []
    fail_once = [True]

    async def save(records: Sequence[tuple[CallEnded, int | None]]) -> None:
        if fail_once[0]:
            fail_once[0] = False
            raise ConnectionError("database restarting")
        batches.append([ended.call_id for ended, _ in records])

    engine = Engine(model=Model(), publisher=Publisher(), save_records=save)
    events = [
        *trace_events("queue_answered.jsonl"),
        *trace_events("queue_abandon.jsonl"),
        *trace_events("internal_call.jsonl"),
    ]
    stream: asyncio.Queue[Any] = asyncio.Queue()
    for event in events:
        stream.put_nowait(event)
    runner = asyncio.create_task(engine.run(stream))
    try:
        await eventually(lambda: sum(map(len, batches)) >= 3)
        await engine.flush_records()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    written = [call for batch in batches for call in batch]
    assert sorted(written) == sorted({*written})  # each call once
    assert len(written) == 3
    assert engine.stats.failures == 1
    assert engine.stats.records_dropped == 0


async def test_the_pops_customer_stays_with_the_call_after_the_cache_forgets() -> None:
    publisher, directory = Publisher(), Directory(delay=0.001)
    saved: list[tuple[str, int | None]] = []

    async def save(records: Sequence[tuple[CallEnded, int | None]]) -> None:
        saved.extend((ended.call_id, customer_id) for ended, customer_id in records)

    engine = Engine(
        model=Model(), publisher=publisher, lookup_customer=directory.lookup, save_records=save
    )
    events = trace_events("queue_answered.jsonl")
    ends = next(i for i, e in enumerate(events) if e.name == "AgentComplete")
    await feed(engine, events[:ends], pause=0.0005)
    assert publisher.of_type("screen_pop")[0]["customer"] == GRACE
    engine._customers._done.clear()  # type: ignore[union-attr]  # a long call: entries expired
    asked = len(directory.asked)
    stream: asyncio.Queue[Any] = asyncio.Queue()
    for event in events[ends:]:
        stream.put_nowait(event)
    runner = asyncio.create_task(engine.run(stream))
    try:
        await eventually(lambda: bool(saved))
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert [p["customer"] for p in publisher.of_type("call_ended")] == [GRACE, GRACE]
    assert saved == [(publisher.of_type("screen_pop")[0]["call_id"], 1)]
    assert len(directory.asked) == asked  # no second look-up for the record


@pytest.mark.parametrize(
    ("error", "traceback_logged"),
    [(StoreError("database is down"), False), (ValueError("a bug of ours"), True)],
)
async def test_an_expected_lookup_failure_is_one_line_a_bug_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture, error: Exception, traceback_logged: bool
) -> None:
    publisher = Publisher()

    async def failing(key: CustomerKey) -> dict[str, Any] | None:
        raise error

    engine = Engine(model=Model(), publisher=publisher, lookup_customer=failing)
    with caplog.at_level(logging.WARNING, logger="cti.customers"):
        await feed(engine, trace_events("queue_answered.jsonl"))
        await eventually(lambda: bool(publisher.of_type("call_customer")))
    failures = [r for r in caplog.records if "look-up failed" in r.getMessage()]
    assert failures
    assert all((r.exc_info is not None) is traceback_logged for r in failures)
    if not traceback_logged:
        assert "database is down" in failures[0].getMessage()

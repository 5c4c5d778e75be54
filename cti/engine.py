"""The engine: the one place that drains inputs, applies them, routes outputs.

Strategy: the AMI client puts one ordered stream of items in a bounded queue
(events, a snapshot after every login, connection markers). The engine takes
them one at a time, maps AMI events to domain events, feeds the pure model and
carries the model's outputs out: screen-pops (enriched with the customer
record) and call updates to the agents concerned, agent/queue updates to
supervisors, finished calls to the store. Items are handled strictly in order,
so a pop is always published before the same call's "answered".

A failure while handling one item is logged and counted, never allowed to stop
the loop: the next event is still processed. Call records are written by a
separate task through a bounded queue so a slow database never stalls intake;
customer look-ups for pops have a short timeout for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cti.ami.lists import ListResult
from cti.ami.protocol import Event
from cti.ami.stream import Connected, Disconnected, Snapshot, StreamItem
from cti.ids import Interface
from cti.model.from_ami import from_ami
from cti.model.model import Model
from cti.model.outputs import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    Output,
    QueueUpdated,
    RingEnded,
    ScreenPop,
)

__all__ = ["CustomerLookup", "Engine", "EngineStats", "Publisher", "RecordSink"]

log = logging.getLogger("cti.engine")

SUPERVISOR_ROLE = "supervisor"


class Publisher(Protocol):
    def publish_to_interface(self, interface: str, payload: Mapping[str, Any]) -> None: ...
    def publish_to_role(self, role: str, payload: Mapping[str, Any]) -> None: ...


# (account, caller number) -> JSON-ready customer record, or None
CustomerLookup = Callable[[str | None, str], Awaitable[dict[str, Any] | None]]
# stores a finished call; the customer id comes from the pop's look-up
RecordSink = Callable[[CallEnded, int | None], Awaitable[None]]


@dataclass(slots=True)
class EngineStats:
    items: int = 0
    events: int = 0
    snapshots: int = 0
    pops: int = 0
    failures: int = 0
    lookup_timeouts: int = 0
    records_dropped: int = 0
    connects: int = 0
    disconnects: int = 0
    last_error: str | None = None
    by_type: dict[str, int] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        *,
        model: Model,
        publisher: Publisher,
        lookup_customer: CustomerLookup | None = None,
        save_record: RecordSink | None = None,
        lookup_timeout: float = 0.5,
        record_queue_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.model = model
        self.stats = EngineStats()
        self._publisher = publisher
        self._lookup = lookup_customer
        self._save = save_record
        self._lookup_timeout = lookup_timeout
        self._clock = clock
        # customer found for a call's pop, reused for its record and later pops
        self._customers: dict[str, dict[str, Any] | None] = {}
        self._records: asyncio.Queue[tuple[CallEnded, int | None]] = asyncio.Queue(
            record_queue_size
        )

    async def run(self, stream: asyncio.Queue[StreamItem]) -> None:
        """Drain `stream` forever (cancel to stop), writing records beside it."""
        async with asyncio.TaskGroup() as tasks:
            if self._save is not None:
                tasks.create_task(self._write_records(), name="cti-record-writer")
            while True:
                item = await stream.get()
                await self.handle(item)

    async def handle(self, item: StreamItem) -> None:
        """Apply one stream item; never raises (failures are logged and counted)."""
        self.stats.items += 1
        try:
            outputs = self._apply(item)
            if outputs:
                await self.route(outputs)
        except Exception as exc:  # one bad item must not stop the intake
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("failed to handle %s", type(item).__name__)

    def _apply(self, item: StreamItem) -> list[Output]:
        now = self._clock()
        if isinstance(item, Event):
            self.stats.events += 1
            domain = from_ami(item)
            return self.model.apply(domain, now) if domain is not None else []
        if isinstance(item, Snapshot):
            self.stats.snapshots += 1
            return self.apply_snapshot(item.results, now)
        if isinstance(item, Connected):
            self.stats.connects += 1
            log.info("AMI connected")
        elif isinstance(item, Disconnected):
            self.stats.disconnects += 1
            log.warning("AMI disconnected: %s", item.reason)
        return []

    def apply_snapshot(self, results: Sequence[ListResult], now: float) -> list[Output]:
        return self.model.apply_snapshot(results, now)

    async def route(self, outputs: Sequence[Output]) -> None:
        publish = self._publisher
        for out in outputs:
            if isinstance(out, ScreenPop):
                self.stats.pops += 1
                payload = out.to_json()
                payload["customer"] = await self._customer_for(out)
                publish.publish_to_interface(out.interface, payload)
            elif isinstance(out, CallAnswered):
                self._to_recipients(out.recipients, out.to_json())
            elif isinstance(out, RingEnded):
                publish.publish_to_interface(out.interface, out.to_json())
            elif isinstance(out, CallEnded):
                payload = out.to_json()
                customer = self._customers.pop(out.call_id, None)
                payload["customer"] = customer
                self._to_recipients(out.recipients, payload)
                publish.publish_to_role(SUPERVISOR_ROLE, payload)
                self._queue_record(out, customer)
            elif isinstance(out, AgentStateChanged | QueueUpdated):
                publish.publish_to_role(SUPERVISOR_ROLE, out.to_json())

    def _to_recipients(self, recipients: Sequence[Interface], payload: Mapping[str, Any]) -> None:
        for interface in recipients:
            self._publisher.publish_to_interface(interface, payload)

    async def _customer_for(self, pop: ScreenPop) -> dict[str, Any] | None:
        if pop.call_id in self._customers:
            return self._customers[pop.call_id]
        if self._lookup is None:
            return None
        try:
            customer = await asyncio.wait_for(
                self._lookup(pop.account, pop.caller_number), self._lookup_timeout
            )
        except TimeoutError:
            # A pop without the customer beats a late pop: the agent still
            # sees the caller and the IVR data while the database is slow.
            self.stats.lookup_timeouts += 1
            log.warning("customer look-up timed out for call %s", pop.call_id)
            return None
        except Exception:
            self.stats.failures += 1
            log.exception("customer look-up failed for call %s", pop.call_id)
            return None
        self._customers[pop.call_id] = customer
        return customer

    def _queue_record(self, ended: CallEnded, customer: dict[str, Any] | None) -> None:
        if self._save is None:
            return
        customer_id = customer.get("id") if customer else None
        try:
            self._records.put_nowait((ended, customer_id if isinstance(customer_id, int) else None))
        except asyncio.QueueFull:
            self.stats.records_dropped += 1
            log.error("call record queue full, record for %s dropped", ended.call_id)

    async def _write_records(self) -> None:
        assert self._save is not None
        while True:
            ended, customer_id = await self._records.get()
            try:
                await self._save_with_retry(ended, customer_id)
            finally:
                self._records.task_done()

    async def _save_with_retry(self, ended: CallEnded, customer_id: int | None) -> None:
        assert self._save is not None
        delay = 0.1
        for attempt in range(1, 6):
            try:
                await self._save(ended, customer_id)
                return
            except Exception:
                self.stats.failures += 1
                log.exception("could not store call record %s (try %d)", ended.call_id, attempt)
                await asyncio.sleep(delay)
                delay *= 4
        self.stats.records_dropped += 1
        log.error("giving up on call record %s", ended.call_id)

    async def flush_records(self) -> None:
        """Wait until every queued record is written (tests, shutdown)."""
        await self._records.join()

"""The engine: the one place that drains inputs, applies them, routes outputs.

Strategy: the AMI client puts one ordered stream of items in a bounded queue
(events, a snapshot after every login, connection markers). The engine takes
them one at a time, maps AMI events to domain events, feeds the pure model and
carries the model's outputs out: screen-pops (enriched with the customer
record) and call updates to the agents concerned, agent/queue updates to
supervisors, finished calls to the store. Items are handled strictly in order,
so a pop is always published before the same call's "answered".

A failure while handling one item is logged and counted, never allowed to stop
the loop: the next event is still processed. Nothing on this path waits for
the database: customer look-ups start early and run beside it (see
cti/customers.py), and call records go through a bounded queue to a writer
task that stores them in batches, so a slow database never stalls intake.
Agent state changes go the same way (their own queue and writer task).

Queue metrics (cti/metrics, optional) see every output in `route`; their
changed buckets go to the store from their own writer task every
`metrics_flush_interval` seconds (and at `flush_records`), off the hot path.
`on_metrics_changed` (if set) hears which queues' boards changed.
`on_agent_changed` (if set) takes over telling supervisors of an agent's
state (the supervisor feed, cti/feed, coalesces it); the agent is still told
of every change directly. `on_queue_updated` (if set) does the same for a
queue's waiting callers (`queue_state`, only ever sent to supervisors).

Time passes for the model through `Model.tick`, called every `tick_interval`
seconds (wrap-up timers end there). The model's `SetMemberPause` effects go to
`effects` (the agent-state service sends the QueuePause without blocking us).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from cti.ami.protocol import Event
from cti.ami.stream import Connected, Disconnected, Snapshot, StreamItem
from cti.customers import CustomerCache, CustomerFound, CustomerKey, CustomerLookup
from cti.ids import CallId, ChannelId, Interface
from cti.metrics import QueueMetrics, StoredBucket
from cti.model.events import (
    ChannelCreated,
    DomainEvent,
    IvrStepped,
    VariableSet,
    dipped_customer,
    entered_account,
)
from cti.model.from_ami import from_ami
from cti.model.from_ari import from_ari
from cti.model.model import Model
from cti.model.outputs import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    Output,
    QueueUpdated,
    RingEnded,
    ScreenPop,
    SetMemberPause,
)

__all__ = ["Engine", "EngineStats", "Publisher", "RecordSink"]

log = logging.getLogger("cti.engine")


class Publisher(Protocol):
    def publish_to_interface(self, interface: str, payload: Mapping[str, Any]) -> None: ...
    def publish_to_interfaces(
        self, interfaces: Iterable[str], payload: Mapping[str, Any]
    ) -> None: ...
    def publish_to_role(self, role: str, payload: Mapping[str, Any]) -> None: ...
    # scoped supervisor feeds (cti.web.hub): admins and the supervisors in scope
    def publish_about_queue(self, queue: str, payload: Mapping[str, Any]) -> None: ...
    def publish_about_agent(
        self, interface: str, queues: Iterable[str], payload: Mapping[str, Any]
    ) -> None: ...
    def publish_about_call(
        self, queue: str | None, parties: Iterable[str], payload: Mapping[str, Any]
    ) -> None: ...


# stores finished calls, each with the customer id its look-up found
RecordSink = Callable[[Sequence[tuple[CallEnded, int | None]]], Awaitable[None]]
# stores agent state changes that start a new (state, reason), in order
StateSink = Callable[[Sequence[AgentStateChanged]], Awaitable[None]]
Effects = Callable[[SetMemberPause], None]
# stores queue metric buckets (whole buckets, upserted)
MetricsSink = Callable[[Sequence[StoredBucket]], Awaitable[None]]
MetricsChanged = Callable[[set[str]], None]
# (interface, queues, agent_state payload): an agent's news for supervisors
AgentChanged = Callable[[str, Sequence[str], Mapping[str, Any]], None]
# (queue, queue_state payload): a queue's waiting callers, for supervisors
QueueChanged = Callable[[str, Mapping[str, Any]], None]
ModelStep = Callable[[Model, float], list[Output]]
_RECORD_BATCH = 200
_STATE_LINGER = 0.25  # seconds an agent state may wait to share a transaction
# seconds a call record may wait to share one: at 100 calls/s, one write
# transaction per record was 45 of them a second (BEGIN, INSERT, COMMIT, each
# a trip to the database's thread on SQLite); history can wait 0.1 s for a call
_RECORD_LINGER = 0.1
_PENDING = object()  # a call's customer look-up has not ended yet
# a customer record (dict), None (no record), or _PENDING
_MaybeCustomer = object


@dataclass(slots=True)
class EngineStats:
    items: int = 0
    events: int = 0
    ari_events: int = 0
    snapshots: int = 0
    pops: int = 0
    failures: int = 0
    customers_late: int = 0  # pops sent before their customer look-up finished
    records_dropped: int = 0
    connects: int = 0
    disconnects: int = 0
    last_error: str | None = None


class Engine:
    def __init__(
        self,
        *,
        model: Model,
        publisher: Publisher,
        lookup_customer: CustomerLookup | None = None,
        save_records: RecordSink | None = None,
        lookup_timeout: float = 5.0,
        record_queue_size: int = 10_000,
        clock: Callable[[], float] = time.time,
        save_states: StateSink | None = None,
        effects: Effects | None = None,
        tick_interval: float = 0.5,
        metrics: QueueMetrics | None = None,
        save_metrics: MetricsSink | None = None,
        metrics_flush_interval: float = 2.0,
    ) -> None:
        self.model = model
        self.stats = EngineStats()
        self._publisher = publisher
        self._save = save_records
        self._clock = clock
        self._lookup_timeout = lookup_timeout
        self._lookup = lookup_customer
        self._customers: CustomerCache | None = None  # made on the loop, in run()
        # per live call: its caller number (for look-ups by account) and the
        # key its look-up used, so the record gets the customer id
        self._callers: dict[CallId, str] = {}
        # the customer each popped call's pop carried or was sent after it:
        # the call's end and record reuse it (the cache entry may have expired)
        self._found: dict[CallId, _MaybeCustomer] = {}
        self._records: asyncio.Queue[tuple[CallEnded, object]] = asyncio.Queue(record_queue_size)
        self._save_states = save_states
        self._states: asyncio.Queue[AgentStateChanged] = asyncio.Queue(record_queue_size)
        self.effects = effects
        self._tick_interval = tick_interval
        self.metrics = metrics
        self.on_metrics_changed: MetricsChanged | None = None
        self.on_agent_changed: AgentChanged | None = None
        self.on_queue_updated: QueueChanged | None = None
        self._save_metrics = save_metrics
        self._metrics_interval = metrics_flush_interval
        # one write at a time, so an older bucket version never lands after a newer one
        self._metrics_lock = asyncio.Lock()
        self._popped = False  # a pop was published since `run` last yielded

    async def run(self, stream: asyncio.Queue[StreamItem]) -> None:
        """Drain `stream` forever (cancel to stop), writing records beside it."""
        try:
            async with asyncio.TaskGroup() as tasks:
                if self._save is not None:
                    tasks.create_task(self._write_records(), name="cti-record-writer")
                if self._save_states is not None:
                    tasks.create_task(self._write_states(), name="cti-state-writer")
                if self._tick_interval > 0:
                    tasks.create_task(self._ticker(), name="cti-model-tick")
                if self.metrics is not None and self._save_metrics is not None:
                    tasks.create_task(self._write_metrics(), name="cti-metrics-writer")
                while True:
                    item = await stream.get()
                    await self.handle(item)
                    if self._popped:
                        # A burst of events (one AMI read) is handled without a
                        # suspension point: let the agent's socket send the pop
                        # now, not after the rest of the burst.
                        self._popped = False
                        await asyncio.sleep(0)
        finally:
            if self._customers is not None:
                await self._customers.close()

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

    async def apply_now(self, step: ModelStep) -> None:
        """Run `step(model, now)` (e.g. `Model.tick`) and route its outputs; never raises.

        For changes that come from neither stream: the clock, or a command's
        outcome the model should know before Asterisk's echo arrives.
        """
        try:
            outputs = step(self.model, self._clock())
            if outputs:
                await self.route(outputs)
        except Exception as exc:
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("failed to apply %s", getattr(step, "__name__", "a model step"))

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._tick_interval)
            await self.apply_now(Model.tick)

    async def handle_ari(self, event: object) -> None:
        """Apply one ARI event; never raises.

        Only the facts ARI owns reach the model (cti/model/from_ari.py), so
        it needs no ordering against the AMI stream: both streams call in
        here and in `handle`, each in its own order.
        """
        self.stats.ari_events += 1
        try:
            domain = from_ari(event)
            if domain is not None:
                outputs = self.model.apply(domain, self._clock())
                if outputs:
                    await self.route(outputs)
        except Exception as exc:
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("failed to handle ARI %s", type(event).__name__)

    def _apply(self, item: StreamItem) -> list[Output]:
        now = self._clock()
        if isinstance(item, Event):
            self.stats.events += 1
            domain = from_ami(item)
            if domain is None:
                return []
            if self._lookup is not None:
                self._prefetch(domain)
            return self.model.apply(domain, now)
        if isinstance(item, Snapshot):
            if item.complete:
                self.stats.snapshots += 1
            return self.model.apply_snapshot(item.results, now)
        if isinstance(item, Connected):
            self.stats.connects += 1
            log.info("AMI connected")
        elif isinstance(item, Disconnected):
            self.stats.disconnects += 1
            log.warning("AMI disconnected: %s", item.reason)
        return []

    async def route(self, outputs: Sequence[Output]) -> None:
        publish = self._publisher
        metrics = self.metrics
        if metrics is not None:
            changed = metrics.apply_all(outputs)
            if changed and self.on_metrics_changed is not None:
                self.on_metrics_changed(changed)
        for out in outputs:
            if isinstance(out, ScreenPop):
                self.stats.pops += 1
                self._popped = True
                publish.publish_to_interface(out.interface, self._pop_payload(out))
            elif isinstance(out, CallAnswered):
                self._to_recipients(out.recipients, out.to_json())
            elif isinstance(out, RingEnded):
                publish.publish_to_interface(out.interface, out.to_json())
            elif isinstance(out, CallEnded):
                self._callers.pop(out.call_id, None)
                found = self._found.pop(out.call_id, _PENDING)
                known = found is not _PENDING
                customer = (
                    cast(dict[str, Any] | None, found)
                    if known
                    else self._cached_customer(_key_of(out))
                )
                payload = out.to_json()
                payload["customer"] = customer
                self._to_recipients(out.recipients, payload)
                publish.publish_about_call(out.queue, out.parties, payload)
                self._queue_record(out, customer if known else _PENDING)
            elif isinstance(out, AgentStateChanged):
                payload = out.to_json()
                if self.on_agent_changed is not None:
                    self.on_agent_changed(out.interface, out.queues, payload)
                else:
                    publish.publish_about_agent(out.interface, out.queues, payload)
                publish.publish_to_interface(out.interface, payload)  # their own state
                if out.since == out.at:  # a new (state, reason) began: a new row
                    self._queue_state(out)
            elif isinstance(out, QueueUpdated):
                payload = out.to_json()
                if self.on_queue_updated is not None:
                    self.on_queue_updated(out.queue, payload)
                else:
                    publish.publish_about_queue(out.queue, payload)
            elif isinstance(out, SetMemberPause) and self.effects is not None:
                self.effects(out)

    def _to_recipients(self, recipients: Sequence[Interface], payload: Mapping[str, Any]) -> None:
        if recipients:
            self._publisher.publish_to_interfaces(recipients, payload)

    # -- customers ---------------------------------------------------------------

    def _cache(self) -> CustomerCache | None:
        if self._customers is None and self._lookup is not None:
            self._customers = CustomerCache(self._lookup, timeout=self._lookup_timeout)
        return self._customers

    def _prefetch(self, event: DomainEvent) -> None:
        """Start the customer look-up as soon as its key is known, long before a pop."""
        cache = self._cache()
        if cache is None:
            return
        if isinstance(event, ChannelCreated):
            if event.channel == ChannelId(event.call) and event.caller_number:
                self._callers[event.call] = event.caller_number
                cache.prefetch(CustomerKey.of(event.caller_number))
        elif isinstance(event, VariableSet | IvrStepped):
            phone = self._callers.get(event.call)
            if phone is None:
                return
            customer_id = dipped_customer(event)
            if customer_id is not None:
                cache.prefetch(CustomerKey.of(phone, customer_id=customer_id))
                return
            account = entered_account(event)
            if account is not None:
                cache.prefetch(CustomerKey.of(phone, account=account))

    def _cached_customer(self, key: CustomerKey) -> dict[str, Any] | None:
        cache = self._cache()
        return cache.peek(key)[1] if cache is not None else None

    def _pop_payload(self, pop: ScreenPop) -> dict[str, Any]:
        payload = pop.to_json()
        cache = self._cache()
        if cache is None:
            payload["customer"], payload["customer_pending"] = None, False
            return payload
        key = _key_of(pop)
        ready, customer = cache.peek(key)
        payload["customer"], payload["customer_pending"] = customer, not ready
        self._found.setdefault(pop.call_id, customer if ready else _PENDING)
        if not ready:
            # Send the pop now; the customer follows as `call_customer`.
            self.stats.customers_late += 1

            def _follow_up(found: dict[str, Any] | None, failed: bool) -> None:
                if self._found.get(pop.call_id, None) is _PENDING and not failed:
                    self._found[pop.call_id] = found
                update = CustomerFound(pop.call_id, pop.interface, found, failed)
                self._publisher.publish_to_interface(pop.interface, update.to_json())

            cache.when_ready(key, _follow_up)
        return payload

    def _queue_record(self, ended: CallEnded, customer: _MaybeCustomer) -> None:
        """`customer` is the pop's customer, or _PENDING when no look-up ended yet."""
        if self._save is None:
            return
        try:
            self._records.put_nowait((ended, customer))
        except asyncio.QueueFull:
            self.stats.records_dropped += 1
            log.error("call record queue full, record for %s dropped", ended.call_id)

    async def _customer_id(self, ended: CallEnded, customer: _MaybeCustomer) -> int | None:
        # The writer may wait for a look-up still running; the intake never does.
        if customer is _PENDING:
            cache = self._cache()
            customer = await cache.get(_key_of(ended)) if cache else None
        customer_id = customer.get("id") if isinstance(customer, dict) else None
        return customer_id if isinstance(customer_id, int) else None

    async def _write_records(self) -> None:
        # One transaction per batch: under load the records of many calls
        # share a commit instead of each paying for its own.
        assert self._save is not None
        while True:
            queued = [await self._records.get()]
            await asyncio.sleep(_RECORD_LINGER)
            while len(queued) < _RECORD_BATCH and not self._records.empty():
                queued.append(self._records.get_nowait())
            try:
                ids = await asyncio.gather(*(self._customer_id(e, c) for e, c in queued))
                await self._save_with_retry([(e, i) for (e, _), i in zip(queued, ids, strict=True)])
            finally:
                for _ in queued:
                    self._records.task_done()

    async def _save_with_retry(self, batch: list[tuple[CallEnded, int | None]]) -> None:
        assert self._save is not None
        delay = 0.1
        for attempt in range(1, 6):
            try:
                await self._save(batch)
                return
            except Exception:
                self.stats.failures += 1
                log.exception("could not store %d call record(s) (try %d)", len(batch), attempt)
                await asyncio.sleep(delay)
                delay *= 4
        self.stats.records_dropped += len(batch)
        log.error("giving up on call records %s", ", ".join(e.call_id for e, _ in batch))

    def _queue_state(self, change: AgentStateChanged) -> None:
        if self._save_states is None:
            return
        try:
            self._states.put_nowait(change)
        except asyncio.QueueFull:
            self.stats.records_dropped += 1
            log.error("agent state queue full, change of %s dropped", change.interface)

    async def _write_states(self) -> None:
        # Batched like call records, and after a short linger: an agent changes
        # state several times per call (ringing, on call, wrap-up...), and one
        # transaction per change was a third of the CTI's CPU at 50 calls/s.
        assert self._save_states is not None
        while True:
            batch = [await self._states.get()]
            await asyncio.sleep(_STATE_LINGER)
            while len(batch) < _RECORD_BATCH and not self._states.empty():
                batch.append(self._states.get_nowait())
            try:
                delay = 0.1
                for attempt in range(1, 6):
                    try:
                        await self._save_states(batch)
                        break
                    except Exception:
                        self.stats.failures += 1
                        log.exception(
                            "could not store %d agent state(s) (try %d)", len(batch), attempt
                        )
                        await asyncio.sleep(delay)
                        delay *= 4
                else:
                    self.stats.records_dropped += len(batch)
            finally:
                for _ in batch:
                    self._states.task_done()

    async def flush_records(self) -> None:
        """Wait until every queued record is written (tests, shutdown)."""
        await self._records.join()
        await self._states.join()
        await self.flush_metrics()

    async def flush_metrics(self) -> bool:
        """Write the metric buckets changed since the last write; False if that failed
        (they are written again next time)."""
        if self.metrics is None or self._save_metrics is None:
            return True
        async with self._metrics_lock:
            buckets = self.metrics.dump_dirty()
            if not buckets:
                self.metrics.prune(self._clock())
                return True
            try:
                await self._save_metrics(buckets)
            except Exception:
                self.stats.failures += 1
                self.metrics.mark_dirty(buckets)
                log.exception("could not store %d queue metric bucket(s)", len(buckets))
                return False
            self.metrics.prune(self._clock())
            return True

    async def _write_metrics(self) -> None:
        while True:
            await asyncio.sleep(self._metrics_interval)
            await self.flush_metrics()


def _key_of(call: ScreenPop | CallEnded) -> CustomerKey:
    return CustomerKey.of(call.caller_number, account=call.account, customer_id=call.customer_id)

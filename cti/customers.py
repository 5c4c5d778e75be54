"""Customer look-ups for screen-pops, kept off the pop's critical path.

Strategy: a database round trip (3 ms idle, hundreds under load, measured by
benchmarks/screen_pop_latency.py) must never delay a pop, and a pop must not
wait for the engine to finish someone else's. So look-ups start early: the
engine asks for the caller's number when the call's first channel appears
and for the account as soon as the IVR collects it, seconds before any agent
rings. By then the answer is usually cached and goes into the pop itself.
When it is not, the pop leaves at once marked `customer_pending` and a
`call_customer` event follows when the look-up finishes.

The cache is keyed by `CustomerKey` (the data dip's customer id, the account
typed in the IVR, the caller number), bounded, and entries expire so edits to
a customer show up on later calls.

Since look-ups start seconds before they are needed, they can also wait a
little to share a query: `LookupBatcher` gathers the keys asked for within
`linger` (20 ms) into one. A look-up cost 0.7 ms of CPU, most of it the trip
to the database and back (pool, driver thread), not the query: at 100
calls/s (two look-ups a call, by number, then by the account typed) that was
14% of a core, and a query for ten keys costs about what one did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from cti.ids import CallId, Interface
from cti.store.errors import StoreError  # a leaf module: no SQLAlchemy here

__all__ = [
    "CustomerCache",
    "CustomerFound",
    "CustomerKey",
    "CustomerLookup",
    "LookupBatcher",
    "ManyCustomersLookup",
]

log = logging.getLogger("cti.customers")


class CustomerKey(NamedTuple):
    """What a call knows to find its customer, most specific first.

    Build it with `CustomerKey.of`: once the data dip named a customer id, the
    account no longer matters, so it is left out and equal questions share
    one cache entry.
    """

    customer_id: int | None
    account: str | None
    phone: str

    @classmethod
    def of(
        cls, phone: str, *, account: str | None = None, customer_id: int | None = None
    ) -> CustomerKey:
        if customer_id is not None:
            return cls(customer_id, None, phone)
        return cls(None, account or None, phone)


# key -> JSON-ready customer record, or None
CustomerLookup = Callable[[CustomerKey], Awaitable[dict[str, Any] | None]]
# the same for several keys at once, answers in the keys' order
ManyCustomersLookup = Callable[[Sequence[CustomerKey]], Awaitable[Sequence[dict[str, Any] | None]]]
_Key = CustomerKey
_Outcome = tuple[bool, dict[str, Any] | None]  # (failed, customer)


@dataclass(frozen=True, slots=True)
class CustomerFound:
    """The look-up a pop went out without has finished (customer may be None)."""

    type: ClassVar[str] = "call_customer"
    call_id: CallId
    interface: Interface
    customer: dict[str, Any] | None
    lookup_failed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "call_id": self.call_id,
            "interface": self.interface,
            "customer": self.customer,
            "lookup_failed": self.lookup_failed,
        }


class CustomerCache:
    def __init__(
        self,
        lookup: CustomerLookup,
        *,
        timeout: float = 5.0,
        ttl: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._timeout = timeout
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._done: OrderedDict[_Key, tuple[float, dict[str, Any] | None]] = OrderedDict()
        self._running: dict[_Key, asyncio.Task[_Outcome]] = {}
        self.failures = 0

    def prefetch(self, key: CustomerKey) -> None:
        """Start a look-up for this key unless it is cached or under way."""
        if key in self._running or self._fresh(key):
            return
        if key.customer_id is not None or key.account is not None:
            by_phone = self._fresh(CustomerKey(None, None, key.phone))
            if by_phone is not None and by_phone[1] and _same_customer(key, by_phone[1]):
                # the caller typed the account of the customer their number found:
                # the same answer, no second query
                self._store(key, by_phone[1])
                return
        task = asyncio.get_running_loop().create_task(self._fetch(key), name="cti-customer")
        self._running[key] = task

    def peek(self, key: CustomerKey) -> tuple[bool, dict[str, Any] | None]:
        """(ready, customer): the cached answer if there is one."""
        entry = self._fresh(key)
        return (True, entry[1]) if entry is not None else (False, None)

    def when_ready(
        self, key: CustomerKey, then: Callable[[dict[str, Any] | None, bool], None]
    ) -> None:
        """Call `then(customer, failed)` once the look-up for this key ends."""
        self.prefetch(key)
        task = self._running.get(key)
        if task is None:  # finished between peek and now
            entry = self._fresh(key)
            then(entry[1] if entry else None, entry is None)
            return

        def _done(t: asyncio.Task[_Outcome]) -> None:
            if t.cancelled():  # shutting down: nobody left to tell
                return
            failed, customer = t.result()
            then(customer, failed)

        task.add_done_callback(_done)

    async def get(self, key: CustomerKey) -> dict[str, Any] | None:
        """The customer for this key, waiting for (or starting) its look-up.

        For paths that may wait, such as writing the call record; None when
        no record matches or the look-up failed.
        """
        ready, customer = self.peek(key)
        if ready:
            return customer
        self.prefetch(key)
        task = self._running.get(key)
        if task is None:
            return self.peek(key)[1]
        return (await asyncio.shield(task))[1]

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    def _fresh(self, key: _Key) -> tuple[float, dict[str, Any] | None] | None:
        entry = self._done.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] > self._ttl:
            del self._done[key]
            return None
        return entry

    async def _fetch(self, key: _Key) -> _Outcome:
        try:
            async with asyncio.timeout(self._timeout):
                customer = await self._lookup(key)
        except (TimeoutError, StoreError) as exc:
            # Expected when the database is slow or down: one line, no traceback
            # (formatting one per call cost more CPU than the look-ups, under
            # load). Not cached: the next call from this number tries again.
            self.failures += 1
            reason = (
                f"no answer within {self._timeout:g}s" if isinstance(exc, TimeoutError) else exc
            )
            log.warning("customer look-up failed for %r: %s", key, reason)
            return True, None
        except Exception:  # a bug of ours: say where
            self.failures += 1
            log.warning("customer look-up failed for %r", key, exc_info=True)
            return True, None
        finally:
            self._running.pop(key, None)
        self._store(key, customer)
        return False, customer

    def _store(self, key: _Key, customer: dict[str, Any] | None) -> None:
        self._done[key] = (self._clock(), customer)
        while len(self._done) > self._max:
            self._done.popitem(last=False)


def _same_customer(key: CustomerKey, found: dict[str, Any]) -> bool:
    """Whether the caller's number already found the customer `key` names."""
    if key.customer_id is not None:
        return found.get("id") == key.customer_id
    return found.get("account") == key.account


class LookupBatcher:
    """A `CustomerLookup` whose keys asked for within `linger` seconds share one
    `lookup_many` call (at most `max_batch` keys each).

    A caller that gives up (its time-out cancels the wait) leaves the batch
    without harm; a failed query fails every look-up of its batch, each of
    which the cache logs and does not keep, as a single failed look-up.
    """

    def __init__(
        self, lookup_many: ManyCustomersLookup, *, linger: float = 0.02, max_batch: int = 100
    ) -> None:
        self._lookup_many = lookup_many
        self._linger = linger
        self._max_batch = max_batch
        self._waiting: list[tuple[CustomerKey, asyncio.Future[dict[str, Any] | None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._queries: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references
        self.batches = 0

    async def __call__(self, key: CustomerKey) -> dict[str, Any] | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[dict[str, Any] | None] = loop.create_future()
        self._waiting.append((key, answer))
        if len(self._waiting) >= self._max_batch:
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(self._linger, self._send)
        return await answer

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        task = asyncio.get_running_loop().create_task(self._query(batch), name="cti-customers")
        self._queries.add(task)
        task.add_done_callback(self._queries.discard)

    async def _query(
        self, batch: list[tuple[CustomerKey, asyncio.Future[dict[str, Any] | None]]]
    ) -> None:
        live = [(key, answer) for key, answer in batch if not answer.done()]
        if not live:
            return
        self.batches += 1
        try:
            found = await self._lookup_many([key for key, _ in live])
            if len(found) != len(live):
                raise RuntimeError(f"{len(found)} answers for {len(live)} customer keys")
        except BaseException as exc:
            for _, answer in live:
                if answer.done():
                    continue
                if isinstance(exc, Exception):
                    answer.set_exception(exc)
                else:  # cancelled (shutting down): so are the waits
                    answer.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for (_, answer), customer in zip(live, found, strict=True):
            if not answer.done():
                answer.set_result(customer)

"""LookupBatcher: look-ups asked for together share one query, and none is lost
when a caller gives up or the query fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from cti.customers import CustomerKey, LookupBatcher


class Directory:
    """A fake `lookup_many`: records each batch it is asked; answers by phone."""

    def __init__(self, fail: bool = False, gate: asyncio.Event | None = None) -> None:
        self.batches: list[list[CustomerKey]] = []
        self.asked = asyncio.Event()
        self.fail = fail
        self.gate = gate

    async def lookup_many(self, keys: Sequence[CustomerKey]) -> list[dict[str, Any] | None]:
        self.batches.append(list(keys))
        self.asked.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise ConnectionError("database down")
        return [{"name": key.phone} if key.phone.startswith("555") else None for key in keys]


def key(phone: str) -> CustomerKey:
    return CustomerKey.of(phone)


async def test_keys_asked_within_the_linger_share_one_query() -> None:
    directory = Directory()
    batcher = LookupBatcher(directory.lookup_many, linger=0.05)
    found = await asyncio.gather(*(batcher(key(p)) for p in ["5551", "4441", "5552"]))
    assert found == [{"name": "5551"}, None, {"name": "5552"}]
    assert directory.batches == [[key("5551"), key("4441"), key("5552")]]
    # a later key: a query of its own
    assert await batcher(key("5553")) == {"name": "5553"}
    assert len(directory.batches) == 2
    assert batcher.batches == 2


async def test_a_full_batch_goes_at_once() -> None:
    directory = Directory()
    batcher = LookupBatcher(directory.lookup_many, linger=60.0, max_batch=2)
    async with asyncio.timeout(5.0):  # not 60 s: two keys fill the batch
        found = list(await asyncio.gather(batcher(key("5551")), batcher(key("5552"))))
    assert found == [{"name": "5551"}, {"name": "5552"}]


async def test_a_caller_giving_up_leaves_the_others_their_answer() -> None:
    directory = Directory()
    batcher = LookupBatcher(directory.lookup_many, linger=0.05)
    impatient = asyncio.create_task(batcher(key("5551")))
    patient = asyncio.create_task(batcher(key("5552")))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await patient == {"name": "5552"}
    assert directory.batches == [[key("5552")]]  # the abandoned key is not asked
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_a_failed_query_fails_each_look_up_of_its_batch() -> None:
    directory = Directory(fail=True)
    batcher = LookupBatcher(directory.lookup_many, linger=0.01)
    results = await asyncio.gather(
        batcher(key("5551")), batcher(key("5552")), return_exceptions=True
    )
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    directory.fail = False  # the next batch is asked again: nothing is remembered
    assert await batcher(key("5551")) == {"name": "5551"}


async def test_keys_asked_during_a_query_wait_for_the_next() -> None:
    gate = asyncio.Event()
    directory = Directory(gate=gate)
    batcher = LookupBatcher(directory.lookup_many, linger=0.01)
    first = asyncio.create_task(batcher(key("5551")))
    await directory.asked.wait()
    second = asyncio.create_task(batcher(key("5552")))
    third = asyncio.create_task(batcher(key("5553")))
    await asyncio.sleep(0.05)
    gate.set()
    assert list(await asyncio.gather(first, second, third)) == [
        {"name": "5551"},
        {"name": "5552"},
        {"name": "5553"},
    ]
    assert directory.batches == [[key("5551")], [key("5552"), key("5553")]]

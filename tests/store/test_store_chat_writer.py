"""The chat writer's group commit, with a fake batch writer (no database)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from cti.chat import Appended, Message
from cti.store.chat import NewMessage
from cti.store.chat_writer import ChatWriter

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class FakeBatches:
    """Numbers messages per conversation; fails the batches it is told to."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.fail_next = False
        self.seqs: dict[int, int] = {}
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, items: Sequence[NewMessage]) -> list[Appended | None]:
        await self.gate.wait()
        self.batches.append([i.text for i in items])
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database went away")
        out: list[Appended | None] = []
        for item in items:
            if item.sender == "mallory":
                out.append(None)
                continue
            seq = self.seqs[item.conversation_id] = self.seqs.get(item.conversation_id, 0) + 1
            message = Message(item.conversation_id, seq, item.sender, item.text, item.at)
            out.append(Appended(message, ("alice", "bob")))
        return out


def item(text: str, sender: str = "alice", conversation: int = 1) -> NewMessage:
    return NewMessage(conversation, sender, text, AT)


async def test_a_lone_message_is_written_at_once_and_a_crowd_in_batches() -> None:
    fake = FakeBatches()
    writer = ChatWriter(fake, max_batch=3)
    alone = await writer.append(item("solo"))
    assert alone is not None
    assert alone.message.seq == 1
    assert fake.batches == [["solo"]]
    fake.gate.clear()  # the database is busy: messages pile up meanwhile
    first = asyncio.create_task(writer.append(item("a0")))
    await asyncio.sleep(0)
    crowd = [asyncio.create_task(writer.append(item(f"b{n}"))) for n in range(7)]
    await asyncio.sleep(0)
    fake.gate.set()
    results = await asyncio.gather(first, *crowd)
    assert fake.batches[1:] == [["a0"], ["b0", "b1", "b2"], ["b3", "b4", "b5"], ["b6"]]
    assert [r.message.seq for r in results if r is not None] == list(range(2, 10))
    assert writer.stats.batches == 5
    assert writer.stats.largest_batch == 3


async def test_a_failed_batch_fails_each_of_its_senders_and_the_next_batch_goes_on() -> None:
    fake = FakeBatches()
    writer = ChatWriter(fake)
    fake.gate.clear()
    doomed = [asyncio.create_task(writer.append(item(f"x{n}"))) for n in range(3)]
    await asyncio.sleep(0)
    fake.fail_next = True
    fake.gate.set()
    for task in doomed:
        with pytest.raises(RuntimeError, match="went away"):
            await task
    assert writer.stats.failed_batches == 1
    after = await writer.append(item("after"))
    assert after is not None
    assert after.message.seq == 1  # nothing of the failed batch was numbered
    assert await writer.append(item("nope", sender="mallory")) is None


async def test_close_waits_for_the_queued_messages() -> None:
    fake = FakeBatches()
    writer = ChatWriter(fake)
    fake.gate.clear()
    pending = asyncio.create_task(writer.append(item("last words")))
    await asyncio.sleep(0)
    closing = asyncio.create_task(writer.aclose())
    await asyncio.sleep(0)
    assert not closing.done()
    fake.gate.set()
    await closing
    result = await pending
    assert result is not None
    assert result.message.text == "last words"
    with pytest.raises(ValueError, match="max_batch"):
        ChatWriter(fake, max_batch=0)

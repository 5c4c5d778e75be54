from __future__ import annotations

import pytest

from cti.store import Store


async def test_supervisor_queues_are_added_once_and_read_back_sorted(store: Store) -> None:
    await store.create_agent("sue", "Sue", "pw", "supervisor", "PJSIP/1009")
    record = await store.add_supervisor_queues("sue", ["support", "billing", "support"])
    assert record.queues == ("billing", "support")
    again = await store.add_supervisor_queues("sue", ["billing", "sales"])
    assert again.queues == ("billing", "sales", "support")
    assert (await store.agent_by_login("sue")) == again
    assert [a.queues for a in await store.list_agents()] == [("billing", "sales", "support")]
    found = await store.authenticate("sue", "pw")
    assert found is not None
    assert found.queues == ("billing", "sales", "support")


async def test_supervisor_queues_refuse_unknown_logins_and_empty_names(store: Store) -> None:
    with pytest.raises(ValueError, match="no agent"):
        await store.add_supervisor_queues("nobody", ["support"])
    await store.create_agent("sue", "Sue", "pw", "supervisor", "PJSIP/1009")
    with pytest.raises(ValueError, match="empty"):
        await store.add_supervisor_queues("sue", ["support", " "])
    assert (await store.agent_by_login("sue")).queues == ()  # type: ignore[union-attr]

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from cti.store import AgentRecord, ConflictError, Store
from cti.store.tables import utcnow


async def test_authenticate_right_and_wrong_password(store: Store) -> None:
    created = await store.create_agent("alice", "Alice Agent", "s3cret", "agent", "PJSIP/1001")
    assert await store.authenticate("alice", "s3cret") == created
    assert await store.authenticate("alice", "wrong") is None
    assert await store.authenticate("alice", "") is None
    assert await store.authenticate("nobody", "s3cret") is None
    assert await store.authenticate("Alice", "s3cret") is None  # logins are exact


async def test_records_carry_no_password_hash(store: Store) -> None:
    agent = await store.create_agent("bob", "Bob", "pw", "agent", "PJSIP/1002")
    assert isinstance(agent, AgentRecord)
    assert "pw" not in repr(agent)
    assert "scrypt" not in repr(agent)
    assert "password_hash" not in agent.to_json()
    assert agent.created_at.tzinfo is not None
    assert abs(agent.created_at - utcnow()) < timedelta(minutes=1)
    assert agent.created_at.utcoffset() == UTC.utcoffset(None)


async def test_lookups_and_listing(store: Store) -> None:
    carol = await store.create_agent("carol", "Carol", "pw", "supervisor", "PJSIP/1003")
    admin = await store.create_agent("root", "Admin", "pw", "admin")
    alice = await store.create_agent("alice", "Alice", "pw", "agent", "PJSIP/1001")
    assert await store.agent_by_login("carol") == carol
    assert await store.agent_by_interface("PJSIP/1003") == carol
    assert await store.agent_by_interface("PJSIP/9999") is None
    assert await store.agent_by_login("zed") is None
    assert await store.list_agents() == [alice, carol, admin]  # by login
    assert carol.role == "supervisor"
    assert admin.interface is None


async def test_duplicates_are_conflicts(store: Store) -> None:
    await store.create_agent("alice", "Alice", "pw", "agent", "PJSIP/1001")
    with pytest.raises(ConflictError):
        await store.create_agent("alice", "Other", "pw", "agent", "PJSIP/1009")
    with pytest.raises(ConflictError):
        await store.create_agent("alice2", "Other", "pw", "agent", "PJSIP/1001")
    # two desk-less users are fine: NULL interfaces do not collide
    await store.create_agent("admin1", "A1", "pw", "admin")
    await store.create_agent("admin2", "A2", "pw", "admin")
    assert len(await store.list_agents()) == 3


async def test_bad_input_is_a_value_error(store: Store) -> None:
    with pytest.raises(ValueError, match="role"):
        await store.create_agent("x", "X", "pw", "overlord", "PJSIP/1")
    with pytest.raises(ValueError, match="login"):
        await store.create_agent("  ", "X", "pw", "agent", "PJSIP/1")
    assert await store.list_agents() == []

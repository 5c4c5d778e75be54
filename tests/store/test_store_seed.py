from __future__ import annotations

import pytest

from cti.store import DEMO_PASSWORD, Store, seed_demo
from cti.store.seed import DEMO_CUSTOMERS


async def test_seed_demo_is_idempotent(store: Store) -> None:
    first = await seed_demo(store)
    assert first.agents_added == 4
    assert first.customers_added == len(DEMO_CUSTOMERS) >= 22
    agents, customers = (
        await store.list_agents(),
        [await store.customer_by_id(c.id) for c in DEMO_CUSTOMERS],
    )
    second = await seed_demo(store)
    assert (second.agents_added, second.customers_added) == (0, 0)
    assert await store.list_agents() == agents
    assert [await store.customer_by_id(c.id) for c in DEMO_CUSTOMERS] == customers


async def test_demo_agents(store: Store) -> None:
    await seed_demo(store)
    roles = {a.login: (a.role, a.interface) for a in await store.list_agents()}
    assert roles == {
        "alice": ("agent", "PJSIP/1001"),
        "bob": ("agent", "PJSIP/1002"),
        "carol": ("supervisor", "PJSIP/1003"),
        "dave": ("supervisor", None),
    }
    alice = await store.authenticate("alice", DEMO_PASSWORD)
    assert alice is not None
    assert alice.interface == "PJSIP/1001"
    assert await store.authenticate("carol", "demo") is not None
    assert await store.authenticate("bob", "not-demo") is None


async def test_demo_customers_match_the_traces(store: Store) -> None:
    await seed_demo(store)
    ada = await store.customer_by_id(42)
    assert ada is not None
    assert ada.name == "Ada Lovelace"
    assert ada.account == "42"
    assert ada.phones
    # queue_answered: caller 15551230001 enters account 23456
    grace = await store.lookup_customer(account="23456", phone="15551230001")
    assert grace is not None
    assert grace.name == "Grace Hopper"
    assert await store.lookup_customer(account=None, phone="+1 555 123 0001") == grace
    assert await store.lookup_customer(account="42", phone="15551230001") == ada
    # ids keep being generated after the seeded explicit ones
    new = await store.create_customer("Walk-in")
    assert new.id > 42


async def test_seed_skips_what_real_data_already_uses(store: Store) -> None:
    await store.create_agent("dave", "Dave", "pw", "agent", "PJSIP/1001")
    mine = await store.create_customer("Mine", account="23456", customer_id=500)
    report = await seed_demo(store)
    assert report.agents_added == 2  # alice's device and dave's login are taken
    assert report.customers_added == len(DEMO_CUSTOMERS) - 1  # Grace's account is taken
    assert await store.agent_by_login("alice") is None
    assert await store.lookup_customer(account="23456", phone=None) == mine


async def test_carol_supervises_support_and_sales(store: Store) -> None:
    await seed_demo(store)
    carol = await store.agent_by_login("carol")
    assert carol is not None
    assert carol.queues == ("sales", "support")
    alice = await store.agent_by_login("alice")
    assert alice is not None
    assert alice.queues == ()
    await seed_demo(store)  # a second run adds no duplicate
    assert (await store.agent_by_login("carol")) == carol


async def test_carol_looks_after_team_tier1_and_dave_after_billing(store: Store) -> None:
    await seed_demo(store)
    carol, dave, alice = [await store.team_scope(login) for login in ("carol", "dave", "alice")]
    assert (carol.teams, carol.interfaces) == (("tier1",), ("PJSIP/1001", "PJSIP/1002"))
    assert (dave.teams, dave.interfaces) == ((), ())
    assert (alice.teams, alice.team) == ((), "tier1")
    dave_record = await store.agent_by_login("dave")
    assert dave_record is not None
    assert dave_record.queues == ("billing",)
    teams = await store.list_teams()
    await seed_demo(store)  # a second run changes nothing
    assert await store.list_teams() == teams
    assert [(t.name, t.members, t.supervisors) for t in teams] == [
        ("tier1", ("alice", "bob"), ("carol",))
    ]


async def test_an_agent_is_in_at_most_one_team(store: Store) -> None:
    await store.create_agent("erin", "Erin", "pw", "agent", "PJSIP/1005")
    await store.put_in_team("tier1", ["erin"])
    await store.put_in_team("tier2", ["erin"])  # moves her
    assert (await store.team_scope("erin")).team == "tier2"
    assert [(t.name, t.members) for t in await store.list_teams()] == [
        ("tier1", ()),
        ("tier2", ("erin",)),
    ]


async def test_teams_refuse_unknown_logins_and_empty_names(store: Store) -> None:
    with pytest.raises(ValueError, match="nobody"):
        await store.put_in_team("tier1", ["nobody"])
    with pytest.raises(ValueError, match="empty"):
        await store.add_supervisor_teams("carol", [" "])
    assert await store.list_teams() == []  # the failed write left nothing behind

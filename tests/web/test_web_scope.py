"""Teams and queues decide what a supervisor sees and may act on: the pure rules
(cti.web.scope, cti.control.authorize, cti.agentstate.rules) and the hub's
scoped publishes, including a scope that changes while the user is online."""

from __future__ import annotations

import json

import pytest
from control_tools import BILLING_CALL, QUEUE_CALL, SALES_CALL, call_model

from cti.agentstate.commands import AgentPause
from cti.agentstate.rules import AgentNow, AgentTarget
from cti.agentstate.rules import authorize as authorize_agent
from cti.control.authorize import authorize as authorize_call
from cti.control.commands import Hangup, Listen
from cti.ids import CallId
from cti.model.views import CallView
from cti.web.adapters import actor_of
from cti.web.hub import Connection, Hub
from cti.web.ports import User
from cti.web.scope import Scope

ALICE = User("alice", "Alice", "agent", "PJSIP/1001")
BOB = User("bob", "Bob", "agent", "PJSIP/1002")
# Carol: queue support, team tier1 = Bob; Dave: queue billing, no team; root: admin
CAROL = User(
    "carol", "Carol", "supervisor", "PJSIP/1003", ("support",), ("tier1",), ("PJSIP/1002",)
)
DAVE = User("dave", "Dave", "supervisor", "PJSIP/1004", ("billing",))
ROOT = User("root", "Root", "admin", None)


def call(call_id: str) -> CallView:
    found = call_model().call(CallId(call_id))
    assert found is not None
    return found


def test_scope_of_each_role() -> None:
    carol, dave, alice, root = (Scope.of(u) for u in (CAROL, DAVE, ALICE, ROOT))
    assert carol.sees_queue("support")
    assert not carol.sees_queue("sales")
    assert not carol.sees_queue(None)
    assert carol.sees_agent("PJSIP/1002")  # her team
    assert carol.sees_agent("PJSIP/1001", ["support"])  # a member of her queue
    assert carol.sees_agent("PJSIP/1003")  # herself
    assert not carol.sees_agent("PJSIP/1001", ["sales"])
    assert carol.sees_call("support", [])
    assert carol.sees_call("billing", ["PJSIP/1002"])  # her team's agent is on it
    assert carol.sees_call(None, ["PJSIP/1003"])  # her own call
    assert not carol.sees_call("sales", ["PJSIP/1001"])
    assert not dave.sees_call("support", ["PJSIP/1002"])
    assert alice.sees_call("sales", ["PJSIP/1001"])
    assert not alice.sees_call("support", ["PJSIP/1002"])  # the queue is no agent's scope
    assert not alice.sees_queue("support")
    assert alice.sees_queue("support", member_of=["support"])
    assert not alice.sees_agent("PJSIP/1002", ["support"])
    assert root.sees_queue("anything")
    assert root.sees_agent(None)
    assert root.sees_call(None, [])


def test_agents_teams_grant_nothing() -> None:
    """A team on an agent account (e.g. a hand-built User) is ignored: only supervisors
    look after teams."""
    agent = User("erin", "Erin", "agent", "PJSIP/1005", ("support",), ("tier1",), ("PJSIP/1002",))
    scope = Scope.of(agent)
    assert not scope.sees_agent("PJSIP/1002")
    assert not scope.sees_call("support", ["PJSIP/1002"])


def test_call_controls_follow_teams() -> None:
    carol, dave = actor_of(CAROL), actor_of(DAVE)
    # Bob (Carol's team) is on the sales and billing calls, queues she does not supervise
    for call_id in (SALES_CALL, BILLING_CALL):
        assert authorize_call(carol, Listen(call_id=call_id), call(call_id)) is None
        assert authorize_call(carol, Hangup(call_id=call_id), call(call_id)) is None
    assert authorize_call(carol, Listen(call_id=QUEUE_CALL), call(QUEUE_CALL)) is None  # queue
    assert authorize_call(dave, Listen(call_id=BILLING_CALL), call(BILLING_CALL)) is None
    for call_id in (QUEUE_CALL, SALES_CALL):
        refusal = authorize_call(dave, Listen(call_id=call_id), call(call_id))
        assert refusal is not None
        assert refusal.code == "not_your_call"
    agent = authorize_call(actor_of(ALICE), Listen(call_id=QUEUE_CALL), call(QUEUE_CALL))
    assert agent is not None
    assert agent.code == "not_your_call"


def test_agent_commands_follow_teams() -> None:
    bob = AgentTarget("bob", "Bob", "PJSIP/1002")
    in_sales = AgentNow("available", frozenset({"sales"}))
    pause = AgentPause(agent="bob", reason="lunch")
    assert authorize_agent(actor_of(CAROL), pause, bob, in_sales) is None  # her team
    refusal = authorize_agent(actor_of(DAVE), pause, bob, in_sales)
    assert refusal is not None
    assert refusal.code == "not_allowed"
    assert "queues or teams" in refusal.message


def bodies(conn: Connection) -> list[dict[str, object]]:
    out = []
    while conn.pending:
        frame = json.loads(conn._pending.popleft())
        if frame.get("type") != "hello":
            out.append({k: v for k, v in frame.items() if k not in ("seq", "stream_id")})
    return out


@pytest.fixture
def hub() -> Hub:
    return Hub(stream_id="scope")


def test_hub_publishes_about_queues_agents_and_calls_to_who_may_see_them(hub: Hub) -> None:
    conns = {u.login: hub.attach(u) for u in (ALICE, BOB, CAROL, DAVE, ROOT)}
    hub.publish_about_queue("support", {"type": "queue_state", "queue": "support"})
    hub.publish_about_queue("billing", {"type": "queue_state", "queue": "billing"})
    hub.publish_about_queue("sales", {"type": "queue_state", "queue": "sales"})
    # Bob is in Carol's team and a member of billing (Dave's): both get it, once each
    hub.publish_about_agent("PJSIP/1002", ["billing", "support"], {"type": "agent_state"})
    hub.publish_about_call("sales", ["PJSIP/1002", "PJSIP/1001"], {"type": "call_ended"})
    got = {login: bodies(conn) for login, conn in conns.items()}
    assert got["carol"] == [
        {"type": "queue_state", "queue": "support"},
        {"type": "agent_state"},
        {"type": "call_ended"},
    ]
    assert got["dave"] == [{"type": "queue_state", "queue": "billing"}, {"type": "agent_state"}]
    assert len(got["root"]) == 5
    assert got["alice"] == got["bob"] == []
    assert hub.stats.undelivered == 0


def test_a_changed_scope_moves_the_user_between_indexes(hub: Hub) -> None:
    hub.register(CAROL)
    moved = User("carol", "Carol", "supervisor", "PJSIP/1003", ("billing",))
    conn = hub.attach(moved)  # re-registered with the new scope (e.g. after a team change)
    hub.publish_about_queue("support", {"type": "queue_state", "queue": "support"})
    hub.publish_about_agent("PJSIP/1002", [], {"type": "agent_state"})
    hub.publish_about_queue("billing", {"type": "queue_state", "queue": "billing"})
    assert bodies(conn) == [{"type": "queue_state", "queue": "billing"}]
    demoted = User("carol", "Carol", "agent", "PJSIP/1003", ("billing",))
    conn = hub.attach(demoted)
    hub.publish_about_queue("billing", {"type": "queue_state", "queue": "billing"})
    assert bodies(conn) == []


def test_a_queue_has_an_audience_once_an_admin_or_its_supervisor_registered(hub: Hub) -> None:
    hub.attach(ALICE)  # an agent: never receives boards
    assert not hub.has_audience_for_queue("support")
    hub.attach(DAVE)  # supervises billing
    assert hub.has_audience_for_queue("billing")
    assert not hub.has_audience_for_queue("support")
    hub.attach(ROOT)  # an admin hears every queue
    assert hub.has_audience_for_queue("support")

"""Pure rules: who may act on which agent, and the AMI actions commands become."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cti.agentstate.commands import (
    AgentLogin,
    AgentLogout,
    AgentPause,
    AgentUnpause,
    EndWrapUp,
    parse_agent_command,
)
from cti.agentstate.results import AgentRefusal
from cti.agentstate.rules import AgentNow, AgentTarget, authorize, plan
from cti.control.authorize import Actor
from cti.control.plan import AmiAction

ALICE = Actor("alice", "agent", "PJSIP/1001")
BOB = Actor("bob", "agent", "PJSIP/1002")
CAROL = Actor("carol", "supervisor", "PJSIP/1003", frozenset({"support", "sales"}))
DAVE = Actor("dave", "supervisor", None, frozenset({"billing"}))
ADA = Actor("ada", "admin", None)
T_ALICE = AgentTarget("alice", "Alice Agent", "PJSIP/1001")
IN_SUPPORT = AgentNow("available", frozenset({"support"}))
REASONS = ("break", "lunch", "training", "meeting")
QUEUES = {"support", "sales", "billing"}


def test_agents_act_only_on_themselves() -> None:
    assert authorize(ALICE, AgentPause(reason="lunch"), T_ALICE, IN_SUPPORT) is None
    refusal = authorize(BOB, AgentPause(agent="alice", reason="lunch"), T_ALICE, IN_SUPPORT)
    assert refusal is not None
    assert refusal.code == "not_allowed"
    login = authorize(BOB, AgentLogin(agent="alice", queues=["support"]), T_ALICE, IN_SUPPORT)
    assert login is not None
    assert login.code == "not_allowed"


def test_supervisors_act_on_agents_of_their_queues_admins_on_anyone() -> None:
    pause = AgentPause(agent="alice", reason="break")
    assert authorize(CAROL, pause, T_ALICE, IN_SUPPORT) is None
    assert authorize(ADA, pause, T_ALICE, IN_SUPPORT) is None
    refusal = authorize(DAVE, pause, T_ALICE, IN_SUPPORT)
    assert refusal is not None
    assert refusal.code == "not_allowed"
    # the teams hook widens the scope
    assert authorize(DAVE, pause, T_ALICE, IN_SUPPORT, team_logins={"alice"}) is None
    # log-in/out: only into / out of their own queues
    assert (
        authorize(CAROL, AgentLogin(agent="alice", queues=["sales"]), T_ALICE, IN_SUPPORT) is None
    )
    outside = authorize(CAROL, AgentLogin(agent="alice", queues=["billing"]), T_ALICE, IN_SUPPORT)
    assert outside is not None
    assert outside.code == "not_allowed"
    logout = AgentLogout(agent="alice", queues=["billing"])
    refused = authorize(
        CAROL, logout, T_ALICE, AgentNow("available", frozenset({"support", "billing"}))
    )
    assert refused is not None
    assert refused.code == "not_allowed"


def test_unknown_agent_is_not_found() -> None:
    refusal = authorize(ADA, AgentUnpause(agent="zed"), None, None)
    assert refusal == AgentRefusal("not_found", "no agent 'zed'", ("agent",))


def test_pause_reason_must_be_in_the_list() -> None:
    actions = plan(ALICE, AgentPause(reason="lunch"), T_ALICE, IN_SUPPORT, QUEUES, REASONS)
    assert actions == (
        AmiAction(
            "QueuePause", (("Interface", "PJSIP/1001"), ("Paused", "true"), ("Reason", "lunch"))
        ),
    )
    refusal = plan(ALICE, AgentPause(reason="nap"), T_ALICE, IN_SUPPORT, QUEUES, REASONS)
    assert isinstance(refusal, AgentRefusal)
    assert (refusal.code, refusal.fields) == ("invalid", ("reason",))
    # "wrap-up" is reserved: not a user's reason unless configured (it is not)
    reserved = plan(ALICE, AgentPause(reason="wrap-up"), T_ALICE, IN_SUPPORT, QUEUES, REASONS)
    assert isinstance(reserved, AgentRefusal)
    assert reserved.code == "invalid"


@pytest.mark.parametrize("bad", ["lunch\r\nAction: Originate", "a:b", "", "x" * 33])
def test_header_like_reasons_never_parse(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_agent_command({"command": "agent_pause", "reason": bad})


def test_login_adds_with_member_name_and_state_interface_and_logout_removes() -> None:
    login = plan(
        CAROL,
        AgentLogin(agent="alice", queues=["sales", "support"]),
        T_ALICE,
        IN_SUPPORT,
        QUEUES,
        REASONS,
    )
    assert login == (
        AmiAction(
            "QueueAdd",
            (
                ("Queue", "sales"),
                ("Interface", "PJSIP/1001"),
                ("MemberName", "Alice Agent"),
                ("StateInterface", "PJSIP/1001"),
            ),
        ),
    )
    unknown = plan(ALICE, AgentLogin(queues=["nope"]), T_ALICE, IN_SUPPORT, QUEUES, REASONS)
    assert isinstance(unknown, AgentRefusal)
    assert unknown.code == "not_found"
    both = AgentNow("available", frozenset({"support", "billing"}))
    # a supervisor's "log out" leaves only the queues they supervise
    out = plan(CAROL, AgentLogout(agent="alice"), T_ALICE, both, QUEUES, REASONS)
    assert out == (AmiAction("QueueRemove", (("Queue", "support"), ("Interface", "PJSIP/1001"))),)
    mine = plan(ALICE, AgentLogout(), T_ALICE, both, QUEUES, REASONS)
    assert isinstance(mine, tuple)
    assert [a.fields[0][1] for a in mine] == ["billing", "support"]


def test_end_wrap_up_needs_wrap_up() -> None:
    refusal = plan(ALICE, EndWrapUp(), T_ALICE, IN_SUPPORT, QUEUES, REASONS)
    assert isinstance(refusal, AgentRefusal)
    assert refusal.code == "invalid"
    wrapping = AgentNow("wrap_up", frozenset({"support"}))
    assert plan(ALICE, EndWrapUp(), T_ALICE, wrapping, QUEUES, REASONS) == (
        AmiAction("QueuePause", (("Interface", "PJSIP/1001"), ("Paused", "false"))),
    )


def test_no_phone_or_no_queue_is_invalid() -> None:
    phoneless = AgentTarget("ada", "Ada", None)
    refusal = plan(ADA, AgentUnpause(), phoneless, None, QUEUES, REASONS)
    assert isinstance(refusal, AgentRefusal)
    assert refusal.code == "invalid"
    out = plan(ALICE, AgentUnpause(), T_ALICE, AgentNow("logged_out", frozenset()), QUEUES, REASONS)
    assert isinstance(out, AgentRefusal)
    assert out.code == "invalid"

"""Pure core: who may act (authorize) and which AMI actions a command becomes (plan)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from control_tools import BILLING_CALL, QUEUE_CALL, SALES_CALL, call_model

from cti.control.authorize import Actor, authorize
from cti.control.commands import (
    AttendedTransfer,
    AttendedTransferCancel,
    AttendedTransferComplete,
    Barge,
    Dial,
    Hangup,
    Hold,
    Listen,
    SendDtmf,
    Transfer,
    Unhold,
    Whisper,
)
from cti.control.plan import AmiAction, plan
from cti.control.results import Refusal
from cti.ids import BridgeId, CallId, ChannelId, Interface
from cti.model.views import CallView, ChannelView

ALICE = Actor("alice", "agent", "PJSIP/1001")
BOB = Actor("bob", "agent", "PJSIP/1002")
CAROL = Actor("carol", "supervisor", "PJSIP/1003", frozenset({"support", "sales"}))
ADMIN = Actor("root", "admin", "PJSIP/1009")
CALLER = "PJSIP/pstn-00000001"
ALICE_LEG = "PJSIP/1001-00000002"
CONSULT = BridgeId("consult")


def view(call_id: str = QUEUE_CALL) -> CallView:
    found = call_model().call(CallId(call_id))
    assert found is not None
    return found


def actions(result: tuple[AmiAction, ...] | Refusal) -> list[tuple[str, dict[str, str]]]:
    assert not isinstance(result, Refusal), result
    return [(a.name, dict(a.fields)) for a in result]


def test_click_to_dial_is_the_originate_of_click_to_dial_jsonl() -> None:
    assert authorize(ALICE, Dial(number="95551234"), None) is None
    assert actions(plan(ALICE, Dial(number="95551234"), None)) == [
        (
            "Originate",
            {
                "Channel": "PJSIP/1001",
                "Context": "cti-originate",
                "Exten": "95551234",
                "Priority": "1",
                "CallerID": '"95551234" <95551234>',
                "Variable": "CTI_ORIGIN=click-to-dial",
                "Async": "true",
            },
        )
    ]
    deskless = Actor("ops", "admin", None)
    refusal = authorize(deskless, Dial(number="1"), None)
    assert refusal is not None
    assert refusal.code == "invalid"


def test_agent_commands_act_on_the_agent_leg_and_the_other_party() -> None:
    call = view()
    cid = QUEUE_CALL
    assert actions(plan(ALICE, Hangup(call_id=cid), call)) == [("Hangup", {"Channel": ALICE_LEG})]
    assert actions(plan(ALICE, Hold(call_id=cid), call)) == [
        (
            "Redirect",
            {
                "Channel": CALLER,
                "Context": "cti-hold",
                "Exten": "s",
                "Priority": "1",
                "ExtraChannel": ALICE_LEG,
                "ExtraContext": "cti-hold-agent",
                "ExtraExten": "s",
                "ExtraPriority": "1",
            },
        )
    ]
    assert actions(plan(ALICE, Unhold(call_id=cid), call)) == [
        ("Bridge", {"Channel1": ALICE_LEG, "Channel2": CALLER})
    ]
    assert actions(plan(ALICE, Transfer(call_id=cid, target="1002"), call)) == [
        ("BlindTransfer", {"Channel": ALICE_LEG, "Context": "from-agents", "Exten": "1002"})
    ]
    assert actions(plan(ALICE, AttendedTransfer(call_id=cid, target="1002"), call)) == [
        ("Atxfer", {"Channel": ALICE_LEG, "Exten": "1002", "Context": "from-agents"})
    ]
    assert actions(plan(ALICE, SendDtmf(call_id=cid, digits="1#"), call)) == [
        ("PlayDTMF", {"Channel": CALLER, "Digit": "1"}),
        ("PlayDTMF", {"Channel": CALLER, "Digit": "#"}),
    ]


def _with_consultation(call: CallView) -> CallView:
    """An Atxfer in progress: Alice's leg in a new bridge with the Local;1 half."""
    alice = next(c for c in call.channels if c.name == ALICE_LEG)
    alice = replace(alice, bridge=CONSULT)
    local1 = ChannelView(
        ChannelId("100.5"),
        "Local/1002@from-agents-00000001;1",
        "other",
        "Up",
        None,
        None,
        CONSULT,
        True,
        "1001",
        "Alice",
        "1002",
        alice.created_at + 10,
    )
    local2 = replace(
        local1, channel=ChannelId("100.6"), name="Local/1002@from-agents-00000001;2", bridge=None
    )
    bob = replace(
        local1,
        channel=ChannelId("100.7"),
        name="PJSIP/1002-00000008",
        role="dialed",
        interface=Interface("PJSIP/1002"),
        bridge=None,
        created_at=alice.created_at + 11,
    )
    others = [c for c in call.channels if c.name != ALICE_LEG]
    return replace(call, channels=(*others, alice, local1, local2, bob))


def test_attended_transfer_complete_and_cancel_need_a_consultation() -> None:
    call = view()
    for command in (
        AttendedTransferComplete(call_id=QUEUE_CALL),
        AttendedTransferCancel(call_id=QUEUE_CALL),
    ):
        refusal = plan(ALICE, command, call)
        assert isinstance(refusal, Refusal)
        assert refusal.code == "invalid"
    consulting = _with_consultation(call)
    assert actions(plan(ALICE, AttendedTransferComplete(call_id=QUEUE_CALL), consulting)) == [
        ("Hangup", {"Channel": ALICE_LEG})
    ]
    assert actions(plan(ALICE, AttendedTransferCancel(call_id=QUEUE_CALL), consulting)) == [
        ("Hangup", {"Channel": "Local/1002@from-agents-00000001;1"})
    ]


@pytest.mark.parametrize(
    ("command", "options"),
    [(Listen, "q"), (Whisper, "qw"), (Barge, "qB")],
)
def test_spy_originates_chanspy_from_the_supervisor_phone(
    command: type[Listen | Whisper | Barge], options: str
) -> None:
    call = view()
    cmd = command(call_id=QUEUE_CALL)
    assert authorize(CAROL, cmd, call) is None
    ((name, fields),) = actions(plan(CAROL, cmd, call))
    assert name == "Originate"
    assert fields["Channel"] == "PJSIP/1003"
    assert fields["Application"] == "ChanSpy"
    assert fields["Data"] == f"PJSIP/1001-,{options}"
    assert fields["Async"] == "true"


def test_agents_act_only_on_their_calls_supervisors_on_their_queues() -> None:
    queue, sales, billing = view(QUEUE_CALL), view(SALES_CALL), view(BILLING_CALL)
    assert authorize(ALICE, Hold(call_id=QUEUE_CALL), queue) is None
    refusal = authorize(ALICE, Hold(call_id=SALES_CALL), sales)
    assert refusal is not None
    assert refusal.code == "not_your_call"
    refusal = authorize(ALICE, Listen(call_id=QUEUE_CALL), queue)
    assert refusal is not None
    assert refusal.code == "not_your_call"
    assert authorize(CAROL, Hangup(call_id=SALES_CALL), sales) is None
    assert authorize(CAROL, Barge(call_id=SALES_CALL), sales) is None
    for command in (Hangup(call_id=BILLING_CALL), Listen(call_id=BILLING_CALL)):
        refusal = authorize(CAROL, command, billing)
        assert refusal is not None
        assert refusal.code == "not_your_call"
    assert authorize(ADMIN, Whisper(call_id=BILLING_CALL), billing) is None
    refusal = authorize(ALICE, Hangup(call_id="9.9"), None)
    assert refusal is not None
    assert refusal.code == "call_gone"


def test_a_supervisor_acting_on_a_queue_call_uses_the_agent_leg() -> None:
    assert actions(plan(CAROL, Hangup(call_id=SALES_CALL), view(SALES_CALL))) == [
        ("Hangup", {"Channel": "PJSIP/1002-00000012"})
    ]


def test_a_call_with_nobody_else_cannot_be_held() -> None:
    call = view()
    alone = replace(call, channels=tuple(c for c in call.channels if c.name == ALICE_LEG))
    refusal = plan(ALICE, Hold(call_id=QUEUE_CALL), alone)
    assert isinstance(refusal, Refusal)
    assert refusal.code == "invalid"

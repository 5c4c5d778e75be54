"""CallControl against the fake Asterisk through a real AmiClient: results and refusals."""

from __future__ import annotations

import asyncio

import pytest
from control_tools import BILLING_CALL, QUEUE_CALL, SALES_CALL, control_actions, control_rig

from cti.control import Actor, CallControl
from cti.control.commands import (
    AttendedTransferComplete,
    Dial,
    Hangup,
    Hold,
    Listen,
    SendDtmf,
)
from cti.control.results import CommandDone, CommandFailed

ALICE = Actor("alice", "agent", "PJSIP/1001")
CAROL = Actor("carol", "supervisor", "PJSIP/1003", frozenset({"support", "sales"}))


async def test_asterisk_error_is_asterisk_refused_with_its_message() -> None:
    async with control_rig() as rig:
        # The fake has no such channel (the call lives only in the hand-fed model).
        result = await rig.control.execute(ALICE, Hangup(call_id=QUEUE_CALL))
        assert isinstance(result, CommandFailed)
        assert (result.code, result.http_status) == ("asterisk_refused", 502)
        assert result.message == "Hangup: No such channel"
        ((name, fields),) = control_actions(rig.fake)
        assert (name, fields["Channel"]) == ("hangup", "PJSIP/1001-00000002")


async def test_dtmf_stops_at_the_first_refused_digit() -> None:
    async with control_rig() as rig:
        result = await rig.control.execute(ALICE, SendDtmf(call_id=QUEUE_CALL, digits="123"))
        assert isinstance(result, CommandFailed)
        assert (result.code, result.sent) == ("asterisk_refused", 0)
        assert [a for a, _ in control_actions(rig.fake)] == ["playdtmf"]


async def test_no_answer_is_timeout() -> None:
    async with control_rig(action_timeout=0.2) as rig:
        rig.fake.set_silent(True)
        result = await rig.control.execute(ALICE, Hold(call_id=QUEUE_CALL))
        assert isinstance(result, CommandFailed)
        assert (result.code, result.http_status) == ("timeout", 504)
        assert "0.2s" in result.message


async def test_not_connected_sends_nothing() -> None:
    async with control_rig() as rig:
        await rig.client.close()
        result = await rig.control.execute(ALICE, Dial(number="5551234"))
        assert isinstance(result, CommandFailed)
        assert (result.code, result.http_status) == ("not_connected", 503)
        assert control_actions(rig.fake) == []


@pytest.mark.parametrize(
    ("actor", "command", "code"),
    [
        (ALICE, Hangup(call_id=SALES_CALL), "not_your_call"),
        (ALICE, Listen(call_id=QUEUE_CALL), "not_your_call"),
        (CAROL, Listen(call_id=BILLING_CALL), "not_your_call"),
        (CAROL, Hangup(call_id=BILLING_CALL), "not_your_call"),
        (ALICE, Hangup(call_id="9999.1"), "call_gone"),
        (ALICE, AttendedTransferComplete(call_id=QUEUE_CALL), "invalid"),
    ],
)
async def test_refusals_send_nothing(
    actor: Actor, command: Hangup | Listen | AttendedTransferComplete, code: str
) -> None:
    async with control_rig() as rig:
        result = await rig.control.execute(actor, command)
        assert isinstance(result, CommandFailed)
        assert result.code == code
        await asyncio.sleep(0.05)  # anything sent would have arrived by now
        assert control_actions(rig.fake) == []


async def test_supervisor_spy_is_an_originate_the_fake_accepts() -> None:
    async with control_rig() as rig:
        result = await rig.control.execute(CAROL, Listen(call_id=QUEUE_CALL))
        assert isinstance(result, CommandDone)
        assert (result.sent, result.message) == (1, "Originate successfully queued")
        ((name, fields),) = control_actions(rig.fake)
        assert (name, fields["Application"], fields["Data"]) == (
            "originate",
            "ChanSpy",
            "PJSIP/1001-,q",
        )


def test_service_takes_any_action_sender() -> None:
    # The protocol is structural: AmiClient satisfies it (checked by mypy too).
    from cti.ami.client import AmiClient

    CallControl(AmiClient("127.0.0.1", 1, "u", "p"), lambda _: None, action_timeout=1.0)

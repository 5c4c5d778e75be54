"""Transfers across calls: the customer's data follows them to the new agent's pop."""

from __future__ import annotations

from cti.ami.protocol import AmiParser, Event
from cti.ids import CallId, ChannelId, Interface, QueueName
from cti.model.events import (
    AgentAnswered,
    AgentRung,
    CallTransferred,
    ChannelCreated,
    ChannelHungUp,
    ChannelStateChanged,
    DialEnded,
    DialStarted,
    DomainEvent,
    IvrStepped,
    QueueJoined,
    QueueLeft,
    VariableSet,
)
from cti.model.from_ami import from_ami
from cti.model.model import Model
from cti.model.outputs import CallAnswered, CallEnded, Output, ScreenPop

L1, L2 = CallId("100.1"), CallId("200.1")
CALLER, ALICE_1 = ChannelId("100.1"), ChannelId("100.2")
ALICE_2, BOB_LEG = ChannelId("200.1"), ChannelId("200.2")
ALICE, BOB = Interface("PJSIP/1001"), Interface("PJSIP/1002")
SUPPORT = QueueName("support")


def feed(model: Model, events: list[DomainEvent], start: float = 0.0) -> list[Output]:
    out: list[Output] = []
    for i, event in enumerate(events):
        out += model.apply(event, start + i)
    return out


def customer_with_alice() -> list[DomainEvent]:
    return [
        ChannelCreated(CALLER, L1, "PJSIP/pstn-00000001", "Ring", "15551230001", "Grace", "800"),
        ChannelStateChanged(CALLER, L1, "Up"),
        VariableSet(CALLER, L1, "CTI_CUSTOMER_ID", "42"),
        IvrStepped(CALLER, L1, "account", (("Account", "23456"),)),
        QueueJoined(CALLER, L1, SUPPORT),
        ChannelCreated(ALICE_1, L1, "PJSIP/1001-00000002", "Down", "1001", "Alice", "s"),
        AgentRung(CALLER, L1, SUPPORT, ALICE, "Alice", ALICE_1, "PJSIP/1001-00000002"),
        ChannelStateChanged(ALICE_1, L1, "Up"),
        QueueLeft(CALLER, L1, SUPPORT),
        AgentAnswered(CALLER, L1, SUPPORT, ALICE, ALICE_1),
    ]


def alice_consults_bob() -> list[DomainEvent]:
    """Alice's phone calls Bob as a new call (another Linkedid); Bob answers."""
    return [
        ChannelCreated(ALICE_2, L2, "PJSIP/1001-00000003", "Ring", "1001", "Alice", "1002"),
        ChannelCreated(BOB_LEG, L2, "PJSIP/1002-00000004", "Down", "1002", "Bob", "s"),
        DialStarted(ALICE_2, L2, BOB_LEG, "PJSIP/1002-00000004", "1002", "Bob"),
        ChannelStateChanged(BOB_LEG, L2, "Ringing"),
        ChannelStateChanged(BOB_LEG, L2, "Up"),
        DialEnded(ALICE_2, L2, BOB_LEG, "ANSWER"),
    ]


def test_attended_transfer_across_calls_pops_the_target_with_the_customer_data() -> None:
    model = Model(devices=[ALICE, BOB])
    feed(model, customer_with_alice())
    consult = feed(model, alice_consults_bob(), start=50)
    (consult_pop,) = [o for o in consult if isinstance(o, ScreenPop)]
    assert (consult_pop.call_id, consult_pop.ivr_path) == (L2, ())  # only Alice calling
    done = model.apply(CallTransferred("attended", CALLER, L1, BOB_LEG, L2, (L1, L2)), 60.0)
    (pop,) = [o for o in done if isinstance(o, ScreenPop)]
    assert (pop.call_id, pop.interface, pop.agent_channel) == (L1, BOB, BOB_LEG)
    assert pop.customer_id == 42
    assert pop.account == "23456"
    assert [s.step for s in pop.ivr_path] == ["account"]
    assert pop.variables == (("CTI_CUSTOMER_ID", "42"),)
    (answered,) = [o for o in done if isinstance(o, CallAnswered)]
    assert (answered.call_id, answered.interface, answered.recipients) == (L1, BOB, (ALICE, BOB))
    # Asterisk hangs up both of Alice's legs; the consultation ends with its own record.
    ended = feed(
        model,
        [ChannelHungUp(ALICE_1, L1, "16", "s"), ChannelHungUp(ALICE_2, L2, "16", "1002")],
        start=61,
    )
    (consult_record,) = [o for o in ended if isinstance(o, CallEnded)]
    assert (consult_record.call_id, consult_record.recipients) == (L2, (BOB,))
    view = model.call(L1)
    assert view is not None
    assert {c.channel for c in view.channels} == {CALLER, BOB_LEG}
    final = feed(
        model,
        [ChannelHungUp(BOB_LEG, L2, "16", "s"), ChannelHungUp(CALLER, L1, "16", "800")],
        start=90,
    )
    (record,) = [o for o in final if isinstance(o, CallEnded)]
    assert record.call_id == L1
    assert record.parties == (ALICE, BOB)
    assert record.recipients == (ALICE, BOB)
    assert record.customer_id == 42


def test_attended_transfer_inside_one_call_changes_nothing() -> None:
    model = Model(devices=[ALICE, BOB])
    feed(model, customer_with_alice())
    assert model.apply(CallTransferred("attended", CALLER, L1, ALICE_1, L1, (L1,)), 9.0) == []


def test_blind_transfer_carries_data_the_customer_call_lacks() -> None:
    model = Model(devices=[ALICE, BOB])
    feed(model, customer_with_alice())
    feed(model, alice_consults_bob()[:1], start=50)  # a bare second call of Alice's
    model.apply(VariableSet(ALICE_2, L2, "CTI_NOTE", "vip"), 51.0)
    model.apply(VariableSet(ALICE_2, L2, "CTI_CUSTOMER_ID", "7"), 52.0)
    model.apply(CallTransferred("blind", CALLER, L1, None, None, (L2,)), 53.0)
    view = model.call(L1)
    assert view is not None
    assert dict(view.variables) == {"CTI_CUSTOMER_ID": "42", "CTI_NOTE": "vip"}
    assert view.customer_id == 42  # what the customer's call knew is kept


def _event(text: str) -> Event:
    parser = AmiParser()
    parser.feed(b"Asterisk Call Manager/11.0.0\r\n")
    (msg,) = parser.feed(text.replace("\n", "\r\n").encode() + b"\r\n")
    assert isinstance(msg, Event)
    return msg


def test_transfer_events_map_from_ami() -> None:
    attended = _event(
        "Event: AttendedTransfer\nPrivilege: call,all\nResult: Success\n"
        "OrigTransfererChannel: PJSIP/1001-00000002\nOrigTransfererUniqueid: 100.2\n"
        "OrigTransfererLinkedid: 100.1\nOrigBridgeUniqueid: b1\n"
        "SecondTransfererChannel: PJSIP/1001-00000003\nSecondTransfererUniqueid: 200.1\n"
        "SecondTransfererLinkedid: 200.1\n"
        "TransfereeChannel: PJSIP/pstn-00000001\nTransfereeUniqueid: 100.1\n"
        "TransfereeLinkedid: 100.1\n"
        "TransferTargetChannel: PJSIP/1002-00000004\nTransferTargetUniqueid: 200.2\n"
        "TransferTargetLinkedid: 200.1\nIsExternal: Yes\nDestType: Bridge\n"
        "DestBridgeUniqueid: b1\n"
    )
    assert from_ami(attended) == CallTransferred(
        "attended",
        CALLER,
        L1,
        BOB_LEG,
        L2,
        (L1, L2),
        transferer_name="PJSIP/1001-00000002",
        target_name="PJSIP/1002-00000004",
    )
    blind = _event(
        "Event: BlindTransfer\nPrivilege: call,all\nResult: Success\n"
        "TransfererChannel: PJSIP/1001-00000002\nTransfererUniqueid: 100.2\n"
        "TransfererLinkedid: 100.1\nBridgeUniqueid: b1\n"
        "TransfereeChannel: PJSIP/pstn-00000001\nTransfereeUniqueid: 100.1\n"
        "TransfereeLinkedid: 100.1\nIsExternal: Yes\nContext: from-agents\nExtension: 1002\n"
    )
    assert from_ami(blind) == CallTransferred(
        "blind",
        CALLER,
        L1,
        None,
        None,
        (L1,),
        transferer_name="PJSIP/1001-00000002",
        extension="1002",
    )
    failed = _event("Event: BlindTransfer\nResult: Fail\nTransfererLinkedid: 100.1\n")
    assert from_ami(failed) is None


def test_transfers_legs_and_ring_attempts_go_into_the_call_record() -> None:
    model = Model(devices=[ALICE, BOB])
    feed(model, customer_with_alice())
    feed(model, alice_consults_bob(), start=50)
    transfer = CallTransferred(
        "attended",
        CALLER,
        L1,
        BOB_LEG,
        L2,
        (L1, L2),
        transferer_name="PJSIP/1001-00000002",
        target_name="PJSIP/1002-00000004",
    )
    model.apply(transfer, 60.0)
    blind = CallTransferred(
        "blind",
        CALLER,
        L1,
        None,
        None,
        (L1,),
        transferer_name="PJSIP/1001-00000002",
        extension="2000",
    )
    model.apply(blind, 70.0)
    ended = feed(
        model,
        [
            ChannelHungUp(ALICE_1, L1, "16", "s"),
            ChannelHungUp(ALICE_2, L2, "16", "1002"),
            ChannelHungUp(BOB_LEG, L2, "16", "s"),
            ChannelHungUp(CALLER, L1, "16", "800"),
        ],
        start=90,
    )
    records = {o.call_id: o for o in ended if isinstance(o, CallEnded)}
    record = records[L1]
    assert [
        (t.kind, t.at, t.from_interface, t.to_interface, t.to_extension) for t in record.transfers
    ] == [
        ("attended", 60.0, ALICE, BOB, None),
        ("blind", 70.0, ALICE, None, "2000"),
    ]
    # every leg, in the order they joined the customer's call, with their times
    legs = [
        (leg.channel, leg.role, leg.interface, leg.answered_at, leg.ended_at) for leg in record.legs
    ]
    assert legs == [
        (CALLER, "caller", None, 1.0, 93.0),
        (ALICE_1, "agent", ALICE, 7.0, 90.0),
        (BOB_LEG, "dialed", BOB, 54.0, 92.0),
    ]
    rings = [(r.interface, r.rang_at, r.ended_at, r.result) for r in record.ring_attempts]
    assert rings == [(ALICE, 6.0, 7.0, "answered"), (BOB, 52.0, 54.0, "answered")]
    # the consultation's record keeps Bob's ring too, and no transfer of its own
    consult = records[L2]
    assert [(r.interface, r.result) for r in consult.ring_attempts] == [(BOB, "answered")]
    assert consult.transfers == ()
    assert record.to_json()["transfers"][0]["from_interface"] == ALICE

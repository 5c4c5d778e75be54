"""Screen-pop and call rules on hand-built event sequences (shapes as in the traces)."""

from __future__ import annotations

from model_tools import snapshot_of

from cti.ids import CallId, ChannelId, Interface, QueueName
from cti.model.events import (
    AgentAnswered,
    AgentRung,
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
from cti.model.model import Model
from cti.model.outputs import CallAnswered, CallEnded, Output, ScreenPop

CALL = CallId("100.1")
CALLER = ChannelId("100.1")
ALICE_LEG = ChannelId("100.2")
BOB_LEG = ChannelId("100.3")
ALICE = Interface("PJSIP/1001")
BOB = Interface("PJSIP/1002")
SUPPORT = QueueName("support")


def _feed(model: Model, events: list[DomainEvent], start: float = 0.0) -> list[Output]:
    out: list[Output] = []
    for i, ev in enumerate(events):
        out += model.apply(ev, start + i)
    return out


def _pops(out: list[Output]) -> list[ScreenPop]:
    return [o for o in out if isinstance(o, ScreenPop)]


def _queued_call() -> list[DomainEvent]:
    return [
        ChannelCreated(CALLER, CALL, "PJSIP/pstn-00000001", "Ring", "15551230001", "Cust", "800"),
        ChannelStateChanged(CALLER, CALL, "Up"),
        VariableSet(CALLER, CALL, "CTI_ACCOUNT", "777"),
        IvrStepped(CALLER, CALL, "menu", (("Choice", "2"),)),
        QueueJoined(CALLER, CALL, SUPPORT),
    ]


def _alice_answers() -> list[DomainEvent]:
    return [
        ChannelCreated(ALICE_LEG, CALL, "PJSIP/1001-00000002", "Down", "1001", "Alice", "s"),
        AgentRung(CALLER, CALL, SUPPORT, ALICE, "Alice Agent", ALICE_LEG, "PJSIP/1001-00000002"),
        DialStarted(CALLER, CALL, ALICE_LEG, "PJSIP/1001-00000002", "1001", "Alice"),
        ChannelStateChanged(ALICE_LEG, CALL, "Ringing"),
        ChannelStateChanged(ALICE_LEG, CALL, "Up"),
        DialEnded(CALLER, CALL, ALICE_LEG, "ANSWER"),
        QueueLeft(CALLER, CALL, SUPPORT),
        AgentAnswered(CALLER, CALL, SUPPORT, ALICE, ALICE_LEG),
    ]


def test_blind_transfer_pops_the_new_agent_with_the_data_gathered_earlier() -> None:
    model = Model(devices=[ALICE, BOB])
    out = _feed(model, [*_queued_call(), *_alice_answers()])
    assert [p.interface for p in _pops(out)] == [ALICE]
    # Alice transfers: her leg hangs up, the caller's channel dials Bob.
    later = _feed(
        model,
        [
            ChannelHungUp(ALICE_LEG, CALL, "16", "800"),
            ChannelCreated(BOB_LEG, CALL, "PJSIP/1002-00000003", "Down", "1002", "Bob", "s"),
            DialStarted(CALLER, CALL, BOB_LEG, "PJSIP/1002-00000003", "1002", "Bob"),
            ChannelStateChanged(BOB_LEG, CALL, "Ringing"),
            DialEnded(CALLER, CALL, BOB_LEG, "ANSWER"),
            ChannelHungUp(BOB_LEG, CALL, "16", "800"),
            ChannelHungUp(CALLER, CALL, "16", "800"),
        ],
        start=100,
    )
    (bob_pop,) = _pops(later)
    assert bob_pop.interface == BOB
    assert bob_pop.account == "777"
    assert bob_pop.queue == SUPPORT
    assert [s.step for s in bob_pop.ivr_path] == ["menu"]
    assert bob_pop.variables == (("CTI_ACCOUNT", "777"),)
    answered = [o for o in later if isinstance(o, CallAnswered)]
    assert [(a.interface, a.recipients) for a in answered] == [(BOB, (ALICE, BOB))]
    (ended,) = [o for o in later if isinstance(o, CallEnded)]
    assert ended.answered_by == ALICE
    assert ended.parties == (ALICE, BOB)
    assert ended.recipients == (ALICE, BOB)


def test_queue_dial_begin_before_agent_called_still_pops_once_with_the_queue() -> None:
    model = Model(devices=[ALICE])
    legs = _alice_answers()
    legs[1], legs[2] = legs[2], legs[1]  # DialBegin first
    out = _feed(model, [*_queued_call(), *legs])
    (pop,) = _pops(out)
    assert pop.interface == ALICE
    assert pop.queue == SUPPORT
    assert pop.member_name == "Alice Agent"


def test_a_leg_rebuilt_down_by_a_resync_pops_once_it_rings() -> None:
    reference = Model(devices=[ALICE])
    events = [*_queued_call(), *_alice_answers()[:2]]  # created and AgentCalled, still Down
    _feed(reference, events)
    snapshot = snapshot_of(reference, 10.0)
    live = Model(devices=[ALICE])
    out = live.apply_snapshot(snapshot, 10.0)
    assert _pops(out) == []
    call = live.calls()[0]
    assert call.state == "queued"
    assert call.queue == SUPPORT
    ringing = live.apply(ChannelStateChanged(ALICE_LEG, CALL, "Ringing"), 11.0)
    (pop,) = _pops(ringing)
    assert pop.late is True
    assert pop.interface == ALICE
    assert _pops(live.apply(ChannelStateChanged(ALICE_LEG, CALL, "Up"), 12.0)) == []


def test_dial_to_a_device_that_is_no_agents_does_not_pop() -> None:
    model = Model(devices=[ALICE])
    trunk = ChannelId("100.9")
    out = _feed(
        model,
        [
            ChannelCreated(CALLER, CALL, "PJSIP/1001-00000001", "Ring", "1001", "Alice", "9555"),
            DialStarted(CALLER, CALL, trunk, "PJSIP/pstn-00000009", "9555", ""),
            DialEnded(CALLER, CALL, trunk, "ANSWER"),
            ChannelHungUp(trunk, CALL, "16", ""),
            ChannelHungUp(CALLER, CALL, "16", ""),
        ],
    )
    assert _pops(out) == []
    (ended,) = [o for o in out if isinstance(o, CallEnded)]
    assert ended.parties == (ALICE,)
    assert ended.outcome == "answered"


def test_a_call_that_never_rang_anyone_failed() -> None:
    model = Model()
    out = _feed(model, [*_queued_call()[:4], ChannelHungUp(CALLER, CALL, "16", "800")])
    (ended,) = [o for o in out if isinstance(o, CallEnded)]
    assert ended.outcome == "failed"
    assert ended.account == "777"


def test_views_during_the_queue_wait() -> None:
    model = Model(devices=[ALICE])
    _feed(model, [*_queued_call(), *_alice_answers()[:4]])
    (call,) = model.calls()
    assert call.state == "queued"
    assert call.recipients == (ALICE,)
    (queue,) = model.queues()
    assert [w.caller_number for w in queue.waiting] == ["15551230001"]
    assert [m.interface for m in queue.members] == [ALICE]
    (agent,) = model.agents()
    assert (agent.interface, agent.state) == (ALICE, "ringing")
    assert call.to_json()["variables"] == {"CTI_ACCOUNT": "777"}
    assert agent.to_json()["state"] == "ringing"


def test_unknown_event_type_is_ignored() -> None:
    assert Model().apply("not an event", 1.0) == []  # type: ignore[arg-type]

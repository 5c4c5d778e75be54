"""Agent work states: the real traces, wrap-up timers on a fake clock, restarts."""

from __future__ import annotations

from typing import Any

from model_tools import devices, frames, of_type, outputs

from cti.ami.protocol import Event
from cti.ids import Interface, QueueName
from cti.model.events import MemberUpdated
from cti.model.from_ami import from_ami
from cti.model.model import Model
from cti.model.outputs import AgentStateChanged, Output, SetMemberPause

ALICE = Interface("PJSIP/1001")
BOB = Interface("PJSIP/1002")
SUPPORT = QueueName("support")


def states(items: list[dict[str, Any]], interface: str) -> list[tuple[str, str | None]]:
    return [
        (o["state"], o["reason"])
        for o in of_type(items, "agent_state")
        if o["interface"] == interface
    ]


def dedup(seq: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return [s for i, s in enumerate(seq) if i == 0 or seq[i - 1] != s]


def test_agent_state_trace_alice_paused_for_lunch_then_carol_in_and_out() -> None:
    out = outputs("agent_state")
    assert states(out, "PJSIP/1001") == [("paused", "lunch"), ("available", None)]
    assert states(out, "PJSIP/1003") == [("available", None), ("logged_out", None)]
    carol = [o for o in of_type(out, "agent_state") if o["interface"] == "PJSIP/1003"]
    assert list(carol[0]["queues"]) == ["support"]
    assert list(carol[1]["queues"]) == []
    # `since` is when each state began: the event's own time in a replay
    assert all(o["since"] == o["at"] for o in of_type(out, "agent_state"))


def test_ringnoanswer_trace_bob_on_break_alice_rings_twice() -> None:
    out = outputs("queue_ringnoanswer")
    assert states(out, "PJSIP/1002")[:2] == [("paused", "break"), ("available", None)]
    assert dedup(states(out, "PJSIP/1002"))[-3:] == [
        ("ringing", None),
        ("on_call", None),
        ("available", None),
    ]
    assert states(out, "PJSIP/1001") == [
        ("ringing", None),
        ("available", None),
        ("ringing", None),
        ("available", None),
    ]
    # Bob's queues grow (sales appears) while ringing: same state, same since
    bob = [o for o in of_type(out, "agent_state") if o["interface"] == "PJSIP/1002"]
    ringing = [o for o in bob if o["state"] == "ringing"]
    assert len(ringing) == 2
    assert ringing[0]["since"] == ringing[1]["since"] < ringing[1]["at"]
    assert not of_type(out, "set_member_pause")  # no wrap-up configured


def _feed(model: Model, name: str) -> tuple[list[Output], float]:
    out: list[Output] = []
    last = 0.0
    for at, message in frames(name):
        if isinstance(message, Event):
            event = from_ami(message)
            if event is not None:
                out += model.apply(event, at)
                last = at
    return out, last


def _agent_changes(out: list[Output], interface: str) -> list[AgentStateChanged]:
    return [o for o in out if isinstance(o, AgentStateChanged) and o.interface == interface]


def _member(paused: bool, reason: str = "", at_queue: QueueName = SUPPORT) -> MemberUpdated:
    return MemberUpdated(at_queue, ALICE, "Alice Agent", 1, paused, reason)


def wrapped_model(seconds: float = 30.0) -> tuple[Model, float]:
    model = Model(devices("queue_answered"), wrapup={"support": seconds})
    out, _end = _feed(model, "queue_answered")
    alice = _agent_changes(out, ALICE)
    assert [c.state for c in alice][-1] == "wrap_up"
    pauses = [o for o in out if isinstance(o, SetMemberPause)]
    assert pauses == [SetMemberPause(ALICE, True, "wrap-up", pauses[0].at)]
    # the timer starts at the hang-up; the state once app_queue says the
    # device is free (QueueMemberStatus), a fraction of a second later
    assert 0 <= alice[-1].since - pauses[0].at < 0.01
    return model, pauses[0].at


def test_wrap_up_starts_when_the_queue_call_ends_and_the_timer_ends_it() -> None:
    model, began = wrapped_model(30.0)
    view = model.agent(ALICE)
    assert view is not None
    assert view.state == "wrap_up"
    assert view.wrap_up_until == began + 30.0
    assert model.tick(began + 29.9) == []
    # Asterisk echoes the pause: still wrap-up, no new output
    assert model.apply(_member(True, "wrap-up"), began + 0.1) == []
    out = model.tick(began + 30.0)
    assert out == [SetMemberPause(ALICE, False, "", began + 30.0)]  # state waits for the echo
    changes = _agent_changes(model.apply(_member(False), began + 30.05), ALICE)
    assert [(c.state, c.since) for c in changes] == [("available", began + 30.05)]
    assert model.tick(began + 100) == []


def test_wrap_up_timer_ends_it_even_if_asterisk_never_paused() -> None:
    model, began = wrapped_model(10.0)
    out = model.tick(began + 10.0)
    assert out[0] == SetMemberPause(ALICE, False, "", began + 10.0)
    assert [(c.state, c.since) for c in _agent_changes(out, ALICE)] == [("available", began + 10.0)]


def test_end_wrap_up_early() -> None:
    model, began = wrapped_model(30.0)
    model.apply(_member(True, "wrap-up"), began + 0.1)
    # the shell unpaused in Asterisk already: the model only stops the timer
    assert model.end_wrap_up(ALICE, began + 5, unpause=False) == []
    out = model.apply(_member(False), began + 5.05)
    assert [c.state for c in _agent_changes(out, ALICE)] == ["available"]
    assert model.tick(began + 31) == []  # no late unpause


def test_wrap_up_lifted_in_asterisk_ends_it() -> None:
    model, began = wrapped_model(30.0)
    model.apply(_member(True, "wrap-up"), began + 0.1)
    out = model.apply(_member(False), began + 3)  # unpaused from the CLI
    assert [c.state for c in _agent_changes(out, ALICE)] == ["available"]
    assert model.tick(began + 31) == []


def test_a_real_pause_during_wrap_up_wins_and_is_never_unpaused_by_the_timer() -> None:
    model, began = wrapped_model(30.0)
    out = model.apply(_member(True, "lunch"), began + 2)
    assert [(c.state, c.reason) for c in _agent_changes(out, ALICE)] == [("paused", "lunch")]
    assert model.tick(began + 31) == []


def test_no_wrap_up_for_a_queue_without_one_or_a_paused_agent() -> None:
    model = Model(devices("queue_answered"), wrapup={"sales": 30})
    out, _ = _feed(model, "queue_answered")
    assert [c.state for c in _agent_changes(out, ALICE)][-1] == "available"
    assert not [o for o in out if isinstance(o, SetMemberPause)]


def test_a_wrap_up_pause_without_timer_is_timed_from_the_restored_since() -> None:
    # the CTI restarted during Alice's wrap-up: the store says since 1000.0
    model = Model([ALICE], wrapup={"support": 30})
    model.restore_agent_states([(ALICE, "wrap_up", None, 1000.0)])
    out = model.apply(_member(True, "wrap-up"), 1010.0)
    assert [(c.state, c.since) for c in _agent_changes(out, ALICE)] == [("wrap_up", 1000.0)]
    assert model.tick(1029.0) == []
    assert model.tick(1030.0)[0] == SetMemberPause(ALICE, False, "", 1030.0)


def test_restored_since_is_kept_only_when_the_state_is_the_same() -> None:
    model = Model([ALICE, BOB])
    model.restore_agent_states([(ALICE, "paused", "lunch", 500.0), (BOB, "paused", "break", 600.0)])
    out = model.apply(_member(True, "lunch"), 900.0)
    out += model.apply(MemberUpdated(SUPPORT, BOB, "Bob Agent", 1, False, ""), 900.0)
    assert [(c.interface, c.state, c.since) for c in out if isinstance(c, AgentStateChanged)] == [
        (ALICE, "paused", 500.0),
        (BOB, "available", 900.0),
    ]

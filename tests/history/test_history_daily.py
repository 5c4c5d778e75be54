"""Per-agent daily stats (pure): spells clipped at the day's bounds, talk from
the agent's own legs, ring-no-answers from the ring attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cti.history import HistoryEntry, StateSpell, daily_stats
from cti.ids import ChannelId, Interface, QueueName
from cti.model.outputs import CallLeg, RingAttempt

ALICE, BOB = Interface("PJSIP/1001"), Interface("PJSIP/1002")
DAY = datetime(2025, 11, 28, tzinfo=UTC)
END = DAY + timedelta(days=1)
E0 = DAY.timestamp()


def _at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


def _leg(channel: str, interface: Interface | None, role: str, up: float, down: float) -> CallLeg:
    return CallLeg(
        ChannelId(channel), f"PJSIP/{channel}", role, interface, "", "", up - 5, up, down
    )


def _ring(interface: Interface, result: str, at: float) -> RingAttempt:
    return RingAttempt(interface, ChannelId(f"r{at}"), QueueName("support"), at, at + 6, result)


def _entry(
    call_id: str, agent: Interface | None, legs: tuple[CallLeg, ...], rings: tuple[RingAttempt, ...]
) -> HistoryEntry:
    return HistoryEntry(
        call_id=call_id,
        caller_number="155",
        caller_name="",
        dialed_number="800",
        queue="support",
        agent=agent,
        outcome="answered" if agent else "abandoned",
        ivr_path=(),
        variables=(),
        account=None,
        customer_id=None,
        started_at=_at(9),
        answered_at=None,
        ended_at=_at(9.1),
        wait_seconds=None,
        talk_seconds=None,
        involved=tuple(
            {r.interface for r in rings} | {leg.interface for leg in legs if leg.interface}
        ),
        legs=legs,
        ring_attempts=rings,
        transfers=(),
        disposition=None,
    )


def test_talk_handled_and_ring_no_answers_are_the_agents_own() -> None:
    t = E0 + 9 * 3600
    calls = [
        # Alice rung twice without answer, then Bob answered and talked 120 s
        _entry(
            "a",
            BOB,
            (_leg("c", None, "caller", t, t + 200), _leg("b", BOB, "agent", t + 20, t + 140)),
            (
                _ring(ALICE, "no_answer", t),
                _ring(ALICE, "no_answer", t + 7),
                _ring(BOB, "answered", t + 14),
            ),
        ),
        # Alice answered, talked 30 s, then Bob took the call for 45 s (attended transfer)
        _entry(
            "b",
            ALICE,
            (
                _leg("a1", ALICE, "agent", t + 500, t + 530),
                _leg("b1", BOB, "dialed", t + 520, t + 565),
            ),
            (_ring(ALICE, "answered", t + 495),),
        ),
    ]
    spells = [StateSpell("wrap_up", None, _at(9.2), _at(9.2) + timedelta(seconds=30))]
    bob = daily_stats(BOB, DAY, END, calls, spells, now=END)
    assert (bob.calls, bob.calls_handled, bob.ring_no_answers) == (2, 1, 0)
    # handled: only the call Bob answered a ring for; his transfer leg is talk on a
    # call he did not handle, so it is not counted in his talk time either
    assert bob.talk_seconds == 120.0
    assert bob.wrap_up_seconds == 30.0
    assert bob.average_handle_seconds == 150.0
    alice = daily_stats(ALICE, DAY, END, calls, [], now=END)
    assert (alice.calls_handled, alice.ring_no_answers, alice.talk_seconds) == (1, 2, 30.0)
    assert alice.average_handle_seconds == 30.0


def test_state_spells_are_clipped_to_the_day_and_an_open_one_to_now() -> None:
    spells = [
        StateSpell("available", None, DAY - timedelta(hours=2), _at(1)),  # from yesterday
        StateSpell("paused", "lunch", _at(1), _at(2)),
        StateSpell("paused", "break", _at(2), _at(2.25)),
        StateSpell("available", None, _at(2.25), _at(23)),
        StateSpell("logged_out", None, _at(23), None),  # still open
    ]
    stats = daily_stats(ALICE, DAY, END, [], spells, now=_at(23.5))
    assert stats.state_seconds == {
        "available": 3600 + 20.75 * 3600,
        "logged_out": 1800.0,
        "paused": 1.25 * 3600,
    }
    assert stats.paused_seconds_by_reason == {"break": 900.0, "lunch": 3600.0}
    assert (stats.calls_handled, stats.average_handle_seconds) == (0, None)
    # the same open spell, read the day after: clipped at the day's end
    later = daily_stats(ALICE, DAY, END, [], spells, now=END + timedelta(hours=5))
    assert later.state_seconds["logged_out"] == 3600.0
    # and the next day gets the rest of it only
    next_day = daily_stats(
        ALICE, END, END + timedelta(days=1), [], spells, now=END + timedelta(hours=5)
    )
    assert next_day.state_seconds == {"logged_out": 5 * 3600.0}

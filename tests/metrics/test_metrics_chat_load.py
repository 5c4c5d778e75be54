"""Customer web chats count toward occupancy (docs/metrics.md, "Agents and occupancy"):
while an agent holds at least one open chat, available/ringing time is contact.

The expected values are computed apart from the core: by hand for the small
cases, and for a generated day by sampling every second of the timeline and
classifying it from the definition alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from metrics_tools import state

from cti.metrics import QueueMetrics
from cti.metrics.chat_load import ChatAssigned, ChatLoadEvent, ChatReleased, chat_load_event
from cti.metrics.metrics import SLIDING_WINDOWS
from cti.model.outputs import AgentStateChanged

T0 = 1_795_860_000.0  # a minute boundary
ALICE, BOB = "PJSIP/1001", "PJSIP/1002"
SUPPORT = ("support",)


def test_available_time_holding_a_chat_is_contact_once_whatever_the_number_of_chats() -> None:
    m = QueueMetrics()
    m.apply(state(ALICE, "available", T0, SUPPORT))
    assert m.apply(ChatAssigned(1, ALICE, T0 + 10)) == {"support"}  # idle -> contact
    assert m.apply(ChatAssigned(2, ALICE, T0 + 20)) == set()  # still contact
    assert m.apply(ChatAssigned(2, ALICE, T0 + 25)) == set()  # a repeat changes nothing
    m.apply(ChatReleased(1, T0 + 30))
    assert m.apply(ChatReleased(2, T0 + 50)) == {"support"}  # contact -> idle
    assert m.apply(ChatReleased(2, T0 + 55)) == set()
    today = m.board("support", T0 + 60).today
    # idle 0-10 and 50-60; contact 10-50 (two chats at once count once)
    assert (today.contact_seconds, today.idle_seconds) == (40.0, 20.0)
    assert today.occupancy == round(100 * 40 / 60, 3)


def test_a_call_while_chatting_counts_once_and_paused_time_stays_out() -> None:
    m = QueueMetrics()
    m.apply(state(ALICE, "available", T0, SUPPORT))
    m.apply(ChatAssigned(7, ALICE, T0 + 5))
    m.apply(state(ALICE, "ringing", T0 + 10, SUPPORT))  # ringing with a chat: handling
    m.apply(state(ALICE, "on_call", T0 + 15, SUPPORT))  # call + chat: contact, once
    m.apply(state(ALICE, "paused", T0 + 45, SUPPORT, reason="lunch"))  # out of occupancy
    m.apply(state(ALICE, "available", T0 + 65, SUPPORT))
    m.apply(ChatReleased(7, T0 + 70))
    today = m.board("support", T0 + 80).today
    # idle 0-5 and 70-80; contact 5-45 and 65-70; paused 45-65 in neither
    assert (today.contact_seconds, today.idle_seconds) == (45.0, 15.0)


def test_a_transfer_moves_the_load_and_a_chat_known_before_the_agent_counts() -> None:
    m = QueueMetrics()
    m.apply(ChatAssigned(3, BOB, T0))  # Bob's first state is not known yet
    m.apply(state(ALICE, "available", T0, SUPPORT))
    m.apply(state(BOB, "available", T0 + 10, SUPPORT))  # holds chat 3 from here
    m.apply(ChatAssigned(4, ALICE, T0 + 20))
    assert m.apply(ChatAssigned(4, BOB, T0 + 30)) == {"support"}  # Alice -> Bob
    m.apply(ChatReleased(3, T0 + 40))
    # the spells in progress at board time count too: Bob holds chat 4, Alice none
    today = m.board("support", T0 + 50).today
    alice_contact, alice_idle = 10.0, 40.0  # 20-30 with chat 4
    bob_contact, bob_idle = 40.0, 0.0  # chats 3 and 4 all along, from 10
    assert today.contact_seconds == alice_contact + bob_contact
    assert today.idle_seconds == alice_idle + bob_idle


def test_chat_load_event_from_a_web_chat_state() -> None:
    @dataclass
    class Chat:
        conversation_id: int
        agent: str | None
        agent_interface: str | None
        ended: bool = False

    assert chat_load_event(Chat(5, "alice", ALICE), T0) == ChatAssigned(5, ALICE, T0)
    assert chat_load_event(Chat(5, "alice", ALICE, ended=True), T0) == ChatReleased(5, T0)
    assert chat_load_event(Chat(5, None, None), T0) == ChatReleased(5, T0)  # waiting
    assert chat_load_event(Chat(5, "ada", None), T0) == ChatReleased(5, T0)  # no phone


# -- a generated day, checked second by second ----------------------------------------

# available drawn more often: it is where chats change the classification
STATES = ("available", "available", "ringing", "on_call", "wrap_up", "paused", "logged_out")
CONTACT, IDLE = {"on_call", "wrap_up"}, {"available", "ringing"}


def _scenario(seed: int, seconds: int) -> list[AgentStateChanged | ChatLoadEvent]:
    """Random state changes and chat moves of two agents, at whole seconds."""
    rng = random.Random(seed)
    events: list[AgentStateChanged | ChatLoadEvent] = [
        state(ALICE, "available", T0, SUPPORT),
        state(BOB, "paused", T0, SUPPORT, reason="x"),
    ]
    for t in range(1, seconds):
        at = T0 + t
        roll = rng.random()
        if roll < 0.04:
            agent = rng.choice((ALICE, BOB))
            events.append(state(agent, rng.choice(STATES), at, SUPPORT, reason="x"))
        elif roll < 0.08:
            conversation = rng.randint(1, 4)
            if rng.random() < 0.6:
                events.append(ChatAssigned(conversation, rng.choice((ALICE, BOB)), at))
            else:
                events.append(ChatReleased(conversation, at))
    return events


def _expected(events: list[AgentStateChanged | ChatLoadEvent], until: int) -> tuple[float, float]:
    """(contact, idle) seconds from the definition: sample the middle of every second."""
    timeline: dict[int, list[AgentStateChanged | ChatLoadEvent]] = {}
    for e in events:
        timeline.setdefault(round(e.at - T0), []).append(e)
    states: dict[str, str] = {}
    holder: dict[int, str] = {}  # conversation -> agent device
    contact = idle = 0.0
    for t in range(until):
        for e in timeline.get(t, []):
            if isinstance(e, AgentStateChanged):
                states[str(e.interface)] = e.state
            elif isinstance(e, ChatAssigned):
                holder[e.conversation_id] = e.interface
            else:
                holder.pop(e.conversation_id, None)
        for agent, now in states.items():
            chatting = agent in holder.values()
            if now in CONTACT or (now in IDLE and chatting):
                contact += 1
            elif now in IDLE:
                idle += 1
    return contact, idle


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_generated_timeline_matches_the_definition_second_by_second(seed: int) -> None:
    seconds = 600  # 10 minutes: inside every window
    events = _scenario(seed, seconds)
    m = QueueMetrics()
    m.apply_all(events)
    contact, idle = _expected(events, seconds)
    # the scenario exercises both, and chats move time from idle to contact
    assert idle > 0
    assert contact > _expected([e for e in events if isinstance(e, AgentStateChanged)], seconds)[0]
    board = m.board("support", T0 + seconds)
    for window in (board.today, board.last_15_min, board.last_60_min):
        assert window.contact_seconds == pytest.approx(contact)
        assert window.idle_seconds == pytest.approx(idle)
    assert max(SLIDING_WINDOWS) * 60 >= seconds

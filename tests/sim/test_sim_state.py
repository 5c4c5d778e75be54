"""The simulator's live state answers list actions truthfully, between events."""

from __future__ import annotations

from sim_tools import drain, lab_traffic, parse

from cti.ami.protocol import Event
from cti.sim.calls import AgentConfig, CallFlow, QueueConfig
from cti.sim.state import SimState
from cti.sim.traffic import Traffic


def _fields(frames: list[bytes], name: str) -> list[dict[str, str]]:
    return [dict(e.fields) for e in parse(frames) if e.name == name]


def test_queue_counters_follow_answered_and_abandoned_calls() -> None:
    traffic = lab_traffic()
    traffic.add_call(CallFlow(agents=("PJSIP/1001",), talk_time=8.0), 0.0)
    traffic.add_call(CallFlow(outcome="abandon", agents=("PJSIP/1002",)), 1.0)
    drain(traffic)
    [params, _] = [f for f in _fields(traffic.state.queue_status("a", traffic.now), "QueueParams")]
    assert params["Queue"] == "support"
    assert (params["Completed"], params["Abandoned"], params["Calls"]) == ("1", "1", "0")
    assert params["TalkTime"] == "2"  # app_queue's running average: (0*3 + 8) / 4
    members = _fields(traffic.state.queue_status("a", traffic.now, "support"), "QueueMember")
    alice = next(m for m in members if m["Location"] == "PJSIP/1001")
    assert (alice["CallsTaken"], alice["InCall"], alice["Status"]) == ("1", "0", "1")
    summary = _fields(traffic.state.queue_summary("a", traffic.now, "support"), "QueueSummary")
    assert summary[0]["Available"] == "2"


def test_second_caller_gets_position_two_and_waits() -> None:
    traffic = lab_traffic()
    traffic.add_call(CallFlow(agents=("PJSIP/1001",), talk_time=30.0), 0.0)
    traffic.add_call(CallFlow(queue="support", caller_num="15550000002"), 0.5)
    frames = traffic.advance(9.0)  # both callers have reached the queue
    joins = _fields(frames, "QueueCallerJoin")
    assert [(j["Position"], j["Count"]) for j in joins] == [("1", "1"), ("1", "1")]
    # The first was answered at once, so the second is alone; Bob (free) takes it.
    called = _fields(frames, "AgentCalled")
    assert [c["Interface"] for c in called] == ["PJSIP/1001", "PJSIP/1002"]


def test_no_free_agent_means_waiting_then_abandon_without_ringing() -> None:
    agents = (AgentConfig("PJSIP/1001", "Alice Agent", ("support",), paused=True),)
    queues = (QueueConfig("support", max_wait=5.0),)
    traffic = Traffic(SimState(agents, queues), agents, queues)
    traffic.add_call(CallFlow(), 0.0)
    events = parse(drain(traffic))
    names = [e.name for e in events]
    assert "AgentCalled" not in names
    assert "QueueCallerAbandon" in names
    abandon = next(e for e in events if e.name == "QueueCallerAbandon")
    assert int(abandon.fields["HoldTime"]) >= 5
    assert not traffic.state.channels


def test_hangup_of_a_waiting_caller_abandons() -> None:
    traffic = lab_traffic()
    traffic.state.pause("PJSIP/1001", True, None, "", 0.0)
    traffic.state.pause("PJSIP/1002", True, None, "", 0.0)
    call = traffic.add_call(CallFlow(), 0.0)
    frames = traffic.advance(20.0)
    assert _fields(frames, "QueueCallerJoin")
    caller = next(c for c in traffic.state.channels if c.startswith("PJSIP/pstn-"))
    assert traffic.hangup(caller)
    events = parse(drain(traffic))
    assert [e.name for e in events if e.name.startswith("QueueCaller")] == [
        "QueueCallerAbandon",
        "QueueCallerLeave",
    ]
    assert all(isinstance(e, Event) and e.fields.get("Linkedid", call) == call for e in events)
    assert not traffic.state.channels


def test_hangup_during_the_ivr_tears_down_the_caller_only() -> None:
    traffic = lab_traffic()
    traffic.add_call(CallFlow(), 0.0)
    frames = traffic.advance(3.0)  # welcome played, menu being read
    caller = next(iter(traffic.state.channels))
    assert traffic.hangup(caller)
    events = parse(frames + drain(traffic))
    tail = [e.name for e in events if e.name != "VarSet"][-4:]
    assert tail == ["HangupRequest", "SoftHangupRequest", "Hangup", "DeviceStateChange"]
    assert not any(e.name.startswith("Queue") for e in events)
    assert not traffic.state.channels
    assert traffic.active_calls == 0

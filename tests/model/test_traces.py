"""Replay every recorded Asterisk 22 trace and check what really happened
(the table in ../shared/traces/README.md)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from model_tools import ALL_TRACES, of_type, outputs, trace, write_wire

from cti.replay import replay

ALICE = "PJSIP/1001"
BOB = "PJSIP/1002"
CAROL = "PJSIP/1003"


def _one_call(out: list[dict[str, Any]]) -> dict[str, Any]:
    ended = of_type(out, "call_ended")
    assert len(ended) == 1, ended
    return ended[0]


def _steps(pop: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    return [(s["step"], s["values"]) for s in pop["ivr_path"]]


def test_every_trace_is_covered() -> None:
    assert set(ALL_TRACES) == {
        "agent_state",
        "ari_stasis_ivr",
        "click_to_dial",
        "internal_call",
        "load_bulk",
        "queue_abandon",
        "queue_answered",
        "queue_ringnoanswer",
        "snapshot_mid_call",
    }


def test_queue_answered() -> None:
    out = outputs("queue_answered")
    pops = of_type(out, "screen_pop")
    assert [p["interface"] for p in pops] == [ALICE]
    pop = pops[0]
    assert pop["caller_number"] == "15551230001"
    assert pop["dialed_number"] == "18005550100"
    assert pop["queue"] == "support"
    assert pop["account"] == "23456"
    assert pop["member_name"] == "Alice Agent"
    assert pop["late"] is False
    assert _steps(pop) == [
        ("welcome", {}),
        ("menu", {"Choice": "1"}),
        ("account", {"Account": "23456"}),
    ]
    assert pop["variables"] == {
        "CTI_ACCOUNT": "23456",
        "CTI_DNIS": "18005550100",
        "CTI_MENU": "1",
    }
    assert pop["waited_seconds"] is not None
    assert 0 <= pop["waited_seconds"] < 1
    answered = of_type(out, "call_answered")
    assert [(a["interface"], a["recipients"]) for a in answered] == [(ALICE, (ALICE,))]
    # a pop always goes out before its call's "answered"
    assert out.index(pop) < out.index(answered[0])
    call = _one_call(out)
    assert call["outcome"] == "answered"
    assert call["answered_by"] == ALICE
    assert call["parties"] == (ALICE,)
    assert call["queue"] == "support"
    assert call["account"] == "23456"
    assert call["ring_no_answer"] == ()
    assert call["talk_seconds"] == pytest.approx(2.26, abs=0.05)  # "about 2 s of talk"
    assert call["duration_seconds"] == pytest.approx(12.1449 - 1.4958, abs=0.01)
    assert call["ended_by_resync"] is False


def test_queue_ringnoanswer() -> None:
    out = outputs("queue_ringnoanswer")
    pops = of_type(out, "screen_pop")
    # Alice is rung twice (two agent channels), then Bob: one pop per ring.
    assert [p["interface"] for p in pops] == [ALICE, ALICE, BOB]
    assert len({p["agent_channel"] for p in pops}) == 3
    assert all(p["account"] == "23456" and p["queue"] == "support" for p in pops)
    # Bob's pop carries the whole wait so far (about 14 s)
    assert pops[2]["waited_seconds"] == pytest.approx(14.06, abs=0.1)
    answered = of_type(out, "call_answered")
    assert [a["interface"] for a in answered] == [BOB]
    assert answered[0]["recipients"] == (ALICE, BOB)
    call = _one_call(out)
    assert call["outcome"] == "answered"
    assert call["answered_by"] == BOB
    assert call["ring_no_answer"] == (ALICE, ALICE)
    # each of Alice's pops is closed when the queue moves on
    rings_ended = of_type(out, "ring_ended")
    assert [(r["interface"], r["reason"]) for r in rings_ended] == [(ALICE, "no_answer")] * 2
    assert [r["agent_channel"] for r in rings_ended] == [p["agent_channel"] for p in pops[:2]]
    assert call["parties"] == (BOB,)
    assert call["talk_seconds"] == pytest.approx(12.2, abs=0.1)
    bob = [(s["state"], s["reason"]) for s in of_type(out, "agent_state") if s["interface"] == BOB]
    assert bob[0] == ("paused", "break")
    assert ("available", None) in bob
    assert "on_call" in [state for state, _ in bob]


def test_queue_abandon() -> None:
    out = outputs("queue_abandon")
    assert [p["interface"] for p in of_type(out, "screen_pop")] == [ALICE]
    assert of_type(out, "call_answered") == []
    assert [(r["interface"], r["reason"]) for r in of_type(out, "ring_ended")] == [
        (ALICE, "cancelled")
    ]
    call = _one_call(out)
    assert call["outcome"] == "abandoned"
    assert call["answered_by"] is None
    assert call["answered_at"] is None
    assert call["talk_seconds"] is None
    assert call["wait_seconds"] == pytest.approx(1.27, abs=0.05)  # HoldTime: 1
    queue_states = of_type(out, "queue_state")
    assert queue_states[-1]["waiting"] == 0


def test_internal_call() -> None:
    out = outputs("internal_call")
    pops = of_type(out, "screen_pop")
    assert [p["interface"] for p in pops] == [BOB]
    assert pops[0]["caller_number"] == "1001"
    assert pops[0]["dialed_number"] == "1002"
    assert pops[0]["queue"] is None
    call = _one_call(out)
    assert call["outcome"] == "answered"
    assert call["answered_by"] == BOB
    assert call["parties"] == (ALICE, BOB)
    assert call["caller_number"] == "1001"
    assert call["talk_seconds"] == pytest.approx(4.0, abs=0.1)


def test_internal_call_without_known_agents_does_not_pop() -> None:
    # Live, the agents table names the devices; with none, a dialed phone is
    # not known to be an agent's and nobody is popped.
    out = list(replay(trace("internal_call"), devices=[]))
    assert of_type(out, "screen_pop") == []
    assert _one_call(out)["outcome"] == "answered"


def test_click_to_dial() -> None:
    out = outputs("click_to_dial")
    assert of_type(out, "screen_pop") == []  # Alice's own phone rings first: no pop
    assert of_type(out, "call_answered") == []
    call = _one_call(out)
    assert call["variables"] == {"CTI_ORIGIN": "click-to-dial"}
    assert call["dialed_number"] == "95551234"
    assert call["caller_number"] == "1001"
    assert call["parties"] == (ALICE,)
    assert call["outcome"] == "answered"
    assert call["answered_by"] == ALICE
    assert call["talk_seconds"] == pytest.approx(3.0, abs=0.1)


def test_agent_state() -> None:
    out = outputs("agent_state")
    states = [
        (s["interface"], s["state"], s["reason"], s["queues"]) for s in of_type(out, "agent_state")
    ]
    assert states == [
        (ALICE, "paused", "lunch", ("support",)),
        (ALICE, "available", None, ("support",)),
        (CAROL, "available", None, ("support",)),
        (CAROL, "logged_out", None, ()),
    ]
    members = [q["members"] for q in of_type(out, "queue_state")]
    assert (ALICE, CAROL) in members
    assert members[-1] == (ALICE,)


def test_snapshot_mid_call() -> None:
    out = outputs("snapshot_mid_call")
    pops = of_type(out, "screen_pop")
    assert len(pops) == 1
    pop = pops[0]
    assert pop["interface"] == ALICE
    assert pop["late"] is True
    assert pop["call_id"] == "1795860394.19"
    assert pop["caller_number"] == "15551230001"
    assert pop["dialed_number"] == "18005550100"
    assert pop["queue"] == "support"
    answered = of_type(out, "call_answered")
    assert [(a["call_id"], a["interface"]) for a in answered] == [("1795860394.19", ALICE)]
    alice = [s for s in of_type(out, "agent_state") if s["interface"] == ALICE]
    assert alice[-1]["state"] == "on_call"
    assert of_type(out, "call_ended") == []


def test_snapshot_mid_call_rebuilds_the_views() -> None:
    from model_tools import devices, frames

    from cti.replay import Replayer

    runner = Replayer()
    for d in devices("snapshot_mid_call"):
        runner.model.add_device(d)
    wire = b"".join(
        json.loads(line)["raw"].encode()
        for line in trace("snapshot_mid_call").read_text().splitlines()
    )
    runner.feed(wire, 0.0318)
    calls = {str(c.call_id): c for c in runner.model.calls()}
    call = calls["1795860394.19"]
    assert call.state == "answered"
    assert call.queue == "support"
    assert call.answered_by == ALICE
    assert call.started_at == pytest.approx(0.0318 - 12)
    roles = {c.name: c.role for c in call.channels}
    assert roles == {"PJSIP/pstn-00000013": "caller", "PJSIP/1001-00000014": "agent"}
    assert {c.bridge for c in call.channels} == {"7f3a36fa-657c-4890-b93e-a298cdca190d"}
    # Carol's ChanSpy session is a call of its own, with no pop
    assert "1795860375.18" in calls
    agents = {str(a.interface): a for a in runner.model.agents()}
    assert agents[ALICE].state == "on_call"
    assert agents[ALICE].device_state == "INUSE"
    assert agents[BOB].state == "available"
    assert agents[BOB].queues == ("support", "sales")
    queues = {str(q.queue): q for q in runner.model.queues()}
    assert [m.interface for m in queues["support"].members] == [ALICE, BOB]
    assert queues["support"].waiting == ()
    assert frames("snapshot_mid_call")  # the helper reads the same file
    json.dumps([c.to_json() for c in calls.values()])
    json.dumps([q.to_json() for q in queues.values()])


def test_ari_stasis_ivr() -> None:
    """Both streams: Alice gets a pop with customer 42, the data dip's answer."""
    out = outputs("ari_stasis_ivr")
    pops = of_type(out, "screen_pop")
    assert [p["interface"] for p in pops] == [ALICE]
    assert pops[0]["customer_id"] == 42
    assert pops[0]["caller_number"] == "sipp"  # the number alone would find nobody
    assert _steps(pops[0]) == [("stasis-done", {"Customer": "42"})]
    assert pops[0]["variables"]["CTI_CUSTOMER_ID"] == "42"
    assert pops[0]["dialed_number"] == "18005550155"
    call = _one_call(out)
    assert call["answered_by"] == ALICE
    assert call["talk_seconds"] == pytest.approx(7.2, abs=0.1)


def test_load_bulk() -> None:
    out = outputs("load_bulk")
    ended = of_type(out, "call_ended")
    assert len(ended) == 100
    assert len({c["call_id"] for c in ended}) == 100
    assert Counter(c["outcome"] for c in ended) == {"answered": 100}
    pops = of_type(out, "screen_pop")
    keys = [(p["call_id"], p["agent_channel"]) for p in pops]
    assert len(keys) == len(set(keys)) == 100
    by_call = {c["call_id"]: c for c in ended}
    for pop in pops:
        call = by_call[pop["call_id"]]
        assert pop["interface"] in call["recipients"]
        assert call["answered_by"] == pop["interface"]
        assert pop["queue"] == "bulk"
        assert pop["interface"].startswith("Local/")
        assert pop["interface"].endswith("/n")
    assert all(2 <= c["talk_seconds"] <= 7 for c in ended)


@pytest.mark.parametrize("name", ALL_TRACES)
def test_replay_is_deterministic_and_json_ready(name: str) -> None:
    first = outputs(name)
    second = outputs(name)
    assert first == second
    lines = [json.dumps(o, sort_keys=True) for o in first]
    assert lines == [json.dumps(o, sort_keys=True) for o in second]
    for pop in of_type(first, "screen_pop"):
        assert pop["type"] == "screen_pop"
        assert "/" in pop["interface"]


@pytest.mark.parametrize("name", ALL_TRACES)
def test_raw_ami_format_gives_the_same_events(name: str, tmp_path: Path) -> None:
    wire = write_wire(name, tmp_path / f"{name}.ami")
    raw = list(replay(wire, fmt="ami"))
    jsonl = outputs(name)

    def shape(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [
            (o["type"], str(o.get("interface") or o.get("queue") or o.get("call_id")))
            for o in items
        ]

    assert shape(raw) == shape(jsonl)
    assert raw == list(replay(wire, fmt="ami"))  # the virtual clock is deterministic


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown trace format"):
        list(replay(trace("agent_state"), fmt="pcap"))

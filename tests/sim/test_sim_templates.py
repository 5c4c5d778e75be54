"""The committed templates are what cti.sim.extract cuts from the traces today."""

from __future__ import annotations

from trace_paths import TRACES

from cti.sim._templates import SEGMENTS
from cti.sim.extract import extract, render_module
from cti.sim.templates import segment, segment_names


def test_templates_are_in_sync_with_the_traces() -> None:
    fresh = extract(TRACES)
    assert set(fresh) == set(SEGMENTS)
    for name, frames in fresh.items():
        assert tuple((f.dt, f.name, f.tag, f.role, f.headers) for f in frames) == SEGMENTS[name], (
            f"{name}: run `python -m cti.sim.extract {TRACES} > cti/sim/_templates.py`"
        )


def test_rendered_module_round_trips() -> None:
    namespace: dict[str, object] = {}
    exec(render_module(extract(TRACES)), namespace)  # the generator's own output
    assert namespace["SEGMENTS"] == SEGMENTS


def test_segments_cover_every_flow() -> None:
    assert set(segment_names()) >= {
        "ivr_a",
        "ivr_digit",
        "ivr_b",
        "ring",
        "answer",
        "noanswer",
        "abandon",
        "hangup_caller",
        "hangup_agent",
        "internal_dial",
        "internal_answer",
        "internal_hangup",
        "originate",
        "originate_hangup",
    }
    ring = segment("ring")
    called = next(f for f in ring if f.name == "AgentCalled")
    assert called.get("DestChannel") == "{a_chan}"
    assert called.get("Interface") == "{a_iface}"
    # No identity of the recorded call is left in a template (member frames
    # are rendered from the live member state, not from their values).
    for name in segment_names():
        for frame in segment(name):
            if frame.tag.startswith("member:"):
                continue
            for value in frame.values:
                for literal in ("15551230001", "Alice Agent", "pstn-0000", "1795860"):
                    assert literal not in value, (name, frame.name, value)


def test_agent_hangup_is_the_caller_hangup_reordered() -> None:
    caller = [f.name for f in segment("hangup_caller")]
    agent = [f.name for f in segment("hangup_agent")]
    assert sorted(caller) == sorted(agent)
    complete = next(f for f in segment("hangup_agent") if f.name == "AgentComplete")
    assert complete.get("Reason") == "agent"
    first = next(f for f in segment("hangup_agent") if f.name == "HangupRequest")
    assert first.role == "a"

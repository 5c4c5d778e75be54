"""Drop the AMI link at many points of every call trace, resync, and check that
no screen-pop is lost or duplicated and every call ends exactly once.

A reference model sees every event (it plays Asterisk's own state); the live
model misses the events of the gap, then gets the snapshot Asterisk would give
at that instant (`snapshot_of(reference)`), then the rest of the trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from model_tools import devices, events_of, frames, snapshot_of

from cti.ami.lists import ListResult
from cti.model.events import DomainEvent
from cti.model.from_ami import from_ami
from cti.model.model import Model
from cti.model.outputs import CallEnded, Output, ScreenPop

CALL_TRACES = [
    "queue_answered",
    "queue_ringnoanswer",
    "queue_abandon",
    "internal_call",
    "click_to_dial",
    "ari_stasis_ivr",
]


@dataclass(frozen=True)
class _Trace:
    events: list[tuple[float, DomainEvent]]
    devices: list[str]


_CACHE: dict[str, _Trace] = {}


def _load(name: str) -> _Trace:
    if name not in _CACHE:
        evs = [(t, d) for t, e in events_of(frames(name)) if (d := from_ami(e)) is not None]
        _CACHE[name] = _Trace(evs, devices(name))
    return _CACHE[name]


@dataclass
class _Run:
    outputs: list[Output]
    gap_pops: set[tuple[str, str]]  # pops the reference made during the gap
    alive_at_resync: set[str]  # channels Asterisk still had at the resync
    unseen_calls: set[str]  # calls that began and ended inside the gap


def _run(tr: _Trace, cut: int, gap: int, lag: int = 0) -> _Run:
    """`lag`: live events that arrive between the channel list and the others
    (the client puts each list in the stream where it completed)."""
    live, ref = Model(tr.devices), Model(tr.devices)
    out: list[Output] = []
    gap_pops: set[tuple[str, str]] = set()
    alive: set[str] = set()
    at_cut: set[str] = set()
    gap_ended: set[str] = set()
    resync_at = cut + gap
    later_lists: list[ListResult] = []
    for i, (t, ev) in enumerate([*tr.events, (tr.events[-1][0] + 1, None)]):
        if i == resync_at:
            alive = {c.channel for call in ref.calls() for c in call.channels}
            lists = snapshot_of(ref, t)
            channels = [r for r in lists if r.action == "CoreShowChannels"]
            later_lists = [r for r in lists if r.action != "CoreShowChannels"]
            out += live.apply_snapshot(channels if lag else lists, t)
            if not lag:
                later_lists = []
        if later_lists and (i == resync_at + lag or ev is None):
            out += live.apply_snapshot(later_lists, t)  # older than the events before it
            later_lists = []
        if i == cut:
            at_cut = {c.call_id for c in ref.calls()}
        if ev is None:
            break
        ref_out = ref.apply(ev, t)
        if cut <= i < resync_at:
            gap_pops |= {(o.call_id, o.agent_channel) for o in ref_out if isinstance(o, ScreenPop)}
            gap_ended |= {o.call_id for o in ref_out if isinstance(o, CallEnded)}
        else:
            out += live.apply(ev, t)
    return _Run(out, gap_pops, alive, gap_ended - at_cut)


def _pops(outputs: list[Output]) -> list[ScreenPop]:
    return [o for o in outputs if isinstance(o, ScreenPop)]


def _ended(outputs: list[Output]) -> list[CallEnded]:
    return [o for o in outputs if isinstance(o, CallEnded)]


def _reference(tr: _Trace) -> list[Output]:
    model = Model(tr.devices)
    out: list[Output] = []
    for t, ev in tr.events:
        out += model.apply(ev, t)
    return out


@pytest.mark.parametrize("name", CALL_TRACES)
@pytest.mark.parametrize(("gap", "lag"), [(0, 0), (1, 0), (3, 0), (10, 0), (0, 4), (3, 2)])
def test_no_pop_lost_or_duplicated_across_a_resync(name: str, gap: int, lag: int) -> None:
    tr = _load(name)
    reference = _reference(tr)
    ref_pops = {(p.call_id, p.agent_channel): p for p in _pops(reference)}
    ref_calls = {c.call_id for c in _ended(reference)}
    for cut in range(len(tr.events) - gap + 1):
        run = _run(tr, cut, gap, lag)
        pops = _pops(run.outputs)
        keys = [(p.call_id, p.agent_channel) for p in pops]
        where = f"{name}: cut at {cut}, gap {gap}, lag {lag}"
        assert len(keys) == len(set(keys)), f"duplicate pop, {where}"
        # A ring that started and ended inside the gap is over: nothing to pop.
        excused = {k for k in run.gap_pops if k[1] not in run.alive_at_resync}
        assert set(keys) == set(ref_pops) - excused, where
        for pop in pops:
            assert pop.interface == ref_pops[(pop.call_id, pop.agent_channel)].interface
            if gap == 0:
                assert not pop.late, where
        ended = [c.call_id for c in _ended(run.outputs)]
        assert sorted(ended) == sorted(ref_calls - run.unseen_calls), where
        if gap == 0:
            assert not any(c.ended_by_resync for c in _ended(run.outputs)), where


def test_a_call_that_ended_while_disconnected_ends_at_the_resync() -> None:
    tr = _load("queue_answered")
    answered_at = next(
        i for i, (_t, ev) in enumerate(tr.events) if type(ev).__name__ == "AgentAnswered"
    )
    cut = answered_at + 1
    run = _run(tr, cut, len(tr.events) - cut)  # the link is back only after the hang-ups
    (ended,) = _ended(run.outputs)
    assert ended.ended_by_resync is True
    assert ended.outcome == "answered"
    assert ended.answered_by == "PJSIP/1001"
    assert ended.account == "23456"
    assert [p.interface for p in _pops(run.outputs)] == ["PJSIP/1001"]


def test_a_ring_missed_while_disconnected_pops_late() -> None:
    tr = _load("queue_answered")
    called = next(i for i, (_t, ev) in enumerate(tr.events) if type(ev).__name__ == "AgentRung")
    run = _run(tr, called, 3)  # AgentCalled, DialBegin, DialState... fall in the gap
    (pop,) = _pops(run.outputs)
    assert pop.late is True
    assert pop.interface == "PJSIP/1001"
    assert pop.account == "23456"  # the IVR data seen before the gap follows the call
    assert [s.step for s in pop.ivr_path] == ["welcome", "menu", "account"]
    (ended,) = _ended(run.outputs)
    assert ended.answered_by == "PJSIP/1001"
    assert ended.ended_by_resync is False


def test_resync_twice_changes_nothing() -> None:
    tr = _load("queue_ringnoanswer")
    model = Model(tr.devices)
    half = len(tr.events) // 2
    for t, ev in tr.events[:half]:
        model.apply(ev, t)
    at = tr.events[half][0]
    model.apply_snapshot(snapshot_of(model, at), at)
    again = model.apply_snapshot(snapshot_of(model, at), at)
    assert again == []


@pytest.mark.parametrize("cut", [500, 2000, 3700, 5200, 7000])
def test_load_bulk_resync(cut: int) -> None:
    tr = _load("load_bulk")
    run = _run(tr, cut, 40)
    pops = _pops(run.outputs)
    keys = [(p.call_id, p.agent_channel) for p in pops]
    assert len(keys) == len(set(keys))
    reference = {(p.call_id, p.agent_channel) for p in _pops(_reference(tr))}
    excused = {k for k in run.gap_pops if k[1] not in run.alive_at_resync}
    assert set(keys) == reference - excused
    ended = [c.call_id for c in _ended(run.outputs)]
    assert len(ended) == len(set(ended))
    assert set(ended) == {c.call_id for c in _ended(_reference(tr))} - run.unseen_calls

"""Recorded traces replayed to the outputs the engine would hand to the store.

`replayed(name, start)` runs a trace through the pure model (cti.replay's
`Replayer`, the same driver `cti replay` uses), with the trace's own times
moved to begin at `start` (epoch seconds), and returns every output.
"""

from __future__ import annotations

from trace_paths import TRACES

from cti.model.model import Model
from cti.model.outputs import AgentStateChanged, CallEnded, Output
from cti.replay import Replayer, agent_interfaces, read_chunks, read_records

__all__ = ["DAY0", "agent_states", "call_records", "replayed"]

DAY0 = 1_764_331_200.0  # 2025-11-28T12:00:00Z


def replayed(name: str, start: float = DAY0) -> list[Output]:
    path = TRACES / f"{name}.jsonl"
    runner = Replayer(Model(agent_interfaces(read_chunks(path))))
    out: list[Output] = []
    last = start
    for at, src, data in read_records(path):
        assert at is not None
        last = start + at
        if src == "ari":
            out += runner.feed_ari(data, last)
        else:
            assert isinstance(data, bytes)
            out += runner.feed(data, last)
    out += runner.close(last)
    return out


def call_records(name: str, start: float = DAY0) -> list[CallEnded]:
    return [o for o in replayed(name, start) if isinstance(o, CallEnded)]


def agent_states(name: str, start: float = DAY0) -> list[AgentStateChanged]:
    return [o for o in replayed(name, start) if isinstance(o, AgentStateChanged)]

"""Helpers for the metrics tests: traces through the real codec, model and metrics,
and hand-made model outputs for the unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from trace_paths import TRACES

from cti.ami.protocol import AmiParser, Event
from cti.ids import CallId, Interface, QueueName
from cti.metrics import QueueMetrics
from cti.model.model import Model
from cti.model.outputs import AgentStateChanged, CallEnded, Output
from cti.replay import Replayer, agent_interfaces, read_chunks, read_records


@dataclass(slots=True)
class Replayed:
    metrics: QueueMetrics
    outputs: list[Output] = field(default_factory=list)
    last: float = 0.0

    def of_type(self, cls: type) -> list[Output]:
        return [o for o in self.outputs if isinstance(o, cls)]


def replay_metrics(name: str, metrics: QueueMetrics | None = None) -> Replayed:
    """A recorded trace through AmiParser, the model and QueueMetrics, at its own times."""
    path = TRACES / f"{name}.jsonl"
    runner = Replayer(Model(agent_interfaces(read_chunks(path))))
    result = Replayed(metrics if metrics is not None else QueueMetrics())
    for at, src, data in read_records(path):
        assert at is not None
        outs = runner.feed_ari(data, at) if src == "ari" else runner.feed(data, at)
        result.metrics.apply_all(outs)
        result.outputs += outs
        result.last = at
    closing = runner.close(result.last)
    result.metrics.apply_all(closing)
    result.outputs += closing
    return result


def ended(
    call: str,
    outcome: str,
    at: float,
    *,
    queue: str | None = "support",
    wait: float | None = None,
    talk: float | None = None,
    agent: str | None = None,
    ring_no_answer: Sequence[str] = (),
    by_resync: bool = False,
) -> CallEnded:
    """A queue call's record as the model would emit it (only what metrics read is real)."""
    answered_at = at - (talk or 0.0) if outcome == "answered" else None
    return CallEnded(
        call_id=CallId(call),
        outcome=outcome,
        caller_number="15551230001",
        caller_name="",
        dialed_number="18005550100",
        queue=QueueName(queue) if queue is not None else None,
        answered_by=Interface(agent) if agent else None,
        parties=(),
        recipients=(),
        ivr_path=(),
        variables=(),
        account=None,
        started_at=at - 60,
        answered_at=answered_at,
        ended_at=at,
        wait_seconds=wait,
        talk_seconds=talk,
        ring_no_answer=tuple(Interface(i) for i in ring_no_answer),
        ended_by_resync=by_resync,
    )


def state(
    agent: str,
    name: str,
    at: float,
    queues: Sequence[str] = ("support",),
    *,
    reason: str | None = None,
    since: float | None = None,
) -> AgentStateChanged:
    return AgentStateChanged(
        interface=Interface(agent),
        name=agent,
        state=name,
        reason=reason,
        queues=tuple(QueueName(q) for q in queues),
        at=at,
        since=at if since is None else since,
    )


def ami_events(name: str, event: str) -> list[tuple[float, dict[str, str]]]:
    """Every AMI event `event` of a trace with its time: Asterisk's own account."""
    parser = AmiParser()
    out: list[tuple[float, dict[str, str]]] = []
    for at, data in read_chunks(TRACES / f"{name}.jsonl"):
        assert at is not None
        for msg in parser.feed(data):
            if isinstance(msg, Event) and msg.name == event:
                out.append((at, dict(msg.fields)))
    return out

"""A generated day of queue traffic from the fake Asterisk, and what it must show.

Strategy: the test plans every call itself (`plan_day`: queue, outcome, ring
order, ring-no-answers, ring, talk and abandon times), schedules the plan on the
simulator's `Traffic` (cti.sim) and feeds the frames it writes, at their
simulated times, through the real codec and model into `QueueMetrics`. The
expected figures (`expected`) are computed from the plan alone, never from the
metrics code: a planned wait is the ring-no-answers (ring timeout + retry
each) plus the ring time or the time to abandon.

The plan keeps every call (IVR, wait, talk, wrap-up) inside the minute it
starts in, and checkpoints fall on quiet minute boundaries, so which calls a
window holds follows from the planned start minutes alone.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Literal

from cti.ids import Interface, QueueName
from cti.metrics import QueueMetrics, QueueMetricsConfig
from cti.model.events import MemberUpdated
from cti.model.model import Model
from cti.model.outputs import AgentStateChanged, Output
from cti.replay import Replayer
from cti.sim.calls import AgentConfig, CallFlow, QueueConfig
from cti.sim.state import SimState
from cti.sim.traffic import Traffic

__all__ = [
    "AGENTS",
    "CONFIGS",
    "DAY",
    "EPOCH",
    "WRAPUP",
    "DayDriver",
    "PlannedCall",
    "expected",
    "plan_day",
]

EPOCH = datetime(2026, 11, 28, tzinfo=UTC).timestamp()  # midnight UTC: the day starts
DAY = 24 * 3600
RING_TIMEOUT, RETRY = 6.0, 1.0
AGENTS = (
    AgentConfig("PJSIP/1001", "Alice Agent", ("support",)),
    AgentConfig("PJSIP/1002", "Bob Agent", ("support", "sales")),  # in both queues
    AgentConfig("PJSIP/1003", "Carol Agent", ("sales",)),
)
QUEUES = tuple(QueueConfig(q, ring_timeout=RING_TIMEOUT, retry=RETRY) for q in ("support", "sales"))
WRAPUP = {"support": 10.0}  # seconds of after-call work; sales has none
CONFIGS = {
    "support": QueueMetricsConfig(
        sl_seconds=20, formula="short_abandons_excluded", short_abandon_seconds=5, reset=time(6, 0)
    ),
    "sales": QueueMetricsConfig(
        sl_seconds=15, formula="answered_abandoned", short_abandon_seconds=3
    ),
}
_BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def members(queue: str) -> list[str]:
    return [a.interface for a in AGENTS if queue in a.queues]


@dataclass(frozen=True, slots=True)
class PlannedCall:
    start: float  # seconds since EPOCH, on a minute boundary
    number: str
    queue: str
    outcome: Literal["answered", "abandon"]
    agents: tuple[str, ...]  # who is rung, in order
    no_answer: int  # the first `no_answer` rings time out
    ring_time: float  # answered: rings before the answer
    talk_time: float
    abandon_after: float  # abandon: seconds into the last ring

    @property
    def wait(self) -> float:
        last = self.ring_time if self.outcome == "answered" else self.abandon_after
        return self.no_answer * (RING_TIMEOUT + RETRY) + last

    @property
    def ring_no_answer(self) -> tuple[str, ...]:
        return self.agents[: self.no_answer]

    @property
    def answered_by(self) -> str | None:
        return self.agents[self.no_answer] if self.outcome == "answered" else None

    def flow(self) -> CallFlow:
        return CallFlow(
            queue=self.queue,
            caller_num=self.number,
            outcome=self.outcome,
            no_answer=self.no_answer,
            ring_time=self.ring_time,
            talk_time=self.talk_time,
            abandon_after=self.abandon_after,
            agents=self.agents,
        )


_THRESHOLDS = (3.0, 5.0, 15.0, 20.0)  # SL and short-abandon thresholds in CONFIGS


def plan_day(seed: int = 7, share: float = 0.5, minutes: int = DAY // 60 - 1) -> list[PlannedCall]:
    """About `share` of the day's minutes get one call (never the last minute)."""
    rng = random.Random(seed)
    plan: list[PlannedCall] = []
    for minute in range(minutes):
        if rng.random() >= share:
            continue
        queue = rng.choice(["support", "sales"])
        pool = members(queue)
        outcome: Literal["answered", "abandon"] = "abandon" if rng.random() < 0.25 else "answered"
        no_answer = rng.choice([0, 0, 0, 1, 2] if outcome == "answered" else [0, 0, 1])
        agents = tuple(rng.choice(pool) for _ in range(no_answer + 1))
        while True:
            call = PlannedCall(
                start=minute * 60.0,
                number=f"1555{minute:07d}",
                queue=queue,
                outcome=outcome,
                agents=agents,
                no_answer=no_answer,
                ring_time=round(rng.uniform(0.0, 9.0), 3),
                talk_time=round(rng.uniform(2.0, 15.0), 3),
                abandon_after=round(rng.uniform(1.0, 14.0), 3),
            )
            # keep clear of the thresholds: the sim adds a millisecond here and there
            if all(abs(call.wait - t) > 0.05 for t in _THRESHOLDS):
                break
        plan.append(call)
    return plan


@dataclass(slots=True)
class DayDriver:
    """The fake Asterisk's frames -> codec -> model -> metrics, in simulated time.

    Wrap-up ends are ticked at their exact deadlines, as the live shell's
    ticker would (to within its interval).
    """

    plan: Sequence[PlannedCall]
    metrics: QueueMetrics
    model: Model = field(init=False)
    traffic: Traffic = field(init=False)
    _replayer: Replayer = field(init=False)
    _deadlines: list[float] = field(default_factory=list)
    now: float = 0.0

    def __post_init__(self) -> None:
        state = SimState(AGENTS, QUEUES, epoch=EPOCH)
        self.traffic = Traffic(state, AGENTS, QUEUES)
        self.model = Model([a.interface for a in AGENTS], wrapup=WRAPUP)
        self._replayer = Replayer(self.model)
        self._replayer.feed(_BANNER, EPOCH)
        for agent in AGENTS:  # the agents log in as the day starts
            for queue in agent.queues:
                event = MemberUpdated(
                    QueueName(queue), Interface(agent.interface), agent.name, 1, False, ""
                )
                self._take(self.model.apply(event, EPOCH))
        for call in self.plan:
            self.traffic.add_call(call.flow(), call.start)

    def restart_metrics(self, metrics: QueueMetrics) -> None:
        """Carry on with `metrics` (a restarted CTI's), which first hears every
        agent's state with its `since`, as a restarted model reports them after
        its first resync (their open state rows keep `since` across the restart)."""
        self.metrics = metrics
        at = EPOCH + self.now
        for view in self.model.agents():
            since = view.since if view.since is not None else at
            change = AgentStateChanged(
                view.interface, view.name, view.state, view.reason, view.queues, at, since
            )
            self.metrics.apply(change)

    def _take(self, outputs: Iterable[Output]) -> None:
        for output in outputs:
            self.metrics.apply(output)
            if isinstance(output, AgentStateChanged) and output.state == "wrap_up":
                heapq.heappush(self._deadlines, output.at + max(WRAPUP.values()))

    def run_until(self, t: float) -> None:
        """Everything due at or before `t` seconds into the day."""
        while True:
            due = self.traffic.next_due()
            deadline = self._deadlines[0] - EPOCH if self._deadlines else None
            candidates = [x for x in (due, deadline) if x is not None and x <= t]
            if not candidates:
                break
            step = min(candidates)
            if deadline is not None and step == deadline:
                heapq.heappop(self._deadlines)
                self._take(self.model.tick(EPOCH + step))
                continue
            for frame in self.traffic.advance(step):
                self._take(self._replayer.feed(frame, EPOCH + step))
        self.now = t


@dataclass(frozen=True, slots=True)
class Expected:
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    answered_within_sl: int
    abandoned_within_sl: int
    ring_no_answer_by_agent: dict[str, int]
    service_level: float | None
    asa_seconds: float | None
    aht_seconds: float | None
    avg_wrap_up_seconds: float | None
    abandon_rate: float | None
    abandon_rate_excl_short: float | None
    contact_seconds: float
    idle_seconds: float


def _pct(num: float, den: float) -> float | None:
    return 100.0 * num / den if den else None


def expected(plan: Sequence[PlannedCall], queue: str, since: float, now: float) -> Expected:
    """The figures of `queue` for the calls started in [since, now) (seconds of the day)."""
    config = CONFIGS[queue]
    calls = [c for c in plan if c.queue == queue and since <= c.start < now]
    answered = [c for c in calls if c.outcome == "answered"]
    abandoned = [c for c in calls if c.outcome == "abandon"]
    short = [c for c in abandoned if c.wait < config.short_abandon_seconds]
    within = [c for c in answered if c.wait <= config.sl_seconds]
    abandoned_within = [c for c in abandoned if c.wait <= config.sl_seconds]
    rna: dict[str, int] = {}
    for c in calls:
        for agent in c.ring_no_answer:
            rna[agent] = rna.get(agent, 0) + 1
    sl_denominator = {
        "short_abandons_excluded": len(calls) - len(short),
        "answered_abandoned": len(answered) + len(abandoned),
    }[config.formula]
    wrapup = WRAPUP.get(queue, 0.0)
    # occupancy: every member's contact time, whichever queue the call came from
    team = set(members(queue))
    contact = sum(
        c.talk_time + WRAPUP.get(c.queue, 0.0)
        for c in plan
        if c.answered_by in team and since <= c.start < now
    )
    member_time = len(team) * (now - since)
    return Expected(
        offered=len(calls),
        answered=len(answered),
        abandoned=len(abandoned),
        short_abandoned=len(short),
        answered_within_sl=len(within),
        abandoned_within_sl=len(abandoned_within),
        ring_no_answer_by_agent=dict(sorted(rna.items())),
        service_level=_pct(len(within), sl_denominator),
        asa_seconds=sum(c.wait for c in answered) / len(answered) if answered else None,
        aht_seconds=(
            sum(c.talk_time + wrapup for c in answered) / len(answered) if answered else None
        ),
        avg_wrap_up_seconds=(wrapup if wrapup and answered else None),
        abandon_rate=_pct(len(abandoned), len(calls)),
        abandon_rate_excl_short=_pct(len(abandoned) - len(short), len(calls) - len(short)),
        contact_seconds=contact,
        idle_seconds=member_time - contact,
    )

"""What a supervisor's queue board shows: frozen values computed at one instant.

Strategy: `WindowStats.of(totals, config)` turns summed bucket counters into
the derived figures (service level, ASA, AHT, abandon rate, occupancy) with
the queue's definitions, one formula each, documented in docs/metrics.md.
A ratio with nothing to divide by is None (shown as "-"), never 0.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from cti.metrics.buckets import Bucket
from cti.metrics.config import QueueMetricsConfig

__all__ = ["QueueBoard", "WindowStats"]


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return round(scale * num / den, 3) if den > 0 else None


@dataclass(frozen=True, slots=True)
class WindowStats:
    since: float  # start of the window (epoch seconds)
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    unanswered: int
    answered_within_sl: int
    abandoned_within_sl: int
    handled: int
    ring_no_answer: int
    lost_by_resync: int
    service_level: float | None  # percent, with the queue's formula and T
    asa_seconds: float | None  # wait of answered calls / answered calls (wait known)
    aht_seconds: float | None  # (talk + wrap-up) / handled
    avg_talk_seconds: float | None
    avg_wrap_up_seconds: float | None
    abandon_rate: float | None  # percent: abandoned / offered
    abandon_rate_excl_short: float | None  # (abandoned - short) / (offered - short)
    occupancy: float | None  # percent: contact / (contact + available idle)
    contact_seconds: float
    idle_seconds: float
    ring_no_answer_by_agent: Mapping[str, int]

    @classmethod
    def of(cls, since: float, totals: Bucket, config: QueueMetricsConfig) -> WindowStats:
        c = totals.counts()
        formula = config.sl_formula
        short = c["short_abandoned"]
        contact, idle = c["contact_seconds"], c["idle_seconds"]
        return cls(
            since=since,
            offered=int(c["offered"]),
            answered=int(c["answered"]),
            abandoned=int(c["abandoned"]),
            short_abandoned=int(short),
            unanswered=int(c["unanswered"]),
            answered_within_sl=int(c["answered_within_sl"]),
            abandoned_within_sl=int(c["abandoned_within_sl"]),
            handled=int(c["handled"]),
            ring_no_answer=int(c["ring_no_answer"]),
            lost_by_resync=int(c["lost_by_resync"]),
            service_level=_ratio(formula.numerator(c), formula.denominator(c), 100.0),
            asa_seconds=_ratio(c["wait_answered_sum"], c["answered_timed"]),
            aht_seconds=_ratio(c["talk_sum"] + c["acw_sum"], c["handled"]),
            avg_talk_seconds=_ratio(c["talk_sum"], c["handled"]),
            avg_wrap_up_seconds=_ratio(c["acw_sum"], c["acw_count"]),
            abandon_rate=_ratio(c["abandoned"], c["offered"], 100.0),
            abandon_rate_excl_short=_ratio(c["abandoned"] - short, c["offered"] - short, 100.0),
            occupancy=_ratio(contact, contact + idle, 100.0),
            contact_seconds=round(contact, 3),
            idle_seconds=round(idle, 3),
            ring_no_answer_by_agent=dict(sorted(totals.ring_no_answer_by_agent.items())),
        )

    def to_json(self) -> dict[str, Any]:
        data = dict(zip(_WINDOW_FIELDS, _window_values(self), strict=True))
        data["ring_no_answer_by_agent"] = dict(self.ring_no_answer_by_agent)
        return data


_WINDOW_FIELDS: tuple[str, ...] = WindowStats.__slots__
# every field in one C call: three of these per board, 4 boards/s per queue
_window_values = operator.attrgetter(*_WINDOW_FIELDS)


@dataclass(frozen=True, slots=True)
class QueueBoard:
    """One queue's live board at `at`: the FEED publishes `to_json()`."""

    type: ClassVar[str] = "queue_board"
    queue: str
    at: float
    config: QueueMetricsConfig
    waiting: int
    longest_wait_seconds: float | None
    agents: Mapping[str, int]  # state -> members in it (every state listed)
    pause_reasons: Mapping[str, int]  # reason -> paused members
    today: WindowStats
    last_15_min: WindowStats
    last_60_min: WindowStats

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "queue": self.queue,
            "at": self.at,
            "definition": self.config.definition(),
            "waiting": self.waiting,
            "longest_wait_seconds": self.longest_wait_seconds,
            "agents": dict(self.agents),
            "pause_reasons": dict(self.pause_reasons),
            "today": self.today.to_json(),
            "last_15_min": self.last_15_min.to_json(),
            "last_60_min": self.last_60_min.to_json(),
        }

"""A generated day: every queue figure checked against the plan of the calls.

tests/day_traffic.py plans about 720 calls over 24 simulated hours (answered,
abandoned, with ring-no-answers, two queues, an agent in both, wrap-up in one
queue, a 06:00 reset in the other), plays them through the fake Asterisk, the
codec and the model, and computes what each window must show from the plan.
"""

from __future__ import annotations

from typing import Any

import pytest
from day_traffic import CONFIGS, DAY, EPOCH, DayDriver, PlannedCall, expected, plan_day

from cti.metrics import QueueMetrics, WindowStats

PLAN = plan_day()


def check(window: WindowStats, want: Any) -> None:
    counts = (
        window.offered,
        window.answered,
        window.abandoned,
        window.short_abandoned,
        window.answered_within_sl,
        window.abandoned_within_sl,
    )
    assert counts == (
        want.offered,
        want.answered,
        want.abandoned,
        want.short_abandoned,
        want.answered_within_sl,
        want.abandoned_within_sl,
    )
    assert window.unanswered == 0
    assert window.handled == want.answered
    assert dict(window.ring_no_answer_by_agent) == want.ring_no_answer_by_agent
    assert window.ring_no_answer == sum(want.ring_no_answer_by_agent.values())
    # the sim reports times to the millisecond: a few ms per call at most
    for name in (
        "service_level",
        "asa_seconds",
        "aht_seconds",
        "avg_wrap_up_seconds",
        "abandon_rate",
        "abandon_rate_excl_short",
    ):
        got, wanted = getattr(window, name), getattr(want, name)
        if wanted is None:
            assert got is None, name
        else:
            assert got == pytest.approx(wanted, abs=0.01), name
    assert window.contact_seconds == pytest.approx(want.contact_seconds, abs=0.01 * (1 + counts[1]))
    assert window.idle_seconds == pytest.approx(want.idle_seconds, abs=0.01 * (1 + counts[1]))
    total = want.contact_seconds + want.idle_seconds
    if total:
        assert window.occupancy == pytest.approx(100 * want.contact_seconds / total, abs=0.01)


def _check_board(driver: DayDriver, plan: list[PlannedCall], queue: str, t: float) -> None:
    board = driver.metrics.board(queue, EPOCH + t)
    assert (board.waiting, board.longest_wait_seconds) == (0, None)
    assert board.agents["available"] == 2  # quiet minute: both members free
    today = CONFIGS[queue].today_start(EPOCH + t) - EPOCH
    check(board.today, expected(plan, queue, max(today, 0.0), t))
    for window, minutes in ((board.last_15_min, 15), (board.last_60_min, 60)):
        check(window, expected(plan, queue, max(0.0, t - (minutes - 1) * 60), t))


def test_every_hour_and_at_the_end_of_the_day() -> None:
    day = DayDriver(PLAN, QueueMetrics(CONFIGS))
    for t in [*range(3600, DAY, 3600), DAY - 60]:
        day.run_until(t)
        for queue in ("support", "sales"):
            _check_board(day, PLAN, queue, float(t))
    # the day as a whole: every planned call counted once, in its queue
    for queue in ("support", "sales"):
        board = day.metrics.board(queue, EPOCH + DAY - 60)
        assert board.last_60_min.offered <= board.today.offered
    support_from_six = [c for c in PLAN if c.queue == "support" and c.start >= 6 * 3600]
    assert day.metrics.board("support", EPOCH + DAY - 60).today.offered == len(support_from_six)
    sales = [c for c in PLAN if c.queue == "sales"]
    assert day.metrics.board("sales", EPOCH + DAY - 60).today.offered == len(sales)


def test_the_plan_is_a_real_day() -> None:
    assert 600 < len(PLAN) < 850
    outcomes = {(c.queue, c.outcome, c.no_answer) for c in PLAN}
    assert ("support", "answered", 2) in outcomes
    assert ("sales", "abandon", 1) in outcomes
    assert any(c.wait > 20 for c in PLAN if c.outcome == "answered")
    assert any(c.wait < 3 for c in PLAN if c.outcome == "abandon")
    # Bob (in both queues) takes calls from both
    bob = {c.queue for c in PLAN if c.answered_by == "PJSIP/1002"}
    assert bob == {"support", "sales"}

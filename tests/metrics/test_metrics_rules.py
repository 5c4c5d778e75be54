"""QueueMetrics rules on hand-made model outputs: when a call counts, windows,
the today reset, wrap-up, occupancy, agents by state, resync, dump and load."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from metrics_tools import ended, state

from cti.ids import CallId, ChannelId, Interface, QueueName
from cti.metrics import QueueMetrics, QueueMetricsConfig
from cti.model.outputs import QueueUpdated, RingEnded

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC).timestamp()  # a minute boundary


def waiting(n: int, since: float | None, at: float, queue: str = "support") -> QueueUpdated:
    return QueueUpdated(QueueName(queue), n, since, (), at)


def test_a_waiting_call_is_live_only_and_counts_once_when_it_ends() -> None:
    m = QueueMetrics()
    assert m.apply(waiting(1, T0, T0)) == {"support"}
    board = m.board("support", T0 + 7)
    assert (board.waiting, board.longest_wait_seconds, board.today.offered) == (1, 7.0, 0)
    m.apply(waiting(0, None, T0 + 12))
    assert m.apply(ended("c1", "answered", T0 + 40, wait=12, talk=28)) == {"support"}
    board = m.board("support", T0 + 41)
    assert (board.waiting, board.longest_wait_seconds) == (0, None)
    assert (board.today.offered, board.today.answered, board.today.asa_seconds) == (1, 1, 12.0)


MIXED = [
    ended("a1", "answered", T0 + 1, wait=20, talk=10),  # within T (inclusive)
    ended("a2", "answered", T0 + 2, wait=20.5, talk=30),  # after T
    ended("b1", "abandoned", T0 + 3, wait=4.9),  # short
    ended("b2", "abandoned", T0 + 4, wait=5),  # not short, within T
    ended("b3", "abandoned", T0 + 5, wait=60),
    ended("u1", "unanswered", T0 + 6),  # left the queue unanswered
    ended("f1", "failed", T0 + 7),  # never rang anyone
]


def test_outcomes_thresholds_and_rates() -> None:
    m = QueueMetrics({"support": QueueMetricsConfig(sl_seconds=20, short_abandon_seconds=5)})
    assert m.apply_all(MIXED) == {"support"}
    assert m.apply(ended("x1", "answered", T0 + 8, queue=None, talk=5)) == set()  # not a queue
    today = m.board("support", T0 + 10).today
    assert (today.offered, today.answered, today.abandoned, today.unanswered) == (7, 2, 3, 2)
    assert (today.answered_within_sl, today.short_abandoned, today.abandoned_within_sl) == (1, 1, 2)
    assert today.asa_seconds == 20.25
    assert today.aht_seconds == 20.0
    assert today.service_level == round(100 * 1 / 7, 3)
    assert today.abandon_rate == round(100 * 3 / 7, 3)
    assert today.abandon_rate_excl_short == round(100 * 2 / 6, 3)


@pytest.mark.parametrize(
    ("formula", "value"),
    [
        ("answered_offered", 100 * 1 / 7),
        ("abandons_excluded", 100 * 1 / 4),
        ("short_abandons_excluded", 100 * 1 / 6),
        ("answered_abandoned", 100 * 1 / 5),
        ("left_within", 100 * 3 / 7),
    ],
)
def test_service_level_formulas(formula: str, value: float) -> None:
    m = QueueMetrics({"*": QueueMetricsConfig(formula=formula)})
    m.apply_all(MIXED)
    board = m.board("support", T0 + 10)
    assert board.today.service_level == round(value, 3)
    assert board.config.formula == formula


def test_ring_no_answers_count_per_agent_when_the_call_ends() -> None:
    m = QueueMetrics()
    ring = RingEnded(
        CallId("c1"), Interface("PJSIP/1001"), ChannelId("PJSIP/1001-1"), "no_answer", T0
    )
    assert m.apply(ring) == set()  # no queue on it: counted with the call
    m.apply(ended("c1", "answered", T0 + 20, wait=14, talk=3, ring_no_answer=["PJSIP/1001"] * 2))
    m.apply(ended("c2", "abandoned", T0 + 30, wait=9, ring_no_answer=["PJSIP/1002"]))
    today = m.board("support", T0 + 31).today
    assert today.ring_no_answer == 3
    assert dict(today.ring_no_answer_by_agent) == {"PJSIP/1001": 2, "PJSIP/1002": 1}


def test_resync_ended_calls_count_once_and_only_what_is_known() -> None:
    m = QueueMetrics()
    m.apply(ended("r1", "answered", T0 + 5, wait=3, talk=500, by_resync=True))
    m.apply(ended("r2", "unanswered", T0 + 5, by_resync=True))
    m.apply(ended("r3", "abandoned", T0 + 5, wait=2, by_resync=True))
    assert m.apply(ended("r1", "answered", T0 + 6, wait=3, talk=1)) == set()  # seen already
    today = m.board("support", T0 + 10).today
    assert (today.offered, today.answered, today.handled, today.lost_by_resync) == (1, 1, 0, 2)
    assert (today.asa_seconds, today.aht_seconds, today.abandoned) == (3.0, None, 0)


def test_wrap_up_counts_for_the_queue_of_the_last_call() -> None:
    m = QueueMetrics()
    alice = "PJSIP/1001"
    both = ("support", "sales")
    m.apply(state(alice, "available", T0, both))
    m.apply(state(alice, "on_call", T0 + 10, both))
    m.apply(state(alice, "wrap_up", T0 + 40, both))
    m.apply(ended("c1", "answered", T0 + 40, wait=5, talk=30, agent=alice, queue="sales"))
    m.apply(state(alice, "available", T0 + 55, both))
    sales = m.board("sales", T0 + 60).today
    assert (sales.handled, sales.avg_talk_seconds, sales.avg_wrap_up_seconds) == (1, 30.0, 15.0)
    assert sales.aht_seconds == 45.0
    assert m.board("support", T0 + 60).today.avg_wrap_up_seconds is None


def test_occupancy_from_member_spells_multi_queue_agents_count_in_each() -> None:
    m = QueueMetrics()
    alice, bob = "PJSIP/1001", "PJSIP/1002"
    m.apply(state(alice, "available", T0 + 30, ("support", "sales")))
    m.apply(state(bob, "paused", T0 + 30, ("support",), reason="lunch"))
    m.apply(state(alice, "ringing", T0 + 50, ("support", "sales")))
    m.apply(state(alice, "on_call", T0 + 60, ("support", "sales")))  # spans a bucket edge
    m.apply(state(alice, "available", T0 + 150, ("support", "sales")))
    board = m.board("support", T0 + 160)  # 10 s more available, still running
    assert board.today.contact_seconds == 90.0
    assert board.today.idle_seconds == 20 + 10 + 10  # available, ringing, available now
    assert board.today.occupancy == round(100 * 90 / 130, 3)
    assert m.board("sales", T0 + 160).today.occupancy == board.today.occupancy
    assert dict(board.agents) == {
        "logged_out": 0,
        "available": 1,
        "ringing": 0,
        "on_call": 0,
        "wrap_up": 0,
        "paused": 1,
    }
    assert dict(board.pause_reasons) == {"lunch": 1}
    # Bob leaves support: no longer on its board
    assert m.apply(state(bob, "logged_out", T0 + 170, ())) == {"support"}
    assert m.board("support", T0 + 170).agents["paused"] == 0


def test_sliding_windows_slide_and_today_resets() -> None:
    reset = datetime(2026, 11, 29, 10, 30, tzinfo=UTC)
    m = QueueMetrics({"support": QueueMetricsConfig(reset=time(10, 30))})
    m.apply(ended("c1", "answered", T0 + 5, wait=1, talk=1))  # 10:00:05
    m.apply(ended("c2", "abandoned", T0 + 14 * 60 + 30, wait=9))  # 10:14:30

    def offered(at: float) -> tuple[int, int, int]:
        b = m.board("support", at)
        return b.today.offered, b.last_15_min.offered, b.last_60_min.offered

    assert offered(T0 + 14 * 60 + 59) == (2, 2, 2)  # 10:14:59, the 15th minute
    assert offered(T0 + 15 * 60) == (2, 1, 2)  # 10:15: c1's minute has left
    assert offered(T0 + 29 * 60 + 59) == (2, 0, 2)
    assert offered(reset.timestamp()) == (0, 0, 2)  # 10:30: a new day for support
    assert offered(T0 + 60 * 60) == (0, 0, 1)  # 11:00
    assert offered(T0 + 75 * 60) == (0, 0, 0)
    assert m.board("support", reset.timestamp()).today.since == reset.timestamp()


def test_dump_load_and_the_horizon() -> None:
    m = QueueMetrics()
    m.apply(state("PJSIP/1001", "available", T0, ("support",)))
    m.apply(ended("c1", "answered", T0 + 5, wait=2, talk=3))
    m.apply(state("PJSIP/1001", "on_call", T0 + 65, ("support",)))
    dumped = m.dump_dirty()
    assert [(b.queue, b.start) for b in dumped] == [("support", T0), ("support", T0 + 60)]
    assert dumped[0].counts["offered"] == 1
    assert dumped[0].counts["idle_seconds"] == 60
    assert m.dump_dirty() == []  # nothing changed since

    later = T0 + 30 * 60
    restarted = QueueMetrics()
    restarted.load(dumped, later)
    assert restarted.board("support", later).today.offered == 1
    # an agent whose state began long ago (the store's open row) is counted
    # from then, but never into a bucket before what was loaded
    restarted.load(dumped, T0 + 3 * 24 * 3600)  # days later: nothing of it kept
    restarted.apply(state("PJSIP/1002", "available", T0 + 3 * 24 * 3600 + 30, ("support",)))
    restarted.apply(state("PJSIP/1002", "on_call", T0 + 3 * 24 * 3600 + 90, ("support",)))
    assert all(b.start >= restarted.load_since(T0 + 3 * 24 * 3600) for b in restarted.dump_dirty())


def test_prune_forgets_old_buckets_but_keeps_unwritten_ones() -> None:
    m = QueueMetrics()
    m.apply(ended("c1", "answered", T0 + 5, wait=2, talk=3))
    tomorrow = T0 + 24 * 3600
    m.prune(tomorrow)  # not yet written: kept for the writer
    assert [b.start for b in m.dump_dirty()] == [T0]
    m.prune(tomorrow)
    assert m.board("support", tomorrow).last_60_min.offered == 0
    m.apply(ended("c2", "answered", T0 + 6, wait=2, talk=3))  # a stale time: not written back
    assert m.dump_dirty() == []

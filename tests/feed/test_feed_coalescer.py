"""The pure coalescer, on a fake clock: at most one send per key per interval, none lost."""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.feed import Coalescer

INTERVAL = 0.25
EPS = 1e-9
KEYS = st.sampled_from(["support", "sales", "billing"])
# times in ms steps, so bursts (many changes inside one interval) are common
CHANGES = st.lists(
    st.tuples(st.integers(0, 3_000).map(lambda ms: ms / 1000), KEYS), min_size=1, max_size=80
)


def simulate(
    changes: list[tuple[float, str]], interval: float = INTERVAL, lag: float = 0.0
) -> list[tuple[float, str]]:
    """Feed the changes in time order; wake up when asked, `lag` seconds late
    (a busy event loop). Returns every (send time, key)."""
    coalescer = Coalescer(interval)
    sends: list[tuple[float, str]] = []

    def wake_until(limit: float) -> None:
        while (wake := coalescer.next_wake()) is not None and wake + lag <= limit:
            sends.extend((wake + lag, key) for key in coalescer.due(wake + lag))

    for at, key in sorted(changes):
        wake_until(at)
        if coalescer.changed(key, at):
            sends.append((at, key))
    wake_until(float("inf"))
    assert coalescer.pending == frozenset()
    return sends


def by_key(sends: list[tuple[float, str]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for at, key in sends:
        out[key].append(at)
    return out


def check(changes: list[tuple[float, str]], sends: list[tuple[float, str]], lag: float) -> None:
    sent = by_key(sends)
    # a send may follow a late one (by `lag`) sooner: its slot was on time
    closest = INTERVAL - min(lag, INTERVAL / 10)
    for times in sent.values():
        assert times == sorted(times)
        # the rate bound: no two sends of a key closer than their slots allow...
        assert all(b - a >= closest - EPS for a, b in itertools.pairwise(times))
        # ...and never a fifth in any four intervals (4 per second, on the actual sends)
        assert all(b - a >= 4 * INTERVAL - EPS for a, b in zip(times, times[4:], strict=False))
    for at, key in changes:
        # every change (so the last one too) is covered by a send of its key
        # at or after it, within the interval (plus the wake-up's lateness)
        assert any(at <= s <= at + INTERVAL + lag + EPS for s in sent[key]), (at, key)
    assert len(sends) <= len(changes)


@settings(max_examples=400, deadline=None)
@given(CHANGES)
def test_rate_bound_and_no_lost_change(changes: list[tuple[float, str]]) -> None:
    check(changes, simulate(changes), lag=0.0)


@settings(max_examples=200, deadline=None)
@given(CHANGES, st.sampled_from([0.001, 0.05, 0.3]))
def test_late_wake_ups_keep_the_bound(changes: list[tuple[float, str]], lag: float) -> None:
    check(changes, simulate(changes, lag=lag), lag=lag)


def test_a_quiet_key_is_sent_at_once_and_a_burst_once_at_the_end() -> None:
    coalescer = Coalescer(INTERVAL)
    assert coalescer.changed("support", 10.0) is True  # leading edge: no delay
    assert coalescer.changed("sales", 10.01) is True  # keys are independent
    for i in range(1, 50):  # 49 changes in the next 245 ms
        assert coalescer.changed("support", 10.0 + i * 0.005) is False
    assert coalescer.pending == {"support"}
    assert coalescer.next_wake() == pytest.approx(10.25)
    assert coalescer.due(10.2) == []
    assert coalescer.due(10.25) == ["support"]  # trailing edge: the merged changes, once
    assert coalescer.next_wake() is None
    # 0.1 s after that send: held again until 10.5
    assert coalescer.changed("support", 10.35) is False
    assert coalescer.next_wake() == pytest.approx(10.5)
    # much later: sent at once again
    assert coalescer.due(10.5) == ["support"]
    assert coalescer.changed("support", 20.0) is True


def test_a_busy_flood_sends_four_per_second() -> None:
    # one change per millisecond for 10 s: 10,000 changes; a send every 250 ms,
    # the last at 10.0 s with the changes of 9.751 ... 9.999 s
    sends = simulate([(ms / 1000, "support") for ms in range(10_000)])
    assert [at for at, _ in sends] == pytest.approx([i * 0.25 for i in range(41)])


def test_late_wake_ups_barely_stretch_the_interval() -> None:
    # woken 10 ms late each time: the sends keep their 250 ms slots but for the
    # one in four that would make 4 sends in less than 1 s (+10 ms per second),
    # instead of drifting 10 ms further behind at every send (+40 ms per second)
    sends = simulate([(ms / 1000, "support") for ms in range(2_000)], lag=0.01)
    expected = [0.0, 0.26, 0.51, 0.76, 1.01, 1.27, 1.52, 1.77, 2.02]
    assert [at for at, _ in sends] == pytest.approx(expected)


def test_only_a_tenth_of_an_interval_of_lateness_is_forgiven() -> None:
    coalescer = Coalescer(INTERVAL)
    assert coalescer.changed("support", 0.0)
    assert not coalescer.changed("support", 0.1)  # due at 0.25
    assert coalescer.due(0.35) == ["support"]  # 100 ms late
    assert not coalescer.changed("support", 0.36)
    # the next slot: 0.225 s after the send (0.35 - 0.025 + 0.25), not 0.25 s after it
    assert coalescer.next_wake() == pytest.approx(0.575)


def test_caught_up_lateness_never_makes_five_sends_in_a_second() -> None:
    coalescer = Coalescer(INTERVAL)
    assert coalescer.changed("support", 0.0)
    assert not coalescer.changed("support", 0.1)
    assert coalescer.due(0.27) == ["support"]  # 20 ms late: caught up...
    for slot in (0.5, 0.75, 1.0):  # ...these on time
        assert not coalescer.changed("support", slot - 0.1)
        assert coalescer.due(slot) == ["support"]
    assert not coalescer.changed("support", 1.1)
    # the slot at 1.25 would be the fifth send in 0.98 s (0.27 ... 1.25)
    assert coalescer.next_wake() == pytest.approx(1.27)
    assert coalescer.due(1.25) == []
    assert coalescer.due(1.27) == ["support"]


def test_a_send_made_after_its_burst_counts_from_when_it_went_out() -> None:
    coalescer = Coalescer(INTERVAL)
    assert coalescer.changed("support", 0.0)
    assert not coalescer.changed("support", 0.001)  # same burst: pending...
    coalescer.sent_late("support", 0.003)  # ...covered by the send made at 3 ms
    assert coalescer.pending == frozenset()
    for slot in (0.25, 0.5, 0.75):
        assert not coalescer.changed("support", slot - 0.1)
        assert coalescer.due(slot) == ["support"]
    assert not coalescer.changed("support", 0.9)
    assert coalescer.next_wake() == pytest.approx(1.003)  # 4 in any 1 s of actual sends


def test_zero_interval_sends_every_change() -> None:
    changes = [(0.0, "support"), (0.0, "support"), (0.1, "sales")]
    assert simulate(changes, interval=0.0) == changes


def test_a_clock_going_back_does_not_hold_a_key() -> None:
    coalescer = Coalescer(INTERVAL)
    assert coalescer.changed("support", 100.0)
    assert coalescer.changed("support", 50.0)  # earlier than the last send: send


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        Coalescer(-1.0)

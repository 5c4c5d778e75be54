"""Queue metric buckets in the store (migration 0004), on SQLite and PostgreSQL:
idempotent upserts, loading since a time, and a CTI restarted mid-day whose
boards continue as if it never stopped."""

from __future__ import annotations

from day_traffic import CONFIGS, DAY, EPOCH, DayDriver, expected, plan_day

from cti.ids import CallId, Interface, QueueName
from cti.metrics import FIELDS, QueueMetrics, StoredBucket
from cti.model.outputs import CallEnded
from cti.store import Store

T0 = EPOCH + 10 * 3600  # 10:00 UTC, a minute boundary


def bucket(queue: str, start: float, **counts: float) -> StoredBucket:
    return StoredBucket(queue, start, counts, {"PJSIP/1001": 2} if counts else {})


async def test_upsert_is_idempotent_and_keeps_the_latest(store: Store) -> None:
    first = bucket("support", T0, offered=1, answered=1, talk_sum=12.5)
    await store.save_queue_intervals([first])
    await store.save_queue_intervals([first])  # a retried write adds nothing
    newer = bucket("support", T0, offered=2, answered=1, abandoned=1, talk_sum=12.5)
    await store.save_queue_intervals([newer, bucket("sales", T0, offered=3)])
    loaded = await store.load_queue_intervals(T0)
    assert [(b.queue, b.start) for b in loaded] == [("sales", T0), ("support", T0)]
    support = loaded[1]
    assert set(support.counts) == set(FIELDS)
    assert (support.counts["offered"], support.counts["abandoned"]) == (2, 1)
    assert support.counts["talk_sum"] == 12.5
    assert dict(support.ring_no_answer_by_agent) == {"PJSIP/1001": 2}
    await store.save_queue_intervals([])  # nothing to write: fine


async def test_load_since_a_time(store: Store) -> None:
    await store.save_queue_intervals(
        [bucket("support", T0 - 60, offered=1), bucket("support", T0, offered=2)]
    )
    assert [b.start for b in await store.load_queue_intervals(T0)] == [T0]
    assert [b.start for b in await store.load_queue_intervals(T0 - 60)] == [T0 - 60, T0]
    assert await store.load_queue_intervals(T0 + 60) == []


def _answered(call: str, at: float) -> CallEnded:
    return CallEnded(
        call_id=CallId(call),
        outcome="answered",
        caller_number="15551230001",
        caller_name="",
        dialed_number="18005550100",
        queue=QueueName("support"),
        answered_by=Interface("PJSIP/1001"),
        parties=(),
        recipients=(),
        ivr_path=(),
        variables=(),
        account=None,
        started_at=at - 30,
        answered_at=at - 20,
        ended_at=at,
        wait_seconds=3.0,
        talk_seconds=20.0,
    )


async def _flush(driver: DayDriver, store: Store) -> None:
    await store.save_queue_intervals(driver.metrics.dump_dirty())


async def test_a_restart_mid_day_continues_the_boards(db_url: str) -> None:
    """The CTI writes its buckets as it goes and stops at 12:00; a new one loads
    the store and carries on: every board matches the plan to the end of the day."""
    plan = plan_day(seed=11, share=0.3)
    driver = DayDriver(plan, QueueMetrics(CONFIGS))
    async with Store(db_url) as store:
        for t in range(1800, 12 * 3600 + 1, 1800):  # the writer, every half hour here
            driver.run_until(float(t))
            await _flush(driver, store)
        before = {q: driver.metrics.board(q, EPOCH + 12 * 3600) for q in ("support", "sales")}

    restarted = QueueMetrics(CONFIGS)
    async with Store(db_url) as store:  # a new process, the same database
        now = EPOCH + 12 * 3600
        restarted.load(await store.load_queue_intervals(restarted.load_since(now)), now)
        driver.restart_metrics(restarted)
        for queue in ("support", "sales"):  # at once: the same boards as before the stop
            after = restarted.board(queue, now)
            assert after.today == before[queue].today
            assert after.last_60_min == before[queue].last_60_min
        for t in range(13 * 3600, DAY, 3600):
            driver.run_until(float(t))
            await _flush(driver, store)
            for queue in ("support", "sales"):
                board = restarted.board(queue, EPOCH + t)
                today = max(0.0, CONFIGS[queue].today_start(EPOCH + t) - EPOCH)
                for window, since in (
                    (board.today, today),
                    (board.last_60_min, t - 59 * 60),
                    (board.last_15_min, t - 14 * 60),
                ):
                    want = expected(plan, queue, since, t)
                    assert (window.offered, window.answered, window.abandoned) == (
                        want.offered,
                        want.answered,
                        want.abandoned,
                    )
                    assert dict(window.ring_no_answer_by_agent) == want.ring_no_answer_by_agent
                    assert window.answered_within_sl == want.answered_within_sl
                    assert abs(window.contact_seconds - want.contact_seconds) < 0.5
                    assert abs(window.idle_seconds - want.idle_seconds) < 0.5


async def test_today_resets_and_windows_slide_after_a_restart(db_url: str) -> None:
    async with Store(db_url) as store:
        first = QueueMetrics(CONFIGS)
        first.apply(_answered("c1", EPOCH + 5 * 3600 + 30))  # 05:00:30
        first.apply(_answered("c2", EPOCH + 5 * 3600 + 50 * 60))  # 05:50
        await store.save_queue_intervals(first.dump_dirty())

        now = EPOCH + 5 * 3600 + 55 * 60  # 05:55: restart
        second = QueueMetrics(CONFIGS)
        second.load(await store.load_queue_intervals(second.load_since(now)), now)

        def offered(at: float) -> tuple[int, int, int]:
            b = second.board("support", at)
            return b.today.offered, b.last_15_min.offered, b.last_60_min.offered

        assert offered(now) == (2, 1, 2)
        # 06:00: support's day starts; the last hour is 05:01-06:00, without c1
        assert offered(EPOCH + 6 * 3600) == (0, 1, 1)
        assert offered(EPOCH + 6 * 3600 + 5 * 60) == (0, 0, 1)  # 06:05: c2's minute left 15'
        assert offered(EPOCH + 6 * 3600 + 50 * 60) == (0, 0, 0)

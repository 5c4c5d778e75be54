"""Queue metrics through the real intake (fake Asterisk -> AmiClient -> Engine)
across AMI outages: a resync (what a restarted Asterisk also causes) neither
resets the counters nor counts a call twice.

Calls are stepped frame by frame; the link is cut while a call is up or
waiting, the rest of the call happens while the CTI is away, and the resync
finds it gone (`ended_by_resync`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from e2e_tools import AmiRig, open_rig, wait_for

from cti.ids import CallId
from cti.metrics import QueueMetrics, WindowStats
from cti.sim import CallFlow

ALICE, BOB = "PJSIP/1001", "PJSIP/1002"
RING_NO_ANSWER_THEN_BOB = CallFlow(no_answer=1, agents=(ALICE, BOB), talk_time=30.0)
ABANDON_LATER = CallFlow(outcome="abandon", abandon_after=20.0, agents=(ALICE,))


def today(metrics: QueueMetrics) -> WindowStats:
    return metrics.board("support", time.time()).today


async def step_until(rig: AmiRig, done: Callable[[], bool], what: str) -> None:
    """Send frames one at a time until `done()` holds."""
    for _ in range(2000):
        if done():
            return
        await rig.step(1)
    raise AssertionError(f"never reached: {what}")


async def cut_and_lose_the_rest(rig: AmiRig, snapshots: int) -> None:
    rig.fake.drop_connections()
    await rig.fake.step(10_000)  # the call goes on, and ends, unseen
    await rig.wait_snapshots(snapshots)


async def test_a_resync_neither_resets_nor_double_counts() -> None:
    async with open_rig() as rig:
        metrics = rig.engine.metrics = QueueMetrics()

        # 1: a whole call, seen live
        rig.fake.place_call(RING_NO_ANSWER_THEN_BOB)
        await rig.step(10_000)
        await wait_for(lambda: today(metrics).offered == 1, "the first call counted")
        first = today(metrics)
        assert (first.answered, first.handled) == (1, 1)
        assert dict(first.ring_no_answer_by_agent) == {ALICE: 1}

        # 2: the link drops while Bob talks; the call ends during the outage
        second = CallId(rig.fake.place_call(RING_NO_ANSWER_THEN_BOB))
        model = rig.engine.model

        def bob_talking() -> bool:
            call = model.call(second)
            return call is not None and call.answered_at is not None

        await step_until(rig, bob_talking, "Bob answers the second call")
        await cut_and_lose_the_rest(rig, 2)
        now = today(metrics)
        assert (now.offered, now.answered) == (2, 2)  # counted once, answered
        assert now.handled == 1  # its talk time is unknown: not handled
        assert dict(now.ring_no_answer_by_agent) == {ALICE: 2}
        assert now.lost_by_resync == 0
        assert now.aht_seconds == first.aht_seconds  # the unknown talk time stays out

        # 3: a caller waiting when the link drops, gone by the resync
        rig.fake.place_call(ABANDON_LATER)

        def waiting() -> int:
            return metrics.board("support", time.time()).waiting

        await step_until(rig, lambda: waiting() == 1, "the third caller waits")
        await cut_and_lose_the_rest(rig, 3)
        now = today(metrics)
        assert waiting() == 0
        assert (now.offered, now.answered, now.abandoned) == (2, 2, 0)
        assert now.lost_by_resync == 1  # its fate is unknown: not offered

        # another outage with nothing going on: nothing changes
        before = today(metrics)
        rig.fake.drop_connections()
        await rig.wait_snapshots(4)
        after = today(metrics)
        assert (after.offered, after.answered, after.handled, after.lost_by_resync) == (
            before.offered,
            before.answered,
            before.handled,
            before.lost_by_resync,
        )
        assert after.ring_no_answer_by_agent == before.ring_no_answer_by_agent
        assert rig.engine.stats.failures == 0

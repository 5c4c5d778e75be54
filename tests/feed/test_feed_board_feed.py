"""The feed's asyncio shell: boards and agent states published once the burst at hand is
handled, or merged by its timer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.feed import BoardFeed
from cti.ids import Interface, QueueName
from cti.metrics import QueueMetrics
from cti.model.outputs import QueueUpdated

INTERVAL = 0.05


@dataclass
class FakeBoard:
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass
class FakeSource:
    """Boards whose content is a version number per queue, bumped by the test."""

    versions: dict[str, int] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)
    computed: int = 0

    def board(self, queue: str, now: float) -> FakeBoard:
        self.computed += 1
        if queue in self.broken:
            raise RuntimeError("no board")
        return FakeBoard({"type": "queue_board", "queue": queue, "v": self.versions.get(queue, 0)})


@dataclass
class FakePublisher:
    queues: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    agents: list[tuple[str, list[str], dict[str, Any]]] = field(default_factory=list)
    unheard: set[str] = field(default_factory=set)  # queues nobody watches

    def publish_about_queue(self, queue: str, payload: Mapping[str, Any]) -> None:
        self.queues.append((queue, dict(payload)))

    def has_audience_for_queue(self, queue: str) -> bool:
        return queue not in self.unheard

    def publish_about_agent(
        self, interface: str, queues: Iterable[str], payload: Mapping[str, Any]
    ) -> None:
        self.agents.append((interface, list(queues), dict(payload)))


async def test_first_change_at_once_then_merged_to_the_latest_board() -> None:
    source, publisher = FakeSource(), FakePublisher()
    feed = BoardFeed(source, publisher, interval=INTERVAL)
    source.versions["support"] = 1
    feed.queues_changed({"support"})
    await asyncio.sleep(0)  # the engine handled the rest of what it read: sent
    assert publisher.queues == [("support", {"type": "queue_board", "queue": "support", "v": 1})]
    for version in range(2, 30):  # a burst inside the interval
        source.versions["support"] = version
        feed.queues_changed({"support"})
    await asyncio.sleep(0)
    assert len(publisher.queues) == 1
    await asyncio.sleep(INTERVAL * 3)
    assert [p["v"] for _, p in publisher.queues] == [1, 29]  # once, the latest
    assert feed.stats.boards_sent == 2
    assert feed.stats.board_changes == 29
    feed.close()


async def test_the_first_board_shows_the_whole_burst_it_came_in() -> None:
    # Asterisk reports one happening as several events, handled in one go: the
    # board let through by the first shows the last, and none is held back
    source, publisher = FakeSource(), FakePublisher()
    feed = BoardFeed(source, publisher, interval=INTERVAL)
    for version in (1, 2, 3):
        source.versions["support"] = version
        feed.queues_changed({"support"})
    assert publisher.queues == []
    await asyncio.sleep(0)
    assert [p["v"] for _, p in publisher.queues] == [3]
    await asyncio.sleep(INTERVAL * 3)
    assert [p["v"] for _, p in publisher.queues] == [3]  # no trailing copy of it
    assert feed.stats.boards_sent == 1
    feed.close()


async def test_a_board_nobody_would_receive_is_not_computed() -> None:
    source, publisher = FakeSource(), FakePublisher(unheard={"night"})
    feed = BoardFeed(source, publisher, interval=INTERVAL)
    feed.queues_changed(["night", "support"])
    await asyncio.sleep(0)
    for version in range(1, 5):
        source.versions["night"] = source.versions["support"] = version
        feed.queues_changed(["night", "support"])
    await asyncio.sleep(INTERVAL * 3)
    assert {q for q, _ in publisher.queues} == {"support"}
    assert source.computed == feed.stats.boards_sent == 2
    assert feed.stats.boards_unheard == 2  # at once, then the merged one
    publisher.unheard.clear()  # a supervisor of "night" logged in
    feed.queues_changed(["night"])
    await asyncio.sleep(0)
    assert publisher.queues[-1] == ("night", {"type": "queue_board", "queue": "night", "v": 4})
    feed.close()


async def test_queues_are_independent_and_a_failing_board_does_not_stop_others() -> None:
    source, publisher = FakeSource(broken={"broken"}), FakePublisher()
    feed = BoardFeed(source, publisher, interval=INTERVAL)
    feed.queues_changed(["broken", "support"])
    feed.queues_changed(["sales"])
    await asyncio.sleep(0)
    assert [q for q, _ in publisher.queues] == ["support", "sales"]
    assert feed.stats.failures == 1
    feed.close()


async def test_a_flapping_agent_cannot_flood_supervisors() -> None:
    publisher = FakePublisher()
    feed = BoardFeed(FakeSource(), publisher, interval=INTERVAL)
    alice = "PJSIP/1001"
    feed.agent_changed(alice, ["support"], {"type": "agent_state", "state": "available"})
    await asyncio.sleep(0)
    for i in range(200):  # 200 changes at once, then leaves sales
        state = "paused" if i % 2 else "available"
        feed.agent_changed(alice, ["support", "sales"], {"type": "agent_state", "state": state})
    feed.agent_changed(alice, ["support"], {"type": "agent_state", "state": "logged_out"})
    await asyncio.sleep(INTERVAL * 3)
    assert [p["state"] for _, _, p in publisher.agents] == ["available", "logged_out"]
    # the merged send names every queue touched, so sales' supervisors see the leave
    assert publisher.agents[1][1] == ["sales", "support"]
    assert feed.stats.agent_changes == 202
    assert feed.stats.agents_sent == 2
    feed.close()


def waiting(queue: str, count: int) -> dict[str, Any]:
    return {"type": "queue_state", "queue": queue, "waiting": count}


async def test_queue_state_rides_with_the_board_and_is_merged_like_it() -> None:
    source, publisher = FakeSource(), FakePublisher()
    feed = BoardFeed(source, publisher, interval=INTERVAL)
    feed.queue_state_changed("support", waiting("support", 1))
    await asyncio.sleep(0)
    assert [p["type"] for _, p in publisher.queues] == ["queue_state", "queue_board"]
    for count in range(2, 10):  # callers keep joining inside the interval
        source.versions["support"] = count
        feed.queue_state_changed("support", waiting("support", count))
        feed.queues_changed(["support"])
    await asyncio.sleep(0)
    assert len(publisher.queues) == 2
    await asyncio.sleep(INTERVAL * 3)
    sent = [(p["type"], p.get("waiting", p.get("v"))) for _, p in publisher.queues]
    # one slot per queue for both kinds: the latest waiting count, then the board
    assert sent == [("queue_state", 1), ("queue_board", 0), ("queue_state", 9), ("queue_board", 9)]
    assert feed.stats.queue_state_changes == 9
    assert feed.stats.queue_states_sent == 2
    assert feed.stats.boards_sent == 2
    feed.close()


async def test_queue_state_of_a_queue_nobody_watches_is_dropped_not_kept() -> None:
    source, publisher = FakeSource(), FakePublisher(unheard={"night"})
    feed = BoardFeed(source, publisher, interval=INTERVAL)
    feed.queue_state_changed("night", waiting("night", 3))
    await asyncio.sleep(0)
    assert publisher.queues == []
    assert feed.stats.queue_states_unheard == 1
    publisher.unheard.clear()  # a supervisor of "night" logged in (REST gives the snapshot)
    await asyncio.sleep(INTERVAL * 2)
    feed.queues_changed(["night"])
    await asyncio.sleep(0)
    assert [p["type"] for _, p in publisher.queues] == ["queue_board"]  # no stale waiting count
    feed.close()


async def test_queue_state_goes_out_even_when_its_board_cannot_be_computed() -> None:
    source, publisher = FakeSource(broken={"support"}), FakePublisher()
    feed = BoardFeed(source, publisher, interval=INTERVAL)
    feed.queue_state_changed("support", waiting("support", 2))
    await asyncio.sleep(0)
    assert publisher.queues == [("support", waiting("support", 2))]
    assert feed.stats.failures == 1
    feed.close()


async def test_close_stops_the_timer() -> None:
    source, publisher = FakeSource(), FakePublisher()
    feed = BoardFeed(source, publisher, interval=INTERVAL)
    feed.queues_changed(["support"])
    await asyncio.sleep(0)
    feed.queues_changed(["support"])
    feed.close()
    await asyncio.sleep(INTERVAL * 2)
    assert len(publisher.queues) == 1
    feed.queues_changed(["sales"])  # let through, not sent yet
    feed.close()
    await asyncio.sleep(0)
    assert len(publisher.queues) == 1


async def test_real_metrics_boards_are_published_as_queue_board() -> None:
    metrics, publisher = QueueMetrics(), FakePublisher()
    feed = BoardFeed(metrics, publisher, interval=INTERVAL, clock=lambda: 1_764_331_300.0)
    update = QueueUpdated(
        queue=QueueName("support"),
        waiting=3,
        longest_wait_since=1_764_331_290.0,
        members=(Interface("PJSIP/1001"),),
        at=1_764_331_299.0,
    )
    feed.queues_changed(metrics.apply(update))
    await asyncio.sleep(0)
    ((queue, board),) = publisher.queues
    assert queue == "support"
    assert board["type"] == "queue_board"
    assert board["waiting"] == 3
    assert board["longest_wait_seconds"] == 10.0
    feed.close()

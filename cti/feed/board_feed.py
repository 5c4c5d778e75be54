"""The supervisor feed: queue news (boards, waiting callers) and agent states,
at most 4 per second each.

Strategy: a thin asyncio shell around two pure `Coalescer`s, one keyed by
queue, one by agent interface. The engine tells the feed what changed
(`queues_changed` after the metrics took an output in, `queue_state_changed`
and `agent_changed` with a `queue_state` / `agent_state` payload); a key the
coalescer lets through is published as soon as the engine has handled the
rest of what arrived with the change (`call_soon`); a merged key is published
by one loop timer (`call_later`) at the end of its interval. No task of its
own: nothing here can stop the service, and a failing publish is logged.

Why not at once: Asterisk reports one happening as a burst of events (an
agent hangs up: AgentComplete, two Hangups, QueueMemberStatus), read
together and handled without a pause. Sent from inside the burst, the board
showed its first event only, and the rest, the call's end included, waited
for the next slot, 250 ms later: measured, 2% of call ends came within 1 ms
after a board of their queue, the most of any millisecond of the interval.

Queue boards are computed at send time (`source.board(queue, now)`), so a
merged send shows the latest state. A queue's `queue_state` (its waiting
callers, `queue_state_changed`) rides in the same slot: the latest payload is
kept and sent just before the board, so a queue's news reach supervisors at
most 4 times a second in all, never twice as often in two event types (and
the board shows the same waiting count anyway). Agents: the latest
`agent_state` payload of each pending agent is kept and sent; the queues of
the merged changes are united, so supervisors of a queue the agent just left
hear about it too.

Why agents are coalesced as well: an agent state goes to every supervisor in
scope, and one flapping phone (a bad registration, a script pausing in a loop)
could otherwise push hundreds of frames per second into every supervisor's
send queue, until the hub drops them as too slow (4429). Supervisors watch a
state, not its history: the intermediate states of a burst are not needed on a
board (the store keeps every state spell, and the agent's own socket still
gets every change, from the engine). A single change of a quiet agent is sent
at once, as before.

Publishing goes through `hub.publish_about_queue` / `publish_about_agent`,
which scope it to the supervisors of that queue or agent (and admins); agents
never receive boards.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cti.feed.coalescer import Coalescer

__all__ = ["DEFAULT_INTERVAL", "Board", "BoardFeed", "BoardSource", "FeedPublisher", "FeedStats"]

log = logging.getLogger("cti.feed")

DEFAULT_INTERVAL = 0.25  # seconds: at most 4 updates per second per queue / agent


class Board(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class BoardSource(Protocol):
    """Where boards come from (cti.metrics.QueueMetrics)."""

    def board(self, queue: str, now: float) -> Board: ...


class FeedPublisher(Protocol):
    """Who receives them (cti.web.hub.Hub)."""

    def publish_about_queue(self, queue: str, payload: Mapping[str, Any]) -> None: ...
    def publish_about_agent(
        self, interface: str, queues: Iterable[str], payload: Mapping[str, Any]
    ) -> None: ...
    def has_audience_for_queue(self, queue: str) -> bool:
        """False only when `publish_about_queue(queue, ...)` would reach nobody."""
        ...


@dataclass(slots=True)
class FeedStats:
    boards_sent: int = 0
    boards_unheard: int = 0  # due, but nobody would receive them: not computed
    board_changes: int = 0  # board changes reported (a queue_state change schedules one too)
    queue_states_sent: int = 0
    queue_states_unheard: int = 0  # due, but nobody would receive them: dropped
    queue_state_changes: int = 0  # reported; minus sent and unheard = merged away
    agents_sent: int = 0
    agent_changes: int = 0
    failures: int = 0


@dataclass(slots=True)
class _AgentNews:
    payload: Mapping[str, Any]
    queues: set[str]


class BoardFeed:
    def __init__(
        self,
        source: BoardSource,
        publisher: FeedPublisher,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock`: the boards' time (epoch seconds); `monotonic`: the rate limit's."""
        self._source = source
        self._publisher = publisher
        self._clock = clock
        self._monotonic = monotonic
        self._queues = Coalescer(interval)
        self._agents = Coalescer(interval)
        self._agent_news: dict[str, _AgentNews] = {}
        self._queue_news: dict[str, Mapping[str, Any]] = {}  # queue -> latest queue_state
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None  # monotonic time the timer fires
        # let through by the coalescer, sent once the current burst is handled
        self._soon_boards: dict[str, None] = {}  # an ordered set
        self._soon_agents: dict[str, None] = {}
        self._soon: asyncio.Handle | None = None
        self.stats = FeedStats()

    @property
    def interval(self) -> float:
        return self._queues.interval

    # -- input (from the engine, on the event loop) ------------------------------

    def queues_changed(self, queues: Iterable[str]) -> None:
        """The boards of `queues` changed: send each now or at the end of its interval."""
        now = self._monotonic()
        for queue in queues:
            self.stats.board_changes += 1
            self._schedule_board(queue, now)
        self._arm(now)

    def queue_state_changed(self, queue: str, payload: Mapping[str, Any]) -> None:
        """`queue`'s waiting callers changed (`payload`: its `queue_state` event):
        sent with the queue's next board."""
        now = self._monotonic()
        self.stats.queue_state_changes += 1
        self._queue_news[queue] = payload
        self._schedule_board(queue, now)
        self._arm(now)

    def _schedule_board(self, queue: str, now: float) -> None:
        if self._queues.changed(queue, now):
            self._soon_boards[queue] = None
            self._send_soon()

    def agent_changed(
        self, interface: str, queues: Sequence[str], payload: Mapping[str, Any]
    ) -> None:
        """An agent's state changed (`payload`: its `agent_state` event)."""
        now = self._monotonic()
        self.stats.agent_changes += 1
        news = self._agent_news.get(interface)
        if news is None:
            news = self._agent_news[interface] = _AgentNews(payload, set(queues))
        else:
            news.payload = payload
            news.queues.update(queues)
        if self._agents.changed(interface, now):
            self._soon_agents[interface] = None
            self._send_soon()
        self._arm(now)

    def close(self) -> None:
        """Stop the timers (what is pending is dropped: the service is stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None

    def _send_soon(self) -> None:
        if self._soon is None:
            self._soon = asyncio.get_running_loop().call_soon(self._on_soon)

    def _on_soon(self) -> None:
        self._soon = None
        now = self._monotonic()
        boards, self._soon_boards = list(self._soon_boards), {}
        agents, self._soon_agents = list(self._soon_agents), {}
        for queue in boards:
            # this board shows the changes of the burst after the first too:
            # no trailing board for them
            self._queues.sent_late(queue, now)
        for interface in agents:
            self._agents.sent_late(interface, now)
        self._send_boards(boards)
        self._send_agents(agents)

    # -- output --------------------------------------------------------------------

    def _send_boards(self, queues: Iterable[str]) -> None:
        now = self._clock()
        for queue in queues:
            news = self._queue_news.pop(queue, None)
            if not self._publisher.has_audience_for_queue(queue):
                # A board costs O(members x windows) to compute: with 1,000 agents
                # that held the loop (and the pops behind it) for milliseconds,
                # 4 times a second, for nobody.
                self.stats.boards_unheard += 1
                if news is not None:
                    self.stats.queue_states_unheard += 1
                continue
            board = self._board_json(queue, now)
            # the waiting count goes even when the board could not be computed
            if news is not None and self._publish_queue(queue, news):
                self.stats.queue_states_sent += 1
            if board is not None and self._publish_queue(queue, board):
                self.stats.boards_sent += 1

    def _board_json(self, queue: str, now: float) -> dict[str, Any] | None:
        try:
            return self._source.board(queue, now).to_json()
        except Exception:  # one bad board must not stop the others
            self.stats.failures += 1
            log.exception("could not compute the board of queue %s", queue)
            return None

    def _publish_queue(self, queue: str, payload: Mapping[str, Any]) -> bool:
        try:
            self._publisher.publish_about_queue(queue, payload)
        except Exception:  # nor one failed publish
            self.stats.failures += 1
            log.exception("could not publish %s of queue %s", payload.get("type"), queue)
            return False
        return True

    def _send_agents(self, interfaces: Iterable[str]) -> None:
        for interface in interfaces:
            news = self._agent_news.pop(interface, None)
            if news is None:
                continue
            try:
                self._publisher.publish_about_agent(interface, sorted(news.queues), news.payload)
                self.stats.agents_sent += 1
            except Exception:
                self.stats.failures += 1
                log.exception("could not publish the state of agent %s", interface)

    # -- the timer -------------------------------------------------------------------

    def _next_wake(self) -> float | None:
        wakes = [w for w in (self._queues.next_wake(), self._agents.next_wake()) if w is not None]
        return min(wakes) if wakes else None

    def _arm(self, now: float) -> None:
        wake = self._next_wake()
        if wake is None or (self._timer_at is not None and self._timer_at <= wake):
            return
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, wake - now), self._on_timer)
        self._timer_at = wake

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        now = self._monotonic()
        self.flush_due(now)
        self._arm(now)

    def flush_due(self, now: float) -> None:
        """Send what is due at `now` (the timer calls this)."""
        boards = self._queues.due(now)
        if boards:
            self._send_boards(boards)
        agents = self._agents.due(now)
        if agents:
            self._send_agents(agents)

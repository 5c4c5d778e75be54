"""Live queue metrics, pure: the model's outputs in, queue boards out.

Strategy: `apply(output)` turns each output into counter increments in the
queue's one-minute bucket of the output's time (`at`), and remembers the live
facts (waiting callers, agent states). `board(queue, now)` sums buckets over a
window and adds the live facts. Nothing here reads a clock or does I/O: the
shell passes the time, and persists buckets through `dump_dirty` / `load`.

When things count (docs/metrics.md has the full list):
- a queue call counts once, when it ends (`CallEnded` with a queue), in the
  bucket of its end: offered, and exactly one of answered, abandoned,
  unanswered. A waiting call is in "calls waiting" only, so it is never counted
  twice; a call that ended while the CTI was down is not counted at all.
- a call found gone by a resync (`ended_by_resync`): answered ones count as
  answered (their talk time is unknown, so they are not "handled"); the others
  count only as `lost_by_resync`, since nobody knows if the caller abandoned.
  A call id is counted at most once (a later record of it is ignored).
- agent time (occupancy) is accounted when a state spell ends, split over the
  buckets it covers, into every queue the agent was a member of; the spell in
  progress is added at board time, up to `now`. Wrap-up (AHT's after-call
  work) counts when the wrap-up ends, for the queue of the agent's last call.
- customer web chats (`ChatAssigned` / `ChatReleased`, cti.metrics.chat_load):
  while an agent holds at least one, their available or ringing time is
  contact time, not idle. A change of that (0 <-> 1+ chats) ends a spell's
  accounting like a state change does, so each second is classified once.

Restart: buckets are only ever written at or after `horizon` (the oldest
bucket this object holds in full, set by `load`), so a bucket the store
holds but this process did not load is never overwritten by a partial one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cti.metrics.board import QueueBoard, WindowStats
from cti.metrics.buckets import (
    BUCKET_SECONDS,
    INDEX,
    Bucket,
    StoredBucket,
    bucket_start,
    split_span,
)
from cti.metrics.chat_load import ChatAssigned, ChatLoadEvent, ChatReleased
from cti.metrics.config import DEFAULT_QUEUE, QueueMetricsConfig
from cti.model.agents import STATES, State
from cti.model.outputs import AgentStateChanged, CallEnded, Output, QueueUpdated

__all__ = ["SLIDING_WINDOWS", "QueueMetrics"]

SLIDING_WINDOWS = (15, 60)  # minutes
_KEEP_SECONDS = max(SLIDING_WINDOWS) * 60
_CONTACT = frozenset({State.ON_CALL, State.WRAP_UP})
_IDLE = frozenset({State.AVAILABLE, State.RINGING})
_COUNTED_MEMORY = 20_000  # recent call ids counted, against a second record of a call

_OFFERED = INDEX["offered"]
_ANSWERED = INDEX["answered"]
_ABANDONED = INDEX["abandoned"]
_SHORT = INDEX["short_abandoned"]
_UNANSWERED = INDEX["unanswered"]
_ANSWERED_SL = INDEX["answered_within_sl"]
_ABANDONED_SL = INDEX["abandoned_within_sl"]
_ANSWERED_TIMED = INDEX["answered_timed"]
_WAIT_ANSWERED = INDEX["wait_answered_sum"]
_WAIT_ABANDONED = INDEX["wait_abandoned_sum"]
_HANDLED = INDEX["handled"]
_TALK = INDEX["talk_sum"]
_ACW_COUNT = INDEX["acw_count"]
_ACW = INDEX["acw_sum"]
_RNA = INDEX["ring_no_answer"]
_LOST = INDEX["lost_by_resync"]
_CONTACT_S = INDEX["contact_seconds"]
_IDLE_S = INDEX["idle_seconds"]


@dataclass(slots=True)
class _Agent:
    state: str
    reason: str | None
    queues: tuple[str, ...]
    since: float  # when this (state, reason) began (the model's `since`)
    accounted_to: float  # agent time before this is in buckets already
    chats: int = 0  # open customer web chats they hold


def _slot(agent: _Agent, chats: int | None = None) -> int:
    """Where the agent's time goes (holding `chats`, default theirs): contact,
    idle, or neither (-1).

    Holding a customer chat is handling a contact, so available (and ringing)
    time with one counts as contact; paused and logged-out time stays out of
    occupancy, chats or not, as the definition has it."""
    if agent.state in _CONTACT:
        return _CONTACT_S
    if agent.state in _IDLE:
        return _CONTACT_S if (agent.chats if chats is None else chats) > 0 else _IDLE_S
    return -1


@dataclass(slots=True)
class _Live:
    waiting: int = 0
    longest_wait_since: float | None = None


class QueueMetrics:
    """Counters per queue in one-minute buckets, and the live state of each queue."""

    def __init__(self, configs: Mapping[str, QueueMetricsConfig] | None = None) -> None:
        """`configs`: queue -> definitions; the `*` entry is the default of the others."""
        self._configs = dict(configs or {})
        self._default = self._configs.pop(DEFAULT_QUEUE, QueueMetricsConfig())
        self._buckets: dict[str, dict[int, Bucket]] = {}
        self._dirty: set[tuple[str, int]] = set()
        self._live: dict[str, _Live] = {}
        self._agents: dict[str, _Agent] = {}
        self._members: dict[str, set[str]] = {}
        self._last_queue: dict[str, str] = {}  # agent -> queue of their last answered call
        self._chat_agent: dict[int, str] = {}  # open customer chat -> its agent's device
        self._chat_counts: dict[str, int] = {}  # agent device -> open customer chats
        self._counted: OrderedDict[str, None] = OrderedDict()
        self._horizon = float("-inf")
        # queue -> (today's start, its totals so far): kept up to date by `_bucket`
        self._today: dict[str, tuple[float, Bucket]] = {}
        # queue -> [today's start, the next reset): configs never change
        self._today_spans: dict[str, tuple[float, float]] = {}
        # queue -> {(since, current bucket): sum of the buckets in [since, current)}:
        # the closed part of a sliding window, dropped when one of those changes
        self._closed: dict[str, dict[tuple[float, int], Bucket]] = {}
        self._closed_until: dict[str, int] = {}
        for queue in self._configs:
            self._buckets.setdefault(queue, {})

    # -- settings ------------------------------------------------------------

    def config(self, queue: str) -> QueueMetricsConfig:
        return self._configs.get(queue, self._default)

    def queues(self) -> list[str]:
        """Every queue configured or seen, sorted."""
        return sorted(self._buckets.keys() | self._live.keys() | self._members.keys())

    # -- input ------------------------------------------------------------------

    def apply(self, output: Output | ChatLoadEvent) -> set[str]:
        """Account one model output (or web chat load change); returns the queues
        whose board changed."""
        if isinstance(output, ChatAssigned | ChatReleased):
            return self._chat_moved(output)
        if isinstance(output, CallEnded):
            return self._call_ended(output)
        if isinstance(output, AgentStateChanged):
            return self._agent_changed(output)
        if isinstance(output, QueueUpdated):
            live = self._live.get(output.queue)
            if live is None:
                live = self._live[output.queue] = _Live()
                self._buckets.setdefault(output.queue, {})
            live.waiting, live.longest_wait_since = output.waiting, output.longest_wait_since
            return {output.queue}
        return set()

    def apply_all(self, outputs: Iterable[Output | ChatLoadEvent]) -> set[str]:
        changed: set[str] = set()
        for output in outputs:
            changed |= self.apply(output)
        return changed

    def _bucket(self, queue: str, at: float) -> Bucket | None:
        """The bucket of `at`, marked dirty; None before the horizon (never written)."""
        start = bucket_start(at)
        if start < self._horizon:
            return None
        if start < self._closed_until.get(queue, start):
            del self._closed[queue], self._closed_until[queue]
        buckets = self._buckets.get(queue)
        if buckets is None:
            buckets = self._buckets[queue] = {}
        bucket = buckets.get(start)
        if bucket is None:
            bucket = buckets[start] = Bucket()
        self._dirty.add((queue, start))
        return bucket

    def _add(self, queue: str, at: float, index: int, amount: float) -> None:
        bucket = self._bucket(queue, at)
        if bucket is None:
            return
        bucket.values[index] += amount
        today = self._today.get(queue)
        if today is not None and bucket_start(at) >= today[0]:
            today[1].values[index] += amount

    def _call_ended(self, e: CallEnded) -> set[str]:
        queue = e.queue
        if queue is None or e.call_id in self._counted:
            return set()
        self._counted[e.call_id] = None
        if len(self._counted) > _COUNTED_MEMORY:
            self._counted.popitem(last=False)
        config = self.config(queue)
        at, wait = e.ended_at, e.wait_seconds
        add = self._add
        for agent in e.ring_no_answer:
            add(queue, at, _RNA, 1)
            self._add_rna(queue, at, agent)
        if e.outcome == "answered":
            add(queue, at, _OFFERED, 1)
            add(queue, at, _ANSWERED, 1)
            if wait is not None:
                add(queue, at, _ANSWERED_TIMED, 1)
                add(queue, at, _WAIT_ANSWERED, wait)
                if wait <= config.sl_seconds:
                    add(queue, at, _ANSWERED_SL, 1)
            if not e.ended_by_resync:
                add(queue, at, _HANDLED, 1)
                add(queue, at, _TALK, e.talk_seconds or 0.0)
            if e.answered_by is not None:
                self._last_queue[e.answered_by] = queue
        elif e.ended_by_resync:
            add(queue, at, _LOST, 1)
        elif e.outcome == "abandoned":
            add(queue, at, _OFFERED, 1)
            add(queue, at, _ABANDONED, 1)
            if wait is not None:
                add(queue, at, _WAIT_ABANDONED, wait)
                if wait < config.short_abandon_seconds:
                    add(queue, at, _SHORT, 1)
                if wait <= config.sl_seconds:
                    add(queue, at, _ABANDONED_SL, 1)
        else:
            add(queue, at, _OFFERED, 1)
            add(queue, at, _UNANSWERED, 1)
        return {queue}

    def _add_rna(self, queue: str, at: float, agent: str) -> None:
        bucket = self._bucket(queue, at)
        if bucket is None:
            return
        per_agent = bucket.ring_no_answer_by_agent
        per_agent[agent] = per_agent.get(agent, 0) + 1
        today = self._today.get(queue)
        if today is not None and bucket_start(at) >= today[0]:
            totals = today[1].ring_no_answer_by_agent
            totals[agent] = totals.get(agent, 0) + 1

    def _agent_changed(self, e: AgentStateChanged) -> set[str]:
        interface = str(e.interface)
        queues = tuple(str(q) for q in e.queues)
        prev = self._agents.get(interface)
        changed = set(queues)
        if prev is None:
            start = max(e.since, self._horizon)
            chats = self._chat_counts.get(interface, 0)
            self._agents[interface] = _Agent(e.state, e.reason, queues, e.since, start, chats)
        else:
            changed.update(prev.queues)
            self._account(prev, e.at)
            if prev.state == State.WRAP_UP and e.state != State.WRAP_UP:
                queue = self._last_queue.get(interface) or (prev.queues or (None,))[0]
                if queue is not None:
                    self._add(queue, e.at, _ACW_COUNT, 1)
                    self._add(queue, e.at, _ACW, max(0.0, e.at - prev.since))
            prev.state, prev.reason, prev.since = e.state, e.reason, e.since
            for queue in set(prev.queues) - set(queues):
                self._members.get(queue, set()).discard(interface)
            prev.queues = queues
        for queue in queues:
            self._members.setdefault(queue, set()).add(interface)
            self._buckets.setdefault(queue, {})
        return changed

    def _chat_moved(self, e: ChatLoadEvent) -> set[str]:
        """A customer chat is now held by `e.interface` (or nobody): the load of its
        previous and new agent changes; a repeated event changes nothing."""
        before = self._chat_agent.get(e.conversation_id)
        after = e.interface if isinstance(e, ChatAssigned) else None
        if before == after:
            return set()
        if after is None:
            del self._chat_agent[e.conversation_id]
        else:
            self._chat_agent[e.conversation_id] = after
        changed: set[str] = set()
        for interface, delta in ((before, -1), (after, 1)):
            if interface is not None:
                changed |= self._chat_load(interface, delta, e.at)
        return changed

    def _chat_load(self, interface: str, delta: int, at: float) -> set[str]:
        count = self._chat_counts.get(interface, 0) + delta
        if count > 0:
            self._chat_counts[interface] = count
        else:
            self._chat_counts.pop(interface, None)
        agent = self._agents.get(interface)
        if agent is None:  # not seen yet: takes the count when they are
            return set()
        count = max(0, count)
        if _slot(agent, count) == _slot(agent):
            agent.chats = count
            return set()
        # the time so far is classified by the load it had; then the load changes
        self._account(agent, at)
        agent.chats = count
        return set(agent.queues)

    def _account(self, agent: _Agent, until: float) -> None:
        """Put the agent's time since `accounted_to` into the buckets of their queues."""
        index = _slot(agent)
        if index >= 0 and agent.queues:
            for start, seconds in split_span(agent.accounted_to, until, self._horizon):
                for queue in agent.queues:
                    self._add(queue, start, index, seconds)
        agent.accounted_to = max(agent.accounted_to, until)

    # -- output ---------------------------------------------------------------

    def board(self, queue: str, now: float) -> QueueBoard:
        config = self.config(queue)
        live = self._live.get(queue, _Live())
        agents = dict.fromkeys(STATES, 0)
        reasons: dict[str, int] = {}
        # One pass over the members for the three windows: (accounted to, slot)
        # of each running spell that counts (a board is computed 4 times a
        # second per busy queue, members x windows was most of its cost)
        spells: list[tuple[float, int]] = []
        horizon = self._horizon
        for interface in self._members.get(queue, ()):
            agent = self._agents[interface]
            agents[agent.state] = agents.get(agent.state, 0) + 1
            if agent.state == State.PAUSED:
                reason = agent.reason or ""
                reasons[reason] = reasons.get(reason, 0) + 1
            slot = _slot(agent)
            if slot >= 0:
                spells.append((max(agent.accounted_to, horizon), slot))
        longest = None
        if live.longest_wait_since is not None:
            longest = round(max(0.0, now - live.longest_wait_since), 3)
        today_start = self._today_start(queue, config, now)
        windows = [
            self._window(config, today_start, now, spells, self._today_totals(queue, today_start))
        ]
        current = bucket_start(now)
        latest = self._buckets.get(queue, {}).get(current)
        for minutes in SLIDING_WINDOWS:
            since = float(current - (minutes - 1) * BUCKET_SECONDS)
            closed = self._sum_closed(queue, since, current)
            windows.append(self._window(config, since, now, spells, closed, latest))
        return QueueBoard(
            queue=queue,
            at=now,
            config=config,
            waiting=live.waiting,
            longest_wait_seconds=longest,
            agents=agents,
            pause_reasons=dict(sorted(reasons.items())),
            today=windows[0],
            last_15_min=windows[1],
            last_60_min=windows[2],
        )

    def _today_start(self, queue: str, config: QueueMetricsConfig, now: float) -> float:
        """`config.today_start(now)`, worked out (time zones, dates) once a day."""
        span = self._today_spans.get(queue)
        if span is None or not span[0] <= now < span[1]:
            start = config.today_start(now)
            # the next reset: the last one at or before a day and a half on,
            # whatever a DST change did to the day's length
            span = self._today_spans[queue] = (start, config.today_start(start + 36 * 3600))
        return span[0]

    def boards(self, now: float) -> list[QueueBoard]:
        return [self.board(queue, now) for queue in self.queues()]

    def _sum(self, queue: str, since: float, until: int | None = None) -> Bucket:
        """Buckets from `since` on (to bucket `until` inclusive, if given)."""
        totals = Bucket()
        buckets = self._buckets.get(queue, {})
        if until is not None and (until - since) // BUCKET_SECONDS < len(buckets):
            for start in range(int(since), until + 1, BUCKET_SECONDS):
                bucket = buckets.get(start)
                if bucket is not None:
                    totals.add(bucket)
            return totals
        for start, bucket in buckets.items():
            if start >= since and (until is None or start <= until):
                totals.add(bucket)
        return totals

    def _sum_closed(self, queue: str, since: float, current: int) -> Bucket:
        cache = self._closed.setdefault(queue, {})
        totals = cache.get((since, current))
        if totals is None:
            if len(cache) >= 2 * len(SLIDING_WINDOWS):
                cache.clear()  # the minute moved on
            totals = cache[since, current] = self._sum(queue, since, current - BUCKET_SECONDS)
            self._closed_until[queue] = max(self._closed_until.get(queue, current), current)
        return totals

    def _today_totals(self, queue: str, today_start: float) -> Bucket:
        cached = self._today.get(queue)
        if cached is None or cached[0] != today_start:
            cached = self._today[queue] = (today_start, self._sum(queue, today_start))
        return cached[1]

    def _window(
        self,
        config: QueueMetricsConfig,
        since: float,
        now: float,
        spells: Sequence[tuple[float, int]],
        closed: Bucket,
        live: Bucket | None = None,
    ) -> WindowStats:
        """The window's stats: its buckets plus the members' spells still running."""
        totals = Bucket()
        totals.add(closed)
        if live is not None:
            totals.add(live)
        values = totals.values
        for accounted_to, slot in spells:
            seconds = now - (accounted_to if accounted_to > since else since)
            if seconds > 0:
                values[slot] += seconds
        return WindowStats.of(since, totals, config)

    # -- persistence ----------------------------------------------------------------

    def load_since(self, now: float) -> float:
        """The oldest bucket a board at `now` may read: what a restart must load."""
        configs = [self._default, *self._configs.values()]
        oldest_today = min(c.today_start(now) for c in configs)
        return float(min(bucket_start(oldest_today), bucket_start(now) - _KEEP_SECONDS))

    def load(self, buckets: Iterable[StoredBucket], now: float) -> None:
        """Take over the stored buckets since `load_since(now)` (a restart)."""
        self._horizon = self.load_since(now)
        for stored in buckets:
            start = bucket_start(stored.start)
            if start < self._horizon:
                continue
            self._buckets.setdefault(stored.queue, {})[start] = stored.to_bucket()
        self._today.clear()
        self._closed.clear()
        self._closed_until.clear()

    def dump_dirty(self) -> list[StoredBucket]:
        """The buckets changed since the last call (in full), for the store to upsert."""
        out: list[StoredBucket] = []
        for queue, start in sorted(self._dirty):
            bucket = self._buckets.get(queue, {}).get(start)
            if bucket is not None:
                out.append(
                    StoredBucket(
                        queue, float(start), bucket.counts(), dict(bucket.ring_no_answer_by_agent)
                    )
                )
        self._dirty.clear()
        return out

    def mark_dirty(self, buckets: Iterable[StoredBucket]) -> None:
        """A dump the store failed to write: dump those buckets again next time."""
        for stored in buckets:
            self._dirty.add((stored.queue, bucket_start(stored.start)))

    def prune(self, now: float) -> None:
        """Forget buckets no board can read any more (kept in the store); they are
        never written again, so the horizon moves up to them."""
        keep_from = self.load_since(now)
        for queue, buckets in self._buckets.items():
            for start in [s for s in buckets if s < keep_from and (queue, s) not in self._dirty]:
                del buckets[start]
        self._horizon = max(self._horizon, keep_from)

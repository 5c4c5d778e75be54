"""The traffic engine: a timeline of call steps, and who answers which call.

Strategy: one heap of due steps on a virtual timeline (seconds), fed by the
pure builders of cti.sim.calls. Decisions that depend on the live state (which
agent is free when a caller reaches the queue) are heap entries too
(`_Decide`), taken when due, so the same code serves real time (the server
calls `advance(now)`) and the stepped mode of tests (`next_frames(n)` jumps the
clock to the next due step). No I/O, no clock reads: time is always passed in.
Randomness comes from one seeded `random.Random`, so a scenario replays
identically.

Stasis calls (cti.sim.stasis) stop at ``Stasis(cti-ivr,...)``: if the app is
in `stasis_apps` (the ARI server keeps that set), the call is parked and
listed in `stasis_started` for the ARI side to announce; its application then
drives it with `stasis_answer`, `stasis_set_variable`, `stasis_continue`. If
no such app is registered, Stasis fails at once (STASISSTATUS=FAILED) and the
dialplan goes on, as in Asterisk.

Transfers of an answered queue call (`blind_transfer`, `attended_transfer`,
called by the server once the action is accepted) replace the call's planned
end with the transfer's legs (cti.sim.transfers, cti.sim.attended); frames
that must be written from the live state when due (bridge moves, the
AttendedTransfer event) are `_Deferred` heap entries.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from cti.sim.attended import (
    complete_frames,
    consult_answer_steps,
    consult_dial_steps,
    consult_end_steps,
    consult_vars,
    customer_gone_steps,
    hold_and_move_frames,
    local_one_gone_frames,
    local_one_hangup_frames,
    rejoin_frames,
    transferer_gone_steps,
    transferred_end_frames,
)
from cti.sim.calls import (
    AgentConfig,
    CallFlow,
    IdAllocator,
    QueueConfig,
    Scenario,
    abandon_steps,
    answer_steps,
    caller_vars,
    hangup_steps,
    internal_call_steps,
    ivr_hangup_steps,
    ivr_steps,
    noanswer_steps,
    originate_steps,
    ring_steps,
)
from cti.sim.stasis import (
    STASIS_APP,
    STASIS_ARGS,
    channel_frame,
    snapshot_of,
    stasis_answer_steps,
    stasis_enter_steps,
    stasis_resume_steps,
)
from cti.sim.state import SimState
from cti.sim.steps import Step, StepKind
from cti.sim.templates import segment
from cti.sim.transfers import (
    AGENT_EXTENSION,
    invalid_extension_steps,
    target_answer_steps,
    target_dial_steps,
    transfer_vars,
    transferer_leaves_steps,
    transferred_hangup_steps,
)

__all__ = ["StasisEntry", "Traffic"]


@dataclass(frozen=True, slots=True)
class StasisEntry:
    """A call that entered a registered Stasis application (announce StasisStart)."""

    call: str
    channel: str
    uniqueid: str
    app: str
    args: tuple[str, ...]


@dataclass(slots=True)
class _Token:
    """Cancels a group of heap entries (a call's planned future) at once."""

    cancelled: bool = False


@dataclass(slots=True)
class _Run:
    """A queue call in progress (mutable, owned by the engine)."""

    id: str
    flow: CallFlow
    vars: dict[str, str]
    t_start: float
    t_join: float = 0.0
    no_answer_left: int = 0
    forced: deque[str] = field(default_factory=deque)
    reserved: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    plan: _Token = field(default_factory=_Token)  # what happens next (decide/outcome/end)
    answer: _Token = field(default_factory=_Token)  # the answer segment, once planned
    ivr: _Token = field(default_factory=_Token)  # the IVR steps
    ringing: str = ""  # the interface rung now
    t_ring: float = -1.0  # start and end of the ring segment in progress
    t_ring_end: float = -1.0
    t_answer_start: float = -1.0  # start and end of the answer segment
    t_answer: float = -1.0
    done: bool = False
    stasis: str = ""  # the Stasis application holding the call now
    answered: bool = False  # stasis calls: the caller leg is Up
    variables: dict[str, str] = field(default_factory=dict)  # set by the application
    # blind transfer: "" none, "dial" the target leg is dialled, "invalid" no such exten
    transferred: str = ""
    xfer: dict[str, str] = field(default_factory=dict)  # the transferred leg's context
    t_xfer_start: float = -1.0
    t_xfer_answer: float = -1.0
    # attended transfer: "" none, "consulting", "done" (completed)
    consult: str = ""
    cx: dict[str, str] = field(default_factory=dict)  # the consultation's context
    t_consult_answer: float = -1.0


@dataclass(frozen=True, slots=True)
class _Decide:
    call: str


@dataclass(frozen=True, slots=True)
class _Done:
    call: str


@dataclass(frozen=True, slots=True)
class _Release:
    interfaces: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Arrival:
    pass


@dataclass(frozen=True, slots=True)
class _StasisEnter:
    call: str


@dataclass(frozen=True, slots=True)
class _ChannelEvent:
    """An event about a channel, written from its snapshot when due."""

    channel: str
    name: str
    privilege: str
    extra: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Burst:
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class _Deferred:
    """Frames written from the live state when due (bridge moves of a transfer)."""

    write: Callable[[SimState, float], list[bytes]]


_Item = (
    Step | _Burst | _Decide | _Done | _Release | _Arrival | _StasisEnter | _ChannelEvent | _Deferred
)


class Traffic:
    """Scheduled calls over a `SimState`. Time is seconds since the start."""

    def __init__(
        self,
        state: SimState,
        agents: tuple[AgentConfig, ...] = (),
        queues: tuple[QueueConfig, ...] = (),
        *,
        seed: int = 1,
    ) -> None:
        self.state = state
        self.rng = random.Random(seed)
        self.ids = IdAllocator(epoch=state.epoch, rng=random.Random(seed + 1))
        self.agents: dict[str, AgentConfig] = {a.interface: a for a in agents}
        self.queue_configs: dict[str, QueueConfig] = {q.name: q for q in queues}
        self.scenario: Scenario | None = None
        self.calls_started = 0
        self.frames_emitted = 0
        self._heap: list[tuple[float, int, _Token | None, _Item]] = []
        self._seq = itertools.count()
        self._runs: dict[str, _Run] = {}
        self._by_channel: dict[str, str] = {}
        # originated channel -> (token of its planned hang-up, those steps, answer time)
        self._originated: dict[str, tuple[_Token, list[Step], float]] = {}
        self._reserved: set[str] = set()
        self._rotation: dict[str, deque[str]] = {}
        self._pending: deque[bytes] = deque()
        self._burst: deque[Step] = deque()  # stepped mode: the rest of a burst
        self._burst_token: _Token | None = None
        self.now = 0.0
        self.stasis_apps: set[str] = set()  # registered ARI applications
        self.stasis_started: list[StasisEntry] = []  # drained by the ARI side
        for a in agents:
            for q in a.queues:
                self._rotation.setdefault(q, deque()).append(a.interface)

    # -- scheduling ----------------------------------------------------------

    def _push(self, at: float, item: _Item, token: _Token | None = None) -> None:
        heapq.heappush(self._heap, (at, next(self._seq), token, item))

    def _push_steps(self, steps: list[Step], token: _Token | None = None) -> None:
        # One heap entry per burst of steps due at the same instant: a segment
        # is mostly bursts (a ring is 11 frames at once), and heap operations
        # dominate otherwise. Order is kept: a burst runs in list order.
        i, n = 0, len(steps)
        while i < n:
            at = steps[i].at
            j = i + 1
            while j < n and steps[j].at == at:
                j += 1
            self._push(at, steps[i] if j == i + 1 else _Burst(tuple(steps[i:j])), token)
            i = j

    def start_scenario(self, scenario: Scenario, at: float) -> None:
        self.scenario = scenario
        self.rng = random.Random(scenario.seed)
        for a in scenario.agents:
            self.agents.setdefault(a.interface, a)
        self._push(at, _Arrival())

    def stop_scenario(self) -> None:
        self.scenario = None

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    @property
    def active_calls(self) -> int:
        return len(self._runs)

    # -- running ---------------------------------------------------------------

    def advance(self, now: float) -> list[bytes]:
        """Every frame due by `now`, in order."""
        out: list[bytes] = list(self._pending)
        self._pending.clear()
        out += self._finish_burst()
        while self._heap and self._heap[0][0] <= now:
            at, _, token, item = heapq.heappop(self._heap)
            if token is not None and token.cancelled:
                continue
            self.now = max(self.now, at)
            out += self._run_item(item)
        self.now = max(self.now, now)
        self.frames_emitted += len(out)
        return out

    def next_frames(self, n: int) -> list[bytes]:
        """Stepped mode: the next `n` frames, moving the clock as needed.

        Bursts are taken one step at a time here, so that the state never runs
        more than one step ahead of the frames handed out (a fault test that
        cuts the connection after frame k then resyncs against frame k).
        """
        while len(self._pending) < n:
            if self._burst:
                step = self._burst.popleft()
                if self._burst_token is None or not self._burst_token.cancelled:
                    self._pending.extend(self.state.emit(step, self.now))
                continue
            if not self._heap:
                break
            at, _, token, item = heapq.heappop(self._heap)
            if token is not None and token.cancelled:
                continue
            self.now = max(self.now, at)
            if isinstance(item, _Burst):
                self._burst.extend(item.steps)
                self._burst_token = token
            else:
                self._pending.extend(self._run_item(item))
        out = [self._pending.popleft() for _ in range(min(n, len(self._pending)))]
        self.frames_emitted += len(out)
        return out

    def _finish_burst(self) -> list[bytes]:
        out: list[bytes] = []
        while self._burst:
            step = self._burst.popleft()
            if self._burst_token is None or not self._burst_token.cancelled:
                out += self.state.emit(step, self.now)
        return out

    def _run_item(self, item: _Item) -> list[bytes]:
        if isinstance(item, Step):
            return self.state.emit(item, self.now)
        if isinstance(item, _Burst):
            out: list[bytes] = []
            emit, now = self.state.emit, self.now
            for step in item.steps:
                out += emit(step, now)
            return out
        if isinstance(item, _Decide):
            run = self._runs.get(item.call)
            if run is not None:
                self._decide(run)
        elif isinstance(item, _Done):
            run = self._runs.get(item.call)
            if run is not None:
                self._finish(run)
        elif isinstance(item, _Release):
            for iface in item.interfaces:
                self._reserved.discard(iface)
        elif isinstance(item, _Arrival):
            self._arrival()
        elif isinstance(item, _StasisEnter):
            run = self._runs.get(item.call)
            if run is not None:
                self._enter_stasis(run)
        elif isinstance(item, _Deferred):
            return item.write(self.state, self.now)
        elif isinstance(item, _ChannelEvent):
            channel = self.state.channels.get(item.channel)
            if channel is not None:  # gone meanwhile: nothing to say about it
                step = channel_frame(
                    self.now, item.name, item.privilege, snapshot_of(channel.fields), *item.extra
                )
                return self.state.emit(step, self.now)
        return []

    # -- calls -----------------------------------------------------------------

    def add_call(self, flow: CallFlow, at: float | None = None) -> str:
        """Schedule one call; returns its id (the caller's uniqueid / Linkedid)."""
        t = self.now if at is None else at
        self.calls_started += 1
        if flow.kind == "internal":
            return self._internal(flow, t)
        v = caller_vars(flow, self.ids, t)
        run = _Run(v["c_uid"], flow, v, t, no_answer_left=flow.no_answer, forced=deque(flow.agents))
        self._runs[run.id] = run
        self._by_channel[v["c_chan"]] = run.id
        run.channels.append(v["c_chan"])
        if flow.kind == "stasis":
            run.t_join = math.inf  # joins the queue only once Stasis returns
            steps = stasis_enter_steps(v, t, call=run.id)
            self._push_steps(steps, run.ivr)
            self._push(steps[-1].at, _StasisEnter(run.id), run.plan)
            return run.id
        scale = self.scenario.ivr_time_scale if self.scenario else 1.0
        steps, t_join = ivr_steps(v, t, call=run.id, scale=scale)
        run.t_join = t_join
        self._push_steps(steps, run.ivr)
        self._push(t_join, _Decide(run.id), run.plan)
        return run.id

    def _internal(self, flow: CallFlow, t: float) -> str:
        caller, callee = self.agents[flow.caller_iface], self.agents[flow.callee_iface]
        self._reserved.update((caller.interface, callee.interface))
        steps, v = internal_call_steps(
            caller, callee, self.ids, t, ring_time=flow.ring_time, talk_time=flow.talk_time
        )
        self._push_steps(steps)
        self._push(steps[-1].at, _Release((caller.interface, callee.interface)))
        return v["a_uid"]

    def originate(
        self,
        iface: str,
        exten: str,
        action_id: str,
        variables: tuple[tuple[str, str], ...] = (),
        at: float | None = None,
        *,
        hold_for: float = 3.0,
        application: tuple[str, str] | None = None,
    ) -> str:
        """Click-to-dial from `iface` to `exten`; returns the new channel's name.

        The far end hangs up after `hold_for` seconds unless `hangup()` comes
        first. `application` (name, data), for an Originate with Application
        (ChanSpy): once answered the channel runs it instead of `exten`.
        """
        agent = self.agents.get(iface) or AgentConfig(iface, iface.rpartition("/")[2])
        t = self.now if at is None else at
        steps = originate_steps(
            agent,
            self.ids,
            t,
            exten=exten,
            action_id=action_id,
            variables=variables,
            hold_for=hold_for,
        )
        cut = len(steps) - len(segment("originate_hangup"))
        answer, end = steps[:cut], steps[cut:]
        if application is not None:
            answer = _run_application(answer, exten, *application)
        chan = steps[0].get_fields()[1][1]
        token = _Token()
        self._push_steps(answer)
        self._push_steps(end, token)
        # forget originates that ended by themselves long ago
        self._originated = {
            c: v for c, v in self._originated.items() if not v[0].cancelled and v[1][-1].at > t
        }
        self._originated[chan] = (token, end, answer[-1].at)
        return chan

    # -- Stasis ------------------------------------------------------------------

    def _enter_stasis(self, run: _Run) -> None:
        if STASIS_APP in self.stasis_apps:
            run.stasis = STASIS_APP
            v = run.vars
            self.stasis_started.append(
                StasisEntry(run.id, v["c_chan"], v["c_uid"], STASIS_APP, STASIS_ARGS)
            )
        else:
            self._resume(run, "FAILED", self.now)

    def _resume(self, run: _Run, status: str, t: float) -> None:
        """Stasis returned: the dialplan goes on to the queue."""
        run.stasis = ""
        steps: list[Step] = []
        if not run.answered:
            # Simplification: the queue segments were recorded with an answered
            # caller, so a caller nobody answered is answered on the way there.
            steps += stasis_answer_steps(run.vars, t, call=run.id)
            run.answered = True
            t = steps[-1].at
        customer = run.variables.get("CTI_CUSTOMER_ID", "")
        steps += stasis_resume_steps(run.vars, t, status=status, customer=customer, call=run.id)
        run.t_join = steps[-1].at
        self._push_steps(steps, run.ivr)
        self._push(run.t_join, _Decide(run.id), run.plan)

    def take_stasis_started(self) -> list[StasisEntry]:
        out, self.stasis_started = self.stasis_started, []
        return out

    def in_stasis(self, channel: str) -> bool:
        return self._parked(channel) is not None

    def _parked(self, channel: str) -> _Run | None:
        run = self._runs.get(self._by_channel.get(channel, ""))
        if run is None or run.done or not run.stasis or run.vars["c_chan"] != channel:
            return None
        return run

    def stasis_answer(self, channel: str, at: float | None = None) -> bool:
        """The application answers the channel (no-op when already Up)."""
        run = self._parked(channel)
        if run is None:
            return False
        if not run.answered:
            run.answered = True
            self._push_steps(stasis_answer_steps(run.vars, self._at(at), call=run.id), run.ivr)
        return True

    def stasis_set_variable(
        self, channel: str, name: str, value: str, at: float | None = None
    ) -> bool:
        """The application sets a channel variable: VarSet on AMI."""
        run = self._parked(channel)
        if run is None:
            return False
        run.variables[name] = value
        event = _ChannelEvent(
            channel, "VarSet", "dialplan,all", (("Variable", name), ("Value", value))
        )
        self._push(self._at(at), event, run.ivr)
        return True

    def stasis_channel_event(
        self,
        channel: str,
        name: str,
        privilege: str,
        *extra: tuple[str, str],
        at: float | None = None,
    ) -> bool:
        """An event the application causes on its channel (Hold, Unhold, DTMF sent)."""
        run = self._parked(channel)
        if run is None:
            return False
        self._push(self._at(at), _ChannelEvent(channel, name, privilege, extra), run.ivr)
        return True

    def stasis_continue(self, channel: str, at: float | None = None) -> bool:
        """The application returns the channel to the dialplan (next priority)."""
        run = self._parked(channel)
        if run is None:
            return False
        self._resume(run, "SUCCESS", self._at(at))
        return True

    def _at(self, at: float | None) -> float:
        return self.now if at is None else max(at, self.now)

    def _queue_config(self, name: str) -> QueueConfig:
        return self.queue_configs.get(name) or QueueConfig(name)

    def _pick(self, run: _Run) -> AgentConfig | None:
        if run.forced:
            return self.agents[run.forced.popleft()]
        rotation = self._rotation.get(run.flow.queue)
        if not rotation:
            return None
        for _ in range(len(rotation)):
            iface = rotation[0]
            rotation.rotate(-1)  # rrmemory: the next call starts after this one
            if iface not in self._reserved and self.state.is_free(iface):
                return self.agents.get(iface)
        return None

    def _abandon(self, run: _Run, end: float, ringing: bool) -> None:
        v = run.vars
        steps = abandon_steps(
            v, end, hold=end - run.t_join, dialed=end - run.t_start, ringing=ringing, call=run.id
        )
        self._push_steps(steps, run.plan)
        self._push(steps[-1].at, _Done(run.id), run.plan)

    def _decide(self, run: _Run) -> None:
        t = self.now
        qc = self._queue_config(run.flow.queue)
        v = run.vars
        agent = self._pick(run)
        if agent is None:
            if run.flow.outcome == "abandon" or t - run.t_join >= qc.max_wait:
                self._abandon(
                    run,
                    t + (run.flow.abandon_after if run.flow.outcome == "abandon" else 0.0),
                    False,
                )
            else:
                self._push(t + qc.retry, _Decide(run.id), run.plan)
            return
        self._reserved.add(agent.interface)
        run.reserved.append(agent.interface)
        run.ringing = agent.interface
        ring = ring_steps(v, agent, self.ids, t, call=run.id)
        self._push_steps(ring)  # never cancelled: a ring in progress completes
        run.t_ring, run.t_ring_end = t, ring[-1].at
        self._by_channel[v["a_chan"]] = run.id
        run.channels.append(v["a_chan"])
        if run.no_answer_left > 0:
            run.no_answer_left -= 1
            end = t + qc.ring_timeout
            self._push_steps(noanswer_steps(v, end, qc.ring_timeout, call=run.id), run.plan)
            self._push(end, _Release((agent.interface,)), run.plan)
            self._push(end + qc.retry, _Decide(run.id), run.plan)
            run.reserved.remove(agent.interface)
            return
        if run.flow.outcome == "abandon":
            self._abandon(run, t + run.flow.abandon_after, True)
            return
        answer_at = t + run.flow.ring_time
        steps = answer_steps(
            v,
            self.ids,
            answer_at,
            hold=answer_at - run.t_join,
            ring=run.flow.ring_time,
            call=run.id,
        )
        self._push_steps(steps, run.answer)
        run.t_answer_start, run.t_answer = answer_at, steps[-1].at
        self._schedule_hangup(run, run.t_answer + run.flow.talk_time, run.flow.hangup_by)

    def _schedule_hangup(self, run: _Run, at: float, by: Literal["caller", "agent"]) -> None:
        talk = at - run.t_answer
        steps = hangup_steps(run.vars, at, by=by, talk=talk, dialed=at - run.t_start, call=run.id)
        self._push_steps(steps, run.plan)
        self._push(steps[-1].at, _Done(run.id), run.plan)

    def hangup(self, channel: str) -> bool:
        """A Hangup action on a generated queue call's channel: end the call now.

        A segment already under way (a ring, an answer) completes first, as
        Asterisk would finish the bridge set-up before tearing it down. Direct
        (agent-to-agent) and originated calls are not supported.
        """
        if channel in self._originated:
            return self._hangup_originated(channel)
        run = self._runs.get(self._by_channel.get(channel, ""))
        t = self.now
        if run is None or run.done:
            return False
        if run.transferred:
            return self._hangup_transferred(run)
        if run.consult:
            return self._hangup_consulting(run, channel)
        if t < run.t_join:
            run.stasis = ""
            run.ivr.cancelled = run.plan.cancelled = True
            run.plan = _Token()
            steps = ivr_hangup_steps(run.vars, t, call=run.id)
            self._push_steps(steps, run.plan)
            self._push(steps[-1].at, _Done(run.id), run.plan)
            return True
        answering = 0 <= run.t_answer_start <= t
        ringing = not answering and 0 <= run.t_ring <= t and run.ringing in run.reserved
        run.plan.cancelled = True
        run.plan = _Token()
        if not answering:
            run.answer.cancelled = True  # an answer planned for later will not come
        if answering:
            by: Literal["caller", "agent"] = "caller" if channel == run.vars["c_chan"] else "agent"
            self._schedule_hangup(run, max(t, run.t_answer), by)
        else:
            self._abandon(run, max(t, run.t_ring_end) if ringing else t, ringing)
        return True

    # -- blind transfer (cti.sim.transfers) ---------------------------------------

    def blind_transfer(self, channel: str, context: str, exten: str) -> bool:
        """Carry out an accepted BlindTransfer whose transferer is a queue call's agent leg.

        The agent leg hangs up, the customer dials `exten` in from-agents
        (``_1XXX``: ``PJSIP/<exten>``), the target answers after the call's
        ring time and the call ends after its talk time, unless a Hangup
        comes first. Any other extension is missing: the customer hangs up.
        False (nothing generated) when `channel` is not such an agent leg.
        """
        run = self._agent_leg_run(channel)
        if run is None:
            return False
        v = run.vars
        t = max(self.now, run.t_answer)
        run.plan.cancelled = True
        run.plan = _Token()
        leaves = transferer_leaves_steps(
            v, t, talk=t - run.t_answer, dialed=t - run.t_start, call=run.id
        )
        self._push_steps(leaves)  # never cancelled: the transferer is gone
        t = leaves[-1].at
        agent_iface = v["a_iface"]
        if agent_iface in run.reserved:
            run.reserved.remove(agent_iface)
        self._push(t, _Release((agent_iface,)))
        if context not in ("", "from-agents") or not AGENT_EXTENSION.fullmatch(exten):
            run.transferred = "invalid"
            steps = invalid_extension_steps(v, t, call=run.id)
            self._push_steps(steps, run.plan)
            self._push(steps[-1].at, _Done(run.id), run.plan)
            return True
        iface = f"PJSIP/{exten}"
        target = self.agents.get(iface) or AgentConfig(iface, exten, queues=())
        x = run.xfer = transfer_vars(v, target, self.ids, t)
        run.transferred = "dial"
        self._by_channel[x["b_chan"]] = run.id
        run.channels.append(x["b_chan"])
        self._reserved.add(iface)
        run.reserved.append(iface)
        dial = target_dial_steps(x, t, call=run.id)
        ring = run.flow.ring_time
        answer = target_answer_steps(x, dial[-1].at + ring, ring=ring, call=run.id)
        self._push_steps(dial + answer)  # a ring in progress completes
        run.t_xfer_start, run.t_xfer_answer = t, answer[-1].at
        self._schedule_xfer_hangup(run, run.t_xfer_answer + run.flow.talk_time)
        return True

    def _agent_leg_run(self, channel: str) -> _Run | None:
        """The answered queue call whose agent leg is `channel`, no transfer under way."""
        run = self._runs.get(self._by_channel.get(channel, ""))
        if run is None or run.done or run.transferred or run.consult or run.t_answer < 0:
            return None
        return run if run.vars.get("a_chan") == channel else None

    def _schedule_xfer_hangup(self, run: _Run, at: float) -> None:
        steps = transferred_hangup_steps(
            run.xfer,
            at,
            talk=at - run.t_xfer_answer,
            dialed=at - run.t_xfer_start,
            call=run.id,
        )
        self._push_steps(steps, run.plan)
        self._push(steps[-1].at, _Done(run.id), run.plan)

    def _hangup_transferred(self, run: _Run) -> bool:
        """A Hangup on a transferred call: both legs hang up (once the target answered)."""
        if run.transferred == "invalid":
            return True  # already on its way out
        run.plan.cancelled = True
        run.plan = _Token()
        self._schedule_xfer_hangup(run, max(self.now, run.t_xfer_answer))
        return True

    # -- attended transfer (cti.sim.attended) -------------------------------------

    def attended_transfer(self, channel: str, context: str, exten: str) -> bool:
        """Start the consultation of an accepted Atxfer on a queue call's agent leg.

        ``Local/<exten>@<context>`` dials ``PJSIP/<exten>`` (from-agents
        ``_1XXX``) on the call's Linkedid while the customer holds. A Hangup of
        the agent leg then completes the transfer, a Hangup of the
        consultation (``;1``, ``;2`` or the target) cancels it. False (nothing
        happens, as when Asterisk plays pbx-invalid) for another extension or
        a channel that is not such an agent leg.
        """
        run = self._agent_leg_run(channel)
        context = context or "from-agents"
        if run is None or context != "from-agents" or not AGENT_EXTENSION.fullmatch(exten):
            return False
        v = run.vars
        t = max(self.now, run.t_answer)
        run.plan.cancelled = True  # no end while the agent consults
        run.plan = _Token()
        iface = f"PJSIP/{exten}"
        target = self.agents.get(iface) or AgentConfig(iface, exten, queues=())
        x = run.cx = consult_vars(v, exten, context, target, self.ids, t)
        run.consult = "consulting"
        self._reserved.add(iface)
        run.reserved.append(iface)
        for name in (x["l1_chan"], x["a_chan"], x["b_chan"]):
            self._by_channel[name] = run.id
            run.channels.append(name)
        dial = consult_dial_steps(x, t, call=run.id)
        self._push_steps(dial)
        self._push(dial[-1].at, _Deferred(lambda st, now: hold_and_move_frames(st, now, v, x)))
        ring = run.flow.ring_time
        answer = consult_answer_steps(x, dial[-1].at + ring, ring=ring, call=run.id)
        self._push_steps(answer)  # a ring in progress completes
        run.t_consult_answer = answer[-1].at
        return True

    def _hangup_consulting(self, run: _Run, channel: str) -> bool:
        """Completes, cancels or ends an attended transfer. Not simulated (False):
        the customer hanging up during the consultation (Asterisk would then
        leave the agent talking with the target)."""
        if run.consult == "done":
            self._end_attended(run, max(self.now, run.t_consult_answer))
        elif channel == run.vars["c_chan"]:
            return False
        elif channel == run.vars["a_chan"]:
            self._complete_attended(run)
        else:
            self._cancel_attended(run)
        return True

    def _complete_attended(self, run: _Run) -> None:
        """The agent hung up while consulting: the customer is bridged with the target."""
        v, x = run.vars, run.cx
        t = max(self.now, run.t_consult_answer)
        run.consult = "done"
        self._push(t, _Deferred(lambda st, now: complete_frames(st, now, v, x)))
        gone = transferer_gone_steps(v, x, t, talk=t - run.t_answer, call=run.id)
        self._push_steps(gone)
        t = gone[-1].at
        self._push(t, _Deferred(lambda st, now: local_one_gone_frames(st, now, v, x)))
        if v["a_iface"] in run.reserved:
            run.reserved.remove(v["a_iface"])
        self._push(t, _Release((v["a_iface"],)))
        self._end_attended(run, t + run.flow.talk_time)

    def _end_attended(self, run: _Run, at: float) -> None:
        """A completed attended transfer ends: every leg hangs up."""
        v, x = run.vars, run.cx
        run.plan.cancelled = True
        run.plan = _Token()
        self._push(at, _Deferred(lambda st, now: transferred_end_frames(st, now, v, x)), run.plan)
        steps = consult_end_steps(x, at, talk=at - run.t_consult_answer, call=run.id)
        steps += customer_gone_steps(v, steps[-1].at, call=run.id)
        self._push_steps(steps, run.plan)
        self._push(steps[-1].at, _Done(run.id), run.plan)

    def _cancel_attended(self, run: _Run) -> None:
        """The consultation hung up: the target's legs go, the agent is back with the customer."""
        v, x = run.vars, run.cx
        t = max(self.now, run.t_consult_answer)
        run.consult = ""
        self._push(t, _Deferred(lambda st, now: local_one_hangup_frames(st, now, v, x)))
        steps = consult_end_steps(x, t, talk=t - run.t_consult_answer, call=run.id)
        self._push_steps(steps)
        t = steps[-1].at
        self._push(t, _Deferred(lambda st, now: rejoin_frames(st, now, v, x)))
        if x["b_iface"] in run.reserved:
            run.reserved.remove(x["b_iface"])
        self._push(t, _Release((x["b_iface"],)))
        self._schedule_hangup(run, t + run.flow.talk_time, run.flow.hangup_by)

    def _hangup_originated(self, channel: str) -> bool:
        """An originated channel hangs up now (after its answer, if still to come)."""
        token, end, answered = self._originated.pop(channel)
        if token.cancelled:
            return False
        token.cancelled = True
        shift = max(self.now, answered) - end[0].at
        self._push_steps([s._replace(at=s.at + shift) for s in end])
        return True

    def _finish(self, run: _Run) -> None:
        run.done = True
        for iface in run.reserved:
            self._reserved.discard(iface)
        for channel in run.channels:
            self._by_channel.pop(channel, None)
        del self._runs[run.id]

    # -- scenario arrivals -----------------------------------------------------

    def _arrival(self) -> None:
        sc = self.scenario
        if sc is None:
            return
        if sc.max_calls is not None and self.calls_started >= sc.max_calls:
            return
        self.add_call(self._draw(sc), self.now)
        gap = self.rng.expovariate(sc.rate) if sc.poisson else 1.0 / sc.rate
        self._push(self.now + gap, _Arrival())

    def _draw(self, sc: Scenario) -> CallFlow:
        rng = self.rng
        u: Callable[[tuple[float, float]], float] = lambda r: rng.uniform(*r)  # noqa: E731
        if sc.p_internal and rng.random() < sc.p_internal:
            free = [i for i in self.agents if i not in self._reserved and self.state.is_free(i)]
            if len(free) >= 2:
                a, b = rng.sample(free, 2)
                return CallFlow(
                    kind="internal",
                    caller_iface=a,
                    callee_iface=b,
                    ring_time=u(sc.ring_time),
                    talk_time=u(sc.talk_time),
                )
        total = sc.p_answer + sc.p_ring_no_answer + sc.p_abandon
        x = rng.random() * total
        if sc.callers:
            caller_num, account = rng.choice(sc.callers)
        else:
            caller_num, account = f"1555{rng.randrange(10**7):07d}", f"{rng.randrange(10**5):05d}"
        base = CallFlow(
            queue=rng.choice([q.name for q in sc.queues]) if sc.queues else "support",
            caller_num=caller_num,
            dnis=sc.dnis,
            account=account,
            ring_time=u(sc.ring_time),
            talk_time=u(sc.talk_time),
            hangup_by="agent" if rng.random() < sc.agent_hangup else "caller",
            abandon_after=rng.uniform(1.0, 8.0),
        )
        if sc.p_stasis and rng.random() < sc.p_stasis:
            return replace(base, kind="stasis", dnis=sc.stasis_dnis, queue="support")
        if x < sc.p_answer:
            return base
        if x < sc.p_answer + sc.p_ring_no_answer:
            return replace(base, no_answer=1)
        return replace(base, outcome="abandon")


_DIALPLAN_APPS = frozenset({"NoOp", "Answer", "Wait"})


def _run_application(steps: list[Step], exten: str, app: str, data: str) -> list[Step]:
    """An originate that runs `app(data)` once answered, instead of the lab's
    `exten` (NoOp, Answer, Wait): one Newexten naming the application."""
    out: list[Step] = []
    replaced = False
    for step in steps:
        if step.name == "Newexten":
            fields = dict(step.get_fields())
            if fields.get("Application") in _DIALPLAN_APPS and fields.get("Exten") == exten:
                if not replaced:
                    fields.update(Application=app, AppData=data)
                    out.append(Step(step.at, StepKind.FRAME, "Newexten", tuple(fields.items())))
                    replaced = True
                continue
        out.append(step)
    return out

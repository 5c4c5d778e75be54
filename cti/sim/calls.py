"""Call scripts: configuration, identifiers, and pure script builders.

Strategy: every call the fake Asterisk makes is a list of timed `Step`s built
here from the segments cut from the real traces (cti.sim.templates), by
substituting the call's identities: channel names ``PJSIP/pstn-0000000a``,
uniqueids ``epoch.seq`` (the caller's is the call's Linkedid), numbers, names,
queue, bridge id, and the timings Asterisk reports (HoldTime, TalkTime, ...).
Nothing here does I/O or reads a clock: the builders take ids and times and
return steps, so a test can compare their output with a trace directly.

Which agent gets rung is decided later, by cti.sim.traffic, against the live
state; the builders only render the phase they are asked for.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Literal

from cti.sim.steps import Step
from cti.sim.templates import TemplateFrame, render_segment

__all__ = [
    "LAB_AGENTS",
    "LAB_QUEUES",
    "AgentConfig",
    "CallFlow",
    "IdAllocator",
    "QueueConfig",
    "Scenario",
    "abandon_steps",
    "answer_steps",
    "caller_vars",
    "demo_scenario",
    "hangup_steps",
    "internal_call_steps",
    "ivr_hangup_steps",
    "ivr_steps",
    "noanswer_steps",
    "originate_steps",
    "ring_steps",
]

Outcome = Literal["answered", "abandon"]


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """A phone that is a queue member: ``AgentConfig("PJSIP/1001", "Alice Agent")``."""

    interface: str
    name: str
    queues: tuple[str, ...] = ("support",)
    paused: bool = False
    paused_reason: str = ""

    @property
    def number(self) -> str:
        return self.interface.rpartition("/")[2]


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    strategy: str = "rrmemory"
    ring_timeout: float = 6.0  # queues.conf timeout
    retry: float = 1.0  # queues.conf retry
    max_wait: float = 120.0  # Queue(...,120)
    servicelevel: int = 0
    weight: int = 0


@dataclass(frozen=True, slots=True)
class CallFlow:
    """One call's plan. For queue calls, `agents` forces who is rung, in order.

    kind "queue": IVR (welcome, menu, account digits) then `queue`; the first
    `no_answer` ring attempts time out (AgentRingNoAnswer), then the call is
    answered after `ring_time` or, for outcome "abandon", the caller hangs up
    `abandon_after` seconds into the next ring (or while waiting, if no agent
    is free). kind "internal": `caller_iface` dials `callee_iface`. kind
    "stasis": the data-dip IVR of ari_stasis_ivr.jsonl (set `dnis` to
    18005550155): the call waits in Stasis(cti-ivr,lookup) for the ARI
    application (cti.sim.stasis), then queues as above.
    """

    kind: Literal["queue", "internal", "stasis"] = "queue"
    queue: str = "support"
    caller_num: str = "15551230001"
    caller_name: str = "Customer"
    dnis: str = "18005550100"
    menu: str = "1"
    account: str = "23456"
    outcome: Outcome = "answered"
    no_answer: int = 0
    ring_time: float = 0.0
    talk_time: float = 2.25
    hangup_by: Literal["caller", "agent"] = "caller"
    abandon_after: float = 1.26
    agents: tuple[str, ...] = ()
    caller_iface: str = ""
    callee_iface: str = ""


@dataclass(frozen=True, slots=True)
class Scenario:
    """Traffic: arrivals at `rate` calls/s and outcome probabilities, seeded."""

    agents: tuple[AgentConfig, ...]
    queues: tuple[QueueConfig, ...] = (QueueConfig("support"),)
    rate: float = 1.0
    p_answer: float = 0.7
    p_ring_no_answer: float = 0.15  # first ring times out, then answered
    p_abandon: float = 0.1
    p_internal: float = 0.05  # direct agent-to-agent calls
    p_stasis: float = 0.0  # calls to the ARI data-dip IVR (stasis_dnis)
    stasis_dnis: str = "18005550155"
    talk_time: tuple[float, float] = (2.0, 6.0)
    ring_time: tuple[float, float] = (0.0, 2.0)
    agent_hangup: float = 0.3  # share of answered calls the agent ends
    ivr_time_scale: float = 1.0  # 0 makes the IVR instantaneous (benchmarks)
    seed: int = 1
    max_calls: int | None = None
    poisson: bool = False
    dnis: str = "18005550100"
    # (caller number, account typed in the IVR) to draw callers from, so a
    # demo's pops find its customers; empty: random numbers and accounts
    callers: tuple[tuple[str, str], ...] = ()


# The lab of the recorded traces (lab-config/queues.conf).
LAB_AGENTS: tuple[AgentConfig, ...] = (
    AgentConfig("PJSIP/1001", "Alice Agent", ("support",)),
    AgentConfig("PJSIP/1002", "Bob Agent", ("support", "sales")),
)
LAB_QUEUES: tuple[QueueConfig, ...] = (
    QueueConfig("support", strategy="rrmemory"),
    QueueConfig("sales", strategy="ringall"),
)


def demo_scenario(
    agents: int = 3,
    rate: float = 0.5,
    seed: int = 1,
    callers: tuple[tuple[str, str], ...] = (),
) -> Scenario:
    """The lab of the traces (Alice, Bob, Carol...) or `agents` numbered phones."""
    named = [("PJSIP/1001", "Alice Agent"), ("PJSIP/1002", "Bob Agent")]
    configs = [AgentConfig(iface, name) for iface, name in named[:agents]]
    for i in range(len(configs), agents):
        configs.append(AgentConfig(f"PJSIP/{1001 + i}", f"Agent {1001 + i}"))
    return Scenario(agents=tuple(configs), rate=rate, seed=seed, callers=callers)


@dataclass(slots=True)
class IdAllocator:
    """Channel names, uniqueids, bridge ids and SIP call-ids, deterministic.

    Asterisk names a channel ``<device>-<8 hex digits>`` and gives it the
    uniqueid ``<epoch seconds>.<sequence>``; both counters advance together
    here, as they did in queue_answered.jsonl.
    """

    epoch: float = 1_795_860_000.0
    seq: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def channel(self, device: str, at: float) -> tuple[str, str]:
        n = self.seq
        self.seq += 1
        return f"{device}-{n:08x}", f"{int(self.epoch + at)}.{n}"

    def bridge(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def sip_callid(self) -> str:
        return f"1-{self.rng.randrange(10000, 99999)}@127.0.0.2"


def caller_vars(
    flow: CallFlow, ids: IdAllocator, at: float, trunk: str = "PJSIP/pstn"
) -> dict[str, str]:
    """The context of a new inbound call: caller channel, numbers, queue."""
    chan, uid = ids.channel(trunk, at)
    return {
        "c_chan": chan,
        "c_uid": uid,
        "c_num": flow.caller_num,
        "c_name": flow.caller_name,
        "c_cl_num": "<unknown>",
        "c_cl_name": "<unknown>",
        "c_callid": str(uuid.UUID(int=ids.rng.getrandbits(128), version=4)),
        "dnis": flow.dnis,
        "menu": flow.menu,
        "account": flow.account,
        "queue": flow.queue,
        "queue_device": f"Queue:{flow.queue}",
        "trunk": trunk,
    }


# Seconds between account digits and the Read() timeout after the last one,
# as recorded in queue_answered.jsonl.
_DIGIT_GAP = 0.4035
_READ_TIMEOUT = 4.0075


def ivr_steps(
    v: dict[str, str], t0: float, *, call: str = "", scale: float = 1.0
) -> tuple[list[Step], float]:
    """Newchannel ... QueueCallerJoin. Returns the steps and the join time."""
    steps = render_segment("ivr_a", v, t0, call=call, time_scale=scale)
    t = steps[-1].at
    first_gap = 0.6657 * scale  # Read() start to the first digit
    for i, digit in enumerate(v["account"]):
        v["digit"] = digit
        start = t + (first_gap if i == 0 else _DIGIT_GAP * scale)
        steps += render_segment("ivr_digit", v, start, call=call, time_scale=scale)
        t = start
    tail = render_segment("ivr_b", v, t + _READ_TIMEOUT * scale, call=call, time_scale=scale)
    steps += tail
    return steps, tail[-1].at


def _set_agent(v: dict[str, str], agent: AgentConfig, ids: IdAllocator, at: float) -> None:
    chan, uid = ids.channel(agent.interface, at)
    v.update(
        a_chan=chan,
        a_uid=uid,
        a_num=agent.number,
        a_name=agent.name,
        a_iface=agent.interface,
        a_callid=ids.sip_callid(),
    )


def ring_steps(
    v: dict[str, str], agent: AgentConfig, ids: IdAllocator, t0: float, *, call: str = ""
) -> list[Step]:
    """A new agent leg rung by the queue: Newchannel ... AgentCalled ... RINGING."""
    _set_agent(v, agent, ids, t0)
    return render_segment("ring", v, t0, call=call)


def noanswer_steps(v: dict[str, str], t0: float, ring: float, *, call: str = "") -> list[Step]:
    """The ring timed out: AgentRingNoAnswer, DialEnd, the agent leg hangs up."""
    v["ring_ms"] = _ms(ring)
    return render_segment("noanswer", v, t0, call=call)


def _secs(x: float) -> str:
    """Whole seconds, truncated as Asterisk does (the epsilon absorbs float error)."""
    return str(int(x + 1e-6))


def _ms(x: float) -> str:
    return str(int(x * 1000 + 1e-3))


def answer_steps(
    v: dict[str, str], ids: IdAllocator, t0: float, *, hold: float, ring: float, call: str = ""
) -> list[Step]:
    """The agent answers: DialEnd ANSWER, QueueCallerLeave, AgentConnect, bridge."""
    v.update(
        hold=_secs(hold),
        hold_ms=str(int(_secs(hold)) * 1000),
        ring=_secs(ring),
        bridge=ids.bridge(),
    )
    return render_segment("answer", v, t0, call=call)


def hangup_steps(
    v: dict[str, str],
    t0: float,
    *,
    by: Literal["caller", "agent"],
    talk: float,
    dialed: float,
    call: str = "",
) -> list[Step]:
    """End of a connected queue call: AgentComplete (Reason caller/agent), teardown."""
    v.update(
        talk=_secs(talk),
        talk_ms=_ms(talk),
        dialed=_secs(dialed),
        dialed_ms=_ms(dialed),
    )
    return render_segment("hangup_caller" if by == "caller" else "hangup_agent", v, t0, call=call)


def _no_agent(frame: TemplateFrame) -> bool:
    return frame.role != "a" and not frame.mentions("a_")


def abandon_steps(
    v: dict[str, str],
    t0: float,
    *,
    hold: float,
    dialed: float,
    ringing: bool,
    call: str = "",
) -> list[Step]:
    """The caller hangs up while queued: QueueCallerAbandon, QueueCallerLeave.

    Without an agent ringing, the agent's frames of the recorded abandon are
    left out (no trace shows that case).
    """
    v.update(
        hold=_secs(hold),
        hold_ms=str(int(_secs(hold)) * 1000),
        dialed=_secs(dialed),
        dialed_ms=_ms(dialed),
        talk="0",
        talk_ms="0",
    )
    return render_segment("abandon", v, t0, call=call, keep=None if ringing else _no_agent)


_IVR_HANGUP = frozenset({"HangupRequest", "SoftHangupRequest", "Hangup", "DeviceStateChange"})


def _caller_teardown(frame: TemplateFrame) -> bool:
    if frame.role != "c" or (frame.name not in _IVR_HANGUP and frame.name != "VarSet"):
        return False
    return frame.name != "VarSet" or frame.get("Variable").startswith("RTPAUDIOQOS")


def ivr_hangup_steps(v: dict[str, str], t0: float, *, call: str = "") -> list[Step]:
    """The caller hangs up before reaching the queue.

    No trace records it: these are the caller's own frames of the recorded
    abandon (media stats, HangupRequest, SoftHangupRequest, Hangup, trunk
    device), without anything about the queue or an agent.
    """
    return render_segment("abandon", v, t0, call=call, keep=_caller_teardown)


def internal_call_steps(
    caller: AgentConfig,
    callee: AgentConfig,
    ids: IdAllocator,
    t0: float,
    *,
    ring_time: float = 0.0,
    talk_time: float = 4.0,
    call: str = "",
) -> tuple[list[Step], dict[str, str]]:
    """Agent-to-agent: Dial(PJSIP/<callee>), answer, the caller hangs up."""
    v: dict[str, str] = {}
    a_chan, a_uid = ids.channel(caller.interface, t0)
    b_chan, b_uid = ids.channel(callee.interface, t0)
    v.update(
        a_chan=a_chan,
        a_uid=a_uid,
        a_num=caller.number,
        a_name=caller.name,
        a_iface=caller.interface,
        a_callid=str(uuid.UUID(int=ids.rng.getrandbits(128), version=4)),
        b_chan=b_chan,
        b_uid=b_uid,
        b_num=callee.number,
        b_name=callee.name,
        b_iface=callee.interface,
        b_callid=ids.sip_callid(),
        ring="0",
        ring_ms="2",
        bridge=ids.bridge(),
        talk=_secs(talk_time),
        talk_ms=_ms(talk_time),
        dialed=_secs(talk_time + ring_time),
        dialed_ms=_ms(talk_time + ring_time),
    )
    steps = render_segment("internal_dial", v, t0, call=call)
    steps += render_segment("internal_answer", v, steps[-1].at + ring_time, call=call)
    steps += render_segment("internal_hangup", v, steps[-1].at + talk_time, call=call)
    return steps, v


def originate_steps(
    agent: AgentConfig,
    ids: IdAllocator,
    t0: float,
    *,
    exten: str,
    action_id: str,
    variables: tuple[tuple[str, str], ...] = (),
    hold_for: float = 3.0,
    call: str = "",
) -> list[Step]:
    """Click-to-dial: the agent's phone rings and answers, then `exten` runs.

    The lab dialplan answers, waits `hold_for` seconds and hangs up; one VarSet
    per originate variable, where the recording had CTI_ORIGIN.
    """
    chan, uid = ids.channel(agent.interface, t0)
    v = {
        "a_chan": chan,
        "a_uid": uid,
        "a_num": agent.number,
        "a_name": agent.name,
        "a_iface": agent.interface,
        "exten": exten,
        "dest": exten[1:],
        "action_id": action_id,
        "var_name": "",
        "var_value": "",
    }
    steps: list[Step] = []
    for frame_steps in _originate_frames(v, t0, variables, call):
        steps += frame_steps
    steps += render_segment("originate_hangup", v, steps[-1].at + hold_for, call=call)
    return steps


def _originate_frames(
    v: dict[str, str], t0: float, variables: tuple[tuple[str, str], ...], call: str
) -> list[list[Step]]:
    def is_var(frame: TemplateFrame) -> bool:
        return frame.mentions("var_")

    before: list[Step] = []
    out: list[list[Step]] = []
    rendered = render_segment("originate", v, t0, call=call)
    # Split at the recorded VarSet: repeat it for each variable (none: drop it).
    var_index = next(
        i
        for i, s in enumerate(rendered)
        if s.name == "VarSet" and ("Variable", "") in s.get_fields()
    )
    before = rendered[:var_index]
    out.append(before)
    for name, value in variables:
        v["var_name"], v["var_value"] = name, value
        out.append(
            [
                s
                for s in render_segment("originate", v, t0, call=call, keep=is_var)
                if s.name == "VarSet"
            ]
        )
    out.append(rendered[var_index + 1 :])
    return out

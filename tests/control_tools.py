"""Helpers for the call-control tests: a live model with known calls, users, and a rig.

`call_model()` feeds a `Model` the domain events of three answered calls, with
the shapes of queue_answered.jsonl (caller and agent leg bridged):

    QUEUE_CALL    "100.1" queue support, caller PJSIP/pstn-00000001, Alice answered
    SALES_CALL    "200.1" queue sales,   caller PJSIP/pstn-00000011, Bob answered
    BILLING_CALL  "300.1" queue billing, caller PJSIP/pstn-00000021, Bob answered

`control_rig()` is the real path below the web layer: a `FakeAsterisk` on
127.0.0.1:0, a real `AmiClient` logged in to it, and `CallControl` over that
client and the model. The fake's state does not know the hand-fed calls, so an
action on their channels is answered "Response: Error" as Asterisk would for a
channel it does not have: proof the action reached it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from cti.ami.client import AmiClient
from cti.control import CallControl
from cti.ids import BridgeId, CallId, ChannelId, Interface, QueueName
from cti.model.events import (
    AgentAnswered,
    AgentRung,
    BridgeCreated,
    BridgeEntered,
    ChannelCreated,
    ChannelStateChanged,
    DialEnded,
    DialStarted,
    DomainEvent,
    IvrStepped,
    QueueJoined,
    QueueLeft,
    VariableSet,
)
from cti.model.model import Model
from cti.sim import FakeAsterisk
from cti.web.ports import User

__all__ = [
    "ALICE",
    "BILLING_CALL",
    "BOB",
    "CAROL",
    "HOUSEKEEPING",
    "INJECTIONS",
    "QUEUE_CALL",
    "SALES_CALL",
    "ControlRig",
    "call_events",
    "call_model",
    "control_actions",
    "control_rig",
]

ALICE = User("alice", "Alice Agent", "agent", "PJSIP/1001")
BOB = User("bob", "Bob Agent", "agent", "PJSIP/1002")
CAROL = User("carol", "Carol Supervisor", "supervisor", "PJSIP/1003", ("sales", "support"))
QUEUE_CALL = "100.1"
SALES_CALL = "200.1"
BILLING_CALL = "300.1"

# What an attacker would put in a field to smuggle a header or an action.
INJECTIONS = (
    "1001\r\nAction: Originate",
    "x\nEvent: y",
    "1001\r",
    "1001\n",
    "10:01",
    "Channel: PJSIP/1002",
    "",
)

# Actions the client sends by itself (keepalive, resync lists).
HOUSEKEEPING = frozenset(
    {"ping", "coreshowchannels", "queuestatus", "queuesummary", "bridgelist", "devicestatelist"}
)


def _answered_call(
    call: str, base: int, queue: str, agent: Interface, member: str
) -> list[DomainEvent]:
    cid = CallId(call)
    caller = ChannelId(call)
    leg = ChannelId(f"{call.split('.')[0]}.{base + 1}")
    leg_name = f"{agent}-{base + 1:08x}"
    bridge = BridgeId(f"bridge-{call}")
    q = QueueName(queue)
    return [
        ChannelCreated(
            caller, cid, f"PJSIP/pstn-{base:08x}", "Ring", "15551230001", "Grace", "18005550100"
        ),
        ChannelStateChanged(caller, cid, "Up"),
        VariableSet(caller, cid, "CTI_ACCOUNT", "23456"),
        IvrStepped(caller, cid, "account", (("Account", "23456"),)),
        QueueJoined(caller, cid, q),
        ChannelCreated(leg, cid, leg_name, "Down", agent.rpartition("/")[2], member, "s"),
        AgentRung(caller, cid, q, agent, member, leg, leg_name),
        DialStarted(caller, cid, leg, leg_name, agent.rpartition("/")[2], member),
        ChannelStateChanged(leg, cid, "Ringing"),
        ChannelStateChanged(leg, cid, "Up"),
        DialEnded(caller, cid, leg, "ANSWER"),
        QueueLeft(caller, cid, q),
        AgentAnswered(caller, cid, q, agent, leg),
        BridgeCreated(bridge),
        BridgeEntered(bridge, leg, cid),
        BridgeEntered(bridge, caller, cid),
    ]


def call_events() -> list[DomainEvent]:
    """The domain events of the three answered calls (see the module docstring)."""
    return [
        *_answered_call(QUEUE_CALL, 1, "support", Interface("PJSIP/1001"), "Alice Agent"),
        *_answered_call(SALES_CALL, 17, "sales", Interface("PJSIP/1002"), "Bob Agent"),
        *_answered_call(BILLING_CALL, 33, "billing", Interface("PJSIP/1002"), "Bob Agent"),
    ]


def call_model() -> Model:
    model = Model(devices=["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"])
    for i, event in enumerate(call_events()):
        model.apply(event, 1_700_000_000.0 + i)
    return model


@dataclass(slots=True)
class ControlRig:
    fake: FakeAsterisk
    client: AmiClient
    model: Model
    control: CallControl


def control_actions(fake: FakeAsterisk) -> list[tuple[str, dict[str, str]]]:
    """The actions the fake received, housekeeping left out, as (name, headers)."""
    return [(a, dict(p)) for a, p in fake.actions if a not in HOUSEKEEPING]


@contextlib.asynccontextmanager
async def control_rig(
    model: Model | None = None, *, action_timeout: float = 2.0
) -> AsyncIterator[ControlRig]:
    fake = FakeAsterisk()
    await fake.start()
    client = AmiClient(
        "127.0.0.1", fake.port, "cti", "cti-secret", ping_interval=0, resync_actions=()
    )
    runner = asyncio.create_task(client.run())
    try:
        await client.wait_connected(timeout=5.0)
        live = model if model is not None else call_model()
        control = CallControl(client, live.call, action_timeout=action_timeout)
        yield ControlRig(fake, client, live, control)
    finally:
        await client.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await fake.stop()

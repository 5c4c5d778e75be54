"""End to end: CallControl -> AmiClient -> fake Asterisk -> events -> the live model."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from control_tools import control_actions, control_rig
from trace_paths import TRACES

from cti.ami.client import AmiClient
from cti.ami.protocol import Event
from cti.control import Actor
from cti.control.commands import Dial, Hangup, Hold, SendDtmf, Transfer, Unhold
from cti.control.results import CommandDone
from cti.ids import CallId
from cti.model.from_ami import from_ami
from cti.model.model import Model
from cti.model.outputs import CallEnded, Output
from cti.model.views import CallView

ALICE = Actor("alice", "agent", "PJSIP/1001")
WAIT = 5.0


@contextlib.asynccontextmanager
async def feeding(client: AmiClient, model: Model) -> AsyncIterator[list[Output]]:
    """Apply every AMI event the client receives to `model`, as the engine does."""
    outputs: list[Output] = []

    async def feed() -> None:
        while True:
            item = await client.stream.get()
            if isinstance(item, Event):
                domain = from_ami(item)
                if domain is not None:
                    outputs.extend(model.apply(domain, 0.0))

    task = asyncio.create_task(feed())
    try:
        yield outputs
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110 (polling the model, which has no events)
            await asyncio.sleep(0.01)


def alice_call(model: Model) -> CallView | None:
    for call in model.calls():
        if any(c.interface == "PJSIP/1001" for c in call.channels):
            return call
    return None


async def test_click_to_dial_then_hangup_ends_the_call() -> None:
    model = Model(devices=["PJSIP/1001", "PJSIP/1002"])
    async with control_rig(model) as rig, feeding(rig.client, model) as outputs:
        rig.fake.originate_hold_for = 60.0  # only our hangup can end it in time
        done = await rig.control.execute(ALICE, Dial(number="95551234"))
        assert isinstance(done, CommandDone)
        assert done.message == "Originate successfully queued"
        ((_, originate),) = control_actions(rig.fake)
        assert originate["Context"] == "cti-originate"
        assert originate["Variable"] == "CTI_ORIGIN=click-to-dial"
        await until(lambda: (c := alice_call(model)) is not None and c.dialed_number == "95551234")
        call = alice_call(model)
        assert call is not None
        (leg,) = call.channels
        assert (leg.role, leg.interface, leg.state) == ("originate", "PJSIP/1001", "Up")
        assert dict(call.variables) == {"CTI_ORIGIN": "click-to-dial"}
        hung = await rig.control.execute(ALICE, Hangup(call_id=call.call_id))
        assert isinstance(hung, CommandDone)
        assert hung.message == "Channel Hungup"
        await until(lambda: model.call(call.call_id) is None)
        (ended,) = [o for o in outputs if isinstance(o, CallEnded)]
        assert ended.call_id == call.call_id
        assert ended.parties == ("PJSIP/1001",)
        assert ended.dialed_number == "95551234"
        assert ended.outcome == "answered"


def _talking_part(tmp: Path) -> Path:
    """queue_answered.jsonl up to the moment Alice and the caller talk (no hangup)."""
    out = tmp / "talking.jsonl"
    lines = []
    for line in (TRACES / "queue_answered.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["src"] == "ami" and record["raw"].startswith("Event: HangupRequest"):
            break
        if record["src"] == "ami" and record["raw"].startswith("Event: "):
            lines.append(line)
    out.write_text("\n".join(lines) + "\n")
    return out


async def test_hold_unhold_dtmf_and_transfer_on_a_live_queue_call(tmp_path: Path) -> None:
    model = Model(devices=["PJSIP/1001", "PJSIP/1002"])
    async with control_rig(model) as rig, feeding(rig.client, model):
        await rig.fake.play_trace(_talking_part(tmp_path), speed=None)
        await until(lambda: (c := alice_call(model)) is not None and c.answered_by is not None)
        call = alice_call(model)
        assert call is not None
        cid = call.call_id

        def bridges() -> dict[str, str | None]:
            view = model.call(CallId(cid))
            assert view is not None
            return {c.name: c.bridge for c in view.channels}

        assert all(bridges().values())
        held = await rig.control.execute(ALICE, Hold(call_id=cid))
        assert isinstance(held, CommandDone)
        assert held.message == "Dual Redirect successful"
        await until(lambda: not any(bridges().values()))
        back = await rig.control.execute(ALICE, Unhold(call_id=cid))
        assert isinstance(back, CommandDone)
        assert back.message == "Channels have been bridged"
        await until(lambda: len(set(bridges().values())) == 1 and all(bridges().values()))
        dtmf = await rig.control.execute(ALICE, SendDtmf(call_id=cid, digits="42#"))
        assert isinstance(dtmf, CommandDone)
        assert dtmf.sent == 3
        moved = await rig.control.execute(ALICE, Transfer(call_id=cid, target="1002"))
        assert isinstance(moved, CommandDone)
        assert moved.message == "Transfer succeeded"
        names = [a for a, _ in control_actions(rig.fake)]
        assert names == ["redirect", "bridge", "playdtmf", "playdtmf", "playdtmf", "blindtransfer"]

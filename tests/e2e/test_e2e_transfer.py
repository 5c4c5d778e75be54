"""A blind transfer through the whole CTI: REST control -> AMI -> fake Asterisk -> pop.

`CtiService` runs as in test_e2e_web.py. Alice answers a queue call; she
blind-transfers it to Bob over REST; the fake Asterisk carries the transfer
out (cti.sim.transfers: Alice's leg hangs up, the customer dials Bob on the
same Linkedid), so Bob is rung with a screen-pop that carries what the IVR
gathered, answers, and the call ends. The stored history shows both agents
and the transfer.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
from e2e_tools import WAIT, wait_for
from test_e2e_web import ALICE, BOB, GRACE, Stack, login, recv, stack, until
from websockets.asyncio.client import connect

from cti.ids import CallId
from cti.sim import FakeAsterisk

__all__ = ["stack"]  # the fixture, imported for pytest

TALK = 60.0  # virtual seconds: the call outlives the transfer


async def _step_until_bridged(fake: FakeAsterisk) -> None:
    """Stepped frames until the customer and the agent share a bridge."""
    while not any(len(b.channels) == 2 for b in fake.state.bridges.values()):
        assert await fake.step(1), "the call ended before it was bridged"
    while fake.traffic._burst:
        await fake.step(1)


async def test_blind_transfer_pops_bob_with_the_ivr_data(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.http, timeout=WAIT) as http:
        alice_token = await login(http, "alice")
        bob_token = await login(http, "bob")
        async with (
            connect(f"{stack.ws}?token={alice_token}", open_timeout=WAIT, close_timeout=1) as alice,
            connect(f"{stack.ws}?token={bob_token}", open_timeout=WAIT, close_timeout=1) as bob,
        ):
            assert (await recv(alice))["type"] == "hello"
            assert (await recv(bob))["type"] == "hello"
            flow = replace(GRACE, talk_time=TALK, ring_time=0.5)
            call_id = stack.fake.place_call(flow)
            await _step_until_bridged(stack.fake)
            answered = await until(alice, "call_answered")
            assert answered[-1]["call_id"] == call_id

            response = await http.post(
                f"/api/calls/{call_id}/transfer",
                json={"target": "1002"},
                headers={"Authorization": f"Bearer {alice_token}"},
            )
            assert response.status_code == 200, response.text
            assert stack.fake.actions[-1][0] == "blindtransfer"
            await stack.fake.step(10_000)

            frames = await until(bob, "call_ended")
            kinds = [f["type"] for f in frames if f["type"] in ("screen_pop", "call_answered")]
            assert kinds == ["screen_pop", "call_answered"], kinds
            pop = next(f for f in frames if f["type"] == "screen_pop")
            assert pop["call_id"] == call_id
            assert pop["interface"] == BOB
            assert pop["caller_number"] == "15551230001"
            assert pop["queue"] == "support"
            assert pop["account"] == "23456"
            steps = {s["step"]: s["values"] for s in pop["ivr_path"]}
            assert steps["menu"] == {"Choice": "1"}
            assert steps["account"] == {"Account": "23456"}
            ended = frames[-1]
            assert ended["call_id"] == call_id
            assert ended["outcome"] == "answered"

    await wait_for(lambda: not stack.fake.state.channels, "every channel to hang up")
    await stack.service.engine.flush_records()
    entry = await stack.store.history_entry(call_id)
    assert entry is not None
    assert {ALICE, BOB} <= set(entry.involved)
    agents = [leg.interface for leg in entry.legs if leg.role == "agent"]
    assert ALICE in agents
    assert BOB in {leg.interface for leg in entry.legs}
    (transfer,) = entry.transfers
    assert (transfer.kind, transfer.from_interface, transfer.to_extension) == (
        "blind",
        ALICE,
        "1002",
    )


async def test_attended_transfer_consults_bob_then_hands_him_the_call(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.http, timeout=WAIT) as http:
        alice_token = await login(http, "alice")
        bob_token = await login(http, "bob")
        as_alice = {"Authorization": f"Bearer {alice_token}"}
        async with (
            connect(f"{stack.ws}?token={alice_token}", open_timeout=WAIT, close_timeout=1) as alice,
            connect(f"{stack.ws}?token={bob_token}", open_timeout=WAIT, close_timeout=1) as bob,
        ):
            assert (await recv(alice))["type"] == "hello"
            assert (await recv(bob))["type"] == "hello"
            call_id = stack.fake.place_call(replace(GRACE, talk_time=TALK, ring_time=0.5))
            await _step_until_bridged(stack.fake)
            await until(alice, "call_answered")

            start = await http.post(
                f"/api/calls/{call_id}/attended-transfer", json={"target": "1002"}, headers=as_alice
            )
            assert start.status_code == 200, start.text
            await stack.fake.step(10_000)  # the consultation rings Bob and he answers
            frames = await until(bob, "call_answered")
            pop = next(f for f in frames if f["type"] == "screen_pop")
            assert (pop["call_id"], pop["interface"]) == (call_id, BOB)
            assert pop["queue"] == "support"
            assert pop["account"] == "23456"
            assert {s["step"]: s["values"] for s in pop["ivr_path"]}["menu"] == {"Choice": "1"}
            assert any(c.endswith(";1") for c in stack.fake.state.channels)

            done = await http.post(
                f"/api/calls/{call_id}/attended-transfer/complete", headers=as_alice
            )
            assert done.status_code == 200, done.text
            assert stack.fake.actions[-1][0] == "hangup"
            await stack.fake.step(10_000)
            ended = (await until(bob, "call_ended"))[-1]
            assert ended["call_id"] == call_id

    await wait_for(lambda: not stack.fake.state.channels, "every channel to hang up")
    await stack.service.engine.flush_records()
    entry = await stack.store.history_entry(call_id)
    assert entry is not None
    assert {ALICE, BOB} <= set(entry.involved)
    (transfer,) = entry.transfers
    assert (transfer.kind, transfer.from_interface) == ("attended", ALICE)


async def test_cancelled_attended_transfer_leaves_alice_with_the_caller(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.http, timeout=WAIT) as http:
        alice_token = await login(http, "alice")
        as_alice = {"Authorization": f"Bearer {alice_token}"}
        call_id = stack.fake.place_call(replace(GRACE, talk_time=TALK, ring_time=0.5))
        await _step_until_bridged(stack.fake)
        await wait_for(lambda: _answered(stack, call_id), "the CTI to see the call answered")
        start = await http.post(
            f"/api/calls/{call_id}/attended-transfer", json={"target": "1002"}, headers=as_alice
        )
        assert start.status_code == 200, start.text
        await stack.fake.step(10_000)
        await wait_for(lambda: _has_leg(stack, call_id, BOB), "Bob's consultation leg")
        cancel = await http.post(f"/api/calls/{call_id}/attended-transfer/cancel", headers=as_alice)
        assert cancel.status_code == 200, cancel.text
        hung_up = dict(stack.fake.actions[-1][1])["Channel"]
        assert hung_up.startswith("Local/1002@from-agents-")
        assert hung_up.endswith(";1")
        channels = stack.fake.state.channels
        alice = next(c for c in channels if c.startswith(ALICE))
        customer = next(c for c in channels if c.startswith("PJSIP/pstn-"))
        # up to Alice's return to the customer's bridge (the call then goes on)
        while channels[alice].bridge != channels[customer].bridge:
            assert await stack.fake.step(1), "the call ended before Alice came back"
        while stack.fake.traffic._burst:
            await stack.fake.step(1)
        assert set(channels) == {alice, customer}
        assert channels[alice].bridge == channels[customer].bridge != ""
        await wait_for(
            lambda: not _has_leg(stack, call_id, BOB) and _has_leg(stack, call_id, ALICE),
            "the CTI to see Bob gone and Alice still on the call",
        )


def _answered(stack: Stack, call_id: str) -> bool:
    call = stack.service.engine.model.call(CallId(call_id))
    return call is not None and call.answered_by == ALICE


def _has_leg(stack: Stack, call_id: str, interface: str) -> bool:
    call = stack.service.engine.model.call(CallId(call_id))
    return call is not None and any(
        c.interface == interface and c.state == "Up" for c in call.channels
    )

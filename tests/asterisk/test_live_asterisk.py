"""The real CTI against a live Asterisk running asterisk-conf/ (marker `asterisk`).

Skipped unless CTI_TEST_ASTERISK names one (see live_asterisk.py for the
environment, README "Run with a real Asterisk" for the stack):

    docker compose -f docker/compose.yml -f docker/compose.test.yml up -d --build asterisk
    CTI_TEST_ASTERISK=127.0.0.1 .venv/bin/pytest -m asterisk tests/asterisk

Every call goes through the shipped dialplan: a caller enters the real IVR in
[from-pstn] (menu 1, account 23456, queue support), the test agents' phones
are Local channels that answer, and the CTI is `CtiService` itself, so what
the agents receive is what an agent desktop would. Click-to-dial and the
transfer send the AMI actions the CTI's call control sends (Originate into
cti-originate, BlindTransfer), through the CTI's own AMI connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_asterisk import (
    ENV,
    TEST_AGENTS,
    WAIT,
    LiveCti,
    Target,
    frames_until,
    open_live_cti,
    target_from_env,
)

from cti.config import Settings

TARGET = target_from_env()

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(
        TARGET is None,
        reason=f"no live Asterisk: set {ENV}=<host> (docker/compose.test.yml starts one)",
    ),
]

ALICE = TEST_AGENTS["t-alice"][1]
BOB = TEST_AGENTS["t-bob"][1]
CALLER = "15551230001"  # Grace Hopper, account 23456, in the demo customers
QUEUE_DNIS = "18005550100"
DIP_DNIS = "18005550155"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveCti]:
    assert TARGET is not None
    async with open_live_cti(TARGET, tmp_path) as cti:
        yield cti


def _steps(pop: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {s["step"]: s["values"] for s in pop["ivr_path"]}


async def test_ami_and_ari_accept_the_shipped_credentials(live: LiveCti) -> None:
    assert live.service.client.connected  # AMI login with manager.conf's cti user
    settings = Settings()
    target: Target = live.target
    async with httpx.AsyncClient(timeout=10.0) as http:
        response = await http.get(
            f"http://{target.host}:{target.ari_port}/ari/asterisk/info",
            auth=(settings.ari_username, settings.ari_password),
        )
    assert response.status_code == 200, response.text
    assert response.json()["system"]["version"].startswith("22.")


async def test_queue_call_pops_on_the_agents_websocket(live: LiveCti) -> None:
    await live.ami("QueueAdd", Queue="support", Interface=ALICE, MemberName="Test Alice")
    async with live.agent_socket("t-alice") as alice:
        await live.place_queue_call(QUEUE_DNIS, CALLER)
        frames = await frames_until(alice, "screen_pop")
        pop = frames[-1]
        assert pop["interface"] == ALICE
        assert pop["queue"] == "support"
        assert pop["dialed_number"] == QUEUE_DNIS
        assert pop["caller_number"] == CALLER
        steps = _steps(pop)
        assert list(steps)[:1] == ["welcome"]
        assert steps["menu"] == {"Choice": "1"}
        assert steps["account"] == {"Account": "23456"}
        assert pop["variables"]["CTI_DNIS"] == QUEUE_DNIS
        assert pop["account"] == "23456"

        answered = (await frames_until(alice, "call_answered"))[-1]
        assert answered["call_id"] == pop["call_id"]
        assert answered["interface"] == ALICE

        caller = await live.channel_like(f"Local/{QUEUE_DNIS}@from-pstn-", ";2")
        await live.ami("Hangup", Channel=caller)
        ended = (await frames_until(alice, "call_ended"))[-1]
        assert ended["call_id"] == pop["call_id"]
        assert ended["outcome"] == "answered"


async def test_data_dip_sets_the_customer_before_the_pop(live: LiveCti) -> None:
    """DNIS 18005550155 runs Stasis(cti-ivr): the CTI's ARI app must answer it."""
    grace = await live.store.lookup_customer(account=None, phone=CALLER)
    assert grace is not None
    await live.ami("QueueAdd", Queue="support", Interface=ALICE, MemberName="Test Alice")
    async with live.agent_socket("t-alice") as alice:
        await live.place_queue_call(DIP_DNIS, CALLER)
        pop = (await frames_until(alice, "screen_pop"))[-1]
        assert pop["dialed_number"] == DIP_DNIS
        assert pop["variables"].get("CTI_CUSTOMER_ID") == str(grace.id), (
            "no data dip: Stasis(cti-ivr) failed, so the call went on without it;"
            " is the CTI's ARI application registered?"
        )
        assert _steps(pop)["stasis-done"] == {"Customer": str(grace.id)}
        customer = pop["customer"]
        if pop.get("customer_pending"):
            customer = (await frames_until(alice, "call_customer"))[-1]["customer"]
        assert customer is not None
        assert customer["name"] == grace.name


async def test_click_to_dial_rings_the_agent_then_the_number(live: LiveCti) -> None:
    async with live.agent_socket("t-bob") as bob:
        # What the CTI sends for Alice's click-to-dial to 771002 (Bob's test phone).
        await live.ami(
            "Originate",
            Channel=ALICE,
            Context="cti-originate",
            Exten="771002",
            Priority="1",
            Variable="CTI_ORIGIN=click-to-dial",
            Async="true",
            Timeout="30000",
        )
        # Alice's phone answered, then the dialplan rang Bob's: a direct call to
        # a known agent device pops for Bob.
        pop = (await frames_until(bob, "screen_pop"))[-1]
        assert pop["interface"] == BOB
        assert pop["variables"].get("CTI_ORIGIN") == "click-to-dial"
        await frames_until(bob, "call_answered")

    token = await live.login("t-alice")
    async with httpx.AsyncClient(base_url=live.http, timeout=10.0) as http:
        response = await http.get("/api/calls", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    (call,) = [c for c in response.json() if c["call_id"] == pop["call_id"]]
    assert call["variables"]["CTI_ORIGIN"] == "click-to-dial"


async def test_blind_transfer_moves_the_caller_to_another_agent(live: LiveCti) -> None:
    await live.ami("QueueAdd", Queue="support", Interface=ALICE, MemberName="Test Alice")
    async with live.agent_socket("t-alice") as alice, live.agent_socket("t-bob") as bob:
        await live.place_queue_call(QUEUE_DNIS, CALLER)
        first = (await frames_until(alice, "screen_pop"))[-1]
        await frames_until(alice, "call_answered")

        # Alice's leg in the queue's bridge is the ;1 half of her test phone.
        alice_leg = await live.channel_like(ALICE.removesuffix("/n") + "-", ";1")
        await live.ami("BlindTransfer", Channel=alice_leg, Context="cti-originate", Exten="771002")

        pop = (await frames_until(bob, "screen_pop", WAIT))[-1]
        assert pop["call_id"] == first["call_id"]  # the same call (Linkedid) moved
        assert pop["interface"] == BOB
        assert pop["caller_number"] == CALLER
        # The IVR's answers travel with the call.
        assert _steps(pop)["account"] == {"Account": "23456"}
        # Alice's part ends.
        kinds = {f["type"] for f in await frames_until(alice, "call_ended", WAIT)}
        assert "call_ended" in kinds

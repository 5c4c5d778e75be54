"""Fault tests through the real intake: fake Asterisk -> AmiClient -> Engine.

The issue: "drop the AMI connection mid-call at many points. After resync, no
pop is lost or duplicated." A scripted queue call (Alice rings with no
answer, then Bob answers) is sent one frame at a time by the fake Asterisk in
stepped mode. For every cut point k the AMI socket is reset after frame k,
a few frames are sent while the CTI is away (lost to it, as on a real
outage), and once the client has reconnected and its resync Snapshot is
applied the rest of the call is sent. The pops and call endings the engine
published are then checked against what the frames say happened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_tools import AmiRig, RecordingPublisher, open_rig, parse_frames, wait_for

from cti.ami.client import AmiClient
from cti.ami.protocol import Event
from cti.sim import CallFlow

ALICE, BOB = "PJSIP/1001", "PJSIP/1002"
RING_NO_ANSWER_THEN_BOB = CallFlow(no_answer=1, agents=(ALICE, BOB))
GAP = 3  # frames sent while the CTI is disconnected


@dataclass(frozen=True, slots=True)
class Leg:
    """One agent leg of the call, located in the frame sequence."""

    channel: str  # uniqueid, as in ScreenPop.agent_channel
    interface: str
    called: int  # index of its AgentCalled frame
    gone: int  # index of its Hangup frame


def agent_legs(events: list[Event]) -> list[Leg]:
    legs: list[Leg] = []
    for i, e in enumerate(events):
        if e.name != "AgentCalled":
            continue
        uid = e.fields["DestUniqueid"]
        gone = next(
            j for j, h in enumerate(events) if h.name == "Hangup" and h.fields["Uniqueid"] == uid
        )
        legs.append(Leg(uid, e.fields["Interface"], i, gone))
    return legs


async def reference_frames() -> list[bytes]:
    """Every frame of the scripted call, from a run nobody was connected to."""
    async with open_rig() as rig:
        rig.fake.place_call(RING_NO_ANSWER_THEN_BOB)
        return await rig.fake.step(10_000)


async def run_with_cut(k: int, gap: int) -> tuple[AmiRig, str, int]:
    """Send k frames, reset the AMI socket, send `gap` more unseen, resync, send the rest.

    Returns the rig (its connections already closed), the call id and the
    number of frames the call had.
    """
    async with open_rig() as rig:
        call_id = rig.fake.place_call(RING_NO_ANSWER_THEN_BOB)
        before = await rig.step(k)
        rig.fake.drop_connections()
        # No await between the reset and these frames: they are written (or
        # not) synchronously, before the client can even see the reset, and
        # the client cannot log in again within one loop turn. Lost to it.
        lost = await rig.fake.step(gap)
        await rig.wait_snapshots(2)
        assert rig.engine.stats.disconnects == 1
        assert rig.engine.stats.connects == 2
        after = await rig.step(10_000)
        return rig, call_id, len(before) + len(lost) + len(after)


def check_cut(
    publisher: RecordingPublisher, call_id: str, legs: list[Leg], k: int, gap: int
) -> None:
    resync = k + gap  # frames [k, resync) were never seen by the CTI
    pops = [p for _, p in publisher.of_type("screen_pop") if p["call_id"] == call_id]
    where = f"cut after frame {k}, {gap} frames lost"
    popped = [p["agent_channel"] for p in pops]
    for leg in legs:
        count = popped.count(leg.channel)
        seen_live = leg.called < k or leg.called >= resync
        alive_at_resync = leg.gone >= resync
        if seen_live or alive_at_resync:
            # Rung while connected (AgentCalled seen), or still ringing or
            # answered when the snapshot was taken: exactly one pop (the
            # resync's is marked late).
            assert count == 1, f"{where}: {leg.interface} leg {leg.channel} got {count} pops"
        else:
            # Excused: its AgentCalled and its Hangup both fell in the gap. A
            # ring that started and ended entirely while disconnected cannot
            # be seen by anyone (the snapshot no longer lists the channel),
            # so no pop can be owed for it; a pop now would be for a ring
            # that is already over.
            assert count == 0, f"{where}: a pop for a ring that ended unseen: {leg}"
        for pop in pops:
            if pop["agent_channel"] == leg.channel:
                assert pop["interface"] == leg.interface, (where, pop)
                assert pop["late"] == (not seen_live), (where, pop)
    assert set(popped) <= {leg.channel for leg in legs}, (where, popped)

    ended = [(t, p) for t, p in publisher.of_type("call_ended") if p["call_id"] == call_id]
    to_role = [p for t, p in ended if t == "about:call"]
    assert len(to_role) == 1, f"{where}: the call ended {len(to_role)} times"
    # The popped agents, and only they, are told once that the call ended.
    popped_ifaces = sorted({p["interface"] for p in pops})
    told = sorted(t.removeprefix("iface:") for t, _ in ended if t.startswith("iface:"))
    assert told == popped_ifaces, (where, told, popped_ifaces)
    (end,) = to_role
    # Bob's leg was answered; the outcome survives a cut unless the cut hid it.
    bob = legs[-1]
    if bob.called < k or resync <= bob.gone:
        assert end["outcome"] == "answered", (where, end)
        assert end["answered_by"] == BOB, (where, end)


async def test_the_scripted_call_is_what_the_fault_test_assumes() -> None:
    frames = await reference_frames()
    legs = agent_legs(parse_frames(frames))
    assert [leg.interface for leg in legs] == [ALICE, BOB]
    assert legs[0].gone < legs[1].called  # Alice's ring is over before Bob's starts
    assert 100 < len(frames) < 400


async def test_no_pop_lost_or_duplicated_when_ami_drops_at_every_frame() -> None:
    frames = await reference_frames()
    legs = agent_legs(parse_frames(frames))
    total = len(frames)
    failures: list[str] = []
    for k in range(total):
        rig, call_id, sent = await run_with_cut(k, GAP)
        assert sent == total, f"cut {k}: the call had {sent} frames, not {total}"
        try:
            check_cut(rig.publisher, call_id, legs, k, GAP)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    assert not failures, f"{len(failures)} of {total} cut points failed:\n" + "\n".join(failures)


@pytest.mark.parametrize("gap", [1, 12, 40])
async def test_other_gap_lengths_around_each_ring(gap: int) -> None:
    frames = await reference_frames()
    legs = agent_legs(parse_frames(frames))
    total = len(frames)
    # Cut points from a little before each ring to a little after its end.
    cuts = sorted(
        {
            k
            for leg in legs
            for k in range(max(0, leg.called - gap - 3), min(total - 1, leg.gone + 3))
        }
    )
    failures: list[str] = []
    for k in cuts:
        rig, call_id, _ = await run_with_cut(k, gap)
        try:
            check_cut(rig.publisher, call_id, legs, k, gap)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    assert not failures, f"{len(failures)} of {len(cuts)} cut points failed:\n" + "\n".join(
        failures
    )


async def test_a_call_that_ends_while_disconnected_ends_once_by_resync() -> None:
    frames = await reference_frames()
    total = len(frames)
    legs = agent_legs(parse_frames(frames))
    k = legs[-1].called + 20  # Bob is talking
    rig, call_id, _ = await run_with_cut(k, total - k)
    check_cut(rig.publisher, call_id, legs, k, total - k)
    (end,) = [p for t, p in rig.publisher.of_type("call_ended") if t == "about:call"]
    assert end["ended_by_resync"] is True
    assert end["answered_by"] == BOB


async def test_the_engine_saw_every_frame_sent_while_connected() -> None:
    async with open_rig() as rig:
        rig.fake.place_call(RING_NO_ANSWER_THEN_BOB)
        sent = await rig.step(10_000)
        await wait_for(rig.idle, "engine idle")
        assert rig.engine.stats.failures == 0
        assert rig.client.stats.bad_frames == 0
        assert len(sent) > 100
        assert len(rig.publisher.of_type("screen_pop")) == 2


async def test_a_queue_leg_rung_in_the_outage_and_still_down_at_resync_gets_its_pop() -> None:
    """The narrowest failing cut, on its own: Alice's AgentCalled is lost and the
    resync happens before her phone reports Ringing (the leg is "Down" in the
    snapshot). She then rings for the whole ring timeout while the CTI is
    connected, so she is owed a (late) pop."""
    frames = await reference_frames()
    alice = agent_legs(parse_frames(frames))[0]
    k = alice.called - 2  # her Newchannel is the last frame seen
    rig, call_id, _ = await run_with_cut(k, GAP)
    pops = [p for t, p in rig.publisher.of_type("screen_pop") if t == f"iface:{ALICE}"]
    assert len(pops) == 1, "Alice rang 6 s after the resync and got no pop"
    assert pops[0]["late"] is True
    assert pops[0]["call_id"] == call_id


async def test_a_publisher_exception_never_drops_the_ami_connection() -> None:
    """Alice's pop blows up in the publisher: the engine logs it and goes on."""

    def refuse_alices_pop(target: str, payload: Mapping[str, Any]) -> bool:
        return target == f"iface:{ALICE}" and payload.get("type") == "screen_pop"

    publisher = RecordingPublisher(fail_on=refuse_alices_pop)
    async with open_rig(publisher) as rig:
        call_id = rig.fake.place_call(RING_NO_ANSWER_THEN_BOB)
        await rig.step(10_000)
        # a second call after the failure: the intake is still alive
        second = rig.fake.place_call(CallFlow(agents=(ALICE,), caller_num="15551230002"))
        await rig.step(10_000)
        assert publisher.raised == 2  # Alice's pop on each call
        assert rig.engine.stats.failures == 2
        bob_pops = [p for t, p in publisher.of_type("screen_pop") if t == f"iface:{BOB}"]
        assert [p["call_id"] for p in bob_pops] == [call_id]
        ended = [p["call_id"] for t, p in publisher.of_type("call_ended") if t == "about:call"]
        assert ended == [call_id, second]
        assert rig.fake.connections_total == 1
        assert rig.fake.logins_total == 1
        assert rig.client.stats.connects == 1
        assert rig.client.stats.disconnects == 0
        assert rig.client.connected
        assert rig.engine.stats.events == rig.client.stats.events  # no event skipped


def login_after(client: AmiClient) -> Callable[[], bool]:
    """A condition: the client has seen a login succeed since now."""
    logins = client.stats.connects
    return lambda: client.stats.connects > logins


async def run_with_flapping(k: int, flaps: int) -> tuple[AmiRig, str]:
    """Like `run_with_cut`, but every re-login is reset again as soon as it succeeds,
    `flaps` times in all, one frame lost each time: the resync lists are cut
    at varying points, and a partial snapshot must never be applied."""
    async with open_rig() as rig:
        call_id = rig.fake.place_call(RING_NO_ANSWER_THEN_BOB)
        await rig.step(k)
        # Each list answer waits 20 ms: the reset that follows a login lands
        # inside its resync however busy the machine is (the check below).
        rig.fake.list_reply_delay = 0.02
        for i in range(flaps):
            if i:
                await wait_for(login_after(rig.client), "a re-login")
            rig.fake.drop_connections()
            await rig.fake.step(1)
        # a login after the last reset, then that login's snapshot
        await wait_for(login_after(rig.client), "the last re-login")
        await wait_for(rig.resynced, "the last login's snapshot")
        await rig.step(10_000)
        return rig, call_id


async def test_no_pop_lost_or_duplicated_when_the_link_flaps_during_resync() -> None:
    frames = await reference_frames()
    legs = agent_legs(parse_frames(frames))
    flaps = 4
    cuts = range(0, len(frames) - flaps, 3)
    failures: list[str] = []
    cut_resyncs = 0
    for k in cuts:
        rig, call_id = await run_with_flapping(k, flaps)
        assert rig.client.stats.connects == flaps + 1
        cut_resyncs += rig.client.stats.connects - rig.engine.kinds.count("Snapshot")
        try:
            check_cut(rig.publisher, call_id, legs, k, flaps)
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    # the resets did land inside resyncs (logins whose snapshot never came)
    assert cut_resyncs > len(cuts)
    assert not failures, f"{len(failures)} of {len(cuts)} cut points failed:\n" + "\n".join(
        failures
    )

"""Blind and attended transfers in the fake Asterisk: the legs Asterisk 22 would create.

No trace records a transfer; these tests hold the generated stream to what
Asterisk does (bridge.c blind transfer of a two-party bridge, bridge_basic.c
attended transfer started by AMI Atxfer), to the recorded header lists of
every kind of frame a trace has, and to the simulator's own invariants: the
Linkedid is kept, new legs get new Uniqueids, and CoreShowChannels /
BridgeList agree with the stream.
"""

from __future__ import annotations

from sim_tools import drain, lab_traffic, parse, real_events
from test_sim_server import Client
from trace_paths import TRACES

from cti.ami.protocol import AmiParser, Event, Response, encode_action
from cti.sim import FakeAsterisk
from cti.sim.ari_mirror import AriMirror
from cti.sim.calls import CallFlow
from cti.sim.control_actions import ActionAnswer, answer_control_action
from cti.sim.traffic import Traffic

ALICE, BOB = "PJSIP/1001", "PJSIP/1002"


def _bridged(ring: float = 1.0, talk: float = 30.0) -> tuple[Traffic, str, str]:
    """A queue call answered by Alice, stepped to just after her BridgeEnter."""
    traffic = lab_traffic()
    call = traffic.add_call(CallFlow(agents=(ALICE,), ring_time=ring, talk_time=talk), 0.0)
    while not any(len(b.channels) == 2 for b in traffic.state.bridges.values()):
        assert traffic.next_frames(1)
    while traffic._burst:  # the rest of the answer burst
        traffic.next_frames(1)
    alice = next(c for c in traffic.state.channels if c.startswith(ALICE + "-"))
    return traffic, call, alice


def _transfer(
    traffic: Traffic, channel: str, exten: str, context: str = "from-agents"
) -> tuple[ActionAnswer, list[Event]]:
    fields = [("Channel", channel), ("Context", context), ("Exten", exten)]
    answer = answer_control_action("blindtransfer", traffic.state, fields, "t1", traffic.now)
    if answer.ok:
        assert traffic.blind_transfer(channel, context, exten)
    return answer, parse([*answer.events, *drain(traffic)])


def _message(answer: ActionAnswer) -> str:
    parser = AmiParser()
    parser.feed(b"Asterisk Call Manager/11.0.0\r\n")
    (resp,) = parser.feed(answer.response)
    assert isinstance(resp, Response)
    return f"{resp.status}: {resp.message}"


def _index(events: list[Event], name: str, **match: str) -> int:
    for i, e in enumerate(events):
        if e.name == name and all(e.fields.get(k) == v for k, v in match.items()):
            return i
    raise AssertionError(f"no {name} {match}")


def _listed(traffic: Traffic) -> tuple[set[str], dict[str, int]]:
    """What CoreShowChannels and BridgeList say now."""
    events = parse(
        [*traffic.state.core_show_channels("c", traffic.now), *traffic.state.bridge_list("b")]
    )
    channels = {e.fields["Channel"] for e in events if e.name == "CoreShowChannel"}
    bridges = {
        e.fields["BridgeUniqueid"]: int(e.fields["BridgeNumChannels"])
        for e in events
        if e.name == "BridgeListItem"
    }
    return channels, bridges


def test_blind_transfer_rings_the_target_on_the_same_linkedid() -> None:
    traffic, call, alice = _bridged()
    customer = next(c for c in traffic.state.channels if c.startswith("PJSIP/pstn-"))
    old_bridge = traffic.state.channels[alice].bridge
    answer, events = _transfer(traffic, alice, "1002")
    assert _message(answer) == "Success: Transfer succeeded"

    first = events[0]
    assert first.name == "BlindTransfer"
    assert first.fields["TransfererChannel"] == alice
    assert first.fields["TransfereeChannel"] == customer
    assert (first.fields["Extension"], first.fields["Context"]) == ("1002", "from-agents")
    complete = _index(events, "AgentComplete", Reason="transfer")
    alice_gone = _index(events, "Hangup", Channel=alice, Cause="16")
    left = _index(events, "BridgeLeave", Channel=customer, BridgeUniqueid=old_bridge)
    destroyed = _index(events, "BridgeDestroy", BridgeUniqueid=old_bridge)
    dial = _index(events, "Newexten", Channel=customer, Application="Dial", Exten="1002")
    assert events[dial].fields["Context"] == "from-agents"
    assert events[dial].fields["AppData"] == "PJSIP/1002,20"
    new = _index(events, "Newchannel")
    bob = events[new].fields
    assert bob["Channel"].startswith(BOB + "-")
    assert bob["Linkedid"] == call != bob["Uniqueid"]
    begin = _index(events, "DialBegin", Channel=customer, DestChannel=bob["Channel"])
    end = _index(events, "DialEnd", Channel=customer, DialStatus="ANSWER")
    created = _index(events, "BridgeCreate")
    new_bridge = events[created].fields["BridgeUniqueid"]
    assert new_bridge != old_bridge
    enter_bob = _index(events, "BridgeEnter", Channel=bob["Channel"], BridgeUniqueid=new_bridge)
    enter_c = _index(events, "BridgeEnter", Channel=customer, BridgeUniqueid=new_bridge)
    hangups = [i for i, e in enumerate(events) if e.name == "Hangup"]
    assert [events[i].fields["Channel"] for i in hangups] == [alice, customer, bob["Channel"]]
    assert 0 < complete < alice_gone
    assert left < destroyed < dial < new < begin < end < created
    assert created < enter_bob < enter_c < hangups[1]
    for e in events:
        if e.fields.get("Uniqueid") in (bob["Uniqueid"], call):
            assert e.fields["Linkedid"] == call, e
    # the customer stays Up all along; Alice's device is free again, Bob's too at the end
    assert all(
        e.fields["ChannelState"] == "6" for e in events if e.fields.get("Channel") == customer
    )
    devices = [
        (e.fields["Device"], e.fields["State"]) for e in events if e.name == "DeviceStateChange"
    ]
    assert devices.index((ALICE, "NOT_INUSE")) < devices.index((BOB, "RINGING"))
    assert devices.index((BOB, "INUSE")) < devices.index((BOB, "NOT_INUSE"))
    assert not traffic.state.channels
    assert not traffic.state.bridges
    assert traffic.active_calls == 0


def test_lists_agree_with_the_stream_while_the_target_talks() -> None:
    traffic, call, alice = _bridged()
    customer = next(c for c in traffic.state.channels if c.startswith("PJSIP/pstn-"))
    answer = answer_control_action(
        "blindtransfer",
        traffic.state,
        [("Channel", alice), ("Context", "from-agents"), ("Exten", "1002")],
        None,
        traffic.now,
    )
    assert answer.ok
    assert traffic.blind_transfer(alice, "from-agents", "1002")
    seen = parse([*answer.events, *traffic.advance(traffic.now + 5.0)])
    bob = next(e.fields["Channel"] for e in seen if e.name == "Newchannel")
    bridge = next(e.fields["BridgeUniqueid"] for e in seen if e.name == "BridgeCreate")
    channels, bridges = _listed(traffic)
    assert channels == {customer, bob}
    assert bridges == {bridge: 2}
    assert traffic.state.channels[customer].bridge == traffic.state.channels[bob].bridge == bridge
    # a Hangup from the target ends both legs
    assert traffic.hangup(bob)
    rest = parse(drain(traffic))
    assert {e.fields["Channel"] for e in rest if e.name == "Hangup"} == {customer, bob}
    assert _listed(traffic) == (set(), {})
    assert call not in traffic._runs


def test_transfer_to_a_missing_extension_drops_the_customer() -> None:
    # Asterisk checks neither the context nor the extension (manager.c,
    # ast_bridge_transfer_blind): the transfer succeeds and the customer,
    # sent to an invalid extension with no "i" handler, hangs up.
    traffic, _, alice = _bridged()
    customer = next(c for c in traffic.state.channels if c.startswith("PJSIP/pstn-"))
    answer, events = _transfer(traffic, alice, "777")
    assert _message(answer) == "Success: Transfer succeeded"
    assert not [e for e in events if e.name in ("Newchannel", "DialBegin")]
    assert [e.fields["Channel"] for e in events if e.name == "Hangup"] == [alice, customer]
    assert not traffic.state.channels
    assert not traffic.state.bridges


def test_refusals_have_asterisks_wording() -> None:
    traffic, _, alice = _bridged()
    state, now = traffic.state, traffic.now

    def say(*fields: tuple[str, str]) -> str:
        return _message(answer_control_action("blindtransfer", state, list(fields), "x", now))

    assert say(("Channel", "PJSIP/1003-0000000f"), ("Exten", "1002")) == (
        "Error: Channel specified does not exist"
    )
    assert say(("Exten", "1002")) == "Error: No channel specified"
    assert say(("Channel", alice)) == "Error: No extension specified"
    # a channel in no bridge cannot be transferred
    lone = lab_traffic()
    lone.add_call(CallFlow(agents=(ALICE,)), 0.0)
    lone.next_frames(5)
    caller = next(iter(lone.state.channels))
    refused = answer_control_action(
        "blindtransfer", lone.state, [("Channel", caller), ("Exten", "1002")], "x", lone.now
    )
    assert _message(refused) == "Error: Transfer invalid"
    assert not refused.events
    assert not refused.ok


async def test_the_server_carries_out_the_transfer() -> None:
    fa = FakeAsterisk(epoch=1_795_860_134.0)
    await fa.start()
    try:
        fa.start_traffic(stepped=True)
        fa.place_call(CallFlow(agents=(ALICE,), ring_time=0.5, talk_time=2.0))
        client = await Client.connect(fa)
        await client.login()
        while not any(len(b.channels) == 2 for b in fa.state.bridges.values()):
            assert await fa.step(1)
        alice = next(c for c in fa.state.channels if c.startswith(ALICE))
        client.writer.write(
            encode_action(
                "BlindTransfer", "bt", {"Channel": alice, "Context": "from-agents", "Exten": "1002"}
            )
        )
        resp = await client.response()
        assert (resp.status, resp.message) == ("Success", "Transfer succeeded")
        frames: list[bytes] = []
        while chunk := await fa.step(50):
            frames += chunk
        names = [e.name for e in parse(frames)]
        assert names.count("Newchannel") == 1
        assert "DialBegin" in names
        assert not fa.state.channels
        await client.close()
    finally:
        await fa.stop()


# -- attended transfer (Atxfer, then Hangup of the agent leg or of the consultation)


def _consulting(ring: float = 1.0) -> tuple[Traffic, str, str, list[Event]]:
    """Alice's answered call, Atxfer to 1002 accepted, run until Bob answered."""
    traffic, call, alice = _bridged(ring=ring, talk=5.0)
    fields = [("Channel", alice), ("Context", "from-agents"), ("Exten", "1002")]
    answer = answer_control_action("atxfer", traffic.state, fields, "a1", traffic.now)
    assert _message(answer) == "Success: Atxfer successfully queued"
    assert traffic.attended_transfer(alice, "from-agents", "1002")
    events = parse(traffic.advance(traffic.now + ring + 1.0))
    return traffic, call, alice, events


def test_atxfer_consults_the_target_while_the_customer_holds() -> None:
    traffic, call, alice, events = _consulting()
    customer = next(c for c in traffic.state.channels if c.startswith("PJSIP/pstn-"))
    new = [e.fields for e in events if e.name == "Newchannel"]
    names = [f["Channel"] for f in new]
    assert names[0].startswith("Local/1002@from-agents-")
    assert names[0].endswith(";1")
    assert names[1] == names[0][:-1] + "2"
    assert names[2].startswith(BOB + "-")
    # the consultation inherits the transferer's Linkedid (the customer's call)
    assert {f["Linkedid"] for f in new} == {call}
    assert len({f["Uniqueid"] for f in new} | {call}) == 4
    assert _index(events, "DialBegin", Channel=names[1], DestChannel=names[2]) < _index(
        events, "DialEnd", DialStatus="ANSWER"
    )
    held = _index(events, "MusicOnHoldStart", Channel=customer)
    consult_bridge = events[_index(events, "BridgeEnter", Channel=alice)].fields["BridgeUniqueid"]
    assert held < _index(events, "BridgeEnter", Channel=names[0], BridgeUniqueid=consult_bridge)
    channels, bridges = _listed(traffic)
    assert channels == {customer, alice, *names}
    assert sorted(bridges.values()) == [1, 2, 2]
    assert bridges[consult_bridge] == 2
    assert traffic.state.channels[names[0]].bridge == consult_bridge
    assert traffic.state.channels[names[1]].bridge == traffic.state.channels[names[2]].bridge


def test_hanging_up_the_agent_completes_the_attended_transfer() -> None:
    traffic, call, alice, _events = _consulting()
    customer = next(c for c in traffic.state.channels if c.startswith("PJSIP/pstn-"))
    local_one = next(c for c in traffic.state.channels if c.endswith(";1"))
    bob = next(c for c in traffic.state.channels if c.startswith(BOB))
    first_bridge = traffic.state.channels[customer].bridge
    assert traffic.hangup(alice)
    done = parse(traffic.advance(traffic.now + 1.0))
    xfer = done[_index(done, "AttendedTransfer")].fields
    assert xfer["Result"] == "Success"
    assert xfer["OrigTransfererChannel"] == xfer["SecondTransfererChannel"] == alice
    assert xfer["OrigBridgeUniqueid"] == xfer["DestBridgeUniqueid"] == first_bridge
    assert xfer["TransfereeChannel"] == customer
    assert xfer["TransferTargetChannel"] == local_one
    assert xfer["TransfereeLinkedid"] == xfer["TransferTargetLinkedid"] == call
    assert _index(done, "AttendedTransfer") < _index(done, "AgentComplete", Reason="transfer")
    assert _index(done, "AgentComplete") < _index(done, "Hangup", Channel=alice, Cause="16")
    assert _index(done, "BridgeEnter", Channel=local_one, BridgeUniqueid=first_bridge) < (
        _index(done, "MusicOnHoldStop", Channel=customer)
    )
    channels, bridges = _listed(traffic)
    assert alice not in channels
    assert bob in channels
    assert bridges[first_bridge] == 2
    rest = parse(drain(traffic))
    assert {e.fields["Channel"] for e in rest if e.name == "Hangup"} == channels
    assert _listed(traffic) == (set(), {})
    assert traffic.active_calls == 0


def test_hanging_up_the_consultation_cancels_it() -> None:
    traffic, _, alice, _ = _consulting()
    customer = next(c for c in traffic.state.channels if c.startswith("PJSIP/pstn-"))
    local_one = next(c for c in traffic.state.channels if c.endswith(";1"))
    first_bridge = traffic.state.channels[customer].bridge
    assert traffic.hangup(local_one)
    back = parse(traffic.advance(traffic.now + 1.0))
    assert not [e for e in back if e.name in ("AttendedTransfer", "AgentComplete")]
    assert _index(back, "Hangup", Channel=local_one) < _index(
        back, "BridgeEnter", Channel=alice, BridgeUniqueid=first_bridge
    )
    assert _listed(traffic) == ({customer, alice}, {first_bridge: 2})
    assert traffic.state.devices[BOB] == "NOT_INUSE"
    # the call goes on as before, and ends as an ordinary queue call
    rest = parse(drain(traffic))
    assert [e.fields["Reason"] for e in rest if e.name == "AgentComplete"] == ["caller"]
    assert _listed(traffic) == (set(), {})


def test_atxfer_to_a_missing_extension_changes_nothing() -> None:
    # bridge_basic.c plays pbx-invalid to the transferer and stops: no event
    traffic, _, alice = _bridged()
    before = _listed(traffic)
    answer = answer_control_action(
        "atxfer", traffic.state, [("Channel", alice), ("Exten", "777")], "a", traffic.now
    )
    assert _message(answer) == "Success: Atxfer successfully queued"
    assert not traffic.attended_transfer(alice, "", "777")
    assert _listed(traffic) == before
    say = answer_control_action(
        "atxfer", traffic.state, [("Channel", "PJSIP/1003-0000000f"), ("Exten", "1002")], "a", 0
    )
    assert _message(say) == "Error: Channel specified does not exist"
    assert _message(
        answer_control_action("atxfer", traffic.state, [("Channel", alice)], "a", 0)
    ) == ("Error: No extension specified")


def _recorded_shapes() -> dict[str, set[tuple[str, ...]]]:
    shapes: dict[str, set[tuple[str, ...]]] = {}
    for path in sorted(TRACES.glob("*.jsonl")):
        for e in real_events(path.name):
            shapes.setdefault(e.name, set()).add(tuple(e.fields))
    return shapes


def test_every_recorded_kind_of_frame_keeps_its_recorded_shape() -> None:
    """Header names and order as a real Asterisk 22 wrote them; the frames no
    trace has (the transfer events, hold music) are exactly the expected ones."""
    events: list[Event] = []
    blind, _, alice = _bridged()
    events += _transfer(blind, alice, "1002")[1]
    missing, _, alice = _bridged()
    events += _transfer(missing, alice, "777")[1]
    for end in ("agent", "consultation"):
        traffic, _, alice, consult = _consulting()
        events += consult
        local_one = next(c for c in traffic.state.channels if c.endswith(";1"))
        assert traffic.hangup(alice if end == "agent" else local_one)
        events += parse(drain(traffic))
    shapes = _recorded_shapes()
    unrecorded = {e.name for e in events if e.name not in shapes}
    assert unrecorded == {
        "BlindTransfer",
        "AttendedTransfer",
        "MusicOnHoldStart",
        "MusicOnHoldStop",
    }
    for e in events:
        if e.name in shapes:
            assert tuple(e.fields) in shapes[e.name], e


def test_ari_sees_the_transfers_too() -> None:
    """The ARI mirror renders the transfer events and the new legs."""
    traffic, call, alice = _bridged()
    customer = next(c for c in traffic.state.channels if c.startswith("PJSIP/pstn-"))
    fields = [("Channel", alice), ("Context", "from-agents"), ("Exten", "1002")]
    answer = answer_control_action("blindtransfer", traffic.state, fields, "t", traffic.now)
    assert traffic.blind_transfer(alice, "from-agents", "1002")
    mirror = AriMirror()
    bodies = [m.body for raw in (*answer.events, *drain(traffic)) for m in mirror.feed(raw, 0.0)]
    blind = next(b for b in bodies if b["type"] == "BridgeBlindTransfer")
    assert blind["channel"]["name"] == alice  # type: ignore[index]
    assert blind["transferee"]["name"] == customer  # type: ignore[index]
    assert (blind["exten"], blind["context"], blind["result"]) == ("1002", "from-agents", "Success")
    assert blind["is_external"] is True
    created = [b["channel"] for b in bodies if b["type"] == "ChannelCreated"]
    assert [c["name"][:11] for c in created] == [BOB + "-"]  # type: ignore[index]

    traffic, call, alice, _ = _consulting()
    assert traffic.hangup(alice)
    mirror = AriMirror()
    bodies = [m.body for raw in traffic.advance(traffic.now + 1.0) for m in mirror.feed(raw, 0.0)]
    (done,) = [b for b in bodies if b["type"] == "BridgeAttendedTransfer"]
    assert done["transferer_first_leg"]["name"] == alice  # type: ignore[index]
    assert done["transfer_target"]["name"].endswith(";1")  # type: ignore[index]
    assert done["transferee"]["id"] == call  # type: ignore[index]
    assert (done["result"], done["destination_type"]) == ("Success", "bridge")
    assert done["destination_bridge"] == done["transferer_first_leg_bridge"]["id"]  # type: ignore[index]
    assert done["is_external"] is False

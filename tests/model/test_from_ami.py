"""The AMI -> domain event mapping, on frames taken from the real traces."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from model_tools import events_of, frames

from cti.ami.protocol import AmiParser, Event
from cti.ids import CallId, ChannelId, Interface, QueueName
from cti.model.events import (
    AgentRung,
    DialStarted,
    IvrStepped,
    MemberRemoved,
    MemberUpdated,
    OriginateDone,
    VariableSet,
)
from cti.model.from_ami import HANDLED_EVENTS, STATS, from_ami
from cti.model.interfaces import DeviceRegistry, device_key, interface_of_channel


def _event(raw: str) -> Event:
    parser = AmiParser()
    parser.feed(b"Asterisk Call Manager/11.0.0\r\n")
    (msg,) = parser.feed(raw.encode())
    assert isinstance(msg, Event)
    return msg


def _first(trace: str, name: str, pred: Callable[[Event], bool] | None = None) -> Event:
    for _t, ev in events_of(frames(trace)):
        if ev.name == name and (pred is None or pred(ev)):
            return ev
    raise AssertionError(f"no {name} in {trace}")


def test_ivr_step_keeps_user_values_in_order_without_channel_headers() -> None:
    ev = _first("queue_answered", "UserEvent", lambda e: e.fields.get("Step") == "account")
    d = from_ami(ev)
    channel, call = ChannelId(ev.fields["Uniqueid"]), CallId(ev.fields["Linkedid"])
    assert d == IvrStepped(channel, call, "account", (("Account", "23456"),))


def test_ivr_step_from_the_ari_trace() -> None:
    d = from_ami(_first("ari_stasis_ivr", "UserEvent"))
    assert isinstance(d, IvrStepped)
    assert (d.step, d.values) == ("stasis-done", (("Customer", "42"),))


def test_other_user_events_are_ignored() -> None:
    ev = _event(
        "Event: UserEvent\r\nChannel: PJSIP/x-1\r\nUniqueid: 1.1\r\nLinkedid: 1.1\r\n"
        "UserEvent: Other\r\nStep: x\r\n\r\n"
    )
    assert from_ami(ev) is None


def test_only_cti_variables_are_kept() -> None:
    ev = _first("queue_answered", "VarSet", lambda e: e.fields["Variable"] == "CTI_MENU")
    channel, call = ChannelId(ev.fields["Uniqueid"]), CallId(ev.fields["Linkedid"])
    assert from_ami(ev) == VariableSet(channel, call, "CTI_MENU", "1")
    other = _first(
        "queue_answered", "VarSet", lambda e: not e.fields["Variable"].startswith("CTI_")
    )
    assert from_ami(other) is None


def test_originate_dial_begin_has_no_calling_channel() -> None:
    d = from_ami(_first("click_to_dial", "DialBegin"))
    assert isinstance(d, DialStarted)
    assert d.channel is None
    assert d.call == "1795860266.10"  # DestLinkedid
    assert d.dest_name == "PJSIP/1001-0000000a"


def test_queue_dial_begin_has_the_caller() -> None:
    d = from_ami(_first("queue_answered", "DialBegin"))
    assert isinstance(d, DialStarted)
    assert d.channel == "1795860134.0"
    assert d.dest_channel == "1795860142.1"


def test_agent_called() -> None:
    d = from_ami(_first("load_bulk", "AgentCalled"))
    assert isinstance(d, AgentRung)
    assert d.interface == "Local/2025@agents-sim/n"
    assert d.dest_name == "Local/2025@agents-sim-00000000;1"
    assert d.member_name == "Sim Agent 25"


def test_member_events() -> None:
    paused = from_ami(_first("agent_state", "QueueMemberPause"))
    support = QueueName("support")
    assert paused == MemberUpdated(
        support, Interface("PJSIP/1001"), "Alice Agent", 1, True, "lunch"
    )
    removed = from_ami(_first("agent_state", "QueueMemberRemoved"))
    assert removed == MemberRemoved(support, Interface("PJSIP/1003"))


def test_originate_response() -> None:
    d = from_ami(_first("click_to_dial", "OriginateResponse"))
    assert d == OriginateDone(ChannelId("1795860266.10"), "95551234", True)


@pytest.mark.parametrize("name", ["Newexten", "RTCPSent", "DeviceStateChange", "NoSuchEvent"])
def test_irrelevant_events_map_to_none(name: str) -> None:
    assert name not in HANDLED_EVENTS
    assert from_ami(Event(name, {"Channel": "PJSIP/1-1"})) is None


@pytest.mark.parametrize("name", sorted(HANDLED_EVENTS))
def test_malformed_events_are_counted_never_raised(name: str) -> None:
    before = STATS.malformed.get(name, 0)
    assert from_ami(Event(name, {})) is None
    assert STATS.malformed[name] == before + 1


def test_every_event_of_every_trace_maps_without_error() -> None:
    from model_tools import ALL_TRACES

    before = STATS.total_malformed
    for trace in ALL_TRACES:
        for _t, ev in events_of(frames(trace)):
            from_ami(ev)
    assert STATS.total_malformed == before


@pytest.mark.parametrize(
    ("channel", "interface"),
    [
        ("PJSIP/1002-00000009", "PJSIP/1002"),
        ("PJSIP/pstn-000000bf", "PJSIP/pstn"),
        ("Local/2000@agents-sim-0000001;1", "Local/2000@agents-sim"),
        ("Local/2000@agents-sim-0000001;2", "Local/2000@agents-sim"),
        ("SIP/my-trunk-0000abcd", "SIP/my-trunk"),
        ("Message/ast_msg_queue", "Message/ast_msg_queue"),
    ],
)
def test_interface_of_channel(channel: str, interface: str) -> None:
    assert interface_of_channel(channel) == interface


def test_device_registry_maps_local_channels_to_member_interfaces() -> None:
    reg = DeviceRegistry()
    reg.add("PJSIP/1001")
    reg.add("Local/2025@agents-sim/n")
    assert device_key("Local/2025@agents-sim/n") == "Local/2025@agents-sim"
    assert reg.resolve("Local/2025@agents-sim") == "Local/2025@agents-sim/n"
    assert reg.resolve("PJSIP/1001") == "PJSIP/1001"
    assert reg.resolve("PJSIP/pstn") is None
    assert "PJSIP/1001" in reg
    assert len(reg) == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Variable: CTI_MENU\r\nValue: 2", "CTI_MENU"),
        ("Variable: RTPAUDIOQOS\r\nValue: 2", None),
        (" Variable: CTI_MENU\r\nValue: 2", "CTI_MENU"),  # odd whitespace before the key
        ("Variable : CTI_MENU\r\nValue: 2", "CTI_MENU"),
        (" Variable: OTHER\r\nVariable: CTI_MENU\r\nValue: 2", None),  # the first one wins
        ("Variable: CTI_MENU\r\n  continuation\r\nValue: 2", "CTI_MENU"),
        ("Variable:CTI_MENU\r\nValue: 2", "CTI_MENU"),
        ("Variable:  CTI_MENU\r\nValue: 2", None),  # one space dropped, the other kept
    ],
)
def test_varset_fast_path_reads_the_variable_like_the_reference(
    raw: str, expected: str | None
) -> None:
    ev = _event(f"Event: VarSet\r\nUniqueid: 1.1\r\nLinkedid: 1.0\r\n{raw}\r\n\r\n")
    as_dict = Event("VarSet", dict(ev.fields))
    want = None if expected is None else VariableSet(ChannelId("1.1"), CallId("1.0"), expected, "2")
    assert (
        from_ami(_event(f"Event: VarSet\r\nUniqueid: 1.1\r\nLinkedid: 1.0\r\n{raw}\r\n\r\n"))
        == want
    )
    assert from_ami(as_dict) == want


def test_varset_without_variable_is_counted_as_malformed() -> None:
    before = STATS.malformed.get("VarSet", 0)
    ev = _event("Event: VarSet\r\nUniqueid: 1.1\r\nLinkedid: 1.0\r\nValue: 2\r\n\r\n")
    assert from_ami(ev) is None
    assert STATS.malformed["VarSet"] == before + 1

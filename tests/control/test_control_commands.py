"""Command validation: every user-supplied field is whitelisted (header injection fails)."""

from __future__ import annotations

from typing import Any

import pytest
from control_tools import INJECTIONS
from pydantic import ValidationError

from cti.control.commands import (
    COMMAND_NAMES,
    AttendedTransfer,
    Dial,
    Hangup,
    SendDtmf,
    Transfer,
    parse_command,
)

# command -> the fields it takes besides call_id, with a valid value each
FIELDS: dict[str, dict[str, str]] = {
    "dial": {"number": "5551234"},
    "transfer": {"target": "1002"},
    "attended_transfer": {"target": "1002"},
    "dtmf": {"digits": "12*#AD"},
}


def message(name: str, **extra: str) -> dict[str, Any]:
    data: dict[str, Any] = {"command": name, **FIELDS.get(name, {}), **extra}
    if name != "dial":
        data.setdefault("call_id", "1795860266.10")
    return data


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_every_command_parses_with_valid_values(name: str) -> None:
    command = parse_command(message(name))
    assert command.command == name


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize(
    ("name", "field"),
    [
        *[(n, f) for n, fields in FIELDS.items() for f in fields],
        *[(n, "call_id") for n in COMMAND_NAMES if n != "dial"],
    ],
)
def test_injection_in_any_field_is_refused_naming_the_field(
    name: str, field: str, bad: str
) -> None:
    with pytest.raises(ValidationError) as info:
        parse_command(message(name, **{field: bad}))
    assert [e["loc"][-1] for e in info.value.errors()] == [field]


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_an_extra_header_like_field_is_refused(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_command(message(name, Channel="PJSIP/1002"))
    assert info.value.errors()[0]["loc"][-1] == "Channel"


def test_patterns_accept_what_agents_dial_and_refuse_letters() -> None:
    assert Dial(number="+15551234").number == "+15551234"
    assert Dial(number="*72#").number == "*72#"
    assert SendDtmf(call_id="1.2", digits="0123456789*#ABCD").digits == "0123456789*#ABCD"
    for bad in ("s", "h", "1001@pstn", "1" * 33, "\uff11\uff12\uff13", "1001 ", "1,2"):
        with pytest.raises(ValidationError):
            Dial(number=bad)
        with pytest.raises(ValidationError):
            Transfer(call_id="1.2", target=bad)
    for bad in ("E", "w", "1 2", "x"):
        with pytest.raises(ValidationError):
            SendDtmf(call_id="1.2", digits=bad)


def test_commands_are_frozen_and_unknown_commands_refused() -> None:
    command = AttendedTransfer(call_id="1.2", target="1002")
    with pytest.raises(ValidationError):
        command.target = "1003"
    with pytest.raises(ValidationError):
        parse_command({"command": "originate", "call_id": "1.2"})
    with pytest.raises(ValidationError):
        Hangup(call_id="1.2\r\n")

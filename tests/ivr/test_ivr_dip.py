"""The data dip's pure rules (cti/ivr/dip.py)."""

from __future__ import annotations

from cti.ids import ChannelId
from cti.ivr.dip import SetVariable, StasisCall, dip_request, dip_variables, stuck_in

CHANNEL = ChannelId("1795860720.389")


def call(*args: str, app: str = "cti-ivr", number: str = "15551230001") -> StasisCall:
    return StasisCall(CHANNEL, app, args, number)


def test_lookup_by_number_or_by_the_account_typed() -> None:
    by_number = dip_request(call("lookup"), "cti-ivr")
    assert by_number is not None
    assert by_number.account is None
    assert by_number.caller_number == "15551230001"
    by_account = dip_request(call("lookup", " 23456 "), "cti-ivr")
    assert by_account is not None
    assert by_account.account == "23456"


def test_what_is_not_a_dip_goes_straight_back() -> None:
    assert dip_request(call(), "cti-ivr") is None
    assert dip_request(call("transfer"), "cti-ivr") is None
    assert dip_request(call("lookup", app="other"), "cti-ivr") is None


def test_an_account_that_is_not_digits_is_ignored() -> None:
    for junk in ("12ab", "1\r\n2", "", "9" * 33, "٣٤"):
        request = dip_request(call("lookup", junk), "cti-ivr")
        assert request is not None, junk
        assert request.account is None, junk


def test_variables_only_for_a_customer_found() -> None:
    assert dip_variables(None) == []
    assert dip_variables({}) == []
    assert dip_variables({"id": "42", "name": "x"}) == []  # an id must be an int
    assert dip_variables({"id": 42, "name": "Ada Lovelace", "account": "42"}) == [
        SetVariable("CTI_CUSTOMER_ID", "42"),
        SetVariable("CTI_CUSTOMER_NAME", "Ada Lovelace"),
        SetVariable("CTI_CUSTOMER_ACCOUNT", "42"),
    ]


def test_values_never_carry_control_characters() -> None:
    (ident, name) = dip_variables({"id": 7, "name": "Eve\r\nAction: Originate\x00" + "x" * 300})
    assert ident == SetVariable("CTI_CUSTOMER_ID", "7")
    assert "\r" not in name.value
    assert "\n" not in name.value
    assert "\x00" not in name.value
    assert name.value.startswith("EveAction: Originate")
    assert len(name.value) == 128


def test_channels_left_in_the_app_are_recognised() -> None:
    assert stuck_in("cti-ivr", "Stasis", "cti-ivr,lookup") == ("lookup",)
    assert stuck_in("cti-ivr", "Stasis", "cti-ivr,lookup,23456") == ("lookup", "23456")
    assert stuck_in("cti-ivr", "Stasis", "other,lookup") is None
    assert stuck_in("cti-ivr", "Queue", "cti-ivr") is None

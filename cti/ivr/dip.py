"""The data dip's decisions, pure: what a StasisStart asks for, what to set.

Strategy: everything that can be decided without I/O lives here, so the
rules are tested without an Asterisk or a database; `cti/ivr/app.py` only
carries them out. The dialplan enters the app as `Stasis(cti-ivr,lookup)`
(look the caller up by number) or `Stasis(cti-ivr,lookup,<account>)` (by an
account the caller typed); anything else is not ours to answer, and the
channel goes straight back to the dialplan.

The variables set are the contract with the dialplan and the screen-pop
(docs/ivr.md): CTI_CUSTOMER_ID, CTI_CUSTOMER_NAME and CTI_CUSTOMER_ACCOUNT,
set only when a customer was found. Nothing is set on a miss, a timeout or
an error, so `${CTI_CUSTOMER_ID}` is empty and the dialplan can tell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cti.ids import ChannelId

__all__ = [
    "DIP_COMMAND",
    "DipRequest",
    "SetVariable",
    "StasisCall",
    "dip_request",
    "dip_variables",
    "stuck_in",
]

DIP_COMMAND = "lookup"
# An account the caller types is digits; anything else in that argument is a
# dialplan mistake, ignored rather than sent to the database.
_MAX_ACCOUNT = 32
# Channel variables are short strings in Asterisk; a longer customer name is cut.
_MAX_VALUE = 128


@dataclass(frozen=True, slots=True)
class StasisCall:
    """What the app needs from a StasisStart (or a channel found in Stasis)."""

    channel: ChannelId
    app: str
    args: tuple[str, ...]
    caller_number: str


@dataclass(frozen=True, slots=True)
class DipRequest:
    channel: ChannelId
    caller_number: str
    account: str | None


@dataclass(frozen=True, slots=True)
class SetVariable:
    name: str
    value: str


def dip_request(call: StasisCall, app: str) -> DipRequest | None:
    """The look-up `call` asks for, or None: continue the dialplan untouched."""
    if call.app != app or not call.args or call.args[0] != DIP_COMMAND:
        return None
    account = call.args[1].strip() if len(call.args) > 1 else ""
    if not (account.isascii() and account.isdigit() and len(account) <= _MAX_ACCOUNT):
        account = ""
    return DipRequest(call.channel, call.caller_number, account or None)


def _clean(value: object) -> str:
    # A value goes into a channel variable and from there into AMI frames:
    # control characters (CR, LF above all) never get through.
    text = "".join(ch for ch in str(value) if ch.isprintable())
    return text[:_MAX_VALUE]


def dip_variables(customer: Mapping[str, Any] | None) -> list[SetVariable]:
    """The variables to set for the customer found (none if none was)."""
    if not customer or not isinstance(customer.get("id"), int):
        return []
    out = [SetVariable("CTI_CUSTOMER_ID", str(customer["id"]))]
    name = _clean(customer.get("name") or "")
    if name:
        out.append(SetVariable("CTI_CUSTOMER_NAME", name))
    account = _clean(customer.get("account") or "")
    if account:
        out.append(SetVariable("CTI_CUSTOMER_ACCOUNT", account))
    return out


def stuck_in(app: str, app_name: str, app_data: str) -> tuple[str, ...] | None:
    """The Stasis args of a channel listed by ARI if it sits in `app`, else None.

    After the CTI restarts, Asterisk keeps channels that were inside the app
    and sends no new StasisStart for them; the dialplan location
    (`Stasis` with data `cti-ivr,lookup,...`) is how they are found again.
    """
    if app_name != "Stasis":
        return None
    parts: Sequence[str] = app_data.split(",")
    if parts[0].strip() != app:
        return None
    return tuple(p.strip() for p in parts[1:])

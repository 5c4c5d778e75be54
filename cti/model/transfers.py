"""Transfers: the data gathered on a call follows the customer to the new agent.

Strategy: the model keeps a call's IVR path, CTI_* variables, account and
customer on the call (the Linkedid), so a transfer that stays inside one call
needs nothing: a blind transfer sends the customer's own channel back to the
dialplan, and the target it dials is popped by DialBegin with everything the
call knows (an AMI Atxfer's consultation inherits the Linkedid too). Two cases
cross calls, and they are what this module handles, on the AMI
BlindTransfer / AttendedTransfer events:

- the agent's consultation was a call of its own (a phone's attended
  transfer: the agent dialled the colleague as a new call, another Linkedid).
  On AttendedTransfer the target's channel moves into the customer's call:
  the colleague gets a screen-pop with the customer's data (the pop of the
  consultation showed only the agent calling) and, as the leg is up, the
  call's "answered" update. The consultation call keeps the agent's second
  leg and ends, with its own record, when that leg hangs up;
- the transferer's call knows things the customer's call does not (the data
  was gathered on the other Linkedid): they are copied over, never
  overwriting what the customer's call already has.

Every successful transfer is also noted on the customer's call (`Transfer`:
kind, when, from which agent, to which agent or extension) for its record.

Functions here change a `Model`'s records in place and return the outputs,
like the handlers in model.py (which calls `apply_transfer`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.ids import Interface
from cti.model.calls import CallRecord
from cti.model.events import CallTransferred
from cti.model.interfaces import interface_of_channel
from cti.model.outputs import Output, Transfer

if TYPE_CHECKING:  # model.py imports this module
    from cti.model.model import Model

__all__ = ["apply_transfer", "carry_call_data"]


def carry_call_data(source: CallRecord, dest: CallRecord) -> None:
    """Fill what `dest` does not know from `source` (IVR, variables, account, customer)."""
    if not dest.ivr and source.ivr:
        dest.ivr = list(source.ivr)
    for name, value in source.variables.items():
        dest.variables.setdefault(name, value)
    if dest.account is None:
        dest.account = source.account
    if dest.customer_id is None:
        dest.customer_id = source.customer_id
    if dest.queue is None:
        dest.queue = source.queue


def apply_transfer(model: Model, e: CallTransferred, at: float) -> list[Output]:
    calls = model._calls
    dest = calls.get(e.transferee_call) if e.transferee_call is not None else None
    if dest is None:
        return []
    dest.transfers.append(_transfer(model, e, at))
    for call_id in (*e.transferer_calls, e.target_call):
        source = calls.get(call_id) if call_id is not None else None
        if source is not None and source is not dest:
            carry_call_data(source, dest)
    if e.kind != "attended" or e.target is None or e.target_call in (None, dest.id):
        return []
    return _move_target(model, e, dest, at)


def _device(model: Model, channel_name: str) -> Interface | None:
    return model.devices.resolve(interface_of_channel(channel_name)) if channel_name else None


def _transfer(model: Model, e: CallTransferred, at: float) -> Transfer:
    target = model._channels.get(e.target) if e.target is not None else None
    to_interface = target.interface if target is not None else None
    if to_interface is None:
        to_interface = _device(model, e.target_name)
    return Transfer(
        kind=e.kind,
        at=at,
        from_interface=_device(model, e.transferer_name),
        to_interface=to_interface,
        to_extension=e.extension or None,
    )


def _move_target(model: Model, e: CallTransferred, dest: CallRecord, at: float) -> list[Output]:
    channels = model._channels
    leg = channels.get(e.target) if e.target is not None else None
    if leg is None:
        return []
    source = model._calls.get(leg.call_id)
    if source is not None and source is not dest:
        # The consultation's record keeps having rung and popped this agent.
        source.channels.pop(leg.id, None)
    leg.call_id = dest.id
    dest.channels[leg.id] = leg
    dest.history.append(leg)
    out: list[Output] = []
    interface = leg.interface or model.devices.resolve(interface_of_channel(leg.name))
    if interface is not None:
        leg.interface = interface
        out += model._pop(dest, leg, interface, at, False)
    if leg.answered:
        out += model._answer(dest, leg, at)
    return out

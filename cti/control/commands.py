"""Agent and supervisor call-control commands: the only shapes a user can ask for.

Strategy: every command is a frozen pydantic model, validated where it enters
(REST body, WebSocket message) and never trusted again as raw text. Each
user-supplied value has a whitelist pattern, so a CR, LF or ":" (what an AMI
header injection needs) can never reach `cti.ami.protocol.encode_action`; the
codec's own CR/LF check stays as the second line of defence. The channel names
the actions carry are not user input at all: `plan.py` takes them from the live
model. A bad value fails with a pydantic `ValidationError` naming the field,
which the web layer turns into 422 / `invalid`.

`Command` is a tagged union on `command`, the name a WebSocket client sends
(`{"type": "command", "id": "c1", "command": "hangup", "call_id": ...}`).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "COMMAND_NAMES",
    "SPY_COMMANDS",
    "AttendedTransfer",
    "AttendedTransferCancel",
    "AttendedTransferComplete",
    "Barge",
    "CallCommand",
    "CallIdText",
    "Command",
    "CommandName",
    "Dial",
    "Digits",
    "Hangup",
    "Hold",
    "Listen",
    "Number",
    "SendDtmf",
    "Transfer",
    "Unhold",
    "Whisper",
    "parse_command",
]

# Dialable numbers and transfer targets: digits, *, # and a leading-or-not "+".
# No letters, so no dialplan tricks ("s", "h", "i") and nothing header-like.
NUMBER_PATTERN: Final = r"^[0-9*#+]{1,32}$"
# DTMF: what PlayDTMF / SendDTMF accept (A-D are the fourth column keys).
DIGITS_PATTERN: Final = r"^[0-9*#A-D]{1,32}$"
# A call id is an Asterisk Linkedid ("1795860266.10"); allow the usual id
# characters so other id shapes work, nothing else.
CALL_ID_PATTERN: Final = r"^[A-Za-z0-9._-]{1,64}$"

Number = Annotated[
    str, Field(pattern=NUMBER_PATTERN, description="digits, * # + (1-32)", examples=["5551234"])
]
Digits = Annotated[str, Field(pattern=DIGITS_PATTERN, description="DTMF digits 0-9 * # A-D (1-32)")]
CallIdText = Annotated[
    str, Field(pattern=CALL_ID_PATTERN, description="the call (Asterisk Linkedid)")
]


class _Command(BaseModel):
    # extra="forbid": a field the command does not take is a client bug, said at once.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Dial(_Command):
    """Click-to-dial: ring the user's own phone, then call `number` from it."""

    command: Literal["dial"] = "dial"
    number: Number


class _OnCall(_Command):
    call_id: CallIdText


class Hangup(_OnCall):
    """Hang up the agent's side of the call."""

    command: Literal["hangup"] = "hangup"


class Hold(_OnCall):
    """Put the other party on music on hold; the agent's leg waits."""

    command: Literal["hold"] = "hold"


class Unhold(_OnCall):
    """Bridge the agent with the held party again."""

    command: Literal["unhold"] = "unhold"


class Transfer(_OnCall):
    """Blind transfer: the other party is sent to `target`; the agent leaves."""

    command: Literal["transfer"] = "transfer"
    target: Number


class AttendedTransfer(_OnCall):
    """Start an attended transfer: the agent consults `target`, the caller holds."""

    command: Literal["attended_transfer"] = "attended_transfer"
    target: Number


class AttendedTransferComplete(_OnCall):
    """Complete the attended transfer: the caller is connected to the target."""

    command: Literal["attended_transfer_complete"] = "attended_transfer_complete"


class AttendedTransferCancel(_OnCall):
    """Cancel the attended transfer: drop the consultation, back to the caller."""

    command: Literal["attended_transfer_cancel"] = "attended_transfer_cancel"


class SendDtmf(_OnCall):
    """Send DTMF digits to the other party (an IVR the agent called, say)."""

    command: Literal["dtmf"] = "dtmf"
    digits: Digits


class Listen(_OnCall):
    """Supervisor: listen to the agent's call, unheard."""

    command: Literal["listen"] = "listen"


class Whisper(_OnCall):
    """Supervisor: talk to the agent only."""

    command: Literal["whisper"] = "whisper"


class Barge(_OnCall):
    """Supervisor: join the call, heard by both sides."""

    command: Literal["barge"] = "barge"


CallCommand = (
    Hangup
    | Hold
    | Unhold
    | Transfer
    | AttendedTransfer
    | AttendedTransferComplete
    | AttendedTransferCancel
    | SendDtmf
    | Listen
    | Whisper
    | Barge
)
Command = Annotated[Dial | CallCommand, Field(discriminator="command")]
CommandName = Literal[
    "dial",
    "hangup",
    "hold",
    "unhold",
    "transfer",
    "attended_transfer",
    "attended_transfer_complete",
    "attended_transfer_cancel",
    "dtmf",
    "listen",
    "whisper",
    "barge",
]
COMMAND_NAMES: tuple[str, ...] = CommandName.__args__  # type: ignore[attr-defined]
SPY_COMMANDS: frozenset[str] = frozenset({"listen", "whisper", "barge"})

_ADAPTER: TypeAdapter[Dial | CallCommand] = TypeAdapter(Command)


def parse_command(data: object) -> Dial | CallCommand:
    """A command from decoded JSON; raises pydantic.ValidationError naming the field."""
    return _ADAPTER.validate_python(data)

"""The AMI client's exceptions, one tree.

    AmiError                      anything the AMI client raises
    ├── AmiConnectionError        cannot reach or talk to Asterisk
    │   └── AmiDisconnected       the link dropped (or was never up) while an action waited
    ├── AmiTimeout                an action (or the connect) got no answer in time
    ├── AmiActionError            Asterisk answered "Response: Error"; `.response` has it
    └── AmiLoginError             Asterisk refused our Username/Secret

Codec errors live in cti.ami.protocol: junk from Asterisk becomes a `BadFrame`
message (never an exception) and misuse of the codec raises
`LocalProtocolError`. Library errors (OSError, asyncio.TimeoutError) are
translated to this tree at the client's boundary (`raise ... from exc`).
"""

from __future__ import annotations

from cti.ami.protocol import Response

__all__ = [
    "AmiActionError",
    "AmiConnectionError",
    "AmiDisconnected",
    "AmiError",
    "AmiLoginError",
    "AmiTimeout",
]


class AmiError(Exception):
    """Base of every error the AMI client raises."""


class AmiConnectionError(AmiError):
    """Asterisk could not be reached, or spoke something that is not AMI."""


class AmiDisconnected(AmiConnectionError):  # noqa: N818 (name fixed by the issue)
    """The connection dropped (or was not up) while an action was pending."""


class AmiTimeout(AmiError, TimeoutError):  # noqa: N818 (name fixed by the issue)
    """No answer within the timeout."""


class AmiActionError(AmiError):
    """Asterisk answered an action with "Response: Error"."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.message or response.status)
        self.response = response


class AmiLoginError(AmiError):
    """Asterisk refused the credentials."""

    def __init__(self, message: str, response: Response | None = None) -> None:
        super().__init__(message)
        self.response = response

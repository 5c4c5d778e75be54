"""The ARI client's exceptions, one tree.

    AriError                  anything the ARI client raises
    ├── AriHttpError          Asterisk answered 4xx/5xx; `.status`, `.message` (its JSON "message")
    ├── AriTimeout            no answer in time (also a TimeoutError)
    ├── AriUnavailable        cannot reach Asterisk: refused, unreachable, the link dropped
    └── AriDecodeError        Asterisk sent junk: not JSON, not an object, no "type", wrong shape

Misuse of the API (a channel id with a "/" in it, a variable value with a
CR/LF) is not an `AriError`: it raises `ValueError` before any request, so
"the caller got it wrong" never looks like "Asterisk refused".

This module imports no I/O library: `cti.ari.events` (pure) raises
`AriDecodeError`, and `rest.py` / `stream.py` translate httpx and websockets
errors to this tree at their boundary (`raise AriUnavailable(...) from exc`).
"""

from __future__ import annotations

__all__ = ["AriDecodeError", "AriError", "AriHttpError", "AriTimeout", "AriUnavailable"]


class AriError(Exception):
    """Base of every error the ARI client raises."""


class AriHttpError(AriError):
    """Asterisk answered a request with an HTTP error status."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        where = f"{method} {path}: " if method else ""
        super().__init__(f"{where}HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.method = method
        self.path = path


class AriTimeout(AriError, TimeoutError):  # noqa: N818 (name fixed by the contract)
    """No answer within the timeout."""


class AriUnavailable(AriError):  # noqa: N818 (name fixed by the contract)
    """Asterisk could not be reached (refused, unreachable) or the link dropped."""


class AriDecodeError(AriError, ValueError):
    """Asterisk sent something that is not a (well-formed) ARI message.

    `text` keeps what was received, so nothing is lost: it can be logged or
    kept for a bug report.
    """

    def __init__(self, message: str, text: str | bytes = "") -> None:
        super().__init__(message)
        self.text = text

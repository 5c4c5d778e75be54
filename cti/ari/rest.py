"""The ARI REST calls the CTI makes, on one `httpx.AsyncClient`.

Strategy: one small method per ARI operation, no generated client (swagger
codegen is what made the `ari` package unusable). Every method checks its
arguments before any request: path parameters match `[A-Za-z0-9._-]+` (what
Asterisk's ids and our own ids are made of), variable names are
`[A-Za-z0-9_]+`, values and dialplan names carry no CR/LF or other control
character, enumerations are checked against ARI's lists. A bad argument is a
caller's mistake and raises `ValueError`; no user value reaches ARI unchecked.

Every request has a deadline (`timeout`, overall, not per socket read as
httpx counts it) and every failure comes out as one of `cti.ari.errors`:
httpx's exceptions are translated here, at the boundary. On 4xx/5xx the
message is Asterisk's own (its body is `{"message": "Channel not found"}`).
The transport is swappable (`transport=httpx.MockTransport(...)` in tests).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Final, Literal, get_args

import httpx
import msgspec

from cti.ari.errors import AriDecodeError, AriHttpError, AriTimeout, AriUnavailable
from cti.ari.events import Channel, decode_channel, decode_channels

__all__ = ["AriRest", "AsteriskInfo", "HangupReason", "SnoopDirection"]

HangupReason = Literal[
    "normal",
    "busy",
    "congestion",
    "no_answer",
    "timeout",
    "rejected",
    "unallocated",
    "normal_unspecified",
    "number_incomplete",
    "codec_mismatch",
    "interworking",
    "failure",
    "answered_elsewhere",
]
SnoopDirection = Literal["none", "both", "out", "in"]

_HANGUP_REASONS: Final = frozenset(get_args(HangupReason))
_SNOOP_DIRECTIONS: Final = frozenset(get_args(SnoopDirection))
_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_VAR_NAME = re.compile(r"[A-Za-z0-9_]{1,80}")
# Dialplan names: printable, no whitespace, no "," (an argument separator in
# the dialplan) and nothing that would end a line.
_DIALPLAN_NAME = re.compile(r"[A-Za-z0-9_+*#.@-]{1,80}")
_DTMF = re.compile(r"[0-9A-Da-d*#,]{1,64}")  # "," is a pause in ARI's dtmf
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Version(msgspec.Struct, frozen=True, kw_only=True):
    version: str = ""
    entity_id: str = ""


class _Status(msgspec.Struct, frozen=True, kw_only=True):
    startup_time: str = ""
    last_reload_time: str = ""


class AsteriskInfo(msgspec.Struct, frozen=True, kw_only=True):
    """GET /asterisk/info, the parts we read (version, uptime)."""

    system: _Version = _Version()
    status: _Status = _Status()


_decode_info = msgspec.json.Decoder(AsteriskInfo).decode
_decode_message = msgspec.json.Decoder(dict[str, object]).decode


def _check_id(what: str, value: str) -> str:
    # "." and ".." alone would make the URL climb a level.
    if not _ID.fullmatch(value) or value.strip(".") == "":
        raise ValueError(f"bad {what} {value!r}: expected [A-Za-z0-9._-], at most 128")
    return value


def _check(what: str, value: str, pattern: re.Pattern[str]) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"bad {what} {value!r}: expected {pattern.pattern}")
    return value


def _check_value(value: str) -> str:
    if _CONTROL.search(value) or len(value) > 1024:
        raise ValueError(f"bad variable value {value!r}: control characters or too long")
    return value


def _ari_base(base_url: str) -> str:
    """`http://host:8088` or `http://host:8088/ari` -> `http://host:8088/ari`."""
    base = base_url.rstrip("/")
    return base if base.endswith("/ari") else base + "/ari"


class AriRest:
    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            base_url=_ari_base(base_url),
            auth=httpx.BasicAuth(username, password),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @property
    def is_closed(self) -> bool:
        """True once `aclose()` ran: no request can go out, no connection is left open."""
        return self._client.is_closed

    async def __aenter__(self) -> AriRest:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- channels ---------------------------------------------------------

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        path = f"/channels/{_check_id('channel id', channel_id)}/variable"
        params = {
            "variable": _check("variable name", name, _VAR_NAME),
            "value": _check_value(value),
        }
        await self._request("POST", path, params)

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        """Leave Stasis; with no argument, at the next priority of where it was."""
        params: dict[str, str] = {}
        if context is not None:
            params["context"] = _check("context", context, _DIALPLAN_NAME)
        if extension is not None:
            params["extension"] = _check("extension", extension, _DIALPLAN_NAME)
        if priority is not None:
            if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
                raise ValueError(f"bad priority {priority!r}: expected an int >= 1")
            params["priority"] = str(priority)
        if label is not None:
            params["label"] = _check("label", label, _DIALPLAN_NAME)
        path = f"/channels/{_check_id('channel id', channel_id)}/continue"
        await self._request("POST", path, params)

    async def answer(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{_check_id('channel id', channel_id)}/answer")

    async def hangup(self, channel_id: str, reason: HangupReason = "normal") -> None:
        if reason not in _HANGUP_REASONS:
            raise ValueError(f"bad hangup reason {reason!r}: one of {sorted(_HANGUP_REASONS)}")
        path = f"/channels/{_check_id('channel id', channel_id)}"
        await self._request("DELETE", path, {"reason": reason})

    async def hold(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{_check_id('channel id', channel_id)}/hold")

    async def unhold(self, channel_id: str) -> None:
        await self._request("DELETE", f"/channels/{_check_id('channel id', channel_id)}/hold")

    async def send_dtmf(self, channel_id: str, dtmf: str) -> None:
        path = f"/channels/{_check_id('channel id', channel_id)}/dtmf"
        await self._request("POST", path, {"dtmf": _check("dtmf", dtmf, _DTMF)})

    async def snoop(
        self,
        channel_id: str,
        app: str,
        spy: SnoopDirection = "none",
        whisper: SnoopDirection = "none",
    ) -> Channel:
        """Start a snoop channel on `channel_id`, put into Stasis app `app`."""
        for what, direction in (("spy", spy), ("whisper", whisper)):
            if direction not in _SNOOP_DIRECTIONS:
                raise ValueError(f"bad {what} {direction!r}: one of {sorted(_SNOOP_DIRECTIONS)}")
        params = {"app": _check_id("app", app), "spy": spy, "whisper": whisper}
        path = f"/channels/{_check_id('channel id', channel_id)}/snoop"
        return decode_channel(await self._request("POST", path, params))

    async def channels(self) -> list[Channel]:
        return decode_channels(await self._request("GET", "/channels"))

    async def asterisk_info(self) -> AsteriskInfo:
        body = await self._request("GET", "/asterisk/info")
        try:
            return _decode_info(body)
        except msgspec.DecodeError as exc:
            raise AriDecodeError(f"bad /asterisk/info answer ({exc})", body) from exc

    # --- the one place requests are made -------------------------------------

    async def _request(
        self, method: str, path: str, params: Mapping[str, str] | None = None
    ) -> bytes:
        """The body of a 2xx answer; every failure mapped to the AriError tree."""
        try:
            # httpx's timeout bounds each socket operation; this bounds the whole.
            async with asyncio.timeout(self.timeout):
                response = await self._client.request(method, path, params=params)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise AriTimeout(f"{method} {path}: no answer within {self.timeout}s") from exc
        except httpx.TransportError as exc:  # refused, reset, DNS, protocol junk
            raise AriUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return response.content
        raise AriHttpError(response.status_code, _message(response), method=method, path=path)


def _message(response: httpx.Response) -> str:
    """Asterisk's {"message": ...}, else the body's start, else the reason phrase."""
    try:
        body = _decode_message(response.content)
    except msgspec.DecodeError:
        text = response.text.strip()
        return text[:200] if text else response.reason_phrase
    message = body.get("message")
    return message if isinstance(message, str) and message else response.reason_phrase

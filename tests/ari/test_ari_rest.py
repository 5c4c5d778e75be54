"""AriRest against `httpx.MockTransport` (a recording fake Asterisk) and a closed port."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from trace_paths import TRACES

from cti.ari.errors import AriDecodeError, AriError, AriHttpError, AriTimeout, AriUnavailable
from cti.ari.rest import AriRest

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
AUTH = "Basic " + base64.b64encode(b"cti:cti-secret").decode()


def _channel_json() -> dict[str, Any]:
    with (TRACES / "ari_stasis_ivr.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            o = json.loads(line)
            if o["src"] == "ari" and o["event"]["type"] == "StasisStart":
                return o["event"]["channel"]  # type: ignore[no-any-return]
    raise AssertionError("no StasisStart in the trace")


@dataclass
class FakeAri:
    """Records every request; answers 204, or what `answers` says for a path."""

    requests: list[httpx.Request] = field(default_factory=list)
    answers: dict[str, httpx.Response] = field(default_factory=dict)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.get(request.url.path, httpx.Response(204))

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


@pytest.fixture
def fake() -> FakeAri:
    return FakeAri()


@pytest.fixture
async def rest(fake: FakeAri) -> AsyncIterator[AriRest]:
    client = AriRest(
        "http://127.0.0.1:8088",
        "cti",
        "cti-secret",
        timeout=1.0,
        transport=httpx.MockTransport(fake),
    )
    yield client
    await client.aclose()


def _rest_with(handler: Handler, timeout: float = 1.0) -> AriRest:
    return AriRest(
        "http://pbx:8088/ari/",
        "cti",
        "cti-secret",
        timeout=timeout,
        transport=httpx.MockTransport(handler),
    )


async def test_set_variable(rest: AriRest, fake: FakeAri) -> None:
    await rest.set_variable("1795860720.389", "CTI_CUSTOMER_ID", "42")
    req = fake.last
    assert req.method == "POST"
    assert req.url.path == "/ari/channels/1795860720.389/variable"
    assert dict(req.url.params) == {"variable": "CTI_CUSTOMER_ID", "value": "42"}
    assert req.headers["authorization"] == AUTH
    assert req.url.host == "127.0.0.1"
    assert req.url.port == 8088


async def test_a_value_is_sent_url_encoded_not_raw(rest: AriRest, fake: FakeAri) -> None:
    await rest.set_variable("abc", "CTI_CUSTOMER_NAME", "Zoë & Co; a=b")
    assert fake.last.url.params["value"] == "Zoë & Co; a=b"
    assert b"&amp" not in fake.last.url.query
    assert fake.last.url.query.count(b"&") == 1  # the one between the two params


async def test_continue_in_dialplan(rest: AriRest, fake: FakeAri) -> None:
    await rest.continue_in_dialplan("1795860720.389")
    assert fake.last.url.path == "/ari/channels/1795860720.389/continue"
    assert dict(fake.last.url.params) == {}
    await rest.continue_in_dialplan("c1", "cti-hold", "s", 1)
    assert dict(fake.last.url.params) == {"context": "cti-hold", "extension": "s", "priority": "1"}
    await rest.continue_in_dialplan("c1", label="done")
    assert dict(fake.last.url.params) == {"label": "done"}


@pytest.mark.parametrize(
    ("call", "method", "path", "params"),
    [
        (lambda r: r.answer("c-1"), "POST", "/ari/channels/c-1/answer", {}),
        (lambda r: r.hangup("c-1"), "DELETE", "/ari/channels/c-1", {"reason": "normal"}),
        (
            lambda r: r.hangup("c-1", reason="busy"),
            "DELETE",
            "/ari/channels/c-1",
            {"reason": "busy"},
        ),
        (lambda r: r.hold("c-1"), "POST", "/ari/channels/c-1/hold", {}),
        (lambda r: r.unhold("c-1"), "DELETE", "/ari/channels/c-1/hold", {}),
        (lambda r: r.send_dtmf("c-1", "12#*"), "POST", "/ari/channels/c-1/dtmf", {"dtmf": "12#*"}),
    ],
)
async def test_channel_operations(
    rest: AriRest,
    fake: FakeAri,
    call: Callable[[AriRest], Awaitable[object]],
    method: str,
    path: str,
    params: dict[str, str],
) -> None:
    assert await call(rest) is None
    assert (fake.last.method, fake.last.url.path, dict(fake.last.url.params)) == (
        method,
        path,
        params,
    )
    assert fake.last.headers["authorization"] == AUTH


async def test_snoop_returns_the_snoop_channel(rest: AriRest, fake: FakeAri) -> None:
    channel = {**_channel_json(), "id": "snoop-1", "name": "Snoop/1795860720.389-00000001"}
    fake.answers["/ari/channels/1795860720.389/snoop"] = httpx.Response(200, json=channel)
    snoop = await rest.snoop("1795860720.389", "cti-spy", spy="both", whisper="out")
    assert snoop.id == "snoop-1"
    assert snoop.name.startswith("Snoop/")
    assert dict(fake.last.url.params) == {"app": "cti-spy", "spy": "both", "whisper": "out"}


async def test_channels_and_info(rest: AriRest, fake: FakeAri) -> None:
    fake.answers["/ari/channels"] = httpx.Response(200, json=[_channel_json()])
    fake.answers["/ari/asterisk/info"] = httpx.Response(
        200,
        json={
            "build": {"os": "Linux"},
            "system": {"version": "22.5.0", "entity_id": "02:fc:00:00:00:01"},
            "status": {"startup_time": "2026-11-28T10:00:00.000+0000"},
        },
    )
    channels = await rest.channels()
    assert [c.id for c in channels] == ["1795860720.389"]
    assert channels[0].dialplan.app_data == "cti-ivr,lookup"
    assert fake.last.method == "GET"
    info = await rest.asterisk_info()
    assert info.system.version == "22.5.0"
    assert info.status.startup_time.startswith("2026-11-28")


async def test_a_base_url_with_ari_is_not_doubled() -> None:
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(204)

    rest = _rest_with(handler)
    await rest.answer("x")
    await rest.aclose()
    assert seen == ["/ari/channels/x/answer"]


async def test_404_carries_asterisks_message(rest: AriRest, fake: FakeAri) -> None:
    fake.answers["/ari/channels/gone.1/variable"] = httpx.Response(
        404, json={"message": "Channel not found"}
    )
    with pytest.raises(AriHttpError) as info:
        await rest.set_variable("gone.1", "X", "1")
    assert info.value.status == 404
    assert info.value.message == "Channel not found"
    assert "POST /channels/gone.1/variable" in str(info.value)
    assert "Channel not found" in str(info.value)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(409, json={"message": "Channel not in Stasis application"}),
         "Channel not in Stasis application"),
        (httpx.Response(401, text="Authentication required"), "Authentication required"),
        (httpx.Response(500, text=""), "Internal Server Error"),
        (httpx.Response(503, json={"error": "x"}), "Service Unavailable"),
    ],
)  # fmt: skip
async def test_http_errors_say_why(
    rest: AriRest, fake: FakeAri, response: httpx.Response, message: str
) -> None:
    fake.answers["/ari/channels/c/hold"] = response
    with pytest.raises(AriHttpError) as info:
        await rest.hold("c")
    assert info.value.status == response.status_code
    assert info.value.message == message


async def test_junk_in_a_success_body_is_a_decode_error(rest: AriRest, fake: FakeAri) -> None:
    fake.answers["/ari/channels"] = httpx.Response(200, text="<html>hello</html>")
    with pytest.raises(AriDecodeError):
        await rest.channels()


async def test_a_slow_asterisk_is_a_timeout() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(204)

    rest = _rest_with(slow, timeout=0.05)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(AriTimeout, match=r"within 0\.05s"):
        await rest.answer("c")
    assert loop.time() - t0 < 1.0
    await rest.aclose()


async def test_an_httpx_timeout_is_a_timeout() -> None:
    async def read_timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    rest = _rest_with(read_timeout)
    with pytest.raises(AriTimeout) as info:
        await rest.answer("c")
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)
    await rest.aclose()


async def test_transport_errors_are_unavailable() -> None:
    async def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    rest = _rest_with(refused)
    with pytest.raises(AriUnavailable, match="refused") as info:
        await rest.hangup("c")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    await rest.aclose()


async def test_a_real_refused_connection_is_unavailable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rest = AriRest(f"http://127.0.0.1:{port}", "cti", "cti-secret", timeout=2.0)
    with pytest.raises(AriUnavailable):
        await rest.asterisk_info()
    await rest.aclose()


BAD_IDS = [
    "",
    ".",
    "..",
    "a/b",
    "../asterisk",
    "a b",
    "a\r\nX-Evil: 1",
    "a?b=c",
    "a#b",
    "é",
    "x" * 200,
]


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_bad_channel_ids_never_reach_ari(rest: AriRest, fake: FakeAri, bad: str) -> None:
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: rest.set_variable(bad, "X", "1"),
        lambda: rest.continue_in_dialplan(bad),
        lambda: rest.answer(bad),
        lambda: rest.hangup(bad),
        lambda: rest.hold(bad),
        lambda: rest.unhold(bad),
        lambda: rest.send_dtmf(bad, "1"),
        lambda: rest.snoop(bad, "cti-spy"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="channel id"):
            await call()
    assert fake.requests == []


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda r: r.set_variable("c", "A-B", "1"), "variable name"),
        (lambda r: r.set_variable("c", "A\r\nB", "1"), "variable name"),
        (lambda r: r.set_variable("c", "", "1"), "variable name"),
        (lambda r: r.set_variable("c", "A", "x\r\nAction: Originate"), "variable value"),
        (lambda r: r.set_variable("c", "A", "x\ny"), "variable value"),
        (lambda r: r.set_variable("c", "A", "x\x00"), "variable value"),
        (lambda r: r.continue_in_dialplan("c", context="a,b"), "context"),
        (lambda r: r.continue_in_dialplan("c", context="a\nb"), "context"),
        (lambda r: r.continue_in_dialplan("c", extension="1 2"), "extension"),
        (lambda r: r.continue_in_dialplan("c", priority=0), "priority"),
        (lambda r: r.continue_in_dialplan("c", label="a)b"), "label"),
        (lambda r: r.hangup("c", reason="bogus"), "hangup reason"),
        (lambda r: r.send_dtmf("c", "12\r\n"), "dtmf"),
        (lambda r: r.send_dtmf("c", ""), "dtmf"),
        (lambda r: r.snoop("c", "app", spy="sideways"), "spy"),
        (lambda r: r.snoop("c", "app", whisper="x"), "whisper"),
        (lambda r: r.snoop("c", "a&b"), "app"),
    ],
)
async def test_injection_is_rejected_before_any_request(
    rest: AriRest, fake: FakeAri, call: Callable[[AriRest], Awaitable[object]], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        await call(rest)
    assert fake.requests == []


def test_the_error_tree() -> None:
    for exc in (AriHttpError, AriTimeout, AriUnavailable, AriDecodeError):
        assert issubclass(exc, AriError)
    assert not issubclass(ValueError, AriError)  # misuse is not Asterisk's answer

"""ARI intake throughput: our typed decoder and stream vs aioari's event dispatch.

Strategy: the ARI events of load_bulk.jsonl are turned back into the
WebSocket text frames Asterisk sent (one JSON string each) and replayed at
full speed on one core, no network: the socket costs both clients the same
and would only blur the difference. Each figure is the best of N
measurements; a measurement repeats the whole list enough times to last about
one second, and the figures are measured in interleaved rounds, so a busy
moment on a shared machine hits every figure alike.

Ours:
  - "decode_event": text -> typed, frozen event (cti.ari.events), nothing else;
  - "stream intake": the real read loop of `AriEventStream` (`_drain`: frame ->
    counted decode -> bounded queue) over a fake socket, the queue drained;
  - "+ model": decode_event, then `from_ari` and `Model.apply` (what the engine
    does with each event), if the model is importable.
The peer, aioari 0.10.2, driven through its real `Client.__run` loop
(`json.loads` each message, `process_ws` dispatches it to listeners) over a
fake aiohttp socket, in two set-ups:
  - "dispatch": one "*" listener that receives the dict (aioari's fastest path,
    untyped; the ratio printed is against this one);
  - "model objects": per-type listeners through `on_channel_event` &c., which
    build aioari's Channel/Bridge/Playback/DeviceState objects, as an aioari
    application does. Its Swagger event models (normally fetched from
    Asterisk) are written here from Asterisk's events.json for the types in
    the trace.
If aioari cannot be imported, the reason is printed and the peer is plain
`json.loads` + a dict-of-handlers dispatch (what aioari's loop does, minus
its listener bookkeeping).

Run: `.venv/bin/python benchmarks/ari_intake.py [--runs N] [--seconds S]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.ari.events import decode_event  # noqa: E402
from cti.ari.stream import AriEventStream  # noqa: E402

TRACE = ROOT.parent / "shared" / "traces" / "asterisk-22" / "load_bulk.jsonl"
Pass = Callable[[], int]  # one pass over the frames; returns events handled


def load_ari_frames(path: Path = TRACE) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [json.dumps(o["event"]) for o in map(json.loads, fh) if o["src"] == "ari"]


# --- ours ---------------------------------------------------------------------


def ours_decode(frames: Sequence[str]) -> Pass:
    def run() -> int:
        decode = decode_event
        for text in frames:
            decode(text)
        return len(frames)

    return run


class _FakeSocket:
    """What `AriEventStream._drain` reads: an async iterator of text frames."""

    close_code = 1000
    close_reason = ""

    def __init__(self, frames: Sequence[str]) -> None:
        self._frames = iter(frames)

    def __aiter__(self) -> _FakeSocket:
        return self

    async def __anext__(self) -> str:
        try:
            return next(self._frames)
        except StopIteration:
            raise StopAsyncIteration from None


def ours_stream(frames: Sequence[str], loop: asyncio.AbstractEventLoop) -> Pass:
    async def one_pass() -> int:
        stream = AriEventStream("http://127.0.0.1:8088", "u", "p", ["cti-ivr"])
        queue = stream.queue
        n = 0
        # The queue holds 10,000 items; take them in slices so it never fills.
        for start in range(0, len(frames), 5000):
            await stream._drain(_FakeSocket(frames[start : start + 5000]))  # type: ignore[arg-type]
            while not queue.empty():
                queue.get_nowait()
                n += 1
        return n

    return lambda: loop.run_until_complete(one_pass())


def ours_model(frames: Sequence[str]) -> tuple[Pass | None, str]:
    try:
        from cti.model.from_ari import from_ari
        from cti.model.model import Model
    except ImportError as exc:
        return None, f"skipped: the model is not importable ({exc})"

    def run() -> int:
        model = Model()
        apply, convert, decode = model.apply, from_ari, decode_event
        at = 0.0
        for text in frames:
            domain = convert(decode(text))
            if domain is not None:
                at += 0.0001
                apply(domain, at)
        return len(frames)

    return run, "decode_event + from_ari + Model.apply"


# --- the peer -------------------------------------------------------------------

# Which fields of each event are ARI objects (from Asterisk's events.json).
_OBJECT_FIELDS: dict[str, dict[str, str]] = {
    "StasisStart": {"channel": "Channel", "replace_channel": "Channel"},
    "StasisEnd": {"channel": "Channel"},
    "ChannelCreated": {"channel": "Channel"},
    "ChannelDestroyed": {"channel": "Channel"},
    "ChannelStateChange": {"channel": "Channel"},
    "ChannelHangupRequest": {"channel": "Channel"},
    "ChannelDialplan": {"channel": "Channel"},
    "ChannelVarset": {"channel": "Channel"},
    "ChannelDtmfReceived": {"channel": "Channel"},
    "ChannelCallerId": {"channel": "Channel"},
    "ChannelConnectedLine": {"channel": "Channel"},
    "ChannelUserevent": {"channel": "Channel", "bridge": "Bridge"},
    "ChannelEnteredBridge": {"channel": "Channel", "bridge": "Bridge"},
    "ChannelLeftBridge": {"channel": "Channel", "bridge": "Bridge"},
    "Dial": {"caller": "Channel", "peer": "Channel", "forwarded": "Channel"},
    "BridgeCreated": {"bridge": "Bridge"},
    "BridgeDestroyed": {"bridge": "Bridge"},
    "PlaybackStarted": {"playback": "Playback"},
    "PlaybackFinished": {"playback": "Playback"},
    "DeviceStateChanged": {"device_state": "DeviceState"},
}


def aioari_passes(
    frames: Sequence[str], loop: asyncio.AbstractEventLoop
) -> tuple[dict[str, Pass], str]:
    """aioari's real intake loop over a fake aiohttp socket, or why it cannot run."""
    try:
        import aiohttp
        from aioari.client import Client
    except Exception as exc:  # ImportError, or a dependency failing at import
        return {}, f"{type(exc).__name__}: {exc}"

    messages = [aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, text, None) for text in frames]
    closed = aiohttp.WSMessage(aiohttp.WSMsgType.CLOSED, None, None)

    class _FakeWs:
        def __init__(self) -> None:
            self._messages: Iterator[Any] = iter(messages)

        async def receive(self) -> Any:
            return next(self._messages, closed)

    def client() -> Any:
        # Client.init() would fetch Swagger docs from Asterisk; set what the
        # event path reads instead.
        c = Client.__new__(Client)
        c.event_listeners = {}
        c.websockets = set()
        c.exception_handler = lambda exc: None
        c.repositories = {}
        c.swagger = types.SimpleNamespace(
            channels=None, bridges=None, playbacks=None, deviceStates=None
        )
        c.event_models = {
            name: {"properties": {f: {"type": t} for f, t in fields.items()}}
            for name, fields in _OBJECT_FIELDS.items()
        }
        return c

    def make(register: Callable[[Any, list[int]], None]) -> Pass:
        async def one_pass() -> int:
            c, count = client(), [0]
            register(c, count)
            await c._Client__run(_FakeWs())
            return count[0]

        return lambda: loop.run_until_complete(one_pass())

    def dispatch(c: Any, count: list[int]) -> None:
        def on_any(event: dict[str, Any]) -> None:
            count[0] += 1

        c.on_event("*", on_any)

    def objects(c: Any, count: list[int]) -> None:
        def on_object(obj: Any, event: dict[str, Any]) -> None:
            count[0] += 1

        register_by_type = {
            "Channel": c.on_channel_event,
            "Bridge": c.on_bridge_event,
            "Playback": c.on_playback_event,
            "DeviceState": c.on_device_state_event,
        }
        for name, fields in _OBJECT_FIELDS.items():
            register_by_type[next(iter(fields.values()))](name, on_object)

    return {"aioari dispatch": make(dispatch), "aioari objects": make(objects)}, ""


def json_dispatch_peer(frames: Sequence[str]) -> Pass:
    """The fallback peer: json.loads and a {type: handler} table, untyped."""

    def run() -> int:
        count = [0]

        def handle(event: dict[str, Any]) -> None:
            count[0] += 1

        handlers = dict.fromkeys(_OBJECT_FIELDS, handle)
        loads = json.loads
        for text in frames:
            event = loads(text)
            handler = handlers.get(event["type"])
            if handler is not None:
                handler(event)
        return count[0]

    return run


# --- measuring ---------------------------------------------------------------------


def calibrate(run: Pass, seconds: float) -> int:
    """How many passes make one measurement of about `seconds`."""
    t0 = time.perf_counter()
    run()
    return max(1, math.ceil(seconds / max(time.perf_counter() - t0, 1e-6)))


def measure_once(run: Pass, reps: int) -> float:
    n = 0
    t0 = time.perf_counter()
    for _ in range(reps):
        n += run()
    return n / (time.perf_counter() - t0)


def best_rates(runs: dict[str, Pass], seconds: float, rounds: int) -> dict[str, float]:
    reps = {name: calibrate(run, seconds) for name, run in runs.items()}
    best = dict.fromkeys(runs, 0.0)
    for _ in range(rounds):
        for name, run in runs.items():
            best[name] = max(best[name], measure_once(run, reps[name]))
    return best


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=5, help="measurements per figure (best of)")
    ap.add_argument("--seconds", type=float, default=1.0, help="length of one measurement")
    ap.add_argument("--trace", type=Path, default=TRACE)
    args = ap.parse_args(argv)

    frames = load_ari_frames(args.trace)
    size = sum(len(f) for f in frames)
    print(f"frames: {len(frames):,} ARI events, {size:,} characters of JSON")

    loop = asyncio.new_event_loop()
    runs: dict[str, Pass] = {
        "decode": ours_decode(frames),
        "stream": ours_stream(frames, loop),
    }
    model_run, model_label = ours_model(frames)
    if model_run is not None:
        runs["model"] = model_run
    peers, why_not = aioari_passes(frames, loop)
    if peers:
        runs.update(peers)
        peer_name, peer_label = "aioari dispatch", "aioari"
    else:
        runs["json dispatch"] = json_dispatch_peer(frames)
        peer_name, peer_label = "json dispatch", "json.loads+dispatch"
    try:
        rates = best_rates(runs, args.seconds, args.runs)
    finally:
        loop.close()

    peer = rates[peer_name]

    def line(label: str, rate: float) -> None:
        print(f"{label:<44} {rate:>10,.0f} events/s  {rate / peer:.1f}x vs {peer_label}")

    if peers:
        print(f"{'aioari 0.10.2, Client.__run, one * listener':<44} {peer:>10,.0f} events/s")
        line("aioari 0.10.2, building its model objects", rates["aioari objects"])
    else:
        print(f"aioari: not measured ({why_not})")
        print(f"{'peer: json.loads + dict dispatch':<44} {peer:>10,.0f} events/s")
    line("ours: decode_event (typed, frozen)", rates["decode"])
    line("ours: stream intake (decode, count, queue)", rates["stream"])
    if model_run is None:
        print(f"ours: decode + model: {model_label}")
    else:
        line("ours: decode + from_ari + Model.apply", rates["model"])


if __name__ == "__main__":
    main()

"""AMI intake throughput: our codec vs panoramisk's parser, then the full pipeline.

Strategy: the AMI frames of load_bulk.jsonl are concatenated into the byte
stream a client saw, cut into 64 KiB socket-sized reads, and replayed at full
speed on one core. Each figure is the best of N measurements; a measurement
repeats the whole stream enough times to last about one second, and the
figures are measured in interleaved rounds. Panoramisk's
parser is driven through its real `AMIProtocol.data_received` (utf8, as its
Manager configures it) on the same reads in the same run.

Our parser is lazy: it finds frames and event names at once and builds an
event's fields dict on first access. Both figures are printed, each next to
panoramisk (which always builds every field):
  - "frames + names": every message parsed, every event's name read;
  - "all fields": every event's fields materialised (`AmiParser(lazy=False)`).

Run: `.venv/bin/python benchmarks/ami_intake.py [--runs N] [--seconds S]`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cti.ami.protocol import AmiParser, Event, Message  # noqa: E402

TRACE = ROOT.parent / "shared" / "traces" / "asterisk-22" / "load_bulk.jsonl"
READ_SIZE = 64 * 1024

Pass = Callable[[], int]  # one pass over the stream; returns events seen


def load_ami_bytes(path: Path = TRACE) -> bytes:
    with path.open(encoding="utf-8") as fh:
        return "".join(o["raw"] for o in map(json.loads, fh) if o["src"] == "ami").encode()


def chunks_of(data: bytes, size: int = READ_SIZE) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def ours_names(chunks: Sequence[bytes]) -> Pass:
    def run() -> int:
        parser = AmiParser()
        names: set[str] = set()
        n = 0
        for chunk in chunks:
            msgs = parser.feed(chunk)
            names.update([m.name for m in msgs if type(m) is Event])
            n += len(msgs)
        return n

    return run


def ours_fields(chunks: Sequence[bytes]) -> Pass:
    def run() -> int:
        parser = AmiParser(lazy=False)
        n = 0
        for chunk in chunks:
            n += len(parser.feed(chunk))
        return n

    return run


def panoramisk_parser(chunks: Sequence[bytes]) -> Pass | None:
    try:
        from panoramisk.ami_protocol import AMIProtocol
    except ImportError:
        return None

    class _Factory:
        count = 0

        def dispatch(self, message: Any) -> None:
            self.count += 1

    class _Transport:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

    def run() -> int:
        proto = AMIProtocol()
        proto.connection_made(_Transport())
        factory = _Factory()
        proto.factory = factory
        proto.encoding = "utf8"  # what panoramisk's Manager sets
        for chunk in chunks:
            proto.data_received(chunk)
        return factory.count

    return run


def pipeline(chunks: Sequence[bytes]) -> tuple[Pass | None, str]:
    """Codec + model + outputs, if the model is importable yet."""
    try:
        from cti.model import run_pipeline  # type: ignore[attr-defined]
    except ImportError:
        run_pipeline = None
    if run_pipeline is not None:

        def run_given() -> int:
            parser = AmiParser()
            msgs: list[Message] = []
            for chunk in chunks:
                msgs += parser.feed(chunk)
            run_pipeline(msgs)
            return len(msgs)

        return run_given, "cti.model.run_pipeline"
    try:
        from cti.model.from_ami import from_ami
        from cti.model.model import Model
    except ImportError as exc:
        return None, f"skipped: the model is not importable yet ({exc})"

    def run() -> int:
        parser = AmiParser()
        model = Model()
        apply = model.apply
        n = outputs = 0
        at = 0.0
        for chunk in chunks:
            for msg in parser.feed(chunk):
                n += 1
                if type(msg) is Event:
                    domain = from_ami(msg)
                    if domain is not None:
                        at += 0.0001
                        outputs += len(apply(domain, at))
        return n

    return run, "codec + from_ami + Model.apply"


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
    """Best events/s of each pass. Rounds interleave the passes, so a busy
    moment on a shared machine hits every figure alike and ratios stay fair."""
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

    data = load_ami_bytes(args.trace)
    chunks = chunks_of(data)
    frames = data.count(b"\r\n\r\n")
    print(f"stream: {len(data):,} bytes, {frames:,} frames, {len(chunks)} reads of {READ_SIZE}")

    runs: dict[str, Pass] = {"names": ours_names(chunks), "fields": ours_fields(chunks)}
    pano_run = panoramisk_parser(chunks)
    if pano_run is not None:
        runs["panoramisk"] = pano_run
    pipe_run, label = pipeline(chunks)
    if pipe_run is not None:
        runs["pipeline"] = pipe_run
    rates = best_rates(runs, args.seconds, args.runs)
    pano = rates.get("panoramisk")
    if pano is None:
        print("panoramisk parser: skipped (panoramisk is not installed)")
    else:
        print(f"panoramisk parser (all fields):      {pano:>10,.0f} events/s")

    def vs(x: float) -> str:
        return f"  {x / pano:.1f}x vs panoramisk" if pano else ""

    names, fields = rates["names"], rates["fields"]
    print(f"our codec, frames + names (lazy):    {names:>10,.0f} events/s{vs(names)}")
    print(f"our codec, all fields materialised:  {fields:>10,.0f} events/s{vs(fields)}")
    if pipe_run is None:
        print(f"full pipeline: {label}")
    else:
        print(f"full pipeline ({label}): {rates['pipeline']:>10,.0f} events/s")


if __name__ == "__main__":
    main()

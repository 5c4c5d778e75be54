"""ARI facts in the model: only Stasis membership, whatever the stream order."""

from __future__ import annotations

import json
import random
from typing import Any

from trace_paths import TRACES

from cti.ami.protocol import AmiParser, Event
from cti.ari.events import decode_event
from cti.ids import ChannelId
from cti.model.events import StasisEntered, StasisLeft
from cti.model.from_ami import from_ami
from cti.model.from_ari import from_ari
from cti.model.model import Model

TRACE = TRACES / "ari_stasis_ivr.jsonl"
CALLER = ChannelId("1795860720.389")

Item = tuple[float, str, Any]  # (t, "ami" | "ari", Event | AriEvent)


def items() -> list[Item]:
    parser = AmiParser()
    out: list[Item] = []
    with TRACE.open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record["src"] == "ami":
                for msg in parser.feed(record["raw"].encode()):
                    if isinstance(msg, Event):
                        out.append((record["t"], "ami", msg))
            else:
                out.append((record["t"], "ari", decode_event(json.dumps(record["event"]))))
    return out


def run(sequence: list[Item], model: Model | None = None) -> list[dict[str, Any]]:
    model = model or Model(devices=["PJSIP/1001", "PJSIP/1002"])
    outputs: list[dict[str, Any]] = []
    for t, src, event in sequence:
        domain = from_ami(event) if src == "ami" else from_ari(event)
        if domain is not None:
            # the clock is the AMI events' own, so moving ARI events changes no `at`
            outputs += [o.to_json() for o in model.apply(domain, t)]
    return outputs


def test_only_stasis_start_and_end_map_to_domain_events() -> None:
    mapped = [from_ari(e) for _, src, e in items() if src == "ari"]
    facts = [m for m in mapped if m is not None]
    assert facts == [
        StasisEntered(CALLER, "cti-ivr", ("lookup",)),
        StasisLeft(CALLER, "cti-ivr"),
    ]
    assert len(mapped) == 80


def test_the_model_knows_who_is_in_stasis_until_stasis_end() -> None:
    model = Model(devices=["PJSIP/1001"])
    sequence = items()
    end = next(i for i, (_, src, e) in enumerate(sequence) if type(e).__name__ == "StasisEnd")
    run(sequence[:end], model)
    assert model.in_stasis() == {CALLER: "cti-ivr"}
    (call,) = model.calls()
    (caller,) = [c for c in call.channels if c.channel == CALLER]
    assert caller.stasis_app == "cti-ivr"
    run(sequence[end : end + 1], model)
    assert model.in_stasis() == {}


def test_alice_gets_customer_42_from_the_real_trace() -> None:
    pops = [o for o in run(items()) if o["type"] == "screen_pop"]
    assert [(p["interface"], p["customer_id"]) for p in pops] == [("PJSIP/1001", 42)]


def test_moving_ari_events_against_ami_changes_nothing() -> None:
    reference = run(items())
    rng = random.Random(7)
    for _ in range(30):
        ami = [i for i in items() if i[1] == "ami"]
        ari = [i for i in items() if i[1] == "ari"]
        shuffled: list[Item] = []
        # merge keeping each stream's own order, the interleaving at random
        while ami or ari:
            take_ari = ari and (not ami or rng.random() < 0.5)
            shuffled.append(ari.pop(0) if take_ari else ami.pop(0))
        assert run(shuffled) == reference


def test_a_stasis_start_after_the_hangup_is_not_kept() -> None:
    sequence = items()
    starts = [i for i in sequence if type(i[2]).__name__ == "StasisStart"]
    rest = [i for i in sequence if type(i[2]).__name__ not in ("StasisStart", "StasisEnd")]
    model = Model(devices=["PJSIP/1001"])
    run(rest + starts, model)  # ARI far behind: StasisStart after every AMI event
    assert model.in_stasis() == {}
    assert model.calls() == []

"""Stopping the ARI side: a caller already handed to us still goes back to the dialplan."""

from __future__ import annotations

import json

from test_ivr_app import Directory
from test_ivr_intake import STASIS_START, Engine, Listing

from cti.app import AriPart
from cti.ari.events import decode_event
from cti.ari.rest import AriRest
from cti.ari.stream import AriEventStream
from cti.ivr.app import IvrApp
from cti.ivr.intake import AriIntake

NOWHERE = "http://127.0.0.1:9"  # nothing listens: the reader never connects


async def test_a_stasis_start_read_before_the_stop_is_served_and_released() -> None:
    channels = Listing([])
    ivr = IvrApp(channels, Directory(delay=5.0).lookup, dip_timeout=10.0)
    stream = AriEventStream(NOWHERE, "u", "p", backoff_min=60.0)
    part = AriPart(AriRest(NOWHERE, "u", "p"), stream, ivr, AriIntake(Engine(), ivr, channels))
    part.tasks()
    # read from Asterisk, not handled yet when the service is told to stop
    stream.queue.put_nowait(decode_event(json.dumps(STASIS_START)))
    await part.close()
    assert channels.requests == [("continue", "1.1")]
    assert part.rest.is_closed

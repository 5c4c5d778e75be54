"""`python -m cti.sim --port 5038 --rate 1`: a standalone fake Asterisk with traffic.

Strategy: argument parsing only; it builds a Scenario and runs FakeAsterisk
until interrupted, printing where to point a CTI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Sequence

from cti.sim.ami_server import LAB_AGENTS, LAB_QUEUES, FakeAsterisk
from cti.sim.calls import AgentConfig, Scenario

__all__ = ["main"]


def _scenario(args: argparse.Namespace) -> Scenario:
    if args.agents <= len(LAB_AGENTS):
        agents = LAB_AGENTS[: max(args.agents, 1)]
    else:
        extra = tuple(
            AgentConfig(f"PJSIP/{2000 + i}", f"Agent {2000 + i}", ("support",))
            for i in range(args.agents - len(LAB_AGENTS))
        )
        agents = LAB_AGENTS + extra
    return Scenario(
        agents=agents,
        queues=LAB_QUEUES,
        rate=args.rate,
        seed=args.seed,
        ivr_time_scale=args.ivr_scale,
        max_calls=args.max_calls,
        poisson=args.poisson,
        p_stasis=args.stasis,
    )


async def _run(args: argparse.Namespace) -> None:
    fa = FakeAsterisk(args.host, args.port, args.username, args.secret, ari_port=args.ari_port)
    await fa.start()
    scenario = _scenario(args)
    if args.rate > 0:
        fa.start_traffic(scenario)
    print(
        f"fake Asterisk AMI on {args.host}:{fa.port} (user {args.username!r}), "
        f"ARI on http://{args.host}:{fa.ari_port}/ari, "
        f"{len(scenario.agents)} agents, {args.rate} calls/s",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await fa.stop()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cti.sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5038)
    p.add_argument("--username", default="cti")
    p.add_argument("--secret", default="cti-secret")
    p.add_argument("--rate", type=float, default=1.0, help="calls per second (0: none)")
    p.add_argument("--agents", type=int, default=2, help="2 = Alice and Bob of the lab")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ivr-scale", type=float, default=1.0, help="IVR time factor (0: instant)")
    p.add_argument("--max-calls", type=int, default=None)
    p.add_argument("--poisson", action="store_true", help="Poisson arrivals")
    p.add_argument("--ari-port", type=int, default=8088, help="ARI HTTP/WebSocket port")
    p.add_argument(
        "--stasis", type=float, default=0.0, help="share of calls through Stasis(cti-ivr)"
    )
    args = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

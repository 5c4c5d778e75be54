"""The `cti` command: demo, serve, replay.

Strategy: argument parsing only; each sub-command calls into the package
(cti.replay for traces, cti.app for the running service).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _replay(args: argparse.Namespace) -> int:
    from cti.replay import replay

    path = Path(args.path)
    if not path.is_file():
        print(f"cti replay: no such file: {path}", file=sys.stderr)
        return 2
    out = sys.stdout
    for line in replay(path, fmt=args.format):
        out.write(json.dumps(line, sort_keys=True, separators=(",", ":")))
        out.write("\n")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from cti.app import run_demo
    from cti.runner import run

    run(
        run_demo(
            http_host=args.host,
            http_port=args.port,
            calls_per_second=args.rate,
            database_url=args.database_url,
        )
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from cti.app import run_service
    from cti.config import Settings
    from cti.runner import run

    run(run_service(Settings()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cti", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="fake Asterisk + CTI on SQLite + agent page")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000, help="HTTP port of the agent page")
    demo.add_argument("--rate", type=float, default=0.2, help="generated calls per second")
    demo.add_argument(
        "--database-url",
        default="sqlite+aiosqlite:///cti-demo.sqlite3",
        help="SQLAlchemy URL (default: a SQLite file in the current directory)",
    )
    demo.set_defaults(func=_demo)

    serve = sub.add_parser("serve", help="run against a real Asterisk (settings from CTI_* env)")
    serve.set_defaults(func=_serve)

    rep = sub.add_parser("replay", help="run a recorded trace through the codec and model")
    rep.add_argument("path", help="a .jsonl trace, or raw AMI wire text with --format ami")
    rep.add_argument("--format", choices=("jsonl", "ami"), default="jsonl")
    rep.set_defaults(func=_replay)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic narrates every migration step at INFO; only its problems matter here.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # one INFO line per ARI request (the data dip makes several per call)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    from cti.runner import LoopChoiceError

    try:
        code: int = args.func(args)
    except LoopChoiceError as exc:
        print(f"cti: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `cti replay ... | head`: the reader left; not an error of ours.
        sys.stderr.close()
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())

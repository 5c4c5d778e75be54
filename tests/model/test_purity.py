"""The core is pure: nothing in cti/model (or the replay driver) imports I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import cti.model

MODEL_DIR = Path(cti.model.__file__).parent
FORBIDDEN = {
    "asyncio",
    "socket",
    "selectors",
    "ssl",
    "httpx",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "aiohttp",
    "websockets",
    "subprocess",
    "threading",
    "time",  # the caller supplies `at`: a replay must be deterministic
    "logging",  # the shell logs; the core returns data and counters
    "cti.ami.client",
    "cti.ari.rest",
    "cti.ari.stream",
    "cti.ivr",
    "cti.engine",
    "cti.web",
    "cti.store",
    "cti.sim",
}


def _imports(path: Path, package: str = "cti.model") -> set[str]:
    """Absolute names of every module `path` imports (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)


@pytest.mark.parametrize("path", sorted(MODEL_DIR.glob("*.py")), ids=lambda p: p.name)
def test_model_module_is_pure(path: Path) -> None:
    bad = sorted(n for n in _imports(path) if _forbidden(n))
    assert bad == [], f"{path.name} imports {bad}"


def test_replay_uses_no_network_or_clock() -> None:
    path = MODEL_DIR.parent / "replay.py"
    bad = sorted(n for n in _imports(path) if _forbidden(n))
    assert bad == []


def test_the_checker_catches_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import asyncio\nfrom sqlalchemy.orm import Session\nfrom time import time\n")
    assert sorted(n for n in _imports(sample) if _forbidden(n)) == [
        "asyncio",
        "sqlalchemy.orm",
        "sqlalchemy.orm.Session",
        "time",
        "time.time",
    ]


def test_the_checker_resolves_relative_imports(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("from ..engine import Engine\nfrom .. import web\nfrom . import calls\n")
    assert sorted(n for n in _imports(sample) if _forbidden(n)) == [
        "cti.engine",
        "cti.engine.Engine",
        "cti.web",
    ]


def test_importing_the_model_loads_no_io() -> None:
    # Catches what reading import lines cannot: imports made indirectly.
    code = (
        "import sys, cti.model.model, cti.model.from_ami, cti.replay\n"
        "print('\\n'.join(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    # `time` is built into the interpreter and always in sys.modules
    assert sorted(n for n in loaded if _forbidden(n) and n != "time") == []

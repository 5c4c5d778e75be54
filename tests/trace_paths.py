"""Where the recorded Asterisk traces are, for every test folder.

They are shared material, not part of the repository: `../shared/traces` beside
the checkout (as on the developers' machines and in CI), or wherever
CTI_TRACES points.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["TRACES"]

TRACES = Path(
    os.environ.get(
        "CTI_TRACES", Path(__file__).resolve().parents[2] / "shared" / "traces" / "asterisk-22"
    )
)

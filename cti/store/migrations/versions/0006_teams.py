"""teams (placeholder reserved for the TEAMS helper: fill in upgrade/downgrade).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

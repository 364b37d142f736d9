"""The two-way complaint thread (issue 12): Follower.thread, Ticket.supplemented_at.

`follower.thread` is the complaint the follower's next messages and photos are attached to
(after a staff question or “补充”), or the tickets they are choosing between, with when it
began and when it lapses — on the follower row, so every worker sees it. `ticket.supplemented_at`
flags “投诉人已补充” to staff until a staff action on the ticket. Both nullable, nothing to fill:
an existing follower has no thread, an existing ticket no unanswered supplement.

Revision ID: 0005_complaint_thread
Revises: 0004_unanswered
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005_complaint_thread"
down_revision: Union[str, Sequence[str], None] = "0004_unanswered"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Not batch: SQLite adds nullable columns in place (no table copy).
    op.add_column("follower", sa.Column("thread", sa.JSON(), nullable=True))
    op.add_column("ticket", sa.Column("supplemented_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("supplemented_at")
    with op.batch_alter_table("follower") as batch:
        batch.drop_column("thread")

"""Ticket.progress_token and PendingPush.ticket_id: notifications that arrive (issue 12).

A reply written days after the complaint reaches a follower outside WeChat's 48-hour window as a
template message; its link is the read-only progress page `/progress/{token}`, which needs no
login, so each ticket gets an unguessable token (a unique index makes the lookup one probe).
Tickets filed before this revision get theirs here (a data migration over a `sa.table()`
stand-in). A kept customer-service text now names its ticket, so the timeline can say when it
finally went out; older kept texts name none (NULL), as before.

Revision ID: 0006_progress_token
Revises: 0005_complaint_thread
Create Date: 2026-12-03
"""
from __future__ import annotations

import secrets
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006_progress_token"
down_revision: Union[str, Sequence[str], None] = "0005_complaint_thread"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ticket = sa.table("ticket", sa.column("id", sa.Integer), sa.column("progress_token", sa.String))


def upgrade() -> None:
    # Not batch: SQLite adds nullable columns in place (no table copy).
    op.add_column("ticket", sa.Column("progress_token", sa.String(), nullable=True))
    op.add_column("pendingpush", sa.Column("ticket_id", sa.Integer(), nullable=True))
    conn = op.get_bind()
    for (ticket_id,) in conn.execute(sa.select(ticket.c.id)).all():
        conn.execute(ticket.update().where(ticket.c.id == ticket_id).values(progress_token=secrets.token_urlsafe(24)))
    op.create_index("ix_ticket_progress_token", "ticket", ["progress_token"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_ticket_progress_token", table_name="ticket")
    with op.batch_alter_table("pendingpush") as batch:
        batch.drop_column("ticket_id")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("progress_token")

"""The work-order API (issue 12): staff API tokens, and where a forwarded complaint came from.

ApiToken: a staff account's bearer token for /api/tickets, stored as its SHA-256 with a short
hint for lists. Ticket.source / Ticket.external_id: the system that forwarded a complaint (12345,
a letter, a walk-in) and its case number there, unique together so that a re-post files nothing
(NULL for the chat's tickets, which the unique index lets through). A new table and two nullable
columns: nothing existing changes, so no data migration.

Revision ID: 0007_work_orders
Revises: 0006_progress_token
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007_work_orders"
down_revision: Union[str, Sequence[str], None] = "0006_progress_token"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC_TIME = sa.DateTime(timezone=True)  # sqlmodel's UTCDateTime


def upgrade() -> None:
    op.create_table(
        "apitoken",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("hint", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("revoked_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["staffuser.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_apitoken_token_hash", "apitoken", ["token_hash"], unique=True)
    op.create_index("ix_apitoken_user_id", "apitoken", ["user_id"], unique=False)
    # Not batch: SQLite adds a nullable column in place (no table copy).
    op.add_column("ticket", sa.Column("source", sa.String(length=40), nullable=True))
    op.add_column("ticket", sa.Column("external_id", sa.String(length=100), nullable=True))
    op.create_index("ix_ticket_source_external_id", "ticket", ["source", "external_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_ticket_source_external_id", table_name="ticket")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("external_id")
        batch.drop_column("source")
    op.drop_index("ix_apitoken_user_id", table_name="apitoken")
    op.drop_index("ix_apitoken_token_hash", table_name="apitoken")
    op.drop_table("apitoken")

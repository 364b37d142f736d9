"""Institutions (issue 12, the regulators' view): the ways one institution is written, grouped.

Institution: one group per normalised name key (bot.tickets.institutions.name_key), with
`merged_into` for an admin's merge (cleared by its undo); InstitutionEvent: who merged or split
which, when. Ticket.institution_id: the group of the ticket's name. New tables and a nullable
column: nothing existing changes. Tickets filed before this revision keep NULL here and are
grouped lazily by the application (bot.tickets.institutions.group_ungrouped, run by the
console's queue, institution and statistics pages), not by this migration: the key is the
application's rule, and a data migration must not import it (it moves on; the migration may not).

Revision ID: 0008_institutions
Revises: 0007_work_orders
Create Date: 2026-12-04
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008_institutions"
down_revision: Union[str, Sequence[str], None] = "0007_work_orders"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC_TIME = sa.DateTime(timezone=True)  # sqlmodel's UTCDateTime


def upgrade() -> None:
    op.create_table(
        "institution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_institution_key", "institution", ["key"], unique=True)
    op.create_index("ix_institution_merged_into", "institution", ["merged_into"], unique=False)
    op.create_table(
        "institutionevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_institutionevent_at", "institutionevent", ["at"], unique=False)
    op.create_index("ix_institutionevent_institution_id", "institutionevent", ["institution_id"], unique=False)
    # Not batch: SQLite adds a nullable column in place (no table copy).
    op.add_column("ticket", sa.Column("institution_id", sa.Integer(), nullable=True))
    op.create_index("ix_ticket_institution_id", "ticket", ["institution_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ticket_institution_id", table_name="ticket")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("institution_id")
    op.drop_index("ix_institutionevent_institution_id", table_name="institutionevent")
    op.drop_index("ix_institutionevent_at", table_name="institutionevent")
    op.drop_table("institutionevent")
    op.drop_index("ix_institution_merged_into", table_name="institution")
    op.drop_index("ix_institution_key", table_name="institution")
    op.drop_table("institution")

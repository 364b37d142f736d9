"""The question log, the unanswered groups and taught answers (issue 11).

AskLog: one row per question answered (the insights page). UnansweredQuestion: refused,
low-confidence and unhelpful questions grouped with their paraphrases. TaughtAnswer: what an
admin taught for a group (a clause, a standard answer citing clauses, or out of scope with a
pointer). New tables only: nothing existing changes, so no data migration.

Revision ID: 0004_unanswered
Revises: 0002_password_changed (re-chained after 0003 at merge)
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004_unanswered"
down_revision: Union[str, Sequence[str], None] = "0003_notice_lifecycle"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

Str = sa.String
Time = sa.DateTime(timezone=True)  # sqlmodel's UTCDateTime


def upgrade() -> None:
    op.create_table(
        "asklog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", Str(length=32), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("kind", Str(length=20), nullable=False),
        sa.Column("unhelpful", sa.Boolean(), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("region", Str(length=60), nullable=True),
        sa.Column("topic", Str(length=30), nullable=True),
        sa.Column("notice_file", Str(length=200), nullable=True),
        sa.Column("notice_title", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("taught_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_asklog_at", "asklog", ["at"], unique=False)
    op.create_index("ix_asklog_key", "asklog", ["key"], unique=True)

    op.create_table(
        "unansweredquestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("kind", Str(length=20), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_asked", Time, nullable=False),
        sa.Column("last_asked", Time, nullable=False),
        sa.Column("phrasings", sa.JSON(), nullable=True),
        sa.Column("vectors", sa.LargeBinary(), nullable=True),
        sa.Column("embedder", Str(length=100), nullable=False),
        sa.Column("status", Str(length=20), nullable=False),
        sa.Column("taught_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_unansweredquestion_last_asked", "unansweredquestion", ["last_asked"], unique=False)
    op.create_index("ix_unansweredquestion_status", "unansweredquestion", ["status"], unique=False)

    op.create_table(
        "taughtanswer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("action", Str(length=20), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("phrasings", sa.JSON(), nullable=True),
        sa.Column("vectors", sa.LargeBinary(), nullable=True),
        sa.Column("embedder", Str(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("chunks", sa.JSON(), nullable=True),
        sa.Column("created_by", Str(length=100), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_taughtanswer_group_id", "taughtanswer", ["group_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_taughtanswer_group_id", table_name="taughtanswer")
    op.drop_table("taughtanswer")
    op.drop_index("ix_unansweredquestion_status", table_name="unansweredquestion")
    op.drop_index("ix_unansweredquestion_last_asked", table_name="unansweredquestion")
    op.drop_table("unansweredquestion")
    op.drop_index("ix_asklog_key", table_name="asklog")
    op.drop_index("ix_asklog_at", table_name="asklog")
    op.drop_table("asklog")

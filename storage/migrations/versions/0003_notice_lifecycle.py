"""Notice lifecycle: withdrawal, supersession and admin edits on the notice; its audit trail
(NoticeEvent) and its ingested versions (NoticeVersion).

Why columns on `notice`: the answering path reads notices whole (knowledge/index.py); the
columns title … valid_until stay the values answers use, `extracted` keeps what the file said
and `overrides` what an admin set. Existing rows were all read by the extractor, so their
values are copied into `extracted` here (a data migration over `sa.table()` stand-ins).

Revision ID: 0003_notice_lifecycle
Revises: 0002_password_changed
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003_notice_lifecycle"
down_revision: Union[str, Sequence[str], None] = "0002_password_changed"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

Time = sa.DateTime(timezone=True)
FIELDS = ("title", "doc_number", "issuer", "date", "province", "city", "county", "valid_until")

notice = sa.table("notice", sa.column("id", sa.Integer), *(sa.column(f, sa.String) for f in FIELDS[:3]),
                  sa.column("date", sa.Date), *(sa.column(f, sa.String) for f in FIELDS[4:7]),
                  sa.column("valid_until", sa.Date), sa.column("extracted", sa.JSON),
                  sa.column("overrides", sa.JSON))


def upgrade() -> None:
    op.create_table(
        "noticeevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_noticeevent_notice_id", "noticeevent", ["notice_id"], unique=False)
    op.create_table(
        "noticeversion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=True),
        sa.Column("added", sa.JSON(), nullable=True),
        sa.Column("removed", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_noticeversion_file", "noticeversion", ["file"], unique=False)
    op.create_index("ix_noticeversion_notice_id", "noticeversion", ["notice_id"], unique=False)
    # Not batch: SQLite adds nullable columns in place (no table copy).
    op.add_column("notice", sa.Column("extracted", sa.JSON(), nullable=True))
    op.add_column("notice", sa.Column("overrides", sa.JSON(), nullable=True))
    op.add_column("notice", sa.Column("withdrawn_at", Time, nullable=True))
    op.add_column("notice", sa.Column("withdrawn_by", sa.String(), nullable=True))
    op.add_column("notice", sa.Column("withdrawn_reason", sa.Text(), nullable=True))
    op.add_column("notice", sa.Column("superseded_by", sa.Integer(), nullable=True))
    op.create_index("ix_notice_superseded_by", "notice", ["superseded_by"], unique=False)

    conn = op.get_bind()
    for row in conn.execute(sa.select(notice)).mappings().all():
        extracted = {f: (row[f].isoformat() if hasattr(row[f], "isoformat") else row[f]) for f in FIELDS}
        conn.execute(notice.update().where(notice.c.id == row["id"]).values(extracted=extracted, overrides={}))


def downgrade() -> None:
    op.drop_index("ix_notice_superseded_by", table_name="notice")
    with op.batch_alter_table("notice") as batch:
        for column in ("superseded_by", "withdrawn_reason", "withdrawn_by", "withdrawn_at", "overrides", "extracted"):
            batch.drop_column(column)
    op.drop_index("ix_noticeversion_notice_id", table_name="noticeversion")
    op.drop_index("ix_noticeversion_file", table_name="noticeversion")
    op.drop_table("noticeversion")
    op.drop_index("ix_noticeevent_notice_id", table_name="noticeevent")
    op.drop_table("noticeevent")

"""baseline: the schema storage/models.py defined when migrations began (what create_all made).

Written out, not read from the models, so that it stays the same when the models change. Every
table is created only if it is missing: a database made by create_all before migrations existed
(storage.migrate adopts it) keeps its tables and rows and gets those an older release lacked.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Callable, Sequence, Union

import sqlalchemy as sa
from alembic import context, op

revision: str = "0001_baseline"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

Str = sa.String
Time = sa.DateTime(timezone=True)  # sqlmodel's UTCDateTime: TIMESTAMP WITH TIME ZONE on PostgreSQL


def _indexes(table: str, *specs: tuple[str, bool]) -> None:
    for column, unique in specs:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=unique)


# ---------------------------------------------------------------- knowledge

def sourcefile() -> None:
    op.create_table(
        "sourcefile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", Str(), nullable=False),
        sa.Column("path", Str(), nullable=False),
        sa.Column("sha256", Str(), nullable=False),
        sa.Column("ingested_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("sourcefile", ("name", True))


def notice() -> None:
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file", Str(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("title", Str(), nullable=False),
        sa.Column("doc_number", Str(), nullable=True),
        sa.Column("issuer", Str(), nullable=True),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("province", Str(), nullable=True),
        sa.Column("city", Str(), nullable=True),
        sa.Column("county", Str(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("notice", ("doc_number", False), ("file", False))


def chunk() -> None:
    op.create_table(
        "chunk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("file", Str(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", Str(), nullable=False),
        sa.Column("heading_path", Str(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("tokens", sa.Text(), nullable=True),
        sa.Column("text_hash", Str(), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notice.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("chunk", ("file", False), ("notice_id", False), ("text_hash", False))


def embeddingcache() -> None:
    op.create_table(
        "embeddingcache",
        sa.Column("key", Str(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )


def indexstate() -> None:
    op.create_table(
        "indexstate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


# ---------------------------------------------------------------- channel (WeChat)

def follower() -> None:
    op.create_table(
        "follower",
        sa.Column("openid", Str(), nullable=False),
        sa.Column("region", Str(), nullable=True),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("form_state", sa.JSON(), nullable=True),
        sa.Column("more_pages", sa.JSON(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("last_seen_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("openid"),
    )


def processedmessage() -> None:
    op.create_table(
        "processedmessage",
        sa.Column("key", Str(length=200), nullable=False),
        sa.Column("openid", Str(), nullable=False),
        sa.Column("status", Str(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("delivery", Str(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("finished_at", Time, nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    _indexes("processedmessage", ("created_at", False), ("openid", False))


def signedrequest() -> None:
    op.create_table(
        "signedrequest",
        sa.Column("key", Str(length=64), nullable=False),
        sa.Column("body_sha256", Str(length=64), nullable=False),
        sa.Column("seen_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    _indexes("signedrequest", ("seen_at", False))


def pendingpush() -> None:
    op.create_table(
        "pendingpush",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("openid", Str(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("last_error", Str(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("claimed_at", Time, nullable=True),
        sa.Column("delivered_at", Time, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("pendingpush", ("delivered_at", False), ("openid", False))


def keyvalue() -> None:
    op.create_table(
        "keyvalue",
        sa.Column("key", Str(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("expires_at", Time, nullable=True),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


# ---------------------------------------------------------------- complaints

def ticket() -> None:
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", Str(), nullable=False),
        sa.Column("openid", Str(), nullable=False),
        sa.Column("institution", Str(), nullable=False),
        sa.Column("category", Str(), nullable=False),
        sa.Column("happened", Str(), nullable=False),
        sa.Column("region", Str(), nullable=False),
        sa.Column("region_text", Str(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("phone", Str(), nullable=True),
        sa.Column("status", Str(), nullable=False),
        sa.Column("team", Str(), nullable=False),
        sa.Column("assignee", Str(), nullable=True),
        sa.Column("accept_due", sa.Date(), nullable=False),
        sa.Column("answer_due", sa.Date(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.Column("closed_at", Time, nullable=True),
        sa.Column("rating_asked_at", Time, nullable=True),
        sa.Column("intake_key", Str(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("intake_key"),
    )
    _indexes("ticket", ("assignee", False), ("category", False), ("created_at", False), ("number", True),
             ("openid", False), ("region", False), ("status", False), ("team", False))


def ticketevent() -> None:
    op.create_table(
        "ticketevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("actor", Str(), nullable=False),
        sa.Column("action", Str(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("ticketevent", ("ticket_id", False))


def evidence() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("media_id", Str(), nullable=True),
        sa.Column("pic_url", Str(), nullable=True),
        sa.Column("file_path", Str(), nullable=True),
        sa.Column("created_at", Time, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("evidence", ("ticket_id", False))


def staffuser() -> None:
    op.create_table(
        "staffuser",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", Str(), nullable=False),
        sa.Column("password_hash", Str(), nullable=False),
        sa.Column("role", Str(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("staffuser", ("username", True))


def staffsession() -> None:
    op.create_table(
        "staffsession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", Str(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", Str(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("expires_at", Time, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staffuser.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("staffsession", ("token_hash", True), ("user_id", False))


def reveallog() -> None:
    op.create_table(
        "reveallog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("username", Str(), nullable=False),
        sa.Column("ip", Str(), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("reveallog", ("ticket_id", False))


def loginattempt() -> None:
    op.create_table(
        "loginattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", Str(length=64), nullable=False),
        sa.Column("ip", Str(length=64), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("loginattempt", ("account", False), ("at", False), ("ip", False))


def staffevent() -> None:
    op.create_table(
        "staffevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("actor", Str(), nullable=False),
        sa.Column("action", Str(), nullable=False),
        sa.Column("ip", Str(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("staffevent", ("actor", False), ("at", False))


def rating() -> None:
    op.create_table(
        "rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("openid", Str(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("rating", ("openid", False), ("ticket_id", True))


# table name -> its creation, parents before the tables that refer to them
TABLES: dict[str, Callable[[], None]] = {
    f.__name__: f for f in (
        sourcefile, notice, chunk, embeddingcache, indexstate,
        follower, processedmessage, signedrequest, pendingpush, keyvalue,
        ticket, ticketevent, evidence, staffuser, staffsession, reveallog, loginattempt, staffevent, rating,
    )
}


def upgrade() -> None:
    present = set() if context.is_offline_mode() else set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():
        if name not in present:
            create()


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)  # its indexes go with it

"""StaffUser.password_changed: the account's password was changed on the password page.

bootstrap_admin used to look for a 'password_changed' row in the StaffEvent audit trail to
decide that POLICYBOT_ADMIN_PASSWORD no longer resets the admin's password; a flag on the
account says it directly (and survives pruning the trail). The audit rows stay; this revision
sets the flag for every account that has one.

Revision ID: 0002_password_changed
Revises: 0001_baseline
Create Date: 2026-12-03
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002_password_changed"
down_revision: Union[str, Sequence[str], None] = "0001_baseline"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

staffuser = sa.table("staffuser", sa.column("username", sa.String), sa.column("password_changed", sa.Boolean))
staffevent = sa.table("staffevent", sa.column("actor", sa.String), sa.column("action", sa.String))


def upgrade() -> None:
    # Not batch: SQLite adds a column with a constant default in place (no table copy).
    op.add_column("staffuser", sa.Column("password_changed", sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    changed = (sa.select(staffevent.c.actor)
               .where(staffevent.c.actor == staffuser.c.username, staffevent.c.action == "password_changed")
               .exists())
    op.execute(staffuser.update().where(changed).values(password_changed=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("staffuser") as batch:
        batch.drop_column("password_changed")

"""the editor's desk: preheader, story order and choice, schedule and pause

Revision ID: e2b8d4f6a0c3
Revises: d7a3c5e9f1b4
Create Date: 2026-12-04 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e2b8d4f6a0c3'
down_revision = 'd7a3c5e9f1b4'
branch_labels = None
depends_on = None


def upgrade():
    # Every column is empty for existing issues: they keep their period's stories in
    # the usual order and their newsletter's send slot. The new statuses (paused,
    # cancelled) fit the status column's existing VARCHAR(32).
    with op.batch_alter_table('digest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preheader', sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column('story_order', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('excluded_story_ids', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('send_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('digest', schema=None) as batch_op:
        batch_op.drop_column('paused_at')
        batch_op.drop_column('send_at')
        batch_op.drop_column('excluded_story_ids')
        batch_op.drop_column('story_order')
        batch_op.drop_column('preheader')

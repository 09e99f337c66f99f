"""api token scopes, and publishable keys

Revision ID: b3e6f8d2c0a1
Revises: a2d5e7c1b9f0
Create Date: 2026-12-01 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3e6f8d2c0a1'
down_revision = 'a2d5e7c1b9f0'
branch_labels = None
depends_on = None


def upgrade():
    # The server defaults fill the rows that exist: every token made so far could file
    # stories, and nothing else, so that is the scope it keeps. New rows say what they are.
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.Enum('secret', 'publishable', name='apitokenkind', native_enum=False, length=32), nullable=False, server_default='secret'))
        batch_op.add_column(sa.Column('scopes', sa.String(length=200), nullable=False, server_default='stories:write'))
        batch_op.add_column(sa.Column('origins', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.alter_column('kind', server_default=None)
        batch_op.alter_column('scopes', server_default=None)
        batch_op.alter_column('origins', server_default=None)


def downgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('origins')
        batch_op.drop_column('scopes')
        batch_op.drop_column('kind')

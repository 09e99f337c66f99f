"""newsletter branding, and its public web archive

Revision ID: d7a3c5e9f1b4
Revises: c4f9a1e3d7b2
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd7a3c5e9f1b4'
down_revision = 'c4f9a1e3d7b2'
branch_labels = None
depends_on = None


def upgrade():
    # Existing newsletters get an archive (only public ones ever show it) and no branding.
    with op.batch_alter_table('newsletter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('web_archive', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('brand_logo_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('brand_accent', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('brand_footer', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('newsletter', schema=None) as batch_op:
        batch_op.alter_column('web_archive', server_default=None)
        batch_op.alter_column('brand_footer', server_default=None)


def downgrade():
    with op.batch_alter_table('newsletter', schema=None) as batch_op:
        batch_op.drop_column('brand_footer')
        batch_op.drop_column('brand_accent')
        batch_op.drop_column('brand_logo_url')
        batch_op.drop_column('web_archive')

"""Initial schema: every table of the data model, and append-only annotations.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('modality', sa.String(length=16), nullable=False),
    sa.Column('classes', sa.JSON(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("modality IN ('audio', 'spectrum', 'crop')", name=op.f('ck_project_modality')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project')),
    sa.UniqueConstraint('name', name=op.f('uq_project_name'))
    )
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('annotator', 'reviewer', 'admin')", name=op.f('ck_user_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user')),
    sa.UniqueConstraint('name', name=op.f('uq_user_name'))
    )
    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_job_status')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_job_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job'))
    )
    op.create_table('snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('pseudo_threshold', sa.Double(), nullable=True),
    sa.Column('pseudo_model_version_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['snapshot.id'], name=op.f('fk_snapshot_parent_id_snapshot')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_snapshot_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snapshot')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_snapshot_project_id_name'))
    )
    op.create_table('source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('recording', 'spectrum', 'spectrum_matrix', 'hdf5', 'image')", name=op.f('ck_source_kind')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_source_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source')),
    sa.UniqueConstraint('project_id', 'sha256', name=op.f('uq_source_project_id_sha256'))
    )
    op.create_table('item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('locator', sa.String(length=400), nullable=False),
    sa.Column('member', sa.String(length=400), nullable=True),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('start_s', sa.Double(), nullable=True),
    sa.Column('end_s', sa.Double(), nullable=True),
    sa.Column('f_low_hz', sa.Double(), nullable=True),
    sa.Column('f_high_hz', sa.Double(), nullable=True),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("origin IN ('ingest', 'proposal', 'human')", name=op.f('ck_item_origin')),
    sa.CheckConstraint('end_s IS NULL OR start_s IS NULL OR end_s > start_s', name=op.f('ck_item_span')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_item_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], name=op.f('fk_item_source_id_source'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item')),
    sa.UniqueConstraint('source_id', 'locator', name=op.f('uq_item_source_id_locator'))
    )
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_project_id'), ['project_id'], unique=False)

    op.create_table('model_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('arch', sa.String(length=64), nullable=False),
    sa.Column('checkpoint_uri', sa.Text(), nullable=False),
    sa.Column('checkpoint_sha256', sa.String(length=64), nullable=False),
    sa.Column('classes', sa.JSON(), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=True),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('environment', sa.JSON(), nullable=False),
    sa.Column('temperature', sa.Double(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('candidate', 'active', 'retired')", name=op.f('ck_model_version_status')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_model_version_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshot.id'], name=op.f('fk_model_version_snapshot_id_snapshot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_version'))
    )
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.create_index('uq_model_version_one_active', ['project_id'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
    # snapshot and model_version refer to each other: the second key is added once both exist.
    with op.batch_alter_table('snapshot', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_snapshot_pseudo_model_version_id_model_version'), 'model_version', ['pseudo_model_version_id'], ['id'])

    op.create_table('ingest_error',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('member', sa.String(length=400), nullable=True),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_ingest_error_item_id_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_ingest_error_project_id_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_error'))
    )
    with op.batch_alter_table('ingest_error', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ingest_error_project_id'), ['project_id'], unique=False)

    op.create_table('lease',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_lease_item_id_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_lease_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lease')),
    sa.UniqueConstraint('item_id', name=op.f('uq_lease_item_id'))
    )
    op.create_table('suggestion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('model_version_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('probabilities', sa.JSON(), nullable=False),
    sa.Column('confidence', sa.Double(), nullable=False),
    sa.Column('margin', sa.Double(), nullable=False),
    sa.Column('entropy', sa.Double(), nullable=False),
    sa.Column('bald', sa.Double(), nullable=True),
    sa.Column('start_s', sa.Double(), nullable=True),
    sa.Column('end_s', sa.Double(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_suggestion_item_id_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_version.id'], name=op.f('fk_suggestion_model_version_id_model_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestion')),
    sa.UniqueConstraint('item_id', 'model_version_id', name=op.f('uq_suggestion_item_id_model_version_id'))
    )
    with op.batch_alter_table('suggestion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_model_version_id_confidence'), ['model_version_id', 'confidence'], unique=False)

    op.create_table('annotation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('start_s', sa.Double(), nullable=True),
    sa.Column('end_s', sa.Double(), nullable=True),
    sa.Column('f_low_hz', sa.Double(), nullable=True),
    sa.Column('f_high_hz', sa.Double(), nullable=True),
    sa.Column('suggestion_id', sa.Integer(), nullable=True),
    sa.Column('model_version_id', sa.Integer(), nullable=True),
    sa.Column('undoes_id', sa.Integer(), nullable=True),
    sa.Column('duration_s', sa.Double(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action IN ('import', 'accept', 'edit', 'reject', 'skip', 'add', 'undo')", name=op.f('ck_annotation_action')),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_annotation_item_id_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_version.id'], name=op.f('fk_annotation_model_version_id_model_version')),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestion.id'], name=op.f('fk_annotation_suggestion_id_suggestion')),
    sa.ForeignKeyConstraint(['undoes_id'], ['annotation.id'], name=op.f('fk_annotation_undoes_id_annotation')),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_annotation_user_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation'))
    )
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotation_item_id_created_at'), ['item_id', 'created_at'], unique=False)

    op.create_table('snapshot_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('start_s', sa.Double(), nullable=True),
    sa.Column('end_s', sa.Double(), nullable=True),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('annotation_id', sa.Integer(), nullable=True),
    sa.Column('suggestion_id', sa.Integer(), nullable=True),
    sa.Column('split', sa.String(length=8), nullable=False),
    sa.CheckConstraint("origin IN ('human', 'pseudo')", name=op.f('ck_snapshot_entry_origin')),
    sa.CheckConstraint("split IN ('train', 'val', 'test')", name=op.f('ck_snapshot_entry_split')),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotation.id'], name=op.f('fk_snapshot_entry_annotation_id_annotation')),
    sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_snapshot_entry_item_id_item')),
    sa.ForeignKeyConstraint(['snapshot_id'], ['snapshot.id'], name=op.f('fk_snapshot_entry_snapshot_id_snapshot'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestion.id'], name=op.f('fk_snapshot_entry_suggestion_id_suggestion')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snapshot_entry')),
    sa.UniqueConstraint('snapshot_id', 'item_id', name=op.f('uq_snapshot_entry_snapshot_id_item_id'))
    )
    _forbid_annotation_changes()


def downgrade() -> None:
    _allow_annotation_changes()
    op.drop_table('snapshot_entry')
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annotation_item_id_created_at'))

    op.drop_table('annotation')
    with op.batch_alter_table('suggestion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestion_model_version_id_confidence'))

    op.drop_table('suggestion')
    op.drop_table('lease')
    with op.batch_alter_table('ingest_error', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ingest_error_project_id'))

    op.drop_table('ingest_error')
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.drop_index('uq_model_version_one_active', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    with op.batch_alter_table('snapshot', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_snapshot_pseudo_model_version_id_model_version'), type_='foreignkey')
    op.drop_table('model_version')
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_project_id'))

    op.drop_table('item')
    op.drop_table('source')
    op.drop_table('snapshot')
    op.drop_table('job')
    op.drop_table('user')
    op.drop_table('project')


APPEND_ONLY = "annotations are append-only: record a new action instead"


def _forbid_annotation_changes() -> None:
    """Annotations are history: the database itself refuses UPDATE and DELETE on them."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER annotation_no_{verb.lower()} BEFORE {verb} ON annotation "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION annotation_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER annotation_append_only BEFORE UPDATE OR DELETE ON annotation "
        "FOR EACH ROW EXECUTE FUNCTION annotation_append_only()"
    )


def _allow_annotation_changes() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS annotation_no_update")
        op.execute("DROP TRIGGER IF EXISTS annotation_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS annotation_append_only ON annotation")
    op.execute("DROP FUNCTION IF EXISTS annotation_append_only()")

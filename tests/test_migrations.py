"""Models and migrations agree, on a fresh empty database of each engine.

`flask db upgrade` builds the schema; Alembic's autogenerate comparison, with the settings
Flask-Migrate hands env.py (compare_type, render_item), must then find nothing to change.
"""

import os
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from challenges import ROOT, create_app
from challenges.extensions import db as _db
from tests.conftest import make_config

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def _migrated_app(url: str, tmp_path: Path):
    """A separate app on `url`, upgraded to head through the CLI, as an operator would."""
    app = create_app(make_config(url, tmp_path))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return app


def _differences(app) -> list:
    with app.app_context():
        opts = dict(app.extensions["migrate"].configure_args)  # compare_type, render_item, ...
        opts.pop("process_revision_directives", None)
        with _db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts=opts)
            assert context.opts["compare_type"] is True
            return compare_metadata(context, _db.metadata)


def _tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(_db.engine).get_table_names())


def _dispose(app) -> None:
    with app.app_context():
        _db.engine.dispose()


def test_migrations_have_one_linear_history():
    scripts = ScriptDirectory(str(ROOT / "migrations"))

    assert len(scripts.get_heads()) == 1
    assert len(scripts.get_bases()) == 1


def test_sqlite_migrations_match_models(tmp_path):
    app = _migrated_app(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path)
    try:
        assert _differences(app) == []
        assert _tables(app) == {t.name for t in _db.metadata.sorted_tables} | {"alembic_version"}
    finally:
        _dispose(app)


def test_sqlite_migrations_downgrade_to_base_and_up_again(tmp_path):
    app = _migrated_app(f"sqlite:///{tmp_path / 'updown.db'}", tmp_path)
    runner = app.test_cli_runner()
    try:
        down = runner.invoke(args=["db", "downgrade", "base"])
        assert down.exit_code == 0, down.output
        assert _tables(app) == {"alembic_version"}

        up = runner.invoke(args=["db", "upgrade"])
        assert up.exit_code == 0, up.output
        assert _differences(app) == []
    finally:
        _dispose(app)


@pytest.fixture
def fresh_postgres_url():
    """A brand-new, empty PostgreSQL database on the TEST_DATABASE_URL server, dropped afterwards."""
    if not TEST_DATABASE_URL:
        pytest.skip("needs TEST_DATABASE_URL (PostgreSQL)")
    server = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    name = f"mig_{uuid.uuid4().hex[:12]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def test_postgresql_migrations_match_models(fresh_postgres_url, tmp_path):
    app = _migrated_app(fresh_postgres_url, tmp_path)
    try:
        assert _differences(app) == []
        assert _tables(app) == {t.name for t in _db.metadata.sorted_tables} | {"alembic_version"}
    finally:
        _dispose(app)


def test_postgresql_migrations_downgrade_to_base(fresh_postgres_url, tmp_path):
    app = _migrated_app(fresh_postgres_url, tmp_path)
    try:
        down = app.test_cli_runner().invoke(args=["db", "downgrade", "base"])
        assert down.exit_code == 0, down.output
        assert _tables(app) == {"alembic_version"}
    finally:
        _dispose(app)

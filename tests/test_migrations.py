"""Models and migrations agree, on an empty database of each engine."""

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from challenges import create_app
from challenges.extensions import db as _db
from tests.conftest import make_config


def _upgrade_and_compare(url: str, tmp_path) -> list:
    from flask_migrate import upgrade

    app = create_app(make_config(url, tmp_path))
    with app.app_context():
        upgrade()
        with _db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, _db.metadata)
        _db.engine.dispose()
    return diff


def test_sqlite_migrations_match_models(tmp_path):
    assert _upgrade_and_compare(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path) == []


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_postgresql_migrations_match_models(tmp_path):
    server = create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    name = f"mig_{uuid.uuid4().hex[:10]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = server.url.set(database=name).render_as_string(hide_password=False)
        assert _upgrade_and_compare(url, tmp_path) == []
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()

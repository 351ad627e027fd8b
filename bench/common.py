"""Shared set-up for the benchmarks: a migrated app on a temporary instance folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask


@contextmanager
def bench_app() -> Iterator[Flask]:
    """An app context on DATABASE_URL when set (PostgreSQL), else a temporary SQLite file; migrated."""
    from flask_migrate import upgrade

    from challenges import create_app
    from config import Default

    with tempfile.TemporaryDirectory() as tmp:
        class BenchConfig(Default):
            SECRET_KEY = "bench-secret"
            INSTANCE_DIR = tmp
            STORAGE_DIR = str(Path(tmp) / "storage")
            SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(tmp) / 'bench.db'}"
            RATELIMIT_ENABLED = False

        app = create_app(BenchConfig)
        with app.app_context():
            upgrade()
            yield app

import importlib

import pytest

import config


def test_production_refuses_to_start_without_secrets(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY, DATABASE_URL"):
        config.from_environment()


def test_production_sets_secure_cookies(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/app")
    importlib.reload(config)
    try:
        chosen = config.from_environment()
        assert chosen.SESSION_COOKIE_SECURE is True
        assert chosen.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@db/app"
    finally:
        monkeypatch.undo()
        importlib.reload(config)


def test_defaults_are_embedded(monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "S3_BUCKET", "APP_ENV"):
        monkeypatch.delenv(name, raising=False)
    importlib.reload(config)
    try:
        chosen = config.from_environment()
        assert chosen.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
        assert chosen.JOBS_INLINE is True and chosen.MAIL_SERVER is None and chosen.S3_BUCKET is None
        assert chosen.RATELIMIT_STORAGE_URI == "memory://"
    finally:
        monkeypatch.undo()
        importlib.reload(config)

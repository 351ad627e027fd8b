"""Shared fixtures: app, db, client, login_as, run_cli, smtp_sink, moto_server.

The database is SQLite (a file, so live-server threads share it) unless TEST_DATABASE_URL
points at PostgreSQL. The schema is built once per session by the real migrations; after each
test every table is emptied, so tests may commit for real.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask.globals import _cv_app
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from challenges import create_app
from challenges.extensions import db as _db
from config import Testing

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if TEST_DATABASE_URL:
        engine = create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:  # repeatable runs: start from an empty schema
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def make_config(database_url: str, tmp: Path) -> type[Testing]:
    class TestConfig(Testing):
        SQLALCHEMY_DATABASE_URI = database_url
        INSTANCE_DIR = str(tmp / "instance")
        STORAGE_DIR = str(tmp / "storage")
        SITE_URL = "http://localhost"

    return TestConfig


@pytest.fixture(scope="session")
def _migrated(database_url, tmp_path_factory) -> str:
    """Run the real migrations once per session."""
    from flask_migrate import upgrade

    app = create_app(make_config(database_url, tmp_path_factory.mktemp("migrate")))
    with app.app_context():
        upgrade()
        _db.engine.dispose()
    return database_url


class IsolatedClient(FlaskClient):
    """Each request gets its own app context (and so its own `g` and DB session), as on a server.

    Without this, requests would reuse the test's app context and leak `g` (Flask-Login's
    cached user, for one) from one request to the next.
    """

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)  # type: ignore[arg-type]
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


@pytest.fixture
def app(_migrated, tmp_path) -> Iterator:
    application = create_app(make_config(_migrated, tmp_path))
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login_as(client):
    """login_as('staff') → the verified staff@example.gov (created if needed) signed in; login_as(user);
    login_as('other_vendor') → a second vendor; login_as('anonymous') signs out."""
    from tests.factories import make_user

    def sign_in(who):
        if who is None or who == "anonymous":
            with client.session_transaction() as session:
                session.clear()
            return None
        if isinstance(who, str):
            from challenges.accounts.models import User

            email = f"{who}@example.gov"
            role = "vendor" if who == "other_vendor" else who
            user = _db.session.execute(_db.select(User).where(User.email == email)).scalar_one_or_none() \
                or make_user(email=email, roles=(role,))
        else:
            user = who
        now = int(time.time())
        with client.session_transaction() as session:
            session.clear()
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
            session["started"] = now
            session["seen"] = now
        return user

    return sign_in


@pytest.fixture
def run_cli(app):
    runner = app.test_cli_runner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(args=list(args), input=input)

    return run


class SmtpSink:
    """Collects what an SMTP client really delivered over the wire."""

    def __init__(self) -> None:
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.02)
        raise AssertionError(f"expected {count} message(s) at the SMTP sink, got {len(self.messages)}")


@pytest.fixture
def smtp_sink(app) -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A real S3 API on loopback (moto's server); boto3 talks to it over HTTP."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def redis_url() -> str:
    """Redis for job tests: TEST_REDIS_URL, skipped when unreachable unless REQUIRE_SERVICES=1."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 but Redis at {url} is unreachable: {exc}")
        pytest.skip(f"Redis at {url} is unreachable")
    return url

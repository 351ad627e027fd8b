"""Shared fixtures for the whole suite.

Database
    SQLite in a file under pytest's tmp dir (a file, not :memory:, so live-server threads and
    other connections see the same data), or PostgreSQL when TEST_DATABASE_URL is set, e.g.
    ``postgresql+psycopg://postgres@127.0.0.1:5432/test`` (its ``public`` schema is dropped and
    recreated first, so runs are repeatable). The schema is built once per session by the real
    migrations (``flask_migrate.upgrade()``), never by ``create_all``. After each test every
    table is emptied, so tests may ``commit()`` for real.

Fixtures
    app            the app (TestConfig: that database, SITE_URL "http://localhost"; INSTANCE_DIR
                   and STORAGE_DIR in the test's tmp_path) with an app context pushed. Built
                   once per session for speed; its config is restored before every test
    db             the Flask-SQLAlchemy ``db``
    client         test client; each request runs in its own app context, as on a server
    login_as       login_as("staff") → a verified staff@example.gov signed in (created once);
                   login_as(user) signs that user in; login_as("anonymous") signs out (→ None)
    run_cli        run_cli("audit", "verify") → click Result (exit_code, output)
    smtp_sink      a real SMTP server on loopback; MAIL_SERVER/MAIL_PORT point at it;
                   ``.messages`` (parsed EmailMessage, each with ``.envelope_to``) and
                   ``.wait_for(n, timeout=5)``
    moto_server    (session) moto's S3-compatible HTTP server; yields its endpoint URL and sets
                   fake AWS credentials for boto3
    redis_url      Redis for job tests (TEST_REDIS_URL, default redis://127.0.0.1:6379/15);
                   skipped when unreachable, a failure when REQUIRE_SERVICES is set

Factories that build valid objects through the real services live in tests/factories.py.
"""

from __future__ import annotations

import copy
import os
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.globals import _cv_app
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from challenges import create_app
from challenges.extensions import db as _db
from challenges.extensions import limiter
from challenges.storage import init_storage
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
        if database_url.startswith("postgresql"):
            # Test data is thrown away: don't wait for the WAL to reach disk on every commit.
            SQLALCHEMY_ENGINE_OPTIONS = {**Testing.SQLALCHEMY_ENGINE_OPTIONS,
                                         "connect_args": {"options": "-c synchronous_commit=off"}}

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


@pytest.fixture(scope="session")
def _session_app(_migrated, tmp_path_factory) -> Iterator[tuple[Flask, dict[str, Any]]]:
    """One app per session: building one compiles every URL rule (~0.1 s), too slow per test.

    `app` gives each test this app with its configuration restored to what create_app produced,
    so config changes never leak from one test to the next.
    """
    application = create_app(make_config(_migrated, tmp_path_factory.mktemp("app")))
    application.test_client_class = IsolatedClient
    pristine = copy.deepcopy(dict(application.config))
    yield application, pristine
    with application.app_context():
        _db.engine.dispose()


def empty_all_tables() -> None:
    """Delete every row of every table, children first (the schema and alembic_version stay)."""
    _db.session.remove()
    with _db.engine.begin() as conn:
        for table in reversed(_db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def app(_session_app, tmp_path) -> Iterator[Flask]:
    """The test app with an app context pushed; every table is emptied afterwards.

    Per test: configuration reset (then INSTANCE_DIR/STORAGE_DIR in this test's tmp_path),
    storage re-bound to that configuration, rate-limit counters cleared. Tests may change
    `app.config` freely. A test that needs an app built differently (other extensions or
    routes) calls `create_app(make_config(url, tmp_path))` itself, as test_migrations does.
    """
    application, pristine = _session_app
    application.config.clear()
    application.config.update(copy.deepcopy(pristine))
    application.config.update(INSTANCE_DIR=str(tmp_path / "instance"), STORAGE_DIR=str(tmp_path / "storage"))
    init_storage(application)
    limiter.reset()
    with application.app_context():
        try:
            yield application
        finally:
            empty_all_tables()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


# login_as names → the role the created user holds ("other_vendor" is a second, unrelated vendor).
LOGIN_ROLES = {"vendor": "vendor", "judge": "judge", "staff": "staff", "admin": "admin", "member": "member",
               "other_vendor": "vendor", "conflicted_judge": "judge"}


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

            if who not in LOGIN_ROLES:
                raise ValueError(f"login_as: unknown role {who!r}; use one of {sorted(LOGIN_ROLES)} or a User")
            email = f"{who}@example.gov"
            role = LOGIN_ROLES[who]
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
    """Collects what an SMTP client really delivered over the wire.

    `messages` holds parsed `EmailMessage`s; each also carries `envelope_to`, the RCPT TO list.
    """

    def __init__(self) -> None:
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        message.envelope_to = list(envelope.rcpt_tos)  # type: ignore[attr-defined]
        with self._lock:
            self.messages.append(message)
            self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return list(self.messages)
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
    """A real S3 API on loopback (moto's server); boto3 talks to it over HTTP, nothing is patched.

    Fake credentials replace any real ones for the session, so no test can ever reach AWS.
    """
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"):
            env.delenv(name, raising=False)
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()


@pytest.fixture
def redis_url() -> str:
    """Redis for job tests: TEST_REDIS_URL (default db 15), skipped when unreachable.

    With REQUIRE_SERVICES set (CI), an unreachable Redis fails the test instead of skipping it.
    """
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("REQUIRE_SERVICES", "").strip() not in ("", "0"):
            pytest.fail(f"REQUIRE_SERVICES is set but Redis at {url} is unreachable: {exc}")
        pytest.skip(f"Redis at {url} is unreachable")
    return url

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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_sign_in(port: int, email: str, password: str) -> tuple[str, str]:
    """Sign in over HTTP like a browser (form with its CSRF token); returns (session cookie, token)."""
    import http.client
    import re
    from urllib.parse import urlencode

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/account/sign-in")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    conn.request("POST", "/account/sign-in", body=urlencode({"csrf_token": token, "email": email,
                                                              "password": password}),
                 headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    response = conn.getresponse()
    response.read()
    if response.status != 302:
        raise SystemExit(f"sign-in as {email} failed: {response.status}")
    return response.getheader("Set-Cookie").split(";")[0], token

"""Security headers and session lifetimes, applied to every response."""

from __future__ import annotations

import time

from flask import Flask, Response, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'self'; object-src 'none'"
)


def start_session() -> None:
    """Call on sign-in: a fresh session (no fixation) stamped with its start time."""
    session.clear()
    now = int(time.time())
    session["started"] = now
    session["seen"] = now
    session.permanent = True


def storage_origins(config: dict) -> str:
    """Origins the browser uploads to directly (S3), added to connect-src."""
    from urllib.parse import urlsplit

    if not config.get("S3_BUCKET"):
        return ""
    endpoint = config.get("S3_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        return f" {parts.scheme}://{parts.netloc}"
    region = config.get("S3_REGION") or "us-east-1"
    return f" https://{config['S3_BUCKET']}.s3.{region}.amazonaws.com https://s3.{region}.amazonaws.com"


def register_security(app: Flask) -> None:
    @app.before_request
    def enforce_session_lifetimes():  # type: ignore[no-untyped-def]
        if request.endpoint == "static" or not current_user.is_authenticated:
            return None
        now = int(time.time())
        idle = app.config["SESSION_IDLE_MINUTES"] * 60
        absolute = app.config["SESSION_ABSOLUTE_HOURS"] * 3600
        started, seen = session.get("started", now), session.get("seen", now)
        if now - seen > idle or now - started > absolute:
            logout_user()
            session.clear()
            flash("You were signed out after a period of inactivity. Sign in again to continue.", "info")
            return redirect(url_for("accounts.sign_in", next=request.full_path if request.method == "GET" else None))
        session["seen"] = now
        return None

    @app.after_request
    def set_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy",
                           CSP.replace("connect-src 'self'", "connect-src 'self'" + storage_origins(app.config)))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if current_user and getattr(current_user, "is_authenticated", False):
            headers.setdefault("Cache-Control", "no-store")
        return response


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative paths survive; anything else goes to `fallback`."""
    if not target:
        return fallback
    target = target.strip()
    if not target.startswith("/") or target.startswith("//") or target.startswith("/\\"):
        return fallback
    if any(c in target for c in ("\\", "\r", "\n", "\t")) or "://" in target.split("?")[0]:
        return fallback
    return target

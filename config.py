"""Configuration read from the environment.

Embedded defaults (SQLite, local-disk storage, inline jobs, console mail) need nothing set;
each real engine switches on when its variable is present. README.md lists every variable.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
_INSTANCE = Path(os.environ.get("INSTANCE_DIR", BASE_DIR / "instance"))


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{_INSTANCE / 'challenges.db'}"
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants a driver name.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://") :]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Default:
    """Development defaults: everything embedded, nothing to install."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-" + secrets.token_hex(16)
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    INSTANCE_DIR = str(_INSTANCE)

    # Site
    SITE_NAME = os.environ.get("SITE_NAME", "Applied AI Challenges")
    SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:5000")
    ORG_NAME = os.environ.get("ORG_NAME", "AI Community of Practice")

    # Requests and sessions
    MAX_CONTENT_LENGTH = _env_int("MAX_FORM_BYTES", 2 * 1024 * 1024)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    SESSION_IDLE_MINUTES = _env_int("SESSION_IDLE_MINUTES", 30)
    SESSION_ABSOLUTE_HOURS = _env_int("SESSION_ABSOLUTE_HOURS", 12)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=SESSION_ABSOLUTE_HOURS)
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # the session's own lifetime bounds the token

    # Rate limiting (Flask-Limiter): memory by default, Redis when REDIS_URL is set.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or REDIS_URL or "memory://"
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    SIGNIN_RATE_LIMIT = os.environ.get("SIGNIN_RATE_LIMIT", "10 per minute; 100 per day")
    # Also per account (the typed email), so many addresses cannot take turns guessing one password.
    ACCOUNT_RATE_LIMIT = os.environ.get("ACCOUNT_RATE_LIMIT", "10 per 15 minutes; 50 per day")
    # How many reverse proxies (nginx, a load balancer) stand in front of the app. Their
    # X-Forwarded-For/-Proto/-Host are trusted for that many hops, so rate limits count each visitor,
    # not the proxy. 0: no proxy, the headers are ignored (anyone could forge them).
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)

    # Tokens
    VERIFY_TOKEN_MAX_AGE = _env_int("VERIFY_TOKEN_MAX_AGE", 7 * 24 * 3600)
    RESET_TOKEN_MAX_AGE = _env_int("RESET_TOKEN_MAX_AGE", 3600)

    # Mail: console + outbox unless MAIL_SERVER is set.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "no-reply@challenges.example.gov")
    MAIL_MAX_ATTEMPTS = _env_int("MAIL_MAX_ATTEMPTS", 5)

    # Jobs: inline unless REDIS_URL is set (then RQ workers run them).
    JOBS_INLINE = not bool(REDIS_URL) or _env_bool("JOBS_INLINE", False)
    RQ_QUEUE = os.environ.get("RQ_QUEUE", "challenges")
    # Processes that render a large award report's parts at once (1: one process, one pass).
    REPORT_WORKERS = _env_int("REPORT_WORKERS", min(os.cpu_count() or 1, 4))

    # Storage: local disk unless S3_BUCKET is set.
    STORAGE_DIR = os.environ.get("STORAGE_DIR", str(_INSTANCE / "storage"))
    S3_BUCKET = os.environ.get("S3_BUCKET") or None
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
    S3_REGION = os.environ.get("S3_REGION", "us-east-1")
    AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID") or None
    AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY") or None

    DEFAULT_TIMEZONE = os.environ.get("DEFAULT_TIMEZONE", "America/New_York")

    # Community
    SUBSCRIBE_TOKEN_MAX_AGE = _env_int("SUBSCRIBE_TOKEN_MAX_AGE", 7 * 24 * 3600)
    UNSUBSCRIBE_TOKEN_MAX_AGE = _env_int("UNSUBSCRIBE_TOKEN_MAX_AGE", 400 * 24 * 3600)
    CONTACT_EMAIL = os.environ.get("CONTACT_EMAIL", "community@challenges.example.gov")
    CONTACT_RATE_LIMIT = os.environ.get("CONTACT_RATE_LIMIT", "5 per hour; 20 per day")
    SUBSCRIBE_RATE_LIMIT = os.environ.get("SUBSCRIBE_RATE_LIMIT", "10 per hour")
    COMMUNITY_MEETING_TITLE = os.environ.get("COMMUNITY_MEETING_TITLE", "Monthly community meeting")
    COMMUNITY_MEETING_JOIN_URL = os.environ.get("COMMUNITY_MEETING_JOIN_URL", "")
    COMMUNITY_MEETING_CAPACITY = _env_int("COMMUNITY_MEETING_CAPACITY", 0) or None
    RESOURCE_MAX_BYTES = _env_int("RESOURCE_MAX_BYTES", 500 * 1024 * 1024)
    DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-password-2026")


class Testing(Default):
    """Used by the test suite; TEST_DATABASE_URL switches it to PostgreSQL."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key"  # noqa: S105 - fixed so tokens are reproducible
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = True  # on, as in production; tests lower SIGNIN_RATE_LIMIT to exercise it
    RATELIMIT_STORAGE_URI = "memory://"
    SIGNIN_RATE_LIMIT = "10000 per minute"
    ACCOUNT_RATE_LIMIT = "10000 per minute"
    CONTACT_RATE_LIMIT = "10000 per minute"
    SUBSCRIBE_RATE_LIMIT = "10000 per minute"
    JOBS_INLINE = True
    REDIS_URL = None  # tests that need Redis read TEST_REDIS_URL themselves
    MAIL_SERVER = None
    S3_BUCKET = None
    SERVER_NAME = None


class Production(Default):
    """Fails fast on settings a public deployment must not default."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @classmethod
    def check(cls) -> None:
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(name)]
        if missing:
            raise RuntimeError("Production configuration needs: " + ", ".join(missing))


def from_environment() -> type[Default]:
    """Pick the configuration class named by APP_ENV (development, testing, production)."""
    name = os.environ.get("APP_ENV", "development").lower()
    if name == "production":
        Production.check()
        return Production
    if name == "testing":
        return Testing
    return Default

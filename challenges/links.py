"""Absolute links for emails and feeds, always from SITE_URL.

Never from the request's Host header: a forged Host would otherwise put an attacker's domain
into password-reset links.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values: Any) -> str:
    site = urlsplit(current_app.config["SITE_URL"])
    adapter = current_app.url_map.bind(
        site.netloc, script_name=site.path or "/", url_scheme=site.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def sign_invitation(salt: str, data: dict[str, Any]) -> str:
    """A signed, timestamped token for an emailed invitation (the salt keeps kinds apart)."""
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt).dumps(data)


def read_invitation(salt: str, token: str, max_age: int, *, expired: str) -> dict[str, Any]:
    """The data of a valid token; a clear ValidationFailed for an expired or forged one."""
    from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

    from .errors import ValidationFailed

    try:
        return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise ValidationFailed(expired) from exc
    except BadSignature as exc:
        raise ValidationFailed("This invitation link is not valid.") from exc

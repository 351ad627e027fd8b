"""Who may see which challenge. Owner/role-guarded getters raise 404, never leak existence."""

from __future__ import annotations

from typing import Any

from .errors import NotFound
from .models import Challenge
from .services import get_challenge


def can_view_challenge(user: Any, challenge: Challenge) -> bool:
    if challenge.is_public:
        return True
    return bool(getattr(user, "is_authenticated", False) and user.is_staff)


def get_visible_challenge(slug: str, user: Any) -> Challenge:
    challenge = get_challenge(slug)
    if not can_view_challenge(user, challenge):
        raise NotFound("No challenge at this address.")
    return challenge

"""Glue between service errors and WTForms fields, shared by every view."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask_wtf import FlaskForm

from .errors import DomainError

T = TypeVar("T")


def attach_errors(form: FlaskForm, error: DomainError) -> dict[str, str]:
    """Put each service error on its form field; return those with no field (for the summary).

    A form whose field is not named as the service names the value (a size asked in MB, a rule about
    bytes) maps the service's names to its own in `service_error_fields`."""
    leftover: dict[str, str] = {}
    renamed: dict[str, str] = getattr(form, "service_error_fields", {})
    for name, message in (error.errors or {}).items():
        field = getattr(form, renamed.get(name, name), None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors or []), message]
        else:
            leftover[name] = message
    if not error.errors:
        leftover["form"] = error.message
    return leftover


def submit_form(form: FlaskForm, action: Callable[[], T]) -> tuple[T | None, dict[str, str]]:
    """For a valid posted form, run the service and commit; on a DomainError roll back and put its
    messages on the form. Returns (result or None, errors with no field)."""
    from .extensions import db

    if not form.validate_on_submit():
        return None, {}
    try:
        result = action()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return None, attach_errors(form, exc)
    return result, {}

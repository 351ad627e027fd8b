"""Glue between service errors and WTForms fields, shared by every view."""

from __future__ import annotations

from flask_wtf import FlaskForm

from .errors import DomainError


def attach_errors(form: FlaskForm, error: DomainError) -> dict[str, str]:
    """Put each service error on its form field; return those with no field (for the summary)."""
    leftover: dict[str, str] = {}
    for name, message in (error.errors or {}).items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors or []), message]
        else:
            leftover[name] = message
    if not error.errors:
        leftover["form"] = error.message
    return leftover

"""Glue between service errors and WTForms fields, shared by every view."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask_wtf import FlaskForm

from .errors import Conflict, DomainError, NotFound, PermissionDenied

T = TypeVar("T")


def attempt(action: Callable[[], str]) -> bool:
    """Run one posted row action (a button: delete, move, leave...): commit and flash what `action`
    says it did, or roll back and flash why not, for the page the person came from. Missing things and
    who-may-do-it refusals stay 404 and 403."""
    from flask import flash

    from .extensions import db

    try:
        done = action()
    except (NotFound, PermissionDenied):
        db.session.rollback()
        raise
    except DomainError as exc:
        db.session.rollback()
        flash(exc.summary(), "error")
        return False
    db.session.commit()
    if done:
        flash(done, "success")
    return True


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


# Columns that change without anyone editing what the form shows.
_NOT_CONTENT = frozenset({"id", "created_at", "updated_at", "editor_ids"})


def row_version(row: Any) -> str:
    """A short fingerprint of what an edit form shows of `row`: sent with the form and compared on save,
    so someone who started from an older version learns that another person saved meanwhile instead of
    silently overwriting their work."""
    values = {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in _NOT_CONTENT}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_version(form: FlaskForm, row: Any) -> None:
    """Refuse a save that started from an older version of `row` (see row_version). The form then
    carries the current version, so saving again on purpose keeps this person's text."""
    field = getattr(form, "version", None)
    if field is None or row is None:
        return
    current = row_version(row)
    if field.data and field.data != current:
        field.data = current
        raise Conflict("Someone else saved this while you were editing. Your text is below and has not been "
                       "saved: open the page in another tab to see theirs, then save again to keep yours.",
                       {"version": "Someone else saved this while you were editing; your changes are not saved "
                                   "yet. Check their version in another tab, then save again to keep yours."})
    field.data = current

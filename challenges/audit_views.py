"""Staff browse and filter the audit log."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from .accounts.permissions import staff_required
from .audit import AuditEvent
from .extensions import contains_text, db
from .timezones import TimezoneError, local_to_utc

bp = Blueprint("audit", __name__, url_prefix="/staff/audit")
PAGE_SIZE = 50


def _day(text: str, zone: str) -> datetime | None:
    try:
        return local_to_utc(datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time()), zone)
    except (ValueError, TimezoneError):
        return None


@bp.route("/")
@staff_required
def index():
    args = request.args
    zone = "America/New_York"
    stmt = select(AuditEvent)
    keys = ("action", "object_type", "object_id", "actor", "since", "until")
    filters = {k: (args.get(k) or "").strip() for k in keys}
    if filters["action"]:
        stmt = stmt.where(AuditEvent.action.startswith(filters["action"], autoescape=True))
    if filters["object_type"]:
        stmt = stmt.where(AuditEvent.object_type == filters["object_type"])
    if filters["object_id"]:
        stmt = stmt.where(AuditEvent.object_id == filters["object_id"])
    if filters["actor"]:
        stmt = stmt.where(contains_text(AuditEvent.actor_email, filters["actor"]))
    errors: dict[str, str] = {}
    for key, op in (("since", "ge"), ("until", "lt")):
        if filters[key]:
            moment = _day(filters[key], zone)
            if moment is None:
                errors[key] = "Enter a date as YYYY-MM-DD."
            elif op == "ge":
                stmt = stmt.where(AuditEvent.at >= moment)
            else:
                stmt = stmt.where(AuditEvent.at < moment + timedelta(days=1))
    page = max(1, request.args.get("page", 1, type=int) or 1)
    total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    events = db.session.execute(
        stmt.order_by(AuditEvent.seq.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).scalars().all()
    types = db.session.execute(select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)).scalars()
    return render_template(
        "audit/index.html", events=events, filters=filters, page=page, total=total, page_size=PAGE_SIZE,
        object_types=list(types), errors=errors, zone=zone,
    ), 400 if errors else 200

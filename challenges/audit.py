"""Append-only, hash-chained audit log.

Every event stores the previous event's hash and its own SHA-256 over a canonical JSON form, so
altering or deleting any event breaks the chain. A single head row, locked for update while an
event is appended, serialises writers on PostgreSQL so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .timezones import UTCDateTime, utcnow

GENESIS = "0" * 64


class AuditHead(db.Model):
    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(40), index=True)
    object_id: Mapped[str] = mapped_column(String(80), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def canonical(self) -> bytes:
        body = {
            "seq": self.seq,
            "at": self.at.isoformat(timespec="microseconds"),
            "actor_id": self.actor_id,
            "actor_email": self.actor_email,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "details": self.details,
            "ip": self.ip,
            "prev_hash": self.prev_hash,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def _compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(event.canonical()).hexdigest()


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so what we hash is exactly what the database returns."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def record(
    *,
    actor: Any,
    action: str,
    obj: Any = None,
    object_type: str | None = None,
    object_id: Any = None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (flush only; the caller commits)."""
    session = db.session
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, last_hash=GENESIS)
        session.add(head)
        session.flush()
    if obj is not None:
        session.flush()
        object_type = object_type or getattr(obj, "__audit_type__", type(obj).__name__.lower())
        object_id = object_id if object_id is not None else getattr(obj, "id", None)
    if ip is None:
        ip = _request_ip()
    event = AuditEvent(
        seq=head.seq + 1,
        at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", None),
        action=action,
        object_type=object_type or "system",
        object_id=str(object_id if object_id is not None else ""),
        details=_jsonable(details or {}),
        ip=ip,
        prev_hash=head.last_hash,
    )
    event.hash = _compute_hash(event)
    head.seq = event.seq
    head.last_hash = event.hash
    session.add(event)
    session.flush()
    return event


def _request_ip() -> str | None:
    from flask import has_request_context, request

    if has_request_context():
        return request.remote_addr
    return None


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problems: list[str]


def verify() -> VerifyResult:
    """Walk the chain in order; report every altered, inserted or missing event."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    checked = 0
    for event in db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars():
        checked += 1
        if event.seq != expected_seq:
            problems.append(f"event seq {expected_seq} is missing (next found: {event.seq})")
        if event.prev_hash != prev:
            problems.append(f"event seq {event.seq}: previous-hash link broken")
        if _compute_hash(event) != event.hash:
            problems.append(f"event seq {event.seq}: content does not match its hash")
        prev = event.hash
        expected_seq = event.seq + 1
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev):
        problems.append(
            f"chain head says {head.seq} events ending {head.last_hash[:12]}…, "
            f"found {expected_seq - 1} ending {prev[:12]}… (events removed from the end?)"
        )
    if head is None and checked:
        problems.append("chain head row is missing")
    return VerifyResult(ok=not problems, checked=checked, problems=problems)

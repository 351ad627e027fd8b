"""Background work: inline by default, on RQ workers when REDIS_URL is set.

A job is a row (status, progress, result) so pages can show progress whichever runner executes
it. Jobs are enqueued inside the caller's transaction and dispatched only after it commits, so a
rolled-back request never starts work; `dedupe_key` makes enqueueing the same work idempotent.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import JSON, ForeignKey, Integer, String, Text, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .extensions import db
from .timezones import UTCDateTime, utcnow

TaskFn = Callable[..., Any]
_TASKS: dict[str, TaskFn] = {}


class Job(db.Model):
    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    name: Mapped[str] = mapped_column(String(80), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(String(300), default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def finished(self) -> bool:
        return self.status in {"done", "failed"}


def task(name: str) -> Callable[[TaskFn], TaskFn]:
    """Register a function as a job by a stable name (RQ then needs no import paths)."""

    def register(fn: TaskFn) -> TaskFn:
        _TASKS[name] = fn
        return fn

    return register


def enqueue(
    name: str,
    *,
    actor: Any = None,
    dedupe_key: str | None = None,
    once_per_transaction: bool = False,
    **params: Any,
) -> Job:
    """Create a job in the current transaction; it runs after the transaction commits.

    `once_per_transaction` folds repeated requests (one mail delivery for ten queued messages).
    """
    if name not in _TASKS:
        raise KeyError(f"unknown job {name!r}")
    session = db.session
    if once_per_transaction:
        for job_id in session.info.get("pending_jobs", []):
            pending = session.get(Job, job_id)
            if pending is not None and pending.name == name:
                return pending
    if dedupe_key:
        existing = session.execute(select(Job).where(Job.dedupe_key == dedupe_key)).scalar_one_or_none()
        if existing is not None and existing.status != "failed":
            return existing
        if existing is not None:
            existing.status, existing.error, existing.progress = "queued", None, 0
            session.info.setdefault("pending_jobs", []).append(existing.id)
            return existing
    job = Job(name=name, params=params, dedupe_key=dedupe_key, created_by_id=getattr(actor, "id", None))
    session.add(job)
    session.flush()
    session.info.setdefault("pending_jobs", []).append(job.id)
    return job


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop("pending_jobs", [])
    if pending:
        session.info.setdefault("committed_jobs", []).extend(pending)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop("pending_jobs", None)


def dispatch_committed() -> list[str]:
    """Run (inline) or hand to RQ every job whose transaction has committed."""
    ids = db.session.info.pop("committed_jobs", [])
    for job_id in ids:
        if current_app.config.get("JOBS_INLINE", True):
            run_job(job_id)
        else:
            _rq_queue().enqueue(rq_entry, job_id, job_id=f"job-{job_id}-{uuid.uuid4().hex[:8]}")
    return ids


def _rq_queue():
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(current_app.config["REDIS_URL"])
    return Queue(current_app.config["RQ_QUEUE"], connection=connection)


def run_job(job_id: str) -> Job | None:
    """Execute one job in its own transactions; safe to call again after a crash."""
    job = db.session.get(Job, job_id)
    if job is None or job.status == "done":
        return job
    job.status, job.started_at, job.error = "running", utcnow(), None
    db.session.commit()
    try:
        result = _TASKS[job.name](job=job, **(job.params or {}))
    except Exception:
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.status, job.error, job.finished_at = "failed", traceback.format_exc()[-4000:], utcnow()
        db.session.commit()
        current_app.logger.exception("job %s (%s) failed", job_id, job.name)
        return job
    job.status, job.progress, job.finished_at = "done", 100, utcnow()
    job.result = result if isinstance(result, dict) else {"value": result}
    db.session.commit()
    # A job may itself enqueue follow-up work (a report job queueing mail, say).
    dispatch_committed()
    return job


def stale_jobs(*, older_than_seconds: int) -> list[Job]:
    """Jobs committed but never started (the process that should have dispatched them died) and older
    than the grace period. Running one is safe: a job that meanwhile finished is skipped by run_job, and
    jobs that send mail do so through dedupe keys."""
    from datetime import timedelta

    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    return list(db.session.execute(
        select(Job).where(Job.status == "queued", Job.created_at < cutoff).order_by(Job.created_at)).scalars())


def run_pending(*, older_than_seconds: int = 300) -> list[str]:
    """Dispatch stale queued jobs (inline, or to RQ when configured); for cron after a crash."""
    ids = [job.id for job in stale_jobs(older_than_seconds=older_than_seconds)]
    db.session.info.setdefault("committed_jobs", []).extend(ids)
    return dispatch_committed()


def set_progress(job: Job | None, progress: int, message: str = "") -> None:
    """Record progress and commit it so another process polling the job sees it."""
    if job is None:
        return
    job.progress = max(0, min(99, int(progress)))
    job.message = message[:300]
    db.session.commit()


def rq_entry(job_id: str) -> None:
    """What an RQ worker runs: a fresh app context, then the job."""
    from . import create_app

    app = create_app()
    with app.app_context():
        run_job(job_id)

"""Progress of background jobs, and their downloadable results."""

from __future__ import annotations

from flask import Blueprint, render_template

from .accounts.permissions import staff_required
from .errors import NotFound
from .extensions import db
from .jobs import Job
from .storage import get_storage

bp = Blueprint("jobs", __name__, url_prefix="/staff/jobs")


def _job(job_id: str) -> Job:
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("No such job.")
    return job


@bp.route("/<job_id>")
@staff_required
def show(job_id: str):
    """Refreshes itself (meta refresh, no script needed) until the job finishes."""
    return render_template("jobs/show.html", job=_job(job_id))


@bp.route("/<job_id>.json")
@staff_required
def status(job_id: str):
    job = _job(job_id)
    return {"id": job.id, "status": job.status, "progress": job.progress, "message": job.message,
            "result": job.result if job.status == "done" else None}


@bp.route("/<job_id>/download")
@staff_required
def download(job_id: str):
    job = _job(job_id)
    result = job.result or {}
    if job.status != "done" or "storage_key" not in result:
        raise NotFound("This job has no file to download (yet).")
    return get_storage().download_response(result["storage_key"], filename=result.get("filename", "download"),
                                           content_type=result.get("content_type", "application/zip"))

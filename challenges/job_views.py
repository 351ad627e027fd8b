"""Progress of background jobs, and their downloadable results."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, render_template, url_for

from .accounts.permissions import staff_required
from .errors import NotFound
from .extensions import db
from .jobs import Job
from .models import Phase
from .storage import get_storage

bp = Blueprint("jobs", __name__, url_prefix="/staff/jobs")


def _job(job_id: str) -> Job:
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("No such job.")
    return job


@dataclass(frozen=True)
class JobPage:
    title: str
    result: str  # what the download is, after its size and SHA-256
    back_endpoint: str  # where the job was started (phase pages take slug and phase_id)
    back_label: str


JOB_PAGES = {
    "applications.zip": JobPage("Files of the phase as one ZIP", "The archive contains manifest.csv with every "
                                "file’s size and SHA-256.", "applications.index", "Back to the applications"),
    "reports.award": JobPage("Award report (PDF)", "A tagged PDF; every page’s footer carries the data fingerprint "
                             "of the scores it was computed from.", "panel.leaderboard", "Back to the leaderboard"),
    "judging.score_sheets": JobPage("Blank score sheets (PDF)", "One sheet per entry, with the criterion keys the "
                                    "score import expects.", "panel.import_scores", "Back to score sheets and import"),
    "community.newsletter": JobPage("Sending the newsletter", "", "community_staff.newsletters",
                                    "Back to the newsletters"),
}


@bp.route("/<job_id>")
@staff_required
def show(job_id: str):
    """Refreshes itself (meta refresh, no script needed) until the job finishes."""
    job = _job(job_id)
    page = JOB_PAGES.get(job.name, JobPage(job.name, "", "", ""))
    params, back = job.params or {}, None
    if page.back_endpoint and "phase_id" not in params:
        back = url_for(page.back_endpoint)
    elif page.back_endpoint and (phase := db.session.get(Phase, params["phase_id"])) is not None:
        back = url_for(page.back_endpoint, slug=phase.challenge.slug, phase_id=phase.id)
    return render_template("jobs/show.html", job=job, page=page, back=back)


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

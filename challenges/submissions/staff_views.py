"""Staff pages for applications: table per phase, entry page, screening, disqualify, reinstate, reopen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from ..accounts.permissions import staff_required
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..services import get_challenge, get_phase
from ..storage import get_storage
from ..timezones import TimezoneError, parse_local
from . import exports, services
from .models import Receipt, Screening, Submission, SubmissionStatus

bp = Blueprint("applications", __name__, url_prefix="/staff")


@bp.route("/challenges/<slug>/phases/<int:phase_id>/applications.<fmt>")
@staff_required
def export(slug: str, phase_id: int, fmt: str):
    phase = get_phase(get_challenge(slug), phase_id)
    frame = exports.applications_frame(phase, status=request.args.get("status", ""), query=request.args.get("q", ""))
    name = f"{phase.challenge.slug}-{phase.key}-applications"
    if fmt == "csv":
        body, mimetype = exports.frame_to_csv(frame), "text/csv"
    elif fmt == "xlsx":
        body, mimetype = exports.frame_to_xlsx(frame), \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        raise NotFound("Export as .csv or .xlsx.")
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}.{fmt}"', "X-Content-Type-Options": "nosniff"})


@bp.route("/challenges/<slug>/phases/<int:phase_id>/applications/zip", methods=["POST"])
@staff_required
def request_zip(slug: str, phase_id: int):
    phase = get_phase(get_challenge(slug), phase_id)
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    job = exports.request_zip(actor=current_user, phase=phase)
    db.session.commit()
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route("/challenges/<slug>/phases/<int:phase_id>/applications/email", methods=["GET", "POST"])
@staff_required
def email(slug: str, phase_id: int):
    challenge = get_challenge(slug)
    phase = get_phase(challenge, phase_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        if not FlaskForm().validate_on_submit():
            raise ValidationFailed("The form expired; reload the page and try again.")
        try:
            count = services.email_group(actor=current_user, phase=phase, group=request.form.get("group", ""),
                                         subject=request.form.get("subject", ""), body=request.form.get("body", ""))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = exc.errors or {"form": exc.message}
        else:
            flash(f"Message queued for {count} people.", "success")
            return redirect(url_for("applications.index", slug=slug, phase_id=phase.id))
    return render_template("applications/email.html", challenge=challenge, phase=phase, errors=errors,
                           groups=services.EMAIL_GROUPS, counts=services.status_counts(phase), form=FlaskForm(),
                           values=request.form), 400 if errors else 200


@bp.route("/challenges/<slug>/phases/<int:phase_id>/applications")
@staff_required
def index(slug: str, phase_id: int):
    challenge = get_challenge(slug)
    phase = get_phase(challenge, phase_id)
    status, query = request.args.get("status", ""), request.args.get("q", "")
    return render_template("applications/index.html", challenge=challenge, phase=phase, status=status, q=query,
                           applications=services.list_applications(phase=phase, status=status, query=query),
                           counts=services.status_counts(phase), statuses=list(SubmissionStatus))


def _entry_page(submission, errors: dict[str, str] | None = None, status: int = 200):
    screening = db.session.execute(select(Screening).where(Screening.submission_id == submission.id)
                                   ).scalar_one_or_none()
    receipts = db.session.execute(select(Receipt).where(Receipt.submission_id == submission.id)
                                  .order_by(Receipt.version.desc())).scalars().all()
    return render_template("applications/entry.html", submission=submission, screening=screening,
                           receipts=receipts, items=services.SCREENING_ITEMS, errors=errors or {},
                           form=FlaskForm(), files=submission.current_files(),
                           reinstate_refusal=services.reinstate_refusal(submission),
                           reopen_refusal=services.reopen_refusal(submission)), status


@bp.route("/applications/<int:submission_id>")
@staff_required
def entry(submission_id: int):
    return _entry_page(services.get_for_staff(current_user, submission_id))


@bp.route("/applications/<int:submission_id>/screening", methods=["POST"])
@staff_required
def screening(submission_id: int):
    submission = services.get_for_staff(current_user, submission_id)
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    results = {item: (request.form.get(f"{item}-result") == "pass", request.form.get(f"{item}-reason", ""))
               for item in services.SCREENING_ITEMS if request.form.get(f"{item}-result") in ("pass", "fail")}
    try:
        services.screen(actor=current_user, submission=submission, results=results,
                        decision=request.form.get("decision", ""), reason=request.form.get("reason", ""))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _entry_page(submission, exc.errors or {"form": exc.message}, 400)
    flash("Screening saved.", "success")
    return redirect(url_for("applications.entry", submission_id=submission.id))


def _change_with_reason(submission_id: int, change: Callable[..., Any], done: Callable[[Submission], str]):
    """Disqualify or reinstate: a staff decision with a written reason, refused on the entry page itself."""
    submission = services.get_for_staff(current_user, submission_id)
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    try:
        change(actor=current_user, submission=submission, reason=request.form.get("reason", ""))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _entry_page(submission, exc.errors or {"form": exc.message}, exc.status_code)
    flash(done(submission), "success")
    return redirect(url_for("applications.entry", submission_id=submission.id))


@bp.route("/applications/<int:submission_id>/disqualify", methods=["POST"])
@staff_required
def disqualify(submission_id: int):
    return _change_with_reason(submission_id, services.disqualify, lambda s: f"{s.public_code} is disqualified.")


@bp.route("/applications/<int:submission_id>/reinstate", methods=["POST"])
@staff_required
def reinstate(submission_id: int):
    return _change_with_reason(submission_id, services.reinstate, lambda s: (
        f"{s.public_code} is reinstated as {s.status}; the vendor is told by email."))


@bp.route("/applications/<int:submission_id>/reopen", methods=["POST"])
@staff_required
def reopen(submission_id: int):
    submission = services.get_for_staff(current_user, submission_id)
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    zone = submission.phase.challenge.timezone
    try:
        until = parse_local(request.form.get("until", ""), zone)
    except TimezoneError as exc:  # says which: not a date, a year out of range, or an hour clocks skip
        return _entry_page(submission, {"until": f"{exc} (times are in {zone})"}, 400)
    try:
        services.reopen(actor=current_user, submission=submission, until=until, reason=request.form.get("reason", ""))
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _entry_page(submission, exc.errors or {"form": exc.message}, 400)
    flash("Reopened: the vendor can change and resubmit until the time you set.", "success")
    return redirect(url_for("applications.entry", submission_id=submission.id))


@bp.route("/applications/<int:submission_id>/files/<int:file_id>")
@staff_required
def download(submission_id: int, file_id: int):
    submission = services.get_for_staff(current_user, submission_id)
    record = next((f for f in submission.files if f.id == file_id and f.status in ("stored", "replaced")), None)
    if record is None:
        raise NotFound("No such file.")
    return get_storage().download_response(record.storage_key, filename=record.display_name,
                                           content_type=record.content_type or "application/octet-stream")

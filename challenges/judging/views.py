"""Judge pages: invitation, attestation, conflicts, bids, queue, entry and scoring form."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db, login_manager
from ..storage import get_storage
from ..submissions.models import Submission
from ..timezones import utcnow
from . import services
from .models import BID_VALUES, CONFLICT_TYPES, PanelMember

bp = Blueprint("judging", __name__, url_prefix="/judging")
results_bp = Blueprint("results", __name__)


@results_bp.route("/vendor/applications/<int:submission_id>/feedback")
@login_required
def feedback(submission_id: int):
    """A vendor's feedback, once staff released it (404 before, and for anyone outside the organisation)."""
    from ..submissions.services import get_for_vendor
    from . import feedback as feedback_service

    submission = get_for_vendor(current_user, submission_id)
    return render_template("submissions/feedback.html", **feedback_service.for_vendor(submission))


@results_bp.route("/vendor/applications/<int:submission_id>/feedback.pdf")
@login_required
def feedback_pdf(submission_id: int):
    from flask import Response

    from ..submissions.services import get_for_vendor
    from . import feedback as feedback_service

    submission = get_for_vendor(current_user, submission_id)
    return Response(feedback_service.pdf(submission), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="feedback-{submission.public_code}.pdf"',
        "X-Content-Type-Options": "nosniff"})


@results_bp.route("/challenges/<slug>/winners")
def winners(slug: str):
    """The public winners page, once results are published (a draft or unpublished challenge is 404)."""
    from ..services import get_challenge
    from . import awards

    challenge = get_challenge(slug)
    return render_template("judging/winners.html", challenge=challenge, awards=awards.public_winners(challenge),
                           leaderboards=awards.public_leaderboards(challenge))


def _csrf_ok() -> None:
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")


def _own_member(member_id: int) -> PanelMember:
    member = db.session.get(PanelMember, member_id)
    if member is None or member.user_id != current_user.id or member.status != "active":
        raise NotFound("No such panel.")
    return member


@bp.errorhandler(services.AttestationNeeded)
def _attest_first(exc: services.AttestationNeeded):
    flash(exc.message, "warning")
    return redirect(url_for("judging.attest", member_id=exc.member.id))


@bp.route("/")
@login_required
def queue():
    return render_template("judging/queue.html", panels=services.queue_lines(current_user), now=utcnow(),
                           judging_open=services.judging_open, sees_leaderboard=services.judge_sees_leaderboard)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    form = FlaskForm()
    if form.validate_on_submit():
        actor = current_user._get_current_object()
        if request.form.get("decision") == "decline":
            try:
                member = services.decline_invitation(actor=actor, token=token)
            except DomainError as exc:
                db.session.rollback()
                flash(exc.summary(), "error")
                return redirect(url_for("judging.accept_invitation", token=token))
            db.session.commit()
            flash(f"You declined to judge {member.phase.challenge.title}: {member.phase.name}. Thank you for "
                  "letting the programme team know.", "success")
            return redirect(url_for("judging.queue"))
        member = services.accept_invitation(actor=actor, token=token)
        db.session.commit()
        flash(f"You joined the panel for {member.phase.challenge.title}: {member.phase.name}.", "success")
        return redirect(url_for("judging.attest", member_id=member.id))
    return render_template("judging/invitation.html", form=form, token=token,
                           member=services.invitation_for(token))


@bp.route("/panels/<int:member_id>/attestation", methods=["GET", "POST"])
@login_required
def attest(member_id: int):
    member = _own_member(member_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        _csrf_ok()
        if request.form.get("agree") != "y":
            errors["agree"] = "Tick the box to sign the attestation."
        else:
            try:
                services.attest(actor=current_user, member=member, version=request.form.get("version", ""),
                                affiliations=request.form.get("affiliations", ""))
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                errors = exc.errors or {"agree": exc.message}
            else:
                flash("Thank you: the attestation is signed.", "success")
                return redirect(url_for("judging.queue"))
    typed = request.form.get("affiliations") if request.method == "POST" else None
    return render_template("judging/attest.html", member=member, text=services.ATTESTATION_TEXT,
                           affiliations=typed if typed is not None else "\n".join(member.affiliations or []),
                           version=services.ATTESTATION_VERSION, errors=errors), 400 if errors else 200


@bp.route("/panels/<int:member_id>/conflicts", methods=["GET", "POST"])
@login_required
def conflicts(member_id: int):
    """Declare a conflict with an organisation (typed, so blind judging reveals nothing) or one entry."""
    member = _own_member(member_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        _csrf_ok()
        type_, reason = request.form.get("type", ""), request.form.get("reason", "")
        entry_id, org_name = request.form.get("assignment_id", ""), request.form.get("organization", "").strip()
        try:
            if entry_id:
                assignment = services.judge_assignment(current_user, int(entry_id)) if entry_id.isdigit() else None
                if assignment is None:
                    raise ValidationFailed("Choose an entry from your queue.", {"target": "Choose an entry."})
                services.declare_conflict(actor=current_user, member=member, type_=type_, reason=reason,
                                          submission=assignment.submission)
            elif org_name:
                services.declare_organisation(actor=current_user, member=member, type_=type_, reason=reason,
                                              name=org_name)
            else:
                raise ValidationFailed("Choose an entry or name an organisation.",
                                       {"target": "Choose an entry from your queue or name an organisation."})
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = exc.errors or {"target": exc.message}
        else:
            flash("Your declaration is recorded. Entries it concerns leave your queue.", "success")
            return redirect(url_for("judging.queue"))
    live = dict(services.queue(current_user)).get(member, [])
    return render_template("judging/conflicts.html", member=member, assignments=live, types=CONFLICT_TYPES,
                           errors=errors, form=request.form), 400 if errors else 200


@bp.route("/panels/<int:member_id>/bids", methods=["GET", "POST"])
@login_required
def bids(member_id: int):
    member = _own_member(member_id)
    if not member.attested:
        raise services.AttestationNeeded(member)
    if not member.phase.bids_enabled:
        raise NotFound("Bidding is not open for this phase.")
    entries = services.entries(member.phase)
    if request.method == "POST":
        _csrf_ok()
        try:
            for entry in entries:
                value = request.form.get(f"bid-{entry.id}")
                if value is not None:
                    services.place_bid(actor=current_user, member=member, submission=entry, value=value)
        except DomainError as exc:
            db.session.rollback()  # all or nothing, but the page keeps every choice made, to fix one and resend
            flash(f"Nothing was saved. {exc.message}", "error")
            chosen = {**services.bids_of(member), **{e.id: request.form[f"bid-{e.id}"] for e in entries
                                                     if f"bid-{e.id}" in request.form}}
            return render_template("judging/bids.html", member=member, entries=entries, bids=chosen,
                                   values=BID_VALUES), 400
        db.session.commit()
        flash("Your preferences are saved.", "success")
        return redirect(url_for("judging.bids", member_id=member.id))
    return render_template("judging/bids.html", member=member, entries=entries, bids=services.bids_of(member),
                           values=BID_VALUES)


@bp.route("/panels/<int:member_id>/leaderboard")
@login_required
def leaderboard(member_id: int):
    """The panel's leaderboard for a judge, only as the phase allows: never; after the judge has submitted
    every review; always. No judge identities and no per-judge figures."""
    member = _own_member(member_id)
    if not services.judge_sees_leaderboard(member):
        raise NotFound("The leaderboard is not shown to judges in this phase (yet).")
    return render_template("judging/leaderboard.html", member=member, phase=member.phase,
                           rows=services.judge_leaderboard(member))


@bp.route("/entries/<int:assignment_id>", methods=["GET", "POST"])
@login_required
def entry(assignment_id: int):
    assignment = services.judge_assignment(current_user, assignment_id)
    phase = assignment.panel_member.phase
    review = assignment.review
    rubric = review.rubric if review else phase.rubric
    errors: dict[str, str] = {}
    values: dict = review.values() if review else {}
    comments: dict = review.comments() if review else {}
    overall = review.overall_comment if review else ""
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.method == "POST":
        _csrf_ok()
        values = {c.key: request.form.get(f"score-{c.key}", "") for c in rubric.criteria}
        comments = {c.key: request.form.get(f"comment-{c.key}", "") for c in rubric.criteria}
        overall = request.form.get("overall_comment", "")
        submitting = request.form.get("action") == "submit"
        was_submitted = review is not None and review.status == "submitted"
        try:
            review = services.save_review(actor=current_user, assignment=assignment, values=values,
                                          comments=comments, overall_comment=overall, submit=submitting,
                                          reason=request.form.get("reason", ""))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            if wants_json:
                return jsonify(error=exc.message, errors=exc.errors), 400
            errors = exc.errors or {"form": exc.message}
        else:
            if wants_json:
                return jsonify(status=review.status, complete=services.completion(review, rubric))
            flash("Changes saved; the review history keeps what it said before." if was_submitted
                  else ("Review submitted. Thank you." if review.status == "submitted" else "Draft saved."), "success")
            return redirect(url_for("judging.entry", assignment_id=assignment.id))
    blind = phase.blind
    return render_template(
        "judging/entry.html", assignment=assignment, phase=phase, submission=assignment.submission,
        view=services.blind_view(assignment.submission, blind), rubric=rubric, review=review, values=values,
        comments=comments, overall=overall, errors=errors, others=services.others_reviews(assignment),
        total=services.total_of(review) if review else None, open=services.judging_open(phase),
        complete=services.completion(review, rubric, values if errors else None), total_of=services.total_of,
        must_score=services.must_score,
        next_entry=services.next_in_queue(assignment) if review and review.status == "submitted" else None,
    ), 400 if errors else 200


@bp.route("/entries/<int:assignment_id>/recuse", methods=["POST"])
@login_required
def recuse(assignment_id: int):
    assignment = services.judge_assignment(current_user, assignment_id)
    _csrf_ok()
    try:
        services.recuse(actor=current_user, assignment=assignment, reason=request.form.get("reason", ""))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.summary(), "error")
        return redirect(url_for("judging.entry", assignment_id=assignment.id))
    db.session.commit()
    flash("You recused yourself; programme staff will reassign the entry.", "success")
    return redirect(url_for("judging.queue"))


@bp.route("/entries/<int:assignment_id>/files/<int:file_id>")
@login_required
def download(assignment_id: int, file_id: int):
    assignment = services.judge_assignment(current_user, assignment_id)
    submission: Submission = assignment.submission
    blind = assignment.panel_member.phase.blind
    visible = {stored.id: name for _, stored, name in services.blind_view(submission, blind)["files"] if name}
    record = next((f for f in submission.files if f.id == file_id and f.id in visible), None)
    if record is None:
        raise NotFound("No such file.")
    return get_storage().download_response(record.storage_key, filename=visible[record.id],
                                           content_type=record.content_type or "application/octet-stream")


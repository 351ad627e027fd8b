"""Staff judging pages: panel, conflicts, assignment (manual, CSV, automatic proposals), progress, import."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select

from ..accounts.permissions import staff_required
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import db
from ..models import Phase
from ..services import get_challenge, get_phase
from ..submissions.models import Submission
from ..timezones import TimezoneError, local_to_utc, utcnow
from . import report, services, sheets
from .models import CONFLICT_TYPES, Assignment, AssignmentRun, Conflict, PanelMember
from .statistics import METHODS, PRIMARY_COLUMN

bp = Blueprint("panel", __name__, url_prefix="/staff")
BASE = "/challenges/<slug>/phases/<int:phase_id>"


def _csrf_ok() -> None:
    if not FlaskForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")


INT_LIMIT = 2_000_000_000


def _int(name: str, default: int | None = None) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationFailed("Enter whole numbers.", {name: "Enter a whole number."}) from exc
    if abs(value) > INT_LIMIT:  # database integers are 32-bit; a bigger number is a typing slip
        raise ValidationFailed("Enter smaller numbers.", {name: f"Enter a whole number up to {INT_LIMIT:,}."})
    return value


def _local_time(name: str, zone: str, *, required: bool) -> datetime | None:
    """A wall-clock time typed in the challenge's zone, as UTC (None when blank and optional)."""
    raw = (request.form.get(name) or "").strip()
    if not raw and not required:
        return None
    try:
        return local_to_utc(datetime.fromisoformat(raw), zone)
    except TimezoneError as exc:
        raise ValidationFailed("Enter a date and time.", {name: str(exc)}) from exc
    except ValueError as exc:
        raise ValidationFailed("Enter a date and time.", {
            name: "Enter a date and time such as 2026-12-01T17:00."}) from exc


def _phase(slug: str, phase_id: int):
    challenge = get_challenge(slug)
    return challenge, get_phase(challenge, phase_id)


def _back(endpoint: str, phase) -> Response:
    return redirect(url_for(endpoint, slug=phase.challenge.slug, phase_id=phase.id))


def _refused(exc: DomainError) -> None:
    """A row action that cannot be done: say why on the page it came from, change nothing."""
    db.session.rollback()
    flash(exc.summary(), "error")


@bp.route(BASE + "/panel", methods=["GET", "POST"])
@staff_required
def panel(slug: str, phase_id: int):
    challenge, phase = _phase(slug, phase_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        _csrf_ok()
        try:
            member = services.invite_judge(
                actor=current_user, phase=phase, email=request.form.get("email", ""),
                expertise=request.form.get("expertise", ""), max_load=_int("max_load", 10),
                min_load=_int("min_load", 0), agency=request.form.get("agency", ""),
                is_chair=request.form.get("is_chair") == "y")
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = exc.errors or {"email": exc.message}
        else:
            flash(f"Invitation sent to {member.email}.", "success")
            return _back("panel.panel", phase)
    return render_template("judging/staff/panel.html", challenge=challenge, phase=phase,
                           members=services.panel(phase), errors=errors, form=request.form), 400 if errors else 200


def _member(member_id: int) -> PanelMember:
    member = db.session.get(PanelMember, member_id)
    if member is None:
        raise NotFound("No such judge.")
    return member


@bp.route("/panel-members/<int:member_id>", methods=["POST"])
@staff_required
def update_member(member_id: int):
    member = _member(member_id)
    phase = member.phase
    _csrf_ok()
    try:
        if request.form.get("action") == "remove":
            services.remove_member(actor=current_user, member=member, reason=request.form.get("reason", ""))
            done = f"{member.email} left the panel."
        elif request.form.get("action") == "resend":
            services.resend_invitation(actor=current_user, member=member)
            done = f"A new invitation link was sent to {member.email}; it works for 30 days."
        else:
            services.update_member(actor=current_user, member=member, expertise=request.form.get("expertise", ""),
                                   max_load=_int("max_load", member.max_load), min_load=_int("min_load", 0),
                                   agency=request.form.get("agency", ""), is_chair=request.form.get("is_chair") == "y")
            done = f"Saved {member.email}."
    except DomainError as exc:
        _refused(exc)
    else:
        db.session.commit()
        flash(done, "success")
    return _back("panel.panel", phase)


@bp.route(BASE + "/conflicts", methods=["GET", "POST"])
@staff_required
def conflicts(slug: str, phase_id: int):
    challenge, phase = _phase(slug, phase_id)
    errors: dict[str, str] = {}
    if request.method == "POST" and request.form.get("action") == "recheck":
        _csrf_ok()
        found = services.detect_suspected(phase)
        db.session.commit()
        flash(f"Checked again: {len(found)} new suspected conflict(s)." if found
              else "Checked again: no new suspected conflicts.", "success")
        return _back("panel.conflicts", phase)
    if request.method == "POST":
        _csrf_ok()
        try:
            member = db.session.get(PanelMember, _int("member_id", 0) or 0)
            if member is None or member.phase_id != phase.id:
                raise ValidationFailed("Choose a judge.", {"member_id": "Choose a judge."})
            target = request.form.get("target", "")
            entry = org = None
            if target.startswith("s") and target[1:].isdigit():
                entry = db.session.get(Submission, int(target[1:]))
            elif target.startswith("o"):
                org = next((s.organization for s in services.entries(phase)
                            if str(s.organization_id) == target[1:]), None)
            services.pin_conflict(actor=current_user, member=member, type_=request.form.get("type", ""),
                                  reason=request.form.get("reason", ""), organization=org, submission=entry)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = exc.errors or {"form": exc.message}
        else:
            flash("Conflict recorded; any assignment it touches was withdrawn.", "success")
            return _back("panel.conflicts", phase)
    rows = db.session.query(Conflict).filter(Conflict.phase_id == phase.id).order_by(
        Conflict.status.desc(), Conflict.id).all()
    entries = services.entries(phase)
    organizations = sorted({s.organization for s in entries}, key=lambda o: o.legal_name)
    return render_template("judging/staff/conflicts.html", challenge=challenge, phase=phase, conflicts=rows,
                           members=[m for m in services.panel(phase) if m.status in ("active", "invited")],
                           entries=entries, organizations=organizations, types=CONFLICT_TYPES,
                           errors=errors, form=request.form), 400 if errors else 200


@bp.route("/conflicts/<int:conflict_id>/decide", methods=["POST"])
@staff_required
def decide_conflict(conflict_id: int):
    conflict = db.session.get(Conflict, conflict_id)
    if conflict is None:
        raise NotFound("No such conflict.")
    _csrf_ok()
    decision = request.form.get("decision")
    phase = conflict.panel_member.phase
    try:
        if decision == "lift":
            services.lift_conflict(actor=current_user, conflict=conflict, reason=request.form.get("reason", ""))
            done = (f"Conflict lifted: {conflict.panel_member.email} may now be assigned again "
                    "(nothing was assigned automatically).")
        elif decision in ("confirm", "dismiss"):
            services.decide_suspected(actor=current_user, conflict=conflict, confirm=decision == "confirm",
                                      reason=request.form.get("reason", ""))
            done = ("Conflict confirmed; any assignment it touches was withdrawn." if decision == "confirm"
                    else "Suspected conflict dismissed.")
        else:
            raise ValidationFailed("Choose confirm, dismiss or lift.")
    except DomainError as exc:
        _refused(exc)
    else:
        db.session.commit()
        flash(done, "success")
    return _back("panel.conflicts", phase)


@bp.route(BASE + "/assignments", methods=["GET", "POST"])
@staff_required
def assignments(slug: str, phase_id: int):
    challenge, phase = _phase(slug, phase_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        _csrf_ok()
        action = request.form.get("action")
        if action in ("manual", "import"):  # conflicts are checked again whenever assignments change
            services.detect_suspected(phase)
            db.session.commit()
        try:
            if action == "manual":
                member = db.session.get(PanelMember, _int("member_id", 0) or 0)
                entry = db.session.get(Submission, _int("submission_id", 0) or 0)
                if member is None or member.phase_id != phase.id or entry is None:
                    raise ValidationFailed("Choose a judge and an entry.", {"manual": "Choose a judge and an entry."})
                services.assign(actor=current_user, member=member, submission=entry)
                message = f"Assigned {entry.public_code} to {member.email}."
            elif action == "import":
                upload = request.files.get("file")
                if upload is None or not upload.filename:
                    raise ValidationFailed("Choose a CSV file.", {"file": "Choose a CSV file with entry,judge."})
                try:
                    text = upload.read(2_000_000).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValidationFailed("Save the file as UTF-8 CSV.", {"file": "Not a UTF-8 CSV file."}) from exc
                count = services.import_pairs(actor=current_user, phase=phase, text=text)
                message = f"Imported: {count} new assignment(s); pairs already assigned were left as they were."
            elif action == "propose":
                run = services.propose(actor=current_user, phase=phase, mode=request.form.get("mode", "assign"),
                                       k=_int("k"), max_load=_int("max_load"), agency_cap=_int("agency_cap"),
                                       seed=_int("seed", 0) or 0)
                message = f"Proposal {run.id} is ready: review it below, then approve or discard it."
            else:
                raise ValidationFailed("Choose an action.")
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            if action == "propose":  # the settings' own messages, and the solver's reason (naming entries)
                fields = {k: v for k, v in (exc.errors or {}).items() if k in ("mode", "k", "max_load", "agency_cap",
                                                                              "seed")}
                errors = fields or {"form": exc.message}
            else:
                errors = exc.errors or {"form": exc.message}
        else:
            flash(message, "success")
            return _back("panel.assignments", phase)
    members = services.panel(phase)
    entries = services.entries(phase)
    live = list(db.session.execute(services.with_relations(select(Assignment).where(
        Assignment.phase_id == phase.id).order_by(Assignment.submission_id, Assignment.id))).scalars())
    return render_template("judging/staff/assignments.html", challenge=challenge, phase=phase, members=members,
                           entries=entries, assignments=live, runs=services.runs(phase), errors=errors,
                           form=request.form, email_of={m.id: m.email for m in members},
                           code_of={s.id: s.public_code for s in entries}), 400 if errors else 200


@bp.route(BASE + "/assignments.csv")
@staff_required
def export_assignments(slug: str, phase_id: int):
    _, phase = _phase(slug, phase_id)
    return Response(services.export_pairs(phase), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{phase.challenge.slug}-{phase.key}-assignments.csv"',
        "X-Content-Type-Options": "nosniff"})


@bp.route("/assignment-runs/<int:run_id>", methods=["POST"])
@staff_required
def decide_run(run_id: int):
    run = db.session.get(AssignmentRun, run_id)
    if run is None:
        raise NotFound("No such proposal.")
    _csrf_ok()
    phase = db.session.get(Phase, run.phase_id)
    try:
        if request.form.get("decision") == "approve":
            created = services.approve_run(actor=current_user, run=run)
            flash(f"Approved: {len(created)} assignment(s) made and the judges told.", "success")
        else:
            services.discard_run(actor=current_user, run=run)
            flash("Proposal discarded.", "success")
        db.session.commit()
    except DomainError as exc:
        db.session.commit()  # keeps a proposal marked stale
        flash(exc.message, "error")
    return _back("panel.assignments", phase)


@bp.route("/assignments/<int:assignment_id>/remove", methods=["POST"])
@staff_required
def remove_assignment(assignment_id: int):
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound("No such assignment.")
    _csrf_ok()
    phase = assignment.panel_member.phase
    try:
        services.unassign(actor=current_user, assignment=assignment, reason=request.form.get("reason", ""))
    except DomainError as exc:
        _refused(exc)
    else:
        db.session.commit()
        flash("Assignment withdrawn.", "success")
    return _back("panel.assignments", phase)


@bp.route(BASE + "/progress", methods=["GET", "POST"])
@staff_required
def progress(slug: str, phase_id: int):
    challenge, phase = _phase(slug, phase_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        _csrf_ok()
        action = request.form.get("action")
        if action in ("manual", "import"):  # conflicts are checked again whenever assignments change
            services.detect_suspected(phase)
            db.session.commit()
        try:
            if action == "remind":
                ids = [int(v) for v in request.form.getlist("member_id") if v.isdigit()] or None
                count = services.send_reminders(actor=current_user, phase=phase, member_ids=ids)
                message = f"Reminder sent to {count} judge(s) (at most once a day each)."
            elif action in ("close", "reopen"):
                services.close_judging(actor=current_user, phase=phase, reopen=action == "reopen")
                message = "Judging closed: reviews can no longer change." if action == "close" else "Judging reopened."
            elif action == "due":
                due = _local_time("reviews_due_at", challenge.timezone, required=False)
                services.set_due(actor=current_user, phase=phase, due=due)
                message = "Review deadline saved."
            else:
                raise ValidationFailed("Choose an action.")
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = exc.errors or {"form": exc.message}
        else:
            flash(message, "success")
            return _back("panel.progress", phase)
    judges, per_entry = services.progress(phase)
    now = utcnow()
    return render_template("judging/staff/progress.html", challenge=challenge, phase=phase, judges=judges,
                           entries=per_entry, errors=errors, overdue={j.member.id for j in judges
                                                                      if services.is_overdue(phase, j, now)},
                           judging_open=services.judging_open(phase, now)), 400 if errors else 200


@bp.route(BASE + "/advance", methods=["GET", "POST"])
@staff_required
def advance(slug: str, phase_id: int):
    """Rounds: advance selected entries to a later phase, whose vendors are invited to apply there."""
    from ..submissions import services as applications
    from . import results

    challenge, phase = _phase(slug, phase_id)
    later = [p for p in challenge.phases if p.order > phase.order]
    errors: dict[str, str] = {}
    if request.method == "POST":
        _csrf_ok()
        try:
            to_phase = next((p for p in later if str(p.id) == request.form.get("to_phase")), None)
            if to_phase is None:
                raise ValidationFailed("Choose the next phase.", {"to_phase": "Choose a later phase."})
            accept_by = _local_time("accept_by", challenge.timezone, required=True)
            chosen = {int(v) for v in request.form.getlist("entry") if v.isdigit()}
            picked = [s for s in services.entries(phase) if s.id in chosen]
            created = applications.advance(actor=current_user, phase=phase, submissions=picked, to_phase=to_phase,
                                           accept_by=accept_by)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = exc.errors or {"form": exc.message}
        else:
            flash(f"Advanced {len(created)} entr{'y' if len(created) == 1 else 'ies'} to {to_phase.name}; "
                  "their applicants were emailed.", "success")
            return _back("panel.advance", phase)
    _, per_entry = services.progress(phase)
    # Ranked as on the leaderboard (primary method), so staff advance the strongest entries knowingly.
    _, rows = results.cached_leaderboard(phase)
    ranked = {r["entry"]: r for r in rows}
    per_entry = sorted(per_entry, key=lambda e: (ranked[e.submission.public_code]["rank"]
                                                 if e.submission.public_code in ranked else len(rows) + 1,
                                                 e.submission.public_code or ""))
    return render_template("judging/staff/advance.html", challenge=challenge, phase=phase, later=later,
                           entries=per_entry, advanced=applications.advancements_from(phase), errors=errors,
                           form=request.form, now=utcnow(), ranked=ranked, method=phase.primary_method,
                           column=PRIMARY_COLUMN[phase.primary_method]), 400 if errors else 200


@bp.route(BASE + "/leaderboard")
@staff_required
def leaderboard(slug: str, phase_id: int):
    from . import results

    challenge, phase = _phase(slug, phase_id)
    method = request.args.get("method") or phase.primary_method
    if method not in METHODS:
        raise ValidationFailed("Choose a method.", {"method": "Choose one of the listed methods."})
    # Bootstrap, statistics, charts and the table are computed once per method and data version.
    computed = results.cache.get(phase, ("staff leaderboard", method), lambda: _leaderboard_results(phase, method))
    return render_template("judging/staff/leaderboard.html", challenge=challenge, phase=phase, method=method,
                           methods=METHODS, quorum=results.quorum(phase), results=computed)


def _leaderboard_results(phase: Phase, method: str) -> dict:
    """The data part of the leaderboard page: one read of the scores, the table and charts as HTML."""
    from .. import charts
    from . import results

    scores = results.score_rows(phase)
    board, rows = results.phase_leaderboard(phase, method=method, scores=scores)
    totals = results.review_totals(scores)
    by_entry = totals.groupby("entry")["T"].apply(list).to_dict() if len(totals) else {}
    interval = charts.interval_chart(
        [(r["entry"], r["rank"], r["rank_low"] or r["rank"], r["rank_high"] or r["rank"]) for r in rows],
        title="Rank intervals", desc="For each entry, its rank (dot) and the 95 % bootstrap interval of its rank "
                                     "(line); rank 1 is on the left. The same figures are in the table.",
        highest=max(len(rows), 2))
    strip = charts.strip_chart([(r["entry"], by_entry.get(r["entry"], [])) for r in rows],
                               title="Review totals per entry", desc="Each dot is one judge's review total "
                               "(0 to 100) for the entry, in leaderboard order.")
    body = render_template("judging/staff/_leaderboard_results.html", rows=rows, board=board, method=method,
                           primary=PRIMARY_COLUMN[method], interval=interval, strip=strip)
    return {"count": len(rows), "seed": board.seed, "body": Markup(body),  # noqa: S704 - rendered autoescaped
            "fingerprint": results.fingerprint(phase, method, scores=scores)}


@bp.route(BASE + "/exports/<name>.<fmt>")
@staff_required
def export(slug: str, phase_id: int, name: str, fmt: str):
    """scores (long format, the fingerprint's input), leaderboard, progress; as .csv or .xlsx. Text that a
    spreadsheet would run as a formula is neutralised in both (see challenges/exports.py)."""
    from ..exports import frame_to_xlsx
    from . import results

    _, phase = _phase(slug, phase_id)
    if name == "scores":
        frame = results.scores_export(phase)
    elif name == "leaderboard":
        method = request.args.get("method") or None
        if method is not None and method not in METHODS:
            raise ValidationFailed(f"Choose a method: {', '.join(METHODS)}.")
        frame = results.leaderboard_frame(results.phase_leaderboard(phase, method=method)[1])
    elif name == "progress":
        frame = results.progress_frame(phase)
    else:
        raise NotFound("Export scores, leaderboard or progress.")
    if fmt == "csv":
        body, mimetype = results.canonical_csv(frame), "text/csv"
    elif fmt == "xlsx":
        body, mimetype = frame_to_xlsx(frame, sheet_name=name.capitalize()), \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        raise NotFound("Export as .csv or .xlsx.")
    filename = f"{phase.challenge.slug}-{phase.key}-{name}.{fmt}"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"})


@bp.route(BASE + "/statistics")
@staff_required
def statistics(slug: str, phase_id: int):
    from .. import charts
    from . import results

    challenge, phase = _phase(slug, phase_id)
    data = results.phase_statistics(phase)
    leniency = charts.bar_chart(
        [(j["judge"], j["calibration_offset"] or 0) for j in data["judges"]], diverging=True, unit=" pts",
        title="Judge leniency (calibration offset)", desc="Points each judge adds to (right) or takes from "
        "(left) the entries they score, as estimated by the calibrated model. The table gives the figures.")
    rubric = {c.key: c for c in (phase.rubric.criteria if phase.rubric else [])}
    histograms = []
    for c in data["criteria"]:
        criterion = rubric.get(c["criterion"])
        name = criterion.name if criterion else c["criterion"]
        counts = dict(c["histogram"])
        points = round((criterion.scale_max - criterion.scale_min) / criterion.step) \
            if criterion is not None and criterion.step else 0
        if 0 < points <= 20:
            # Every point of the scale, so a score nobody gave shows as an empty bar rather than vanishing.
            scale = [criterion.scale_min + n * criterion.step for n in range(points + 1)]
            counts = {results._num(v): counts.get(results._num(v), 0) for v in scale} | counts
            counts = dict(sorted(counts.items()))
        histograms.append((c, name, criterion, charts.bar_chart(
            [(f"score {k:g}", v) for k, v in counts.items()], title=f"Scores given for {name}",
            desc=f"How many times each score on the scale was given for {name}.")))
    return render_template("judging/staff/statistics.html", challenge=challenge, phase=phase, data=data,
                           leniency=leniency, histograms=histograms, rubric=rubric)


@bp.route(BASE + "/awards", methods=["GET", "POST"])
@staff_required
def awards(slug: str, phase_id: int):
    from . import awards as award_service
    from . import results

    challenge, phase = _phase(slug, phase_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        _csrf_ok()
        try:
            entry = db.session.get(Submission, _int("submission_id", 0) or 0)
            if entry is None:
                raise ValidationFailed("Choose an entry.", {"entry": "Choose an entry from the leaderboard."})
            award = award_service.record_award(
                actor=current_user, phase=phase, submission=entry, place=_int("place"), title=request.form.get(
                    "title", ""), amount=_int("amount"), justification=request.form.get("justification", ""),
                override_reason=request.form.get("override_reason", ""))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = exc.errors or {"form": exc.message}
        else:
            flash(f"Recorded {award.title} for {entry.public_code}; another staff member must approve it.", "success")
            return _back("panel.awards", phase)
    _, rows = results.cached_leaderboard(phase)
    return render_template("judging/staff/awards.html", challenge=challenge, phase=phase, rows=rows,
                           awards=award_service.award_rows(phase, rows=rows), errors=errors,
                           published=challenge.status in award_service.PUBLIC,
                           still_judging=award_service.phases_still_judging(challenge),
                           form=request.form, entry_ids={s.public_code: s.id for s in services.entries(phase)}
                           ), 400 if errors else 200


@bp.route("/awards/<int:award_id>", methods=["POST"])
@staff_required
def decide_award(award_id: int):
    from . import awards as award_service
    from .models import Award

    award = db.session.get(Award, award_id)
    if award is None:
        raise NotFound("No such award.")
    _csrf_ok()
    phase = award.phase
    try:
        if request.form.get("decision") == "approve":
            award_service.approve_award(actor=current_user, award=award)
            done = "Award approved."
        else:
            award_service.withdraw_award(actor=current_user, award=award, reason=request.form.get("reason", ""))
            done = "Award withdrawn."
    except DomainError as exc:
        _refused(exc)
    else:
        db.session.commit()
        flash(done, "success")
    return _back("panel.awards", phase)


@bp.route("/challenges/<slug>/publish-results", methods=["POST"])
@staff_required
def publish_results(slug: str):
    from . import awards as award_service

    challenge = get_challenge(slug)
    _csrf_ok()
    try:
        sent = award_service.publish_results(actor=current_user, challenge=challenge)
    except DomainError as exc:
        _refused(exc)
        phase = next((p for p in challenge.phases if p.id == request.form.get("phase_id", type=int)),
                     challenge.phases[0] if challenge.phases else None)
        return _back("panel.awards", phase) if phase else redirect(url_for("public.home"))
    db.session.commit()
    flash(f"Results published; {sent} email(s) to applicants are on their way.", "success")
    return redirect(url_for("results.winners", slug=challenge.slug))


@bp.route(BASE + "/feedback", methods=["GET", "POST"])
@staff_required
def feedback(slug: str, phase_id: int):
    """Every comment that vendors would see, with redaction; then release."""

    from . import feedback as feedback_service
    from .models import Review, Score

    challenge, phase = _phase(slug, phase_id)
    if request.method == "POST":
        _csrf_ok()
        action = request.form.get("action", "")
        if action == "release":
            try:
                sent = feedback_service.release(actor=current_user, phase=phase)
            except DomainError as exc:
                _refused(exc)
                return _back("panel.feedback", phase)
            flash(f"Feedback released; {sent} email(s) to applicants are on their way.", "success")
        elif action.startswith(("hide-", "show-")):
            # The button says what it wants (hide-score-12, show-review-3), so sending it twice is harmless.
            verb, kind, raw_id = [*action.split("-", 2), "", ""][:3]
            if kind not in ("score", "review") or not raw_id.isdigit() or len(raw_id) > 9:
                raise ValidationFailed("Choose a comment to hide or show.")
            target = db.session.get(Score if kind == "score" else Review, int(raw_id))
            review = target.review if isinstance(target, Score) else target
            if review is None or review.assignment.phase_id != phase.id:
                raise NotFound("No such comment.")
            redacted = verb == "hide"
            changed = feedback_service.set_redaction(actor=current_user, target=target, redacted=redacted)
            if changed:
                flash("Comment hidden from the applicant." if redacted else "Comment shown again.", "success")
            else:
                flash("That comment was already hidden." if redacted else "That comment was already shown.", "info")
        else:
            raise ValidationFailed("Choose an action.")
        db.session.commit()
        return _back("panel.feedback", phase)
    entries = services.entries(phase)
    reviews = feedback_service.counted_reviews_of(entries)
    return render_template("judging/staff/feedback.html", challenge=challenge, phase=phase, entries=entries,
                           reviews=reviews, judging_over=services.judging_over(phase))


@bp.route(BASE + "/award-report", methods=["POST"])
@staff_required
def award_report(slug: str, phase_id: int):
    _, phase = _phase(slug, phase_id)
    _csrf_ok()
    method = request.form.get("method") or None
    job = report.request_report(actor=current_user, phase=phase, method=method)
    db.session.commit()
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route(BASE + "/score-sheets", methods=["POST"])
@staff_required
def score_sheets(slug: str, phase_id: int):
    _, phase = _phase(slug, phase_id)
    _csrf_ok()
    job = sheets.request_sheets(actor=current_user, phase=phase)
    db.session.commit()
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route(BASE + "/import-scores", methods=["GET", "POST"])
@staff_required
def import_scores(slug: str, phase_id: int):
    challenge, phase = _phase(slug, phase_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        _csrf_ok()
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise ValidationFailed("Choose a CSV file.", {"file": "Choose a CSV file."})
            try:
                text = upload.read(20_000_000).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValidationFailed("Save the file as UTF-8 CSV.", {"file": "Not a UTF-8 CSV file."}) from exc
            result = services.import_scores(actor=current_user, challenge=challenge, phase=phase, text=text,
                                            create_missing=request.form.get("create_missing") == "y")
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = {"file": exc.message}
            details = (exc.errors or {}).get("file", "")
            if details and details != "header":
                errors.update({f"line{n}": line for n, line in enumerate(details.splitlines()[:50])})
        else:
            flash(f"Imported: {result.reviews_created} new review(s), {result.reviews_updated} changed, "
                  f"{result.reviews_unchanged} unchanged.", "success")
            return _back("panel.progress", phase)
    return render_template("judging/staff/import.html", challenge=challenge, phase=phase,
                           errors=errors), 400 if errors else 200

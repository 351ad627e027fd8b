"""Public challenge pages and staff authoring. Thin: parse → service → commit → redirect."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm

from . import definition, services
from .accounts.permissions import staff_required
from .errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from .extensions import db
from .forms import (
    CloneForm,
    CriterionForm,
    DeleteDraftForm,
    FieldForm,
    GeneralForm,
    ImportForm,
    JudgingForm,
    NewChallengeForm,
    NoteForm,
    PhaseForm,
    PrizesForm,
    PublicFilterForm,
    RulesForm,
    TransitionForm,
    parse_anchors,
)
from .forms_support import attach_errors, attempt, check_version
from .models import Challenge, ChallengeStatus, Criterion, FormField, Phase
from .permissions import get_visible_challenge
from .timezones import utc_to_local, utcnow

public_bp = Blueprint("public", __name__)
bp = Blueprint("challenges", __name__)


# --- public -------------------------------------------------------------------------------


@public_bp.route("/")
def home():
    now = utcnow()
    open_now = services.list_public_challenges(state="open", now=now)
    upcoming = services.list_public_challenges(state="upcoming", now=now)
    return render_template("public/home.html", open_now=open_now, upcoming=upcoming, now=now,
                           public_state=services.public_state, next_deadline=services.next_deadline)


@public_bp.route("/healthz")
def healthz():
    return {"status": "ok"}


@bp.route("/challenges")
def index():
    form = PublicFilterForm(request.args)
    form.agency.choices = [("", "Any agency")] + [(a, a) for a in services.public_agencies()]
    now = utcnow()
    found = services.list_public_challenges(
        query=form.q.data or "", agency=form.agency.data or "", state=form.state.data or "", now=now
    )
    return render_template("challenges/index.html", challenges=found, form=form, now=now,
                           public_state=services.public_state, next_deadline=services.next_deadline)


@bp.route("/challenges/<slug>")
def detail(slug: str):
    challenge = get_visible_challenge(slug, current_user)
    now = utcnow()
    return render_template("challenges/detail.html", challenge=challenge, now=now,
                           state=services.public_state(challenge, now),
                           next_phase=services.next_deadline(challenge, now))


@bp.route("/challenges/<slug>/rules/<sha256>")
def rules_version(slug: str, sha256: str):
    """One version of the official rules, as applicants accepted it: the same visibility as the challenge."""
    challenge = get_visible_challenge(slug, current_user)
    version = services.rules_version(challenge, sha256)
    versions = services.rules_versions(challenge)
    later = next((v for v in versions if v.created_at > version.created_at), None)
    return render_template("challenges/rules_version.html", challenge=challenge, version=version,
                           superseded=later, current=version.sha256 == challenge.rules_version)


# --- staff: list, create, import ----------------------------------------------------------


def _staff_challenge(slug: str) -> Challenge:
    return services.get_challenge(slug)


def _phase(challenge: Challenge, phase_id: int) -> Phase:
    return services.get_phase(challenge, phase_id)


def _handle(form: FlaskForm, save: Callable[[], Any], *, success: str, redirect_to: Callable[[Any], str],
            template: str, edits: Any = None, **context: Any):
    """The one shape of every authoring POST: validate, save, commit or show errors in place. `edits` is
    the row the form changes: a save that started from an older version of it is refused (409)."""
    extra: dict[str, str] = {}
    status = 200
    if request.method == "GET":
        check_version(form, edits)  # stamps the version the editor starts from
    elif form.validate_on_submit():
        try:
            check_version(form, edits)
            result = save()
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            extra = attach_errors(form, exc)
            status = 409 if "version" in (exc.errors or {}) else 400
        else:
            flash(success, "success")
            return redirect(redirect_to(result))
    if request.method == "POST":
        status = status if status != 200 else 400
    return render_template(template, form=form, extra_errors=extra, **context), status


@bp.route("/staff/challenges")
@staff_required
def manage():
    status = request.args.get("status", "")
    query = request.args.get("q", "")
    found = services.list_for_staff(status=status, query=query)
    return render_template("challenges/manage.html", challenges=found, status=status, q=query,
                           statuses=list(ChallengeStatus))


@bp.route("/staff/challenges/new", methods=["GET", "POST"])
@staff_required
def new():
    form = NewChallengeForm()
    return _handle(
        form,
        lambda: services.create_challenge(
            actor=current_user, title=form.title.data, slug=form.slug.data, agency=form.agency.data or "",
            summary=form.summary.data or "", timezone=form.timezone.data,
        ),
        success="Challenge created as a draft. Fill in each section, then send it for approval.",
        redirect_to=lambda c: url_for("challenges.overview", slug=c.slug),
        template="challenges/new.html",
    )


@bp.route("/staff/challenges/import", methods=["GET", "POST"])
@staff_required
def import_definition():
    form = ImportForm()
    extra: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            challenge = definition.import_definition(actor=current_user, data=form.file.data.read())
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            extra = {path: f"{path}: {text}" for path, text in exc.errors.items()} or {"file": exc.message}
        else:
            flash(f"Imported “{challenge.title}” as a draft.", "success")
            return redirect(url_for("challenges.overview", slug=challenge.slug))
    status = 400 if request.method == "POST" else 200
    return render_template("challenges/import.html", form=form, extra_errors=extra), status


# --- staff: one challenge -----------------------------------------------------------------


def _transition_form(challenge: Challenge) -> tuple[TransitionForm, list[ChallengeStatus]]:
    transitions = sorted(services.TRANSITIONS.get(challenge.status_enum, set()),
                         key=lambda s: list(ChallengeStatus).index(s))
    form = TransitionForm()
    form.to.choices = [(s.value, s.label) for s in transitions if s is not ChallengeStatus.RESULTS_PUBLISHED]
    return form, transitions


def _overview_page(challenge: Challenge, *, failed_form: FlaskForm | None = None,
                   errors: dict[str, str] | None = None, status: int = 400):
    """The overview; a refused status change comes back on it with why and the form as it was sent."""
    transition_form, transitions = _transition_form(challenge)
    if isinstance(failed_form, TransitionForm):
        failed_form.to.choices, transition_form = transition_form.to.choices, failed_form
    failed = bool(errors or (failed_form is not None and failed_form.errors))
    return render_template(
        "challenges/overview.html", challenge=challenge,
        problems=services.completeness_problems(challenge), failed_form=failed_form, overview_errors=errors or {},
        transition_form=transition_form,
        note_form=failed_form if isinstance(failed_form, NoteForm) else NoteForm(),
        transitions=transitions, clone_form=CloneForm(data=services.copy_defaults(challenge)),
        form_editable=services.phases_editable(challenge, "form"),
        delete_form=failed_form if isinstance(failed_form, DeleteDraftForm) else DeleteDraftForm(),
    ), status if failed else 200


@bp.route("/staff/challenges/<slug>")
@staff_required
def overview(slug: str):
    return _overview_page(_staff_challenge(slug))


@bp.route("/staff/challenges/<slug>/general", methods=["GET", "POST"])
@staff_required
def edit_general(slug: str):
    challenge = _staff_challenge(slug)
    form = GeneralForm(obj=challenge)
    return _handle(
        form,
        lambda: services.update_general(
            actor=current_user, challenge=challenge, title=form.title.data, slug=form.slug.data,
            agency=form.agency.data or "", summary=form.summary.data or "",
            description_md=form.description_md.data or "", timezone=form.timezone.data,
        ),
        success="General information saved.",
        redirect_to=lambda c: url_for("challenges.overview", slug=c.slug),
        template="challenges/section_general.html", challenge=challenge, edits=challenge,
    )


@bp.route("/staff/challenges/<slug>/prizes", methods=["GET", "POST"])
@staff_required
def edit_prizes(slug: str):
    challenge = _staff_challenge(slug)
    form = PrizesForm(obj=challenge)
    return _handle(
        form,
        lambda: services.update_prizes(actor=current_user, challenge=challenge,
                                       prize_total=form.prize_total.data, awards_md=form.awards_md.data or ""),
        success="Prizes and awards saved.",
        redirect_to=lambda c: url_for("challenges.overview", slug=c.slug),
        template="challenges/section_prizes.html", challenge=challenge, edits=challenge,
    )


@bp.route("/staff/challenges/<slug>/rules", methods=["GET", "POST"])
@staff_required
def edit_rules(slug: str):
    challenge = _staff_challenge(slug)
    form = RulesForm(obj=challenge)
    return _handle(
        form,
        lambda: services.update_rules(actor=current_user, challenge=challenge,
                                      eligibility_md=form.eligibility_md.data or "",
                                      rules_md=form.rules_md.data or ""),
        success="Eligibility and rules saved.",
        redirect_to=lambda c: url_for("challenges.overview", slug=c.slug),
        template="challenges/section_rules.html", challenge=challenge, edits=challenge,
    )


def _phase_form(challenge: Challenge, phase: Phase | None) -> PhaseForm:
    if phase is None or request.method == "POST":
        return PhaseForm()
    form = PhaseForm(obj=phase)
    if request.method == "GET":
        form.opens_at.data = utc_to_local(phase.opens_at, challenge.timezone).replace(tzinfo=None)
        form.closes_at.data = utc_to_local(phase.closes_at, challenge.timezone).replace(tzinfo=None)
    return form


def _save_phase(challenge: Challenge, phase: Phase | None, form: PhaseForm) -> Callable[[], Phase]:
    return lambda: services.save_phase(
        actor=current_user, challenge=challenge, phase=phase, key=form.key.data, name=form.name.data,
        description_md=form.description_md.data or "", opens_local=form.opens_at.data,
        closes_local=form.closes_at.data, grace_seconds=form.grace_seconds.data,
        max_submissions_per_org=form.max_submissions_per_org.data,
    )


@bp.route("/staff/challenges/<slug>/timeline", methods=["GET", "POST"])
@staff_required
def timeline(slug: str):
    challenge = _staff_challenge(slug)
    form = _phase_form(challenge, None)
    return _handle(
        form, _save_phase(challenge, None, form),
        success="Phase added.",
        redirect_to=lambda p: url_for("challenges.timeline", slug=challenge.slug),
        template="challenges/section_timeline.html", challenge=challenge,
    )


@bp.route("/staff/challenges/<slug>/phases/<int:phase_id>", methods=["GET", "POST"])
@staff_required
def phase_edit(slug: str, phase_id: int):
    challenge = _staff_challenge(slug)
    phase = _phase(challenge, phase_id)
    form = _phase_form(challenge, phase)
    return _handle(
        form, _save_phase(challenge, phase, form),
        success="Phase saved.",
        redirect_to=lambda p: url_for("challenges.timeline", slug=challenge.slug),
        template="challenges/phase_edit.html", challenge=challenge, phase=phase, edits=phase,
    )


@bp.route("/staff/challenges/<slug>/phases/<int:phase_id>/delete", methods=["POST"])
@staff_required
def phase_delete(slug: str, phase_id: int):
    challenge = _staff_challenge(slug)
    phase = _phase(challenge, phase_id)
    return _row_action(lambda: services.delete_phase(actor=current_user, phase=phase), "Phase deleted.",
                       url_for("challenges.timeline", slug=slug))


def _row_action(action: Callable[[], Any], success: str, back: str):
    """A button on a list (delete, move): done and said, or refused with why on the same list."""
    attempt(lambda: (action(), success)[1])
    return redirect(back)


# --- form builder -------------------------------------------------------------------------


def _field(phase: Phase, field_id: int) -> FormField:
    field = next((f for f in phase.fields if f.id == field_id), None)
    if field is None:
        raise NotFound("No such field in this form.")
    return field


def _save_field(phase: Phase, field: FormField | None, form: FieldForm) -> Callable[[], FormField]:
    def save() -> FormField:
        max_bytes = int(form.max_mb.data * 1024 * 1024) if form.max_mb.data else None
        return services.save_field(
            actor=current_user, phase=phase, field=field, key=form.key.data, label=form.label.data,
            type=form.type.data, help_text=form.help_text.data or "", required=form.required.data,
            max_length=form.max_length.data, options=(form.options.data or "").splitlines(),
            accept=form.accept.data or [], max_bytes=max_bytes, identifying=form.identifying.data,
        )

    return save


@bp.route("/staff/challenges/<slug>/phases/<int:phase_id>/form", methods=["GET", "POST"])
@staff_required
def form_builder(slug: str, phase_id: int):
    challenge = _staff_challenge(slug)
    phase = _phase(challenge, phase_id)
    form = FieldForm()
    return _handle(
        form, _save_field(phase, None, form),
        success="Field added.",
        redirect_to=lambda f: url_for("challenges.form_builder", slug=slug, phase_id=phase.id),
        template="challenges/section_form.html", challenge=challenge, phase=phase,
    )


@bp.route("/staff/challenges/<slug>/phases/<int:phase_id>/form/<int:field_id>", methods=["GET", "POST"])
@staff_required
def field_edit(slug: str, phase_id: int, field_id: int):
    challenge = _staff_challenge(slug)
    phase = _phase(challenge, phase_id)
    field = _field(phase, field_id)
    form = FieldForm(obj=field)
    if request.method == "GET":
        form.options.data = "\n".join(field.options or [])
        form.accept.data = list(field.accept or [])
        form.max_mb.data = round(field.max_bytes / 1024 / 1024, 3) if field.max_bytes else None
    return _handle(
        form, _save_field(phase, field, form),
        success="Field saved.",
        redirect_to=lambda f: url_for("challenges.form_builder", slug=slug, phase_id=phase.id),
        template="challenges/field_edit.html", challenge=challenge, phase=phase, field_obj=field, edits=field,
    )


@bp.route("/staff/challenges/<slug>/phases/<int:phase_id>/form/<int:field_id>/<action>", methods=["POST"])
@staff_required
def field_action(slug: str, phase_id: int, field_id: int, action: str):
    challenge = _staff_challenge(slug)
    phase = _phase(challenge, phase_id)
    field = _field(phase, field_id)
    back = url_for("challenges.form_builder", slug=slug, phase_id=phase.id)
    if action == "delete":
        return _row_action(lambda: services.delete_field(actor=current_user, field=field),
                           f"Field “{field.label}” deleted.", back)
    if action in ("up", "down"):
        return _row_action(lambda: services.move_field(actor=current_user, field=field, direction=action), "", back)
    raise NotFound("Unknown action.")


# --- rubric builder -----------------------------------------------------------------------


def _criterion(phase: Phase, criterion_id: int) -> Criterion:
    criteria = phase.rubric.criteria if phase.rubric else []
    criterion = next((c for c in criteria if c.id == criterion_id), None)
    if criterion is None:
        raise NotFound("No such criterion in this rubric.")
    return criterion


def _save_criterion(phase: Phase, criterion: Criterion | None, form: CriterionForm) -> Callable[[], Criterion]:
    def save() -> Criterion:
        anchors, problem = parse_anchors(form.anchors.data or "")
        if problem:
            raise ValidationFailed(problem, {"anchors": problem})
        rule = form.comment_rule.data
        if rule == "below":
            if form.comment_below.data is None:
                raise ValidationFailed("Threshold needed.", {"comment_below": "Enter a threshold between 0 and 1."})
            rule = f"below:{form.comment_below.data:g}"
        return services.save_criterion(
            actor=current_user, phase=phase, criterion=criterion, key=form.key.data, name=form.name.data,
            description=form.description.data or "", weight=form.weight.data, scale_min=form.scale_min.data,
            scale_max=form.scale_max.data, step=form.step.data, anchors=anchors,
            higher_is_better=form.higher_is_better.data, required=form.required.data,
            independent=form.independent.data, comment_rule=rule, min_comment_chars=form.min_comment_chars.data,
        )

    return save


@bp.route("/staff/challenges/<slug>/phases/<int:phase_id>/rubric", methods=["GET", "POST"])
@staff_required
def rubric_builder(slug: str, phase_id: int):
    challenge = _staff_challenge(slug)
    phase = _phase(challenge, phase_id)
    form = CriterionForm()
    criteria = phase.rubric.criteria if phase.rubric else []
    total = sum(c.weight for c in criteria if not c.independent)
    return _handle(
        form, _save_criterion(phase, None, form),
        success="Criterion added.",
        redirect_to=lambda c: url_for("challenges.rubric_builder", slug=slug, phase_id=phase.id),
        template="challenges/section_rubric.html", challenge=challenge, phase=phase, criteria=criteria,
        total_weight=total,
    )


@bp.route("/staff/challenges/<slug>/phases/<int:phase_id>/rubric/<int:criterion_id>", methods=["GET", "POST"])
@staff_required
def criterion_edit(slug: str, phase_id: int, criterion_id: int):
    challenge = _staff_challenge(slug)
    phase = _phase(challenge, phase_id)
    criterion = _criterion(phase, criterion_id)
    form = CriterionForm(obj=criterion)
    if request.method == "GET":
        form.anchors.data = "\n".join(f"{k}: {v}" for k, v in (criterion.anchors or {}).items())
        if criterion.comment_rule.startswith("below:"):
            form.comment_rule.data = "below"
            form.comment_below.data = float(criterion.comment_rule.split(":", 1)[1])
    return _handle(
        form, _save_criterion(phase, criterion, form),
        success="Criterion saved.",
        redirect_to=lambda c: url_for("challenges.rubric_builder", slug=slug, phase_id=phase.id),
        template="challenges/criterion_edit.html", challenge=challenge, phase=phase, criterion=criterion,
        edits=criterion,
    )


@bp.route("/staff/challenges/<slug>/phases/<int:phase_id>/rubric/<int:criterion_id>/<action>",
          methods=["POST"])
@staff_required
def criterion_action(slug: str, phase_id: int, criterion_id: int, action: str):
    challenge = _staff_challenge(slug)
    phase = _phase(challenge, phase_id)
    criterion = _criterion(phase, criterion_id)
    back = url_for("challenges.rubric_builder", slug=slug, phase_id=phase.id)
    if action == "delete":
        return _row_action(lambda: services.delete_criterion(actor=current_user, criterion=criterion),
                           f"Criterion “{criterion.name}” deleted.", back)
    if action in ("up", "down"):
        return _row_action(lambda: services.move_criterion(actor=current_user, criterion=criterion,
                                                           direction=action), "", back)
    raise NotFound("Unknown action.")


@bp.route("/staff/challenges/<slug>/phases/<int:phase_id>/judging", methods=["GET", "POST"])
@staff_required
def judging_settings(slug: str, phase_id: int):
    challenge = _staff_challenge(slug)
    phase = _phase(challenge, phase_id)
    form = JudgingForm(obj=phase)
    return _handle(
        form,
        lambda: services.save_judging(
            actor=current_user, phase=phase, judges_per_entry=form.judges_per_entry.data,
            quorum=form.quorum.data, primary_method=form.primary_method.data, blind=form.blind.data,
            others_scores_visible=form.others_scores_visible.data, bids_enabled=form.bids_enabled.data,
            public_results=form.public_results.data,
        ),
        success="Judging settings saved.",
        redirect_to=lambda p: url_for("challenges.overview", slug=slug),
        template="challenges/section_judging.html", challenge=challenge, phase=phase,
    )


# --- lifecycle ----------------------------------------------------------------------------


def _lifecycle(slug: str, action: Callable[[Challenge], Any], success: str, target: str = "overview", *,
               form: FlaskForm | None = None):
    """A status change: done and said, or refused on the overview with why (and the form as typed).
    Refusals of who may do it stay 403."""
    challenge = _staff_challenge(slug)
    try:
        action(challenge)
    except (NotFound, PermissionDenied):
        db.session.rollback()
        raise
    except DomainError as exc:
        db.session.rollback()
        extra = attach_errors(form, exc) if form is not None else {"form": exc.message}
        if extra and "form" not in extra:  # a list of problems: say what they are problems with
            extra = {"form": exc.message, **extra}
        return _overview_page(challenge, failed_form=form, errors=extra,
                              status=409 if isinstance(exc, Conflict) else 400)
    db.session.commit()
    flash(success, "success")
    return redirect(url_for(f"challenges.{target}", slug=challenge.slug))


@bp.route("/staff/challenges/<slug>/submit", methods=["POST"])
@staff_required
def submit_for_review(slug: str):
    form = NoteForm()
    if not form.validate_on_submit():
        raise ValidationFailed("The form could not be read; reload and try again.")
    return _lifecycle(
        slug, lambda c: services.submit_for_review(actor=current_user, challenge=c, note=form.note.data or ""),
        "Sent for approval. Other staff members have been emailed.", form=form,
    )


@bp.route("/staff/challenges/<slug>/withdraw", methods=["POST"])
@staff_required
def withdraw(slug: str):
    if not NoteForm().validate_on_submit():
        raise ValidationFailed("The form could not be read; reload and try again.")
    return _lifecycle(slug, lambda c: services.withdraw_to_draft(actor=current_user, challenge=c),
                      "Withdrawn to draft; you can edit it again.")


@bp.route("/staff/challenges/<slug>/review")
@staff_required
def review(slug: str):
    challenge = _staff_challenge(slug)
    return render_template("challenges/review.html", challenge=challenge,
                           problems=services.completeness_problems(challenge), note_form=NoteForm(),
                           is_author=services.wrote(current_user, challenge), editors=services.editors(challenge))


@bp.route("/staff/challenges/<slug>/approve", methods=["POST"])
@staff_required
def approve(slug: str):
    if not NoteForm().validate_on_submit():
        raise ValidationFailed("The form could not be read; reload and try again.")
    return _lifecycle(slug, lambda c: services.approve_and_publish(actor=current_user, challenge=c),
                      "Approved and published. The challenge is now on the public list.")


@bp.route("/staff/challenges/<slug>/request-changes", methods=["POST"])
@staff_required
def request_changes(slug: str):
    challenge = _staff_challenge(slug)
    form = NoteForm()
    extra: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            services.request_changes(actor=current_user, challenge=challenge, note=form.note.data or "")
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            extra = attach_errors(form, exc)
        else:
            flash("Sent back to the author with your note.", "success")
            return redirect(url_for("challenges.overview", slug=slug))
    return render_template("challenges/review.html", challenge=challenge, note_form=form, extra_errors=extra,
                           problems=services.completeness_problems(challenge),
                           is_author=services.wrote(current_user, challenge), editors=services.editors(challenge)), 400


@bp.route("/staff/challenges/<slug>/status", methods=["POST"])
@staff_required
def change_status(slug: str):
    form = TransitionForm()
    if not form.validate_on_submit():
        raise ValidationFailed("The form could not be read; reload and try again.")
    return _lifecycle(
        slug,
        lambda c: services.transition(actor=current_user, challenge=c, to=form.to.data or "",
                                      reason=form.reason.data or ""),
        "Status changed.", form=form,
    )


@bp.route("/staff/challenges/<slug>/delete", methods=["POST"])
@staff_required
def delete_draft(slug: str):
    challenge = _staff_challenge(slug)
    form = DeleteDraftForm()
    title = challenge.title
    if not form.validate_on_submit():
        return _overview_page(challenge, failed_form=form)
    try:
        services.delete_draft(actor=current_user, challenge=challenge, confirm=form.confirm.data or "")
    except (NotFound, PermissionDenied):
        db.session.rollback()
        raise
    except DomainError as exc:
        db.session.rollback()
        return _overview_page(challenge, failed_form=form, errors=attach_errors(form, exc),
                              status=409 if isinstance(exc, Conflict) else 400)
    db.session.commit()
    flash(f"Deleted the draft “{title}”. Its definition is kept in the audit log.", "success")
    return redirect(url_for("challenges.manage"))


@bp.route("/staff/challenges/<slug>/clone", methods=["POST"])
@staff_required
def clone(slug: str):
    challenge = _staff_challenge(slug)
    form = CloneForm()
    extra: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            copy = services.clone_challenge(actor=current_user, challenge=challenge, slug=form.slug.data,
                                            title=form.title.data)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            extra = attach_errors(form, exc)
        else:
            flash(f"Copied to a new draft “{copy.title}”. Check its dates before sending it for approval.",
                  "success")
            return redirect(url_for("challenges.overview", slug=copy.slug))
    return render_template("challenges/clone.html", challenge=challenge, form=form, extra_errors=extra), 400


@bp.route("/staff/challenges/<slug>/definition.json")
@staff_required
def export_definition(slug: str):
    challenge = _staff_challenge(slug)
    body = json.dumps(definition.export_definition(challenge), indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{challenge.slug}.json"'})

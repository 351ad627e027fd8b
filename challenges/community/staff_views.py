"""Staff pages for the community: members and exceptions, mailing list, newsletters, groups, events,
resources, About page and steering committee, judge pool."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..accounts.forms import ConfirmForm
from ..accounts.permissions import staff_required
from ..errors import NotFound, ValidationFailed
from ..extensions import csrf, db
from ..forms_support import submit_form
from ..markdown import render as render_markdown
from ..storage import get_storage
from ..timezones import format_local_iso
from . import services
from .forms import (
    CancelEventForm,
    EventForm,
    ExceptionForm,
    GroupForm,
    LeadForm,
    NewsletterForm,
    PageForm,
    ResourceForm,
    ScheduleForm,
    SteeringForm,
)
from .models import Event, Newsletter, Resource, SteeringMember

bp = Blueprint("community_staff", __name__, url_prefix="/staff/community")
UPLOAD_OVERHEAD = 64 * 1024


def _me():
    return current_user._get_current_object()


def _get(model, object_id: int):
    row = db.session.get(model, object_id)
    if row is None:
        raise NotFound("Not found.")
    return row


def _index_page(exception_form: ExceptionForm | None = None, extra: dict[str, str] | None = None):
    """The administration page; a refused exception comes back on it with what was typed."""
    exception_form = exception_form or ExceptionForm()
    groups = services.groups(include_inactive=True)
    return render_template("community/staff/index.html", subscribers=services.subscribers(state="subscribed"),
                           newsletters=services.newsletters()[:5], groups=groups,
                           member_counts=services.member_counts(groups),
                           events=services.upcoming_events(_me(), limit=5), pool=services.judge_pool(),
                           exceptions=services.list_exceptions(), schedule_form=ScheduleForm(),
                           exception_form=exception_form, exception_errors=extra or {},
                           when=services.event_when), (
        400 if exception_form.errors or extra else 200)


@bp.route("/")
@staff_required
def index():
    return _index_page()


@bp.route("/exceptions", methods=["POST"])
@staff_required
def grant_exception():
    form = ExceptionForm()
    row, extra = submit_form(form, lambda: services.grant_exception(actor=_me(), email=form.email.data,
                                                               reason=form.reason.data))
    if row is not None:
        flash(f"{row.email} may now join the community.", "success")
        return redirect(url_for("community_staff.index"))
    return _index_page(form, extra)


@bp.route("/subscribers")
@staff_required
def subscribers():
    state = request.args.get("state", "")
    return render_template("community/staff/subscribers.html", rows=services.subscribers(state=state), state=state)


@bp.route("/subscribers.csv")
@staff_required
def subscribers_csv():
    response = Response(services.subscribers_csv(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="subscribers.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/judge-pool")
@staff_required
def judge_pool():
    tag = request.args.get("tag", "")
    return render_template("community/staff/judge_pool.html", pool=services.judge_pool(tag=tag), tag=tag)


# --- newsletters --------------------------------------------------------------------------


def _newsletter_form(newsletter: Newsletter | None) -> NewsletterForm:
    form = NewsletterForm(obj=newsletter)
    form.group_id.choices = [("", "- Select -")] + [(g.id, g.name) for g in services.groups()]
    return form


@bp.route("/newsletters")
@staff_required
def newsletters():
    return render_template("community/staff/newsletters.html", newsletters=services.newsletters(),
                           audience_label=services.audience_label)


@bp.route("/newsletters/new", methods=["GET", "POST"])
@bp.route("/newsletters/<int:newsletter_id>", methods=["GET", "POST"])
@staff_required
def newsletter(newsletter_id: int | None = None):
    row = _get(Newsletter, newsletter_id) if newsletter_id else None
    form = _newsletter_form(row)
    saved, extra = None, {}
    if request.method == "POST":
        if row is not None and row.status != "draft":
            raise ValidationFailed("This newsletter has been sent; it can no longer be edited.")
        saved, extra = submit_form(form, lambda: services.save_newsletter(
            actor=_me(), subject=form.subject.data, body_md=form.body_md.data, audience=form.audience.data,
            group_id=form.group_id.data, newsletter=row))
        if saved is not None:
            flash("Draft saved. Check the preview, then send it.", "success")
            return redirect(url_for("community_staff.newsletter", newsletter_id=saved.id))
    count = len(services.recipients(row.audience, row.group_id)) if row is not None else None
    return render_template("community/staff/newsletter.html", form=form, newsletter=row, extra_errors=extra,
                           preview=render_markdown(row.body_md, top_level=3) if row else None,
                           recipient_count=count, send_form=ConfirmForm(),
                           audience_label=services.audience_label), 400 if form.errors or extra else 200


@bp.route("/newsletters/<int:newsletter_id>/send", methods=["POST"])
@staff_required
def send_newsletter(newsletter_id: int):
    row = _get(Newsletter, newsletter_id)
    if not ConfirmForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    job = services.send_newsletter(actor=_me(), newsletter=row)
    db.session.commit()
    flash(f"Sending “{row.subject}”. This page shows the progress.", "info")
    return redirect(url_for("jobs.show", job_id=job.id))


# --- working groups -----------------------------------------------------------------------


@bp.route("/groups/new", methods=["GET", "POST"])
@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@staff_required
def group(group_id: int | None = None):
    from .models import WorkingGroup

    row = _get(WorkingGroup, group_id) if group_id else None
    form = GroupForm(obj=row)
    saved, extra = submit_form(form, lambda: services.save_group(
        actor=_me(), name=form.name.data, slug=form.slug.data, summary=form.summary.data,
        description_md=form.description_md.data, active=form.active.data, group=row))
    if saved is not None:
        flash(f"Working group “{saved.name}” saved.", "success")
        return redirect(url_for("community_staff.group", group_id=saved.id))
    return render_template("community/staff/group.html", form=form, group=row, extra_errors=extra,
                           lead_form=LeadForm()), 400 if form.errors or extra else 200


@bp.route("/groups/<int:group_id>/leads", methods=["POST"])
@staff_required
def group_lead(group_id: int):
    from .models import WorkingGroup

    row = _get(WorkingGroup, group_id)
    form = LeadForm()
    if not form.validate_on_submit() or not str(form.user_id.data).isdigit():
        raise ValidationFailed("Choose a member of the group.")
    membership = services.set_lead(actor=_me(), group=row, user_id=int(form.user_id.data), lead=form.lead.data == "1")
    db.session.commit()
    flash(f"{membership.user.display_name} is {'now a lead' if membership.is_lead else 'no longer a lead'}.", "success")
    return redirect(url_for("community_staff.group", group_id=row.id))


# --- events -------------------------------------------------------------------------------


def _events_page(schedule_form: ScheduleForm | None = None, extra: dict[str, str] | None = None):
    schedule_form = schedule_form or ScheduleForm()
    return render_template("community/staff/events.html", upcoming=services.upcoming_events(_me()),
                           past=services.past_events(_me()), when=services.event_when, schedule_form=schedule_form,
                           schedule_errors=extra or {}), 400 if schedule_form.errors or extra else 200


@bp.route("/events")
@staff_required
def events():
    return _events_page()


def _event_page(row: Event | None, form: EventForm, extra: dict[str, str], *,
                cancel_form: CancelEventForm | None = None, cancel_errors: dict[str, str] | None = None):
    cancel_form = cancel_form or CancelEventForm()
    failed = form.errors or extra or cancel_form.errors or cancel_errors
    return render_template("community/staff/event.html", form=form, event=row, extra_errors=extra,
                           cancel_form=cancel_form, cancel_errors=cancel_errors or {},
                           when=services.event_when), 400 if failed else 200


def _event_form(row: Event | None, *, as_saved: bool) -> EventForm:
    """The event form: as posted, or as saved (times in the event's own zone)."""
    form = EventForm(formdata=None, obj=row) if as_saved else EventForm(obj=row)
    if as_saved and row is not None:
        form.starts.data = format_local_iso(row.starts_at, row.timezone)
        form.ends.data = format_local_iso(row.ends_at, row.timezone)
    return form


@bp.route("/events/new", methods=["GET", "POST"])
@bp.route("/events/<int:event_id>", methods=["GET", "POST"])
@staff_required
def event(event_id: int | None = None):
    row = _get(Event, event_id) if event_id else None
    form = _event_form(row, as_saved=request.method == "GET")
    saved, extra = submit_form(form, lambda: services.save_event(
        actor=_me(), title=form.title.data, summary=form.summary.data, agenda_md=form.agenda_md.data,
        speakers=form.speakers.data, starts=form.starts.data, ends=form.ends.data, timezone=form.timezone.data,
        location=form.location.data, join_url=form.join_url.data, capacity=form.capacity.data,
        public=form.public.data, event=row))
    if saved is not None:
        flash(f"Event “{saved.title}” saved.", "success")
        return redirect(url_for("community_staff.event", event_id=saved.id))
    return _event_page(row, form, extra)


@bp.route("/events/<int:event_id>/cancel", methods=["POST"])
@staff_required
def cancel_event(event_id: int):
    row = _get(Event, event_id)
    form = CancelEventForm()
    done, extra = submit_form(form, lambda: services.cancel_event(actor=_me(), event=row, reason=form.reason.data))
    if done is None:  # the event form shows the event as saved; the reason typed stays in its box
        return _event_page(row, _event_form(row, as_saved=True), {}, cancel_form=form, cancel_errors=extra)
    flash("The event is cancelled and registrants have been told.", "success")
    return redirect(url_for("community_staff.event", event_id=row.id))


@bp.route("/events/schedule", methods=["POST"])
@staff_required
def schedule_meetings():
    form = ScheduleForm()
    result, extra = submit_form(form, lambda: services.schedule_meetings(actor=_me(), months=form.months.data))
    if result is None:
        return _events_page(form, extra)
    created, existing = result
    flash(f"{len(created)} meetings created; {len(existing)} were already scheduled.", "success")
    return redirect(url_for("community_staff.events"))


# --- resources ----------------------------------------------------------------------------


def _resource_form() -> ResourceForm:
    form = ResourceForm()
    form.event_id.choices = [("", "- None -")] + [
        (e.id, f"{e.title} ({e.starts_at:%Y-%m-%d})") for e in services.past_events(_me(), limit=60)
        + services.upcoming_events(_me(), limit=12)]
    return form


@bp.route("/resources", methods=["GET", "POST"])
@csrf.exempt  # the global check would parse the body under the small form limit; FlaskForm checks the token below
@staff_required
def resources():
    request.max_content_length = current_app.config["RESOURCE_MAX_BYTES"] + UPLOAD_OVERHEAD
    form = _resource_form()
    extra: dict[str, str] = {}
    if request.method == "POST":
        upload = form.file.data if form.file.data and getattr(form.file.data, "filename", "") else None
        row, extra = submit_form(form, lambda: services.add_resource(
            actor=_me(), title=form.title.data, description=form.description.data, kind=form.kind.data,
            topics=form.topics.data, url=form.url.data or "", upload=upload.stream if upload else None,
            filename=upload.filename if upload else "", event_id=form.event_id.data,
            members_only=form.members_only.data))
        if row is not None:
            flash(f"“{row.title}” added to the library.", "success")
            return redirect(url_for("community_staff.resources"))
    return render_template("community/staff/resources.html", form=form, extra_errors=extra,
                           resources=services.search_resources(_me()), delete_form=ConfirmForm(),
                           kinds=services.RESOURCE_KINDS), 400 if form.errors or extra else 200


@bp.route("/resources/<int:resource_id>/delete", methods=["POST"])
@staff_required
def delete_resource(resource_id: int):
    row = _get(Resource, resource_id)
    if not ConfirmForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    title = row.title
    key = services.delete_resource(actor=_me(), resource=row)
    db.session.commit()
    if key:
        get_storage().delete(key)  # only once the row is gone for good
    flash(f"“{title}” removed from the library.", "info")
    return redirect(url_for("community_staff.resources"))


# --- pages --------------------------------------------------------------------------------


def _about_page(steering_form: SteeringForm | None = None, extra: dict[str, str] | None = None):
    steering_form = steering_form or SteeringForm()
    return render_template("community/staff/about.html", sections=services.about_sections(),
                           committee=services.steering_committee(), steering_form=steering_form,
                           steering_errors=extra or {}, delete_form=ConfirmForm()), (
        400 if steering_form.errors or extra else 200)


@bp.route("/about", methods=["GET"])
@staff_required
def about():
    return _about_page()


@bp.route("/pages/<slug>", methods=["GET", "POST"])
@staff_required
def page(slug: str):
    sections = dict((s, (t, b)) for s, t, b in services.about_sections())
    if slug not in sections:
        raise NotFound("No such page.")
    initial = {"title": sections[slug][0], "body_md": sections[slug][1]}
    form = PageForm(data=initial if request.method == "GET" else None)
    saved, extra = submit_form(form, lambda: services.save_page(actor=_me(), slug=slug, title=form.title.data,
                                                           body_md=form.body_md.data))
    if saved is not None:
        flash(f"“{saved.title}” saved.", "success")
        return redirect(url_for("community_staff.about"))
    return render_template("community/staff/page.html", form=form, slug=slug, extra_errors=extra), (
        400 if form.errors or extra else 200)


@bp.route("/steering", methods=["POST"])
@bp.route("/steering/<int:member_id>", methods=["GET", "POST"])
@staff_required
def steering(member_id: int | None = None):
    row = _get(SteeringMember, member_id) if member_id else None
    form = SteeringForm(obj=row)
    saved, extra = submit_form(form, lambda: services.save_steering_member(
        actor=_me(), name=form.name.data, title=form.title.data, organization=form.organization.data,
        position=form.position.data or 0, member=row))
    if saved is not None:
        flash(f"{saved.name} saved to the steering committee.", "success")
        return redirect(url_for("community_staff.about"))
    if request.method == "POST" and row is None:  # the add form lives on the About page
        return _about_page(form, extra)
    return render_template("community/staff/steering.html", form=form, member=row, extra_errors=extra), (
        400 if form.errors or extra else 200)


@bp.route("/steering/<int:member_id>/delete", methods=["POST"])
@staff_required
def delete_steering(member_id: int):
    row = _get(SteeringMember, member_id)
    if not ConfirmForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    services.delete_steering_member(actor=_me(), member=row)
    db.session.commit()
    flash("Removed from the steering committee.", "info")
    return redirect(url_for("community_staff.about"))

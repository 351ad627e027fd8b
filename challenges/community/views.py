"""Community pages for the public and for members. Thin: parse → service → commit → redirect."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..accounts.forms import ConfirmForm
from ..accounts.models import Role
from ..accounts.permissions import roles_required
from ..accounts.services import AccountExists, tell_existing_account
from ..errors import DomainError, NotFound, ValidationFailed
from ..extensions import csrf, db, limiter
from ..forms_support import submit_form
from ..markdown import render as render_markdown
from ..storage import get_storage
from ..timezones import utcnow
from . import services
from .forms import AnnouncementForm, ContactForm, DirectorySearchForm, JoinForm, ProfileForm, SearchForm, SubscribeForm

bp = Blueprint("community", __name__, url_prefix="/community")
participant_required = roles_required(Role.MEMBER, Role.STAFF, Role.ADMIN)
member_required = roles_required(Role.MEMBER)


@bp.app_context_processor
def _community_globals() -> dict:
    """Hooks other pages call only when they render them (the home page's next meeting, the panel
    page's judge pool), so core and judging never import the community module."""
    return {"community_next_meeting": lambda: services.next_meeting(_me()),
            "community_judge_pool": services.judge_pool,
            "community_event_when": services.event_when}


def _me():
    return current_user._get_current_object() if current_user.is_authenticated else None


def _contact_limit() -> str:
    return current_app.config["CONTACT_RATE_LIMIT"]


def _subscribe_limit() -> str:
    return current_app.config["SUBSCRIBE_RATE_LIMIT"]


@bp.route("/")
def home():
    return render_template("community/home.html", meeting=services.next_meeting(_me()),
                           events=services.upcoming_events(_me(), limit=4), groups=services.groups(),
                           resources=services.search_resources(_me())[:4],
                           is_participant=services.is_participant(_me()),
                           when=services.event_when)


# --- joining ------------------------------------------------------------------------------


@bp.route("/join", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGNIN_RATE_LIMIT"], methods=["POST"])
def join():
    """New people create a member account; signed-in people with an eligible address join in one click."""
    me = _me()
    if me is not None:
        if me.has_role(Role.MEMBER):
            return redirect(url_for("community.profile"))
        form = ConfirmForm()
        problem = None
        if form.validate_on_submit():
            try:
                services.become_member(user=me)
                db.session.commit()
            except DomainError as exc:
                db.session.rollback()
                problem = exc.errors.get("email") or exc.message
            else:
                flash("Welcome to the community. Tell other members a little about yourself.", "success")
                return redirect(url_for("community.profile"))
        eligible = services.may_join(me.email)
        return render_template("community/join_existing.html", form=form, eligible=eligible, problem=problem), (
            400 if problem else 200)
    form = JoinForm()

    def join() -> str:
        try:
            return services.join(email=form.email.data, password=form.password.data, name=form.name.data).email
        except AccountExists as exc:  # answered like a new account: nobody learns who has one
            tell_existing_account(exc.address)
            return exc.address

    address, extra = submit_form(form, join)
    if address is not None:
        return render_template("accounts/check_email.html", email=address, title="Check your email")
    return render_template("community/join.html", form=form, extra_errors=extra), 400 if form.errors or extra else 200


@bp.route("/profile", methods=["GET", "POST"])
@member_required
def profile():
    me = _me()
    row = services.profile_of(me)
    form = ProfileForm(obj=row)
    if request.method == "GET":
        form.name.data = me.name
        form.judge_expertise.data = ", ".join(row.judge_expertise or []) if row else ""
        if row is None:
            form.listed.data = form.show_organization.data = form.show_title.data = form.show_interests.data = True
    subscription = services.subscription_of(me.email)
    saved, extra = submit_form(form, lambda: services.save_profile(
        user=me, name=form.name.data, organization=form.organization.data, job_title=form.job_title.data,
        role_category=form.role_category.data, interests=form.interests.data, listed=form.listed.data,
        show_email=form.show_email.data, show_organization=form.show_organization.data,
        show_title=form.show_title.data, show_interests=form.show_interests.data,
        judge_volunteer=form.judge_volunteer.data, judge_expertise=form.judge_expertise.data))
    if saved is not None:
        flash("Your member profile is saved.", "success")
        return redirect(url_for("community.profile"))
    return render_template("community/profile.html", form=form, profile=row, extra_errors=extra,
                           subscription=subscription, confirm=ConfirmForm(),
                           my_groups=[g for g in services.groups() if services.group_membership(g, me)]), (
        400 if form.errors or extra else 200)


@bp.route("/profile/subscribe", methods=["POST"])
@member_required
def subscribe_me():
    if ConfirmForm().validate_on_submit():
        services.subscribe_member(user=_me())
        db.session.commit()
        flash("You are subscribed to the mailing list.", "success")
    return redirect(url_for("community.profile"))


@bp.route("/directory")
@participant_required
def directory():
    form = DirectorySearchForm(request.args)
    return render_template("community/directory.html", form=form, members=services.directory(query=form.q.data or ""))


# --- mailing list -------------------------------------------------------------------------


@bp.route("/subscribe", methods=["GET", "POST"])
@limiter.limit(_subscribe_limit, methods=["POST"])
def subscribe():
    form = SubscribeForm()
    row, extra = submit_form(form, lambda: services.subscribe(email=form.email.data, name=form.name.data))
    if row is not None:
        return render_template("community/check_email.html", email=form.email.data)
    return render_template("community/subscribe.html", form=form, extra_errors=extra), (
        400 if form.errors or extra else 200)


@bp.route("/subscribe/confirm/<token>", methods=["GET", "POST"])
def confirm_subscription(token: str):
    try:
        address = services.read_list_token(token, "confirm")
    except ValidationFailed as exc:
        return render_template("community/link_problem.html", message=exc.message), 400
    form = ConfirmForm()
    if form.validate_on_submit():
        services.confirm_subscription(token=token)
        db.session.commit()
        flash(f"Thank you — {address} is subscribed to the mailing list.", "success")
        return redirect(url_for("community.home"))
    return render_template("community/confirm_subscription.html", form=form, email=address)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail programs POST "List-Unsubscribe=One-Click" without a form token; the token is proof
def unsubscribe(token: str):
    try:
        address = services.read_list_token(token, "unsubscribe")
    except ValidationFailed as exc:
        return render_template("community/link_problem.html", message=exc.message), 400
    if request.method == "POST":
        services.unsubscribe(token=token)
        db.session.commit()
        if request.form.get("List-Unsubscribe") == "One-Click":
            return Response("Unsubscribed.\n", mimetype="text/plain")
        return render_template("community/unsubscribed.html", email=address)
    return render_template("community/unsubscribe.html", email=address)


# --- working groups -----------------------------------------------------------------------


@bp.route("/groups")
def groups():
    me = _me()
    found = services.groups()
    return render_template("community/groups.html", groups=found, mine=services.group_ids_of(me))


@bp.route("/groups/<slug>")
def group(slug: str):
    me = _me()
    found = services.get_group(slug)
    if not found.active and not services.is_participant(me):
        raise NotFound("No such working group.")
    return render_template("community/group.html", group=found, membership=services.group_membership(found, me),
                           is_participant=services.is_participant(me), is_member=bool(me and me.has_role(Role.MEMBER)),
                           can_announce=services.can_announce(me, found), announcements=services.announcements(found),
                           roster=services.roster(found) if services.is_participant(me) else [],
                           form=ConfirmForm(), announce_form=AnnouncementForm(), markdown=render_markdown)


@bp.route("/groups/<slug>/membership", methods=["POST"])
@member_required
def group_membership(slug: str):
    found = services.get_group(slug)
    if not ConfirmForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    if request.form.get("action") == "leave":
        services.leave_group(actor=_me(), group=found)
        flash(f"You have left {found.name}.", "info")
    else:
        services.join_group(actor=_me(), group=found)
        flash(f"You have joined {found.name}.", "success")
    db.session.commit()
    return redirect(url_for("community.group", slug=slug))


@bp.route("/groups/<slug>/announcements", methods=["POST"])
@participant_required
def announce(slug: str):
    found = services.get_group(slug)
    me = _me()
    if not services.can_announce(me, found):
        from flask import abort

        abort(403)
    form = AnnouncementForm()
    posted, extra = submit_form(form, lambda: services.post_announcement(actor=me, group=found, title=form.title.data,
                                                                         body_md=form.body_md.data))
    if posted is not None:
        flash("Announcement posted and emailed to the group.", "success")
        return redirect(url_for("community.group", slug=slug))
    return render_template("community/group.html", group=found, membership=services.group_membership(found, me),
                           is_participant=True, is_member=me.has_role(Role.MEMBER), can_announce=True,
                           announcements=services.announcements(found), form=ConfirmForm(), announce_form=form,
                           roster=services.roster(found), extra_errors=extra, markdown=render_markdown), 400


# --- events -------------------------------------------------------------------------------


@bp.route("/events")
def events():
    me = _me()
    upcoming = services.upcoming_events(me)
    mine = {e.id: reg.status for e in upcoming if (reg := services.registration_of(e, me)) is not None}
    return render_template("community/events.html", upcoming=upcoming, past=services.past_events(me),
                           when=services.event_when, mine=mine)


@bp.route("/events/<int:event_id>")
def event(event_id: int):
    me = _me()
    found = services.get_event(event_id, me)
    reg = services.registration_of(found, me)
    return render_template("community/event.html", event=found, registration=reg, when=services.event_when(found),
                           position=services.waitlist_position(found, reg), form=ConfirmForm(),
                           is_participant=services.is_participant(me), now=utcnow(), markdown=render_markdown,
                           resources=services.search_resources(me, event_id=found.id))


@bp.route("/events/<int:event_id>/registration", methods=["POST"])
@participant_required
def registration(event_id: int):
    found = services.get_event(event_id, _me())
    if not ConfirmForm().validate_on_submit():
        raise ValidationFailed("The form expired; reload the page and try again.")
    if request.form.get("action") == "cancel":
        reg = services.cancel_registration(actor=_me(), event=found)
        db.session.commit()
        flash("Your registration is cancelled." if reg is not None else "You were not registered for this event.",
              "info")
    else:
        reg = services.register(actor=_me(), event=found)
        db.session.commit()
        if reg.status == "registered":
            flash("You are registered. A confirmation with a calendar file is on its way.", "success")
        else:
            flash("The event is full: you are on the waitlist and will be emailed if a seat opens.", "warning")
    return redirect(url_for("community.event", event_id=event_id))


@bp.route("/events/<int:event_id>/event.ics")
def event_ics(event_id: int):
    found = services.get_event(event_id, _me())
    response = Response(services.event_ics_for(found, _me()), mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="event-{found.id}.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/calendar.ics")
def calendar():
    response = Response(services.calendar_feed(), mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="community-events.ics"'
    response.headers["Cache-Control"] = "public, max-age=900"
    return response


# --- resources ----------------------------------------------------------------------------


@bp.route("/resources")
def resources():
    me = _me()
    form = SearchForm(request.args)
    form.topic.choices = [("", "Any topic")] + [(t, t) for t in services.resource_topics(me)]
    found = services.search_resources(me, query=form.q.data or "", topic=form.topic.data or "",
                                      kind=form.kind.data or "")
    return render_template("community/resources.html", form=form, resources=found,
                           is_participant=services.is_participant(me), kinds=services.RESOURCE_KINDS)


@bp.route("/resources/<int:resource_id>")
def resource(resource_id: int):
    me = _me()
    try:
        found = services.get_resource(resource_id, me)
    except DomainError:
        if me is None:
            from ..extensions import login_manager

            return login_manager.unauthorized()
        raise
    if found.storage_key:
        return get_storage().download_response(found.storage_key, filename=found.filename,
                                               content_type=found.content_type or "application/octet-stream")
    return redirect(found.url)


# --- pages --------------------------------------------------------------------------------


@bp.route("/about")
def about():
    return render_template("community/about.html", sections=services.about_sections(),
                           committee=services.steering_committee(), markdown=render_markdown)


@bp.route("/contact", methods=["GET", "POST"])
@limiter.limit(_contact_limit, methods=["POST"])
def contact():
    form = ContactForm()
    if request.method == "GET" and current_user.is_authenticated:
        form.name.data, form.email.data = current_user.name, current_user.email
    # The service returns None for a honeypot hit, which must look like success too: wrap it so that only a
    # form that was not submitted, or was refused, comes back as None.
    sent, extra = submit_form(form, lambda: [services.send_contact(
        name=form.name.data, email=form.email.data, subject=form.subject.data, message=form.message.data,
        honeypot=form.website.data or "")])
    if sent is not None:
        flash("Thank you. Your message has been sent; we reply within two working days.", "success")
        return redirect(url_for("community.contact"))
    return render_template("community/contact.html", form=form, extra_errors=extra), (
        400 if form.errors or extra else 200)


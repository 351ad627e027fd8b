"""Community rules: who may join, the mailing list, groups, events, resources, pages, contact.

Plain functions with keyword-only arguments; they flush, the caller commits. Views, CLI commands
and jobs all call these.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any, BinaryIO

from dateutil.rrule import MONTHLY, rrule, weekday
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, or_, select
from sqlalchemy.orm import lazyload, selectinload

from .. import audit, jobs, mail
from ..accounts.models import Role, User, UserRole
from ..errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from ..exports import cell_safe
from ..extensions import contains_text, db, lock_row
from ..links import external_url
from ..markdown import render as render_markdown
from ..services import require_staff
from ..storage import get_storage, new_key, track_new_object
from ..timezones import TimezoneError, format_span, get_zone, local_to_utc, utc_to_local, utcnow
from ..uploads import EXTENSIONS, UploadRefused, check_content, check_name
from . import ics
from .models import (
    Announcement,
    Audience,
    ContactMessage,
    DomainException,
    Event,
    GroupMembership,
    MemberProfile,
    Newsletter,
    Page,
    Registration,
    RegistrationStatus,
    Resource,
    RoleCategory,
    SteeringMember,
    Subscription,
    WorkingGroup,
)

ELIGIBLE_TLDS = frozenset({"gov", "mil", "edu"})
MEETING_SERIES = "community-meeting"
RESOURCE_KINDS = {"presentation": "Presentation", "recording": "Recording", "document": "Document", "link": "Link"}
RESOURCE_TYPES = [m for m in EXTENSIONS if m != "application/zip"]
ABOUT_SECTIONS = (("mission", "Mission"), ("vision", "Vision"), ("goals", "Goals"))
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# --- who may join -------------------------------------------------------------------------


def address_domain(raw: str) -> str | None:
    """The address's real domain, IDNA-normalised to ASCII lower case; None if it is not an address.

    email-validator parses quoted local parts (so `"x@a.gov"@evil.com` is at evil.com), applies the
    UTS-46 mapping (full-width letters and dots become ASCII) and refuses trailing dots and
    invisible characters.
    """
    try:
        result = validate_email((raw or "").strip(), check_deliverability=False, allow_quoted_local=True)
    except EmailNotValidError:
        return None
    return result.ascii_domain.lower()


def eligible_domain(raw: str) -> bool:
    """True when the address's own domain ends in the label gov, mil or edu (compared label by label)."""
    domain = address_domain(raw)
    if domain is None:
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(labels) and labels[-1] in ELIGIBLE_TLDS


def _exception_for(email: str) -> DomainException | None:
    return db.session.execute(select(DomainException).where(DomainException.email == email.lower())
                              ).scalar_one_or_none()


def may_join(email: str) -> bool:
    return eligible_domain(email) or _exception_for(email) is not None


def _gate(email: str) -> None:
    if not may_join(email):
        raise ValidationFailed(
            "Membership is for .gov, .mil and .edu addresses.",
            {"email": "Use your .gov, .mil or .edu work address. If you support a government mission from "
                      "another address, use the contact form to ask staff for an exception."},
        )


def grant_exception(*, actor: User, email: str, reason: str) -> DomainException:
    from ..accounts.services import normalize_email

    require_staff(actor)
    address = normalize_email(email)
    if not (reason or "").strip():
        raise ValidationFailed("Give a reason.",
                               {"reason": "Say why this address may join; it is kept in the audit log."})
    if eligible_domain(address):
        raise ValidationFailed("No exception needed.",
                               {"email": f"{address} may already join: no exception is needed."})
    row = _exception_for(address)
    if row is not None:
        raise Conflict(f"{address} already has an exception.", {"email": f"{address} already has an exception."})
    row = DomainException(email=address, reason=reason.strip()[:2000], granted_by_id=actor.id)
    db.session.add(row)
    db.session.flush()
    audit.record(actor=actor, action="community.exception_granted", obj=row,
                 details={"email": address, "reason": row.reason})
    return row


def list_exceptions() -> list[DomainException]:
    return list(db.session.execute(select(DomainException).options(selectinload(DomainException.granted_by))
                                   .order_by(DomainException.granted_at.desc())).scalars())


def is_participant(user: Any) -> bool:
    """Members and staff see members-only things (rosters, the directory, members-only resources)."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_role(Role.MEMBER, Role.STAFF, Role.ADMIN)


def join(*, email: str, password: str, name: str) -> User:
    """A new account with the member role; it can sign in once the emailed link confirms the address."""
    from ..accounts.services import normalize_email, register

    address = normalize_email(email)
    _gate(address)
    return register(email=address, password=password, name=name, roles=(Role.MEMBER,))


def become_member(*, user: User) -> MemberProfile:
    """An existing, confirmed account with an eligible address joins (vendors and judges too)."""
    if not user.is_verified:
        raise ValidationFailed("Confirm your email address first.")
    _gate(user.email)
    if not user.has_role(Role.MEMBER):
        user.role_rows.append(UserRole(user_id=user.id, role=Role.MEMBER.value))
        db.session.flush()
        audit.record(actor=user, action="user.role_granted", obj=user, details={"role": "member", "via": "community"})
    return profile_of(user, create=True)  # type: ignore[return-value]


def profile_of(user: User, *, create: bool = False) -> MemberProfile | None:
    row = db.session.execute(select(MemberProfile).where(MemberProfile.user_id == user.id)).scalar_one_or_none()
    if row is None and create:
        row = MemberProfile(user_id=user.id, judge_expertise=[])
        db.session.add(row)
        db.session.flush()
    return row


def _tags(raw: Any) -> list[str]:
    items = raw.split(",") if isinstance(raw, str) else list(raw or [])
    out: list[str] = []
    for item in items:
        tag = " ".join(str(item).split()).lower()[:40]
        if tag and tag not in out:
            out.append(tag)
    return out[:20]


def save_profile(*, user: User, name: str, organization: str, job_title: str, role_category: str,
                 interests: str, listed: bool, show_email: bool, show_organization: bool, show_title: bool,
                 show_interests: bool, judge_volunteer: bool, judge_expertise: Any) -> MemberProfile:
    if not user.has_role(Role.MEMBER):
        raise PermissionDenied("Join the community first.")
    errors: dict[str, str] = {}
    if not (organization or "").strip():
        errors["organization"] = "Enter your agency or institution."
    if role_category not in {c.value for c in RoleCategory}:
        errors["role_category"] = "Choose the role that describes you best."
    tags = _tags(judge_expertise)
    if judge_volunteer and not tags:
        errors["judge_expertise"] = "List at least one area of expertise so staff can match you to challenges."
    if errors:
        raise ValidationFailed("Please correct your profile.", errors)
    profile = profile_of(user, create=True)
    assert profile is not None
    user.name = (name or "").strip()[:200] or user.name
    profile.organization, profile.job_title = organization.strip()[:200], (job_title or "").strip()[:200]
    profile.role_category, profile.interests = role_category, (interests or "").strip()[:2000]
    profile.listed, profile.show_email = bool(listed), bool(show_email)
    profile.show_organization = bool(show_organization)
    profile.show_title, profile.show_interests = bool(show_title), bool(show_interests)
    was_volunteer = profile.judge_volunteer
    profile.judge_volunteer, profile.judge_expertise = bool(judge_volunteer), tags
    if was_volunteer != profile.judge_volunteer:
        audit.record(actor=user, action="community.judge_pool_" + ("joined" if judge_volunteer else "left"),
                     obj=profile, details={"expertise": tags})
    db.session.flush()
    return profile


def directory(*, query: str = "") -> list[MemberProfile]:
    stmt = (select(MemberProfile).join(User, User.id == MemberProfile.user_id)
            .join(UserRole, (UserRole.user_id == User.id) & (UserRole.role == Role.MEMBER.value))
            .where(MemberProfile.listed.is_(True), User.active.is_(True)).order_by(func.lower(User.name), User.email))
    if query.strip():
        profile = MemberProfile
        stmt = stmt.where(or_(contains_text(User.name, query),
                              profile.show_organization.is_(True) & contains_text(profile.organization, query),
                              profile.show_interests.is_(True) & contains_text(profile.interests, query)))
    return list(db.session.execute(stmt).scalars())


def judge_pool(*, tag: str = "") -> list[MemberProfile]:
    """Members who volunteered to judge; staff invite them to panels from here."""
    rows = db.session.execute(
        select(MemberProfile).join(User, User.id == MemberProfile.user_id)
        .where(MemberProfile.judge_volunteer.is_(True), User.active.is_(True),
               User.id.in_(select(UserRole.user_id).where(UserRole.role == Role.MEMBER.value)))
        .order_by(func.lower(User.name), User.email)
    ).scalars()
    wanted = tag.strip().lower()
    return [p for p in rows if not wanted or any(wanted in t for t in p.judge_expertise or [])]


def _require_member(actor: User | None) -> User:
    if not is_participant(actor):
        raise PermissionDenied("Join the community to do that.")
    return actor  # type: ignore[return-value]


# --- mailing list -------------------------------------------------------------------------


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"community-{salt}")


def make_list_token(email: str, purpose: str) -> str:
    return _serializer(purpose).dumps({"email": email.lower()})


def read_list_token(token: str, purpose: str) -> str:
    """The address a token was made for; expired, altered or other-purpose tokens are refused."""
    ages = {"confirm": current_app.config["SUBSCRIBE_TOKEN_MAX_AGE"],
            "unsubscribe": current_app.config["UNSUBSCRIBE_TOKEN_MAX_AGE"]}
    try:
        data = _serializer(purpose).loads(token, max_age=ages[purpose])
    except SignatureExpired as exc:
        raise ValidationFailed("This link has expired. Subscribe again to get a new one." if purpose == "confirm"
                               else "This link has expired. Use the link in a more recent message.") from exc
    except BadSignature as exc:
        raise ValidationFailed("This link is not valid. Check you copied all of it.") from exc
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str) or "@" not in email:
        raise ValidationFailed("This link is not valid.")
    return email


def unsubscribe_url(email: str) -> str:
    return external_url("community.unsubscribe", token=make_list_token(email, "unsubscribe"))


def list_headers(email: str) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers: mail programs show an Unsubscribe button that POSTs one click."""
    return {"List-Unsubscribe": f"<{unsubscribe_url(email)}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"{current_app.config['SITE_NAME']} <community.{_list_host()}>"}


def _list_host() -> str:
    from urllib.parse import urlsplit

    return urlsplit(current_app.config["SITE_URL"]).hostname or "localhost"


def _subscription(email: str) -> Subscription | None:
    return db.session.execute(select(Subscription).where(Subscription.email == email.lower())).scalar_one_or_none()


def subscribe(*, email: str, name: str = "", source: str = "form") -> Subscription:
    """Start double opt-in: a confirmation email, nothing else, until the link is followed.

    Looks the same whether or not the address was already on the list (no address probing).
    """
    from ..accounts.services import normalize_email

    address = normalize_email(email)
    row = _subscription(address)
    if row is None:
        row = Subscription(email=address, name=(name or "").strip()[:200], source=source)
        db.session.add(row)
        db.session.flush()
    if row.active:
        return row
    mail.queue(to=address, subject="Confirm your subscription", template="subscribe_confirm",
               link=external_url("community.confirm_subscription", token=make_list_token(address, "confirm")),
               hours=current_app.config["SUBSCRIBE_TOKEN_MAX_AGE"] // 3600,
               dedupe_key=f"subscribe:{address}:{utcnow():%Y-%m-%d}")
    return row


def confirm_subscription(*, token: str) -> Subscription:
    address = read_list_token(token, "confirm")
    row = _subscription(address)
    if row is None:
        row = Subscription(email=address, source="form")
        db.session.add(row)
    if not row.active:
        row.confirmed_at, row.unsubscribed_at = utcnow(), None
        db.session.flush()
        audit.record(actor=None, action="community.subscribed", obj=row, details={"email": address})
    return row


def unsubscribe(*, token: str) -> str:
    """Idempotent: a second click (or a mail program's one-click POST) changes nothing more."""
    address = read_list_token(token, "unsubscribe")
    row = _subscription(address)
    if row is None:  # a member or group message to someone who never subscribed: remember the refusal
        row = Subscription(email=address, source="unsubscribe")
        db.session.add(row)
    if row.unsubscribed_at is None:
        row.unsubscribed_at = utcnow()
        db.session.flush()
        audit.record(actor=None, action="community.unsubscribed", obj=row, details={"email": address})
    return address


def subscribe_member(*, user: User) -> Subscription:
    """A confirmed member's own address needs no second confirmation."""
    row = _subscription(user.email)
    if row is None:
        row = Subscription(email=user.email, name=user.name, source="member")
        db.session.add(row)
    if not row.active:
        row.confirmed_at, row.unsubscribed_at = utcnow(), None
        db.session.flush()
        audit.record(actor=user, action="community.subscribed", obj=row, details={"email": user.email})
    return row


def subscription_of(email: str) -> Subscription | None:
    return _subscription(email)


def subscribers(*, state: str = "") -> list[Subscription]:
    stmt = select(Subscription).order_by(Subscription.email)
    if state == "subscribed":
        stmt = stmt.where(Subscription.confirmed_at.is_not(None), Subscription.unsubscribed_at.is_(None))
    elif state == "unsubscribed":
        stmt = stmt.where(Subscription.unsubscribed_at.is_not(None))
    elif state == "pending":
        stmt = stmt.where(Subscription.confirmed_at.is_(None), Subscription.unsubscribed_at.is_(None))
    return list(db.session.execute(stmt).scalars())


def subscribers_csv() -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "name", "status", "source", "created_at", "confirmed_at", "unsubscribed_at"])
    for row in subscribers():
        writer.writerow([cell_safe(row.email), cell_safe(row.name), row.state, row.source,
                         row.created_at.isoformat(), row.confirmed_at.isoformat() if row.confirmed_at else "",
                         row.unsubscribed_at.isoformat() if row.unsubscribed_at else ""])
    return out.getvalue()


# --- newsletters --------------------------------------------------------------------------


def _newsletter_errors(subject: str, body_md: str, audience: str, group_id: int | None) -> dict[str, str]:
    errors = {}
    if not (subject or "").strip():
        errors["subject"] = "Enter a subject."
    elif len(subject) > 200:
        errors["subject"] = "Use at most 200 characters."
    if not (body_md or "").strip():
        errors["body_md"] = "Write the message."
    if audience not in {a.value for a in Audience}:
        errors["audience"] = "Choose who receives it."
    elif audience == Audience.GROUP and (group_id is None or db.session.get(WorkingGroup, group_id) is None):
        errors["group_id"] = "Choose the working group."
    return errors


def save_newsletter(*, actor: User, subject: str, body_md: str, audience: str, group_id: int | None = None,
                    newsletter: Newsletter | None = None) -> Newsletter:
    require_staff(actor)
    if newsletter is not None and newsletter.status != "draft":
        raise Conflict("This newsletter has been sent; it can no longer be edited.")
    errors = _newsletter_errors(subject, body_md, audience, group_id)
    if errors:
        raise ValidationFailed("Please correct the newsletter.", errors)
    if newsletter is None:
        newsletter = Newsletter(created_by_id=actor.id)
        db.session.add(newsletter)
    newsletter.subject, newsletter.body_md = subject.strip(), body_md
    newsletter.audience, newsletter.group_id = audience, group_id if audience == Audience.GROUP else None
    db.session.flush()
    audit.record(actor=actor, action="community.newsletter_saved", obj=newsletter,
                 details={"subject": newsletter.subject, "audience": audience})
    return newsletter


def _suppressed() -> set[str]:
    stmt = select(Subscription.email).where(Subscription.unsubscribed_at.is_not(None))
    return set(db.session.execute(stmt).scalars())


def recipients(audience: str, group_id: int | None = None) -> list[str]:
    """Addresses for an audience, never anyone who unsubscribed; sorted so a resumed send is stable."""
    if audience == Audience.SUBSCRIBERS:
        found = set(db.session.execute(select(Subscription.email).where(
            Subscription.confirmed_at.is_not(None), Subscription.unsubscribed_at.is_(None))).scalars())
    elif audience == Audience.MEMBERS:
        found = set(db.session.execute(
            select(User.email).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == Role.MEMBER.value, User.active.is_(True), User.verified_at.is_not(None))
        ).scalars())
    else:
        found = set(db.session.execute(
            select(User.email).join(GroupMembership, GroupMembership.user_id == User.id)
            .where(GroupMembership.group_id == group_id, User.active.is_(True),
                   User.id.in_(select(UserRole.user_id).where(UserRole.role.in_(
                       (Role.MEMBER.value, Role.STAFF.value, Role.ADMIN.value)))))
        ).scalars())
    return sorted(found - _suppressed())


def audience_label(newsletter: Newsletter) -> str:
    if newsletter.audience == Audience.GROUP:
        return f"Members of {newsletter.group.name}" if newsletter.group else "A working group"
    return {"subscribers": "All mailing-list subscribers", "members": "All community members"}[newsletter.audience]


def send_newsletter(*, actor: User, newsletter: Newsletter) -> jobs.Job:
    """Hand the sending to a background job (progress on the job page); pressing twice sends once."""
    require_staff(actor)
    if newsletter.status == "sent":
        raise Conflict("This newsletter has already been sent.")
    if not recipients(newsletter.audience, newsletter.group_id):
        raise ValidationFailed("Nobody would receive this newsletter: the audience is empty.")
    newsletter.status = "sending"
    job = jobs.enqueue("community.newsletter", actor=actor, dedupe_key=f"newsletter:{newsletter.id}",
                       newsletter_id=newsletter.id)
    newsletter.job_id = job.id
    audit.record(actor=actor, action="community.newsletter_sent", obj=newsletter,
                 details={"audience": newsletter.audience, "group_id": newsletter.group_id})
    return job


def queue_list_mail(*, to: str, subject: str, template: str, dedupe_key: str, **context: Any) -> None:
    """Bulk mail: every message carries its own unsubscribe link and List-Unsubscribe headers."""
    mail.queue(to=to, subject=subject, template=template, dedupe_key=dedupe_key, headers=list_headers(to),
               unsubscribe=unsubscribe_url(to), **context)


@jobs.task("community.newsletter")
def newsletter_job(job: jobs.Job | None = None, newsletter_id: int = 0, batch: int = 200) -> dict[str, int]:
    """Queue one outbox message per recipient in committed batches. Each message's dedupe key is
    (newsletter, address), so a job re-run after a crash queues only what is missing."""
    newsletter = db.session.get(Newsletter, newsletter_id)
    if newsletter is None:
        return {"recipients": 0}
    addresses = recipients(newsletter.audience, newsletter.group_id)
    body_html = render_markdown(newsletter.body_md, top_level=2)
    for start in range(0, len(addresses), batch):
        for address in addresses[start:start + batch]:
            queue_list_mail(to=address, subject=newsletter.subject, template="newsletter",
                            dedupe_key=f"newsletter:{newsletter.id}:{address}",
                            body_md=newsletter.body_md, body_html=body_html)
        done = min(len(addresses), start + batch)
        jobs.set_progress(job, done * 100 // max(1, len(addresses)), f"Queued {done:,} of {len(addresses):,} messages")
        newsletter = db.session.get(Newsletter, newsletter_id)
    newsletter.status, newsletter.sent_at, newsletter.recipient_count = "sent", utcnow(), len(addresses)
    db.session.commit()
    return {"recipients": len(addresses)}


def newsletters() -> list[Newsletter]:
    return list(db.session.execute(select(Newsletter).options(selectinload(Newsletter.group))  # for its audience
                                   .order_by(Newsletter.created_at.desc())).scalars())


# --- working groups -----------------------------------------------------------------------


def groups(*, include_inactive: bool = False) -> list[WorkingGroup]:
    stmt = select(WorkingGroup).order_by(WorkingGroup.name)
    if not include_inactive:
        stmt = stmt.where(WorkingGroup.active.is_(True))
    return list(db.session.execute(stmt).scalars())


def get_group(slug: str) -> WorkingGroup:
    group = db.session.execute(select(WorkingGroup).where(WorkingGroup.slug == slug)).scalar_one_or_none()
    if group is None:
        raise NotFound("No such working group.")
    return group


def save_group(*, actor: User, name: str, slug: str, summary: str, description_md: str, active: bool = True,
               group: WorkingGroup | None = None) -> WorkingGroup:
    require_staff(actor)
    errors = {}
    slug = (slug or "").strip().lower()
    if not (name or "").strip():
        errors["name"] = "Enter the group's name."
    if not _SLUG.match(slug) or len(slug) > 80:
        errors["slug"] = "Use lower-case letters, digits and single hyphens, like responsible-ai."
    else:
        other = db.session.execute(select(WorkingGroup.id).where(WorkingGroup.slug == slug)).scalar_one_or_none()
        if other is not None and (group is None or other != group.id):
            errors["slug"] = "Another working group uses this address."
    if errors:
        raise ValidationFailed("Please correct the working group.", errors)
    created = group is None
    if group is None:
        group = WorkingGroup()
        db.session.add(group)
    group.name, group.slug, group.summary = name.strip()[:200], slug, (summary or "").strip()[:500]
    group.description_md, group.active = description_md or "", bool(active)
    db.session.flush()
    audit.record(actor=actor, action="community.group_" + ("created" if created else "updated"), obj=group,
                 details={"name": group.name, "slug": slug, "active": group.active})
    return group


def roster(group: WorkingGroup) -> list[tuple[str, bool]]:
    """(name shown, is lead) per member, leads first. An email address is never shown, and a member who
    chose not to be listed in the directory appears as "A member" (leads are named: they lead openly)."""
    hidden = set(db.session.execute(select(MemberProfile.user_id).where(
        MemberProfile.listed.is_(False), MemberProfile.user_id.in_([m.user_id for m in group.memberships]))
    ).scalars())
    rows = [((m.user.name or "").strip() if m.is_lead or m.user_id not in hidden else "", m.is_lead)
            for m in group.memberships]
    return sorted(((name or "A member", lead) for name, lead in rows), key=lambda r: (not r[1], r[0] == "A member"))


def member_counts(groups: Iterable[WorkingGroup]) -> dict[int, int]:
    """How many members each of `groups` has (one query however many groups; a group with none is absent)."""
    ids = [g.id for g in groups]
    if not ids:
        return {}
    rows = db.session.execute(select(GroupMembership.group_id, func.count(GroupMembership.id))
                              .where(GroupMembership.group_id.in_(ids)).group_by(GroupMembership.group_id))
    return {group_id: count for group_id, count in rows.tuples()}


def group_ids_of(user: Any) -> set[int]:
    """The groups `user` belongs to (none for a visitor who is not signed in)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    return set(db.session.execute(select(GroupMembership.group_id).where(GroupMembership.user_id == user.id))
               .scalars())


def group_membership(group: WorkingGroup, user: Any) -> GroupMembership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return next((m for m in group.memberships if m.user_id == user.id), None)


def join_group(*, actor: User, group: WorkingGroup) -> GroupMembership:
    if not actor.has_role(Role.MEMBER):
        raise PermissionDenied("Join the community first; then you can join working groups.")
    if not group.active:
        raise Conflict("This working group is closed.")
    existing = group_membership(group, actor)
    if existing is not None:
        return existing
    row = GroupMembership(group_id=group.id, user_id=actor.id)
    group.memberships.append(row)
    db.session.flush()
    audit.record(actor=actor, action="community.group_joined", obj=group)
    return row


def leave_group(*, actor: User, group: WorkingGroup) -> bool:
    existing = group_membership(group, actor)
    if existing is None:
        return False
    group.memberships.remove(existing)
    db.session.flush()
    audit.record(actor=actor, action="community.group_left", obj=group)
    return True


def set_lead(*, actor: User, group: WorkingGroup, user_id: int, lead: bool) -> GroupMembership:
    require_staff(actor)
    row = next((m for m in group.memberships if m.user_id == user_id), None)
    if row is None:
        raise ValidationFailed("Only a member of the group can lead it.", {"user_id": "Choose a member of the group."})
    if row.is_lead != lead:
        row.is_lead = lead
        db.session.flush()
        audit.record(actor=actor, action="community.group_lead_" + ("appointed" if lead else "removed"), obj=group,
                     details={"user": row.user.email})
    return row


def can_announce(user: Any, group: WorkingGroup) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.has_role(Role.STAFF, Role.ADMIN):
        return True
    row = group_membership(group, user)
    return row is not None and row.is_lead


def post_announcement(*, actor: User, group: WorkingGroup, title: str, body_md: str) -> Announcement:
    if not can_announce(actor, group):
        raise PermissionDenied("Only the group's leads and staff post announcements.")
    errors = {}
    if not (title or "").strip():
        errors["title"] = "Enter a title."
    if not (body_md or "").strip():
        errors["body_md"] = "Write the announcement."
    if errors:
        raise ValidationFailed("Please correct the announcement.", errors)
    row = Announcement(group_id=group.id, author_id=actor.id, title=title.strip()[:200], body_md=body_md)
    db.session.add(row)
    db.session.flush()
    audit.record(actor=actor, action="community.announcement_posted", obj=row, details={"group": group.slug})
    html = render_markdown(body_md, top_level=2)
    for address in recipients(Audience.GROUP, group.id):
        if address != actor.email:
            queue_list_mail(to=address, subject=f"[{group.name}] {row.title}", template="announcement",
                            dedupe_key=f"announcement:{row.id}:{address}", group=group, announcement=row,
                            body_html=html, link=external_url("community.group", slug=group.slug))
    return row


def announcements(group: WorkingGroup, limit: int = 20) -> list[Announcement]:
    return list(db.session.execute(select(Announcement).where(Announcement.group_id == group.id)
                                   .order_by(Announcement.created_at.desc()).limit(limit)).scalars())


# --- events -------------------------------------------------------------------------------


def _parse_when(text: str, zone: str, field: str, errors: dict[str, str]) -> datetime | None:
    from ..timezones import parse_local

    if not (text or "").strip():
        errors[field] = "Enter a date and time."
        return None
    try:
        return parse_local(text, zone)
    except TimezoneError as exc:
        errors[field] = str(exc)
        return None


def save_event(*, actor: User, title: str, summary: str, agenda_md: str, speakers: str, starts: str, ends: str,
               timezone: str, location: str, join_url: str, capacity: int | None, public: bool,
               event: Event | None = None) -> Event:
    """Create or change an event; times are typed in the event's zone and stored in UTC."""
    require_staff(actor)
    if event is not None and event.cancelled_at is not None:
        raise Conflict("This event is cancelled; its registrants were told. Create a new event instead.")
    errors: dict[str, str] = {}
    if not (title or "").strip():
        errors["title"] = "Enter the event's title."
    try:
        get_zone(timezone)
    except TimezoneError as exc:
        errors["timezone"] = str(exc)
        timezone = "UTC"
    start = _parse_when(starts, timezone, "starts", errors)
    end = _parse_when(ends, timezone, "ends", errors)
    if start and end and end <= start:
        errors["ends"] = "The end must be after the start."
    elif start and end and end - start > timedelta(days=14):
        errors["ends"] = "An event lasts at most 14 days."
    if capacity is not None and not 1 <= capacity <= 100_000:
        errors["capacity"] = "Enter 1 to 100,000 seats, or leave it empty for no limit."
    if event is not None and capacity is not None and capacity < event.registered_count:
        errors["capacity"] = f"{event.registered_count} people are already registered; capacity cannot be lower."
    join_url = (join_url or "").strip()
    if join_url and not re.match(r"^https://[^\s]+$", join_url):
        errors["join_url"] = "Use a full https:// link."
    if errors:
        raise ValidationFailed("Please correct the event.", errors)
    created = event is None
    moved = False
    if event is None:
        event = Event(uid=f"{uuid.uuid4()}@{_list_host()}", created_by_id=actor.id)
        db.session.add(event)
    else:
        event.sequence += 1
        moved = (event.starts_at, event.ends_at) != (start, end)
    event.title, event.summary, event.agenda_md = title.strip()[:200], (summary or "").strip()[:500], agenda_md or ""
    event.speakers, event.timezone = (speakers or "").strip(), timezone
    event.starts_at, event.ends_at = start, end  # type: ignore[assignment]
    event.location, event.join_url = (location or "").strip()[:300] or "Online", join_url
    event.capacity, event.public = capacity, bool(public)
    db.session.flush()
    audit.record(actor=actor, action="community.event_" + ("created" if created else "updated"), obj=event,
                 details={"title": event.title, "starts_at": event.starts_at.isoformat(), "capacity": capacity})
    if not created:
        _promote_waitlist(event)  # more seats may have been added
    if moved:
        for reg in event.registrations:
            if reg.status in (RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED):  # both need to know
                mail.queue(to=reg.user.email, subject=f"New time: {event.title}", template="event_changed",
                           dedupe_key=f"event-changed:{reg.id}:{event.sequence}", event=event, when=event_when(event),
                           link=external_url("community.event", event_id=event.id),
                           attachments=[_ics_attachment(
                               event, include_join=reg.status == RegistrationStatus.REGISTERED)])
                reg.reminded_at = None  # remind again before the new time
    return event


def cancel_event(*, actor: User, event: Event, reason: str) -> Event:
    require_staff(actor)
    if event.cancelled_at is not None:
        return event
    if not (reason or "").strip():
        raise ValidationFailed("Give a reason.", {"reason": "Registrants are told why the event is cancelled."})
    event.cancelled_at, event.sequence = utcnow(), event.sequence + 1
    audit.record(actor=actor, action="community.event_cancelled", obj=event, details={"reason": reason.strip()})
    for reg in event.registrations:
        if reg.status != RegistrationStatus.CANCELLED:
            mail.queue(to=reg.user.email, subject=f"Cancelled: {event.title}", template="event_cancelled",
                       dedupe_key=f"event-cancelled:{reg.id}", event=event, reason=reason.strip(),
                       when=event_when(event), attachments=[_ics_attachment(event, include_join=False)])
    return event


def meeting_dates(*, months: int, today: date, nth: int = 2, weekday_index: int = 3) -> list[date]:
    """The nth weekday (Thursday = 3) of each month, the next `months` of them from `today` on."""
    if months < 1 or months > 120:
        raise ValidationFailed("Choose between 1 and 120 months.", {"months": "Choose between 1 and 120 months."})
    rule = rrule(MONTHLY, byweekday=weekday(weekday_index, nth), dtstart=datetime.combine(today, time()),
                 count=months)
    return [moment.date() for moment in rule]


def schedule_meetings(*, actor: User, months: int = 12, today: date | None = None, title: str | None = None,
                      start: time = time(13, 0), end: time = time(14, 0), timezone: str = "America/New_York",
                      nth: int = 2, weekday_index: int = 3) -> tuple[list[Event], list[Event]]:
    """Create the monthly community meetings; returns (created, already there). Running it twice creates nothing."""
    require_staff(actor)
    config = current_app.config
    zone_today = today or utc_to_local(utcnow(), timezone).date()
    created: list[Event] = []
    existing: list[Event] = []
    for day in meeting_dates(months=months, today=zone_today, nth=nth, weekday_index=weekday_index):
        key = day.isoformat()
        found = db.session.execute(select(Event).where(Event.series == MEETING_SERIES, Event.occurrence == key)
                                   ).scalar_one_or_none()
        if found is not None:
            existing.append(found)
            continue
        event = Event(
            uid=f"{MEETING_SERIES}-{key}@{_list_host()}", series=MEETING_SERIES, occurrence=key,
            title=title or config["COMMUNITY_MEETING_TITLE"],
            summary="The community's monthly meeting: working-group updates, a featured talk and open discussion.",
            starts_at=local_to_utc(datetime.combine(day, start), timezone),
            ends_at=local_to_utc(datetime.combine(day, end), timezone),
            timezone=timezone, location="Online", join_url=config["COMMUNITY_MEETING_JOIN_URL"] or "",
            capacity=config["COMMUNITY_MEETING_CAPACITY"], public=True, created_by_id=actor.id,
        )
        db.session.add(event)
        db.session.flush()
        created.append(event)
    if created:
        audit.record(actor=actor, action="community.meetings_scheduled", object_type="event",
                     object_id=created[0].id, details={"created": [e.occurrence for e in created]})
    return created, existing


def can_see_event(event: Event, viewer: Any) -> bool:
    """Public events for everyone; members-only ones for members (and staff)."""
    return event.public or is_participant(viewer)


def get_event(event_id: int, viewer: Any) -> Event:
    event = db.session.get(Event, event_id)
    if event is None or not can_see_event(event, viewer):
        raise NotFound("No such event.")
    return event


def upcoming_events(viewer: Any, *, now: datetime | None = None, limit: int | None = None,
                    public_only: bool = False) -> list[Event]:
    now = now or utcnow()
    stmt = select(Event).where(Event.ends_at > now, Event.cancelled_at.is_(None)).order_by(Event.starts_at)
    if public_only or not is_participant(viewer):
        stmt = stmt.where(Event.public.is_(True))
    if limit:
        stmt = stmt.limit(limit)
    return list(db.session.execute(stmt).scalars())


def past_events(viewer: Any, *, now: datetime | None = None, limit: int = 24) -> list[Event]:
    stmt = select(Event).where(Event.ends_at <= (now or utcnow())).order_by(Event.starts_at.desc()).limit(limit)
    if not is_participant(viewer):
        stmt = stmt.where(Event.public.is_(True))
    return list(db.session.execute(stmt).scalars())


def next_meeting(viewer: Any) -> Event | None:
    found = upcoming_events(viewer, limit=1)
    return found[0] if found else None


def event_when(event: Event) -> str:
    return format_span(event.starts_at, event.ends_at, event.timezone)


def registration_of(event: Event, user: Any) -> Registration | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return next((r for r in event.registrations if r.user_id == user.id), None)


def is_registered(event: Event, user: Any) -> bool:
    reg = registration_of(event, user)
    return reg is not None and reg.status == RegistrationStatus.REGISTERED


def _lock(event: Event) -> Event:
    """Locked first, so seat counting is exact."""
    lock_row(event)
    db.session.refresh(event)
    db.session.expire(event, ["registrations"])
    return event


def _ics_attachment(event: Event, *, include_join: bool) -> tuple[str, str, bytes]:
    return ("event.ics", "text/calendar", ics.event_ics(event, include_join=include_join))


def _confirm_seat(reg: Registration, *, promoted: bool = False) -> None:
    event = reg.event
    mail.queue(to=reg.user.email, subject=("A seat opened: " if promoted else "You are registered: ") + event.title,
               template="event_registered", dedupe_key=f"event-registered:{reg.id}:{int(reg.queued_at.timestamp())}",
               event=event, when=event_when(event), promoted=promoted,
               link=external_url("community.event", event_id=event.id),
               attachments=[_ics_attachment(event, include_join=True)])


def register(*, actor: User, event: Event) -> Registration:
    """Take a seat, or a waitlist place when full. Registering twice changes nothing."""
    _require_member(actor)
    event = _lock(event)
    if event.cancelled_at is not None:
        raise Conflict("This event is cancelled.")
    if event.starts_at <= utcnow():
        raise Conflict("Registration has closed: the event has started.")
    reg = db.session.execute(select(Registration).where(Registration.event_id == event.id,
                                                        Registration.user_id == actor.id)).scalar_one_or_none()
    if reg is not None and reg.status != RegistrationStatus.CANCELLED:
        return reg
    taken = db.session.execute(select(func.count(Registration.id)).where(
        Registration.event_id == event.id, Registration.status == RegistrationStatus.REGISTERED.value)).scalar_one()
    status = (RegistrationStatus.REGISTERED if event.capacity is None or taken < event.capacity
              else RegistrationStatus.WAITLISTED)
    if reg is None:
        reg = Registration(event_id=event.id, user_id=actor.id)
        db.session.add(reg)
    reg.status, reg.queued_at, reg.cancelled_at, reg.reminded_at = status.value, utcnow(), None, None
    db.session.flush()
    db.session.refresh(reg)
    audit.record(actor=actor, action=f"community.event_{status.value}", obj=event)
    if status is RegistrationStatus.REGISTERED:
        _confirm_seat(reg)
    else:
        mail.queue(to=actor.email, subject=f"On the waitlist: {event.title}", template="event_waitlisted",
                   dedupe_key=f"event-waitlisted:{reg.id}:{int(reg.queued_at.timestamp())}", event=event,
                   when=event_when(event), link=external_url("community.event", event_id=event.id))
    return reg


def cancel_registration(*, actor: User, event: Event) -> Registration | None:
    """Give up a seat (the first on the waitlist gets it) or a waitlist place. Idempotent."""
    event = _lock(event)
    reg = db.session.execute(select(Registration).where(Registration.event_id == event.id,
                                                        Registration.user_id == actor.id)).scalar_one_or_none()
    if reg is None or reg.status == RegistrationStatus.CANCELLED:
        return reg
    reg.status, reg.cancelled_at = RegistrationStatus.CANCELLED.value, utcnow()
    db.session.flush()
    audit.record(actor=actor, action="community.event_cancelled_registration", obj=event)
    _promote_waitlist(event)
    return reg


def _promote_waitlist(event: Event) -> list[Registration]:
    """Fill free seats from the waitlist, earliest first, and tell each person."""
    if event.cancelled_at is not None or event.starts_at <= utcnow():
        return []
    db.session.expire(event, ["registrations"])
    taken = sum(1 for r in event.registrations if r.status == RegistrationStatus.REGISTERED)
    # A deactivated account never takes a freed seat from someone who can come.
    waiting = sorted((r for r in event.registrations
                      if r.status == RegistrationStatus.WAITLISTED and r.user.active),
                     key=lambda r: (r.queued_at, r.id))
    free = len(waiting) if event.capacity is None else max(0, event.capacity - taken)
    moved = waiting[:free]
    for reg in moved:
        reg.status = RegistrationStatus.REGISTERED.value
        db.session.flush()
        audit.record(actor=None, action="community.event_promoted", obj=event, details={"user": reg.user.email})
        _confirm_seat(reg, promoted=True)
    return moved


def waitlist_position(event: Event, reg: Registration | None) -> int | None:
    if reg is None or reg.status != RegistrationStatus.WAITLISTED:
        return None
    waiting = sorted((r for r in event.registrations if r.status == RegistrationStatus.WAITLISTED),
                     key=lambda r: (r.queued_at, r.id))
    return next(i for i, r in enumerate(waiting, 1) if r.id == reg.id)


def send_event_reminders(*, now: datetime | None = None) -> int:
    """Remind registrants of events starting within the next 24 hours (once each); run hourly by cron."""
    now = now or utcnow()
    due = db.session.execute(
        select(Registration).join(Event, Event.id == Registration.event_id)
        .where(Registration.status == RegistrationStatus.REGISTERED.value, Registration.reminded_at.is_(None),
               Event.cancelled_at.is_(None), Event.starts_at > now, Event.starts_at <= now + timedelta(hours=24))
    ).scalars().all()
    for reg in due:
        event = reg.event
        mail.queue(to=reg.user.email, subject=f"Tomorrow: {event.title}", template="event_reminder",
                   dedupe_key=f"event-reminder:{reg.id}", event=event, when=event_when(event),
                   link=external_url("community.event", event_id=event.id),
                   attachments=[_ics_attachment(event, include_join=True)])
        reg.reminded_at = now
    db.session.flush()
    return len(due)


def event_ics_for(event: Event, viewer: Any) -> bytes:
    return ics.event_ics(event, include_join=is_registered(event, viewer))


def calendar_feed() -> bytes:
    return ics.feed_ics(upcoming_events(None, public_only=True))


# --- resources ----------------------------------------------------------------------------


def _resource_errors(title: str, kind: str, url: str, has_file: bool) -> dict[str, str]:
    errors = {}
    if not (title or "").strip():
        errors["title"] = "Enter a title."
    if kind not in RESOURCE_KINDS:
        errors["kind"] = "Choose what kind of resource this is."
    url = (url or "").strip()
    if has_file and url:
        errors["url"] = "Give a file or a link, not both."
    elif not has_file and not url:
        errors["file"] = "Choose a file to upload, or give a link."
    elif url and not re.match(r"^https?://[^\s]+$", url):
        errors["url"] = "Use a full http:// or https:// link."
    return errors


def add_resource(*, actor: User, title: str, description: str, kind: str, topics: Any, url: str = "",
                 upload: BinaryIO | None = None, filename: str = "", event_id: int | None = None,
                 members_only: bool = False) -> Resource:
    """A link, or a file streamed to storage and checked by its bytes; a refusal leaves no object behind."""
    require_staff(actor)
    errors = _resource_errors(title, kind, url, upload is not None and bool(filename))
    if event_id is not None and db.session.get(Event, event_id) is None:
        errors["event_id"] = "Choose an existing event."
    if errors:
        raise ValidationFailed("Please correct the resource.", errors)
    row = Resource(title=title.strip()[:200], description=(description or "").strip(), kind=kind,
                   topics=_tags(topics), url=(url or "").strip(), event_id=event_id, members_only=bool(members_only),
                   created_by_id=actor.id)
    if upload is not None and filename:
        storage = get_storage()
        try:
            name = check_name(filename)
        except UploadRefused as exc:
            raise ValidationFailed(str(exc), {"file": str(exc)}) from exc
        key = new_key("community/resources")
        max_bytes = current_app.config["RESOURCE_MAX_BYTES"]
        track_new_object(db.session, key)
        try:
            size, _digest = storage.save_stream(key, upload, max_bytes=max_bytes,
                                                content_type="application/octet-stream")
            content_type = check_content(name=name, head=storage.read_head(key), size=size, accept=RESOURCE_TYPES,
                                         max_bytes=max_bytes)
        except UploadRefused as exc:
            storage.delete(key)
            raise ValidationFailed(str(exc), {"file": str(exc)}) from exc
        except Exception as exc:
            from ..storage import TooLarge

            storage.delete(key)
            if isinstance(exc, TooLarge):
                raise ValidationFailed("The file is too large.", {"file": f"Files may be at most {max_bytes:,} bytes."}
                                       ) from exc
            raise
        row.storage_key, row.filename, row.content_type, row.size = key, name, content_type, size
    db.session.add(row)
    db.session.flush()
    audit.record(actor=actor, action="community.resource_added", obj=row,
                 details={"title": row.title, "file": row.filename, "url": row.url, "members_only": row.members_only})
    return row


def delete_resource(*, actor: User, resource: Resource) -> str | None:
    """Remove the row; returns the storage key for the caller to delete after commit."""
    require_staff(actor)
    key = resource.storage_key
    audit.record(actor=actor, action="community.resource_deleted", obj=resource, details={"title": resource.title})
    db.session.delete(resource)
    db.session.flush()
    return key


def get_resource(resource_id: int, viewer: Any) -> Resource:
    row = db.session.get(Resource, resource_id)
    if row is None:
        raise NotFound("No such resource.")
    if row.members_only and not is_participant(viewer):  # for others it does not exist (404, not 403)
        raise NotFound("No such resource.")
    return row


def search_resources(viewer: Any, *, query: str = "", topic: str = "", kind: str = "",
                     event_id: int | None = None) -> list[Resource]:
    stmt = (select(Resource).order_by(Resource.published_on.desc(), Resource.id.desc())
            # each resource's event (its title is searched and shown) in one query; not the event's registrations
            .options(selectinload(Resource.event).options(lazyload(Event.registrations))))
    if not is_participant(viewer):
        stmt = stmt.where(Resource.members_only.is_(False))
    if kind in RESOURCE_KINDS:
        stmt = stmt.where(Resource.kind == kind)
    if event_id:
        stmt = stmt.where(Resource.event_id == event_id)
    rows = list(db.session.execute(stmt).scalars())
    words = [w for w in (query or "").lower().split() if w]
    wanted = (topic or "").strip().lower()

    def matches(row: Resource) -> bool:
        text = " ".join([row.title, row.description, " ".join(row.topics or []), row.filename,
                         row.event.title if row.event and can_see_event(row.event, viewer) else ""]).lower()
        return all(w in text for w in words) and (not wanted or wanted in (row.topics or []))

    return [r for r in rows if matches(r)]


def resource_topics(viewer: Any) -> list[str]:
    return sorted({t for r in search_resources(viewer) for t in (r.topics or [])})


# --- pages, steering committee, contact ---------------------------------------------------


def page(slug: str) -> Page | None:
    return db.session.execute(select(Page).where(Page.slug == slug)).scalar_one_or_none()


def about_sections() -> list[tuple[str, str, str]]:
    out = []
    for slug, title in ABOUT_SECTIONS:
        row = page(slug)
        out.append((slug, row.title if row else title, row.body_md if row else ""))
    return out


def save_page(*, actor: User, slug: str, title: str, body_md: str) -> Page:
    require_staff(actor)
    if slug not in dict(ABOUT_SECTIONS):
        raise NotFound("No such page.")
    if not (title or "").strip():
        raise ValidationFailed("Enter a heading.", {"title": "Enter a heading."})
    row = page(slug)
    before = row.body_md if row else ""
    if row is None:
        row = Page(slug=slug, title=title.strip()[:200])
        db.session.add(row)
    row.title, row.body_md, row.updated_by_id = title.strip()[:200], body_md or "", actor.id
    db.session.flush()
    audit.record(actor=actor, action="community.page_saved", obj=row,
                 details={"slug": slug, "before": before, "after": row.body_md})
    return row


def steering_committee() -> list[SteeringMember]:
    return list(db.session.execute(select(SteeringMember).order_by(SteeringMember.position, SteeringMember.id)
                                   ).scalars())


def save_steering_member(*, actor: User, name: str, title: str, organization: str, position: int,
                         member: SteeringMember | None = None) -> SteeringMember:
    require_staff(actor)
    if not (name or "").strip():
        raise ValidationFailed("Enter the name.", {"name": "Enter the person's name."})
    if member is None:
        member = SteeringMember()
        db.session.add(member)
    member.name, member.title = name.strip()[:200], (title or "").strip()[:200]
    member.organization, member.position = (organization or "").strip()[:200], int(position or 0)
    db.session.flush()
    audit.record(actor=actor, action="community.steering_saved", obj=member,
                 details={"name": member.name, "title": member.title, "position": member.position})
    return member


def delete_steering_member(*, actor: User, member: SteeringMember) -> None:
    require_staff(actor)
    audit.record(actor=actor, action="community.steering_removed", obj=member, details={"name": member.name})
    db.session.delete(member)
    db.session.flush()


def send_contact(*, name: str, email: str, subject: str, message: str, honeypot: str = "") -> ContactMessage | None:
    """Store and forward a message to CONTACT_EMAIL. A filled honeypot is a bot: accepted, then dropped."""
    from ..accounts.services import normalize_email

    if (honeypot or "").strip():
        return None
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = "Enter your name."
    try:
        address = normalize_email(email)
    except ValidationFailed:
        errors["email"] = "Enter a valid email address so we can reply."
        address = ""
    if not (subject or "").strip():
        errors["subject"] = "Enter a subject."
    if not (message or "").strip():
        errors["message"] = "Write your message."
    elif len(message) > 5000:
        errors["message"] = "Use at most 5,000 characters."
    if errors:
        raise ValidationFailed("Please correct the message.", errors)
    row = ContactMessage(name=name.strip()[:200], email=address, subject=subject.strip()[:200], message=message.strip())
    db.session.add(row)
    db.session.flush()
    mail.queue(to=current_app.config["CONTACT_EMAIL"], subject=f"[Contact] {row.subject}", template="contact",
               headers={"Reply-To": address}, message=row)
    return row


def is_valid_slug(value: str) -> bool:
    return bool(_SLUG.match(value or ""))


def role_categories() -> list[tuple[str, str]]:
    return [(c.value, c.label) for c in RoleCategory]


def members_in(emails: Iterable[str]) -> set[str]:
    """Which of these addresses belong to community members (for the panel page's pool badge)."""
    wanted = {e.lower() for e in emails}
    if not wanted:
        return set()
    return set(db.session.execute(select(User.email).join(UserRole, UserRole.user_id == User.id)
                                  .where(UserRole.role == Role.MEMBER.value, User.email.in_(wanted))).scalars())

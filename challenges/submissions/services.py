"""Organisations and applications: drafts, answers, files, deadlines, submit, withdraw, reopen.

Deadlines are compared on the server clock in UTC against the phase's close plus its grace
window (the phase stores UTC; the challenge's zone is only for display). Submit is idempotent per
application version: a Receipt row unique on (submission, version) means a double click, a retry
or two browser tabs record one submission.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
from datetime import datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, selectinload

from .. import audit, jobs, mail
from ..accounts.models import Role, User, UserRole
from ..errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from ..extensions import contains_text, db, lock_row
from ..links import external_url, read_invitation, sign_invitation
from ..models import ChallengeStatus, FormField, Phase
from ..storage import StorageError, TooLarge, get_storage, new_key, track_new_object
from ..text import one_line_problem
from ..timezones import utcnow
from ..uploads import EXTENSIONS, UploadRefused, check_content, check_name, extension_of
from .models import (
    BUSINESS_SIZES,
    CATEGORIES,
    SAM_STATUSES,
    Advancement,
    Invitation,
    Membership,
    Organization,
    Receipt,
    Screening,
    Submission,
    SubmissionFile,
    SubmissionStatus,
)

UEI_RE = re.compile(r"^[A-HJ-NP-Z1-9][A-HJ-NP-Z0-9]{11}$")
LIVE = (SubmissionStatus.DRAFT.value, SubmissionStatus.SUBMITTED.value)


# --- organisations ------------------------------------------------------------------------


def uei_error(uei: str) -> str | None:
    """SAM.gov Unique Entity IDs: 12 characters, letters and digits, no I or O, not starting with 0."""
    if not uei:
        return None
    if len(uei) != 12:
        return "A UEI has exactly 12 characters (letters and digits), as shown in SAM.gov."
    if not UEI_RE.match(uei):
        return "A UEI uses capital letters and digits only, never the letters I or O, and does not start with 0."
    return None


def _organization_errors(*, legal_name: str, uei: str, sam_status: str, business_size: str,
                         categories: list[str], website: str, poc_email: str, exclude_id: int | None,
                         poc_name: str = "", poc_phone: str = "") -> dict[str, str]:
    errors: dict[str, str] = {}
    if not legal_name.strip():
        errors["legal_name"] = "Enter the organisation’s legal name as registered."
    if (msg := uei_error(uei)) is not None:
        errors["uei"] = msg
    elif uei:
        stmt = select(Organization.id).where(Organization.uei == uei)
        if exclude_id is not None:
            stmt = stmt.where(Organization.id != exclude_id)
        if db.session.execute(stmt).first():
            errors["uei"] = "Another organisation already uses this UEI. Ask its owner to invite you instead."
    if sam_status not in SAM_STATUSES:
        errors["sam_status"] = "Choose a SAM.gov registration status."
    if business_size not in BUSINESS_SIZES:
        errors["business_size"] = "Choose a business size."
    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        errors["categories"] = "Unknown category: " + ", ".join(unknown)
    if website and not _is_http_url(website):
        errors["website"] = "Enter a full web address starting with https://"
    if poc_email and "@" not in poc_email:
        errors["poc_email"] = "Enter a valid email address for the point of contact."
    for key, value, limit in (("legal_name", legal_name.strip(), 300), ("website", website.strip(), 500),
                              ("poc_name", poc_name.strip(), 200), ("poc_email", poc_email.strip(), 254),
                              ("poc_phone", poc_phone.strip(), 40)):
        if key not in errors and (problem := one_line_problem(value, limit)):
            errors[key] = problem
    return errors


def _is_http_url(text: str) -> bool:
    parts = urlsplit(text.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in text.strip()


def save_organization(*, actor: User, organization: Organization | None = None, legal_name: str, uei: str = "",
                      sam_status: str = "not_registered", business_size: str = "other",
                      categories: list[str] | None = None, website: str = "", poc_name: str = "",
                      poc_email: str = "", poc_phone: str = "") -> Organization:
    """Create an organisation (the creator becomes its owner) or update one the actor owns."""
    uei = (uei or "").strip().upper()
    categories = list(dict.fromkeys(categories or []))
    if organization is not None and not is_owner(actor, organization):
        raise PermissionDenied("Only an owner of the organisation can change its profile.")
    errors = _organization_errors(legal_name=legal_name, uei=uei, sam_status=sam_status,
                                  business_size=business_size, categories=categories, website=website,
                                  poc_email=poc_email, poc_name=poc_name, poc_phone=poc_phone,
                                  exclude_id=organization.id if organization else None)
    if errors:
        raise ValidationFailed("Please correct the organisation profile.", errors)
    created = organization is None
    if created and not actor.is_verified:  # sign-in already requires it; services do not rely on views
        raise PermissionDenied("Confirm your email address before adding an organisation: receipts and "
                               "notices about your applications go there.")
    if organization is None:
        organization = Organization(created_by_id=actor.id)
        db.session.add(organization)
    organization.legal_name, organization.uei = legal_name.strip(), uei or None
    organization.sam_status, organization.business_size, organization.categories = sam_status, business_size, categories
    organization.website, organization.poc_name = website.strip(), poc_name.strip()
    organization.poc_email, organization.poc_phone = poc_email.strip().lower(), poc_phone.strip()
    organization.email_domain = actor.email.rsplit("@", 1)[-1] if created else organization.email_domain
    db.session.flush()
    if created:
        db.session.add(Membership(organization_id=organization.id, user_id=actor.id, role="owner"))
        _become_vendor(actor, via="organization")
        db.session.flush()
    audit.record(actor=actor, action="organization.created" if created else "organization.saved", obj=organization,
                 details={"legal_name": organization.legal_name, "uei": organization.uei})
    return organization


def _become_vendor(actor: User, *, via: str, granted_by_id: int | None = None) -> None:
    """Applying is self-service: creating or joining an applicant organisation makes a person a vendor."""
    if actor.has_role(Role.VENDOR):
        return
    actor.role_rows.append(UserRole(user_id=actor.id, role=Role.VENDOR.value, granted_by_id=granted_by_id))
    audit.record(actor=actor, action="user.role_granted", obj=actor, details={"role": "vendor", "via": via})


def membership(user: Any, organization: Organization) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return next((m for m in organization.memberships if m.user_id == user.id), None)


def is_owner(user: Any, organization: Organization) -> bool:
    member = membership(user, organization)
    return member is not None and member.role == "owner"


def get_organization(organization_id: int) -> Organization | None:
    """The organisation with its members and their accounts (its page lists them all), in a fixed number
    of queries."""
    return db.session.execute(select(Organization).where(Organization.id == organization_id).options(
        selectinload(Organization.memberships).selectinload(Membership.user))).scalar_one_or_none()


def organizations_of(user: User) -> list[Organization]:
    return list(db.session.execute(
        select(Organization).join(Membership).where(Membership.user_id == user.id).order_by(Organization.legal_name)
    ).scalars())


def invite(*, actor: User, organization: Organization, email: str, role: str) -> Invitation:
    """An owner invites a co-applicant by email; the signed link works for that address only."""
    from ..accounts.services import normalize_email

    if not is_owner(actor, organization):
        raise PermissionDenied("Only an owner can invite people to the organisation.")
    if role not in ("owner", "contributor"):
        raise ValidationFailed("Choose a role.", {"role": "Choose owner or contributor."})
    address = normalize_email(email)
    if any(m.user.email == address for m in organization.memberships):
        raise Conflict(f"{address} is already a member.", {"email": f"{address} is already a member."})
    invitation = Invitation(organization_id=organization.id, email=address, role=role, invited_by_id=actor.id)
    db.session.add(invitation)
    db.session.flush()
    token = sign_invitation("org-invitation", {"id": invitation.id, "email": address})
    mail.queue(to=address, subject=f"Join {organization.legal_name} on the Applied AI Challenges",
               template="org_invitation", dedupe_key=f"invitation:{invitation.id}", organization=organization,
               inviter=actor, role=role, link=external_url("submissions.accept_invitation", token=token))
    audit.record(actor=actor, action="organization.invited", obj=organization, details={"email": address, "role": role})
    return invitation


def accept_invitation(*, actor: User, token: str, max_age: int = 14 * 24 * 3600) -> Organization:
    data = read_invitation("org-invitation", token, max_age, expired="This invitation has expired; ask for a new one.")
    invitation = db.session.get(Invitation, data.get("id"))
    if invitation is None or invitation.email != data.get("email"):
        raise ValidationFailed("This invitation no longer exists.")
    if actor.email != invitation.email:
        raise PermissionDenied(f"This invitation is for {invitation.email}. Sign in with that address.")
    organization = invitation.organization
    if invitation.accepted_at is not None and membership(actor, organization) is None:
        # Used once already: someone an owner removed cannot walk back in with the old link.
        raise ValidationFailed("This invitation was already used. Ask an owner of the organisation for a new one.")
    if membership(actor, organization) is None:
        organization.memberships.append(Membership(user_id=actor.id, role=invitation.role))
    _become_vendor(actor, via="invitation", granted_by_id=invitation.invited_by_id)
    if invitation.accepted_at is None:
        invitation.accepted_at = utcnow()
        audit.record(actor=actor, action="organization.joined", obj=organization, details={"role": invitation.role})
    # Any other invitation to this address is spent too: an older one (perhaps as owner) must not bring
    # the person back after an owner removes them.
    for other in pending_invitations(organization):
        if other.email == invitation.email:
            other.accepted_at = invitation.accepted_at
    db.session.flush()
    return organization


def _require_owner(actor: User, organization: Organization) -> None:
    if membership(actor, organization) is None:
        raise NotFound("No such organisation.")
    if not is_owner(actor, organization):
        raise PermissionDenied("Only an owner of the organisation can manage its members.")


def _owners(organization: Organization) -> list[Membership]:
    return [m for m in organization.memberships if m.role == "owner"]


def remove_member(*, actor: User, organization: Organization, user_id: int) -> None:
    """An owner removes someone (or anyone leaves); the organisation always keeps an owner."""
    target = next((m for m in organization.memberships if m.user_id == user_id), None)
    if actor.id != user_id:
        _require_owner(actor, organization)
    if target is None:
        raise NotFound("That person is not a member.")
    if target.role == "owner" and len(_owners(organization)) == 1:
        raise Conflict("The organisation needs at least one owner: make someone else an owner first.")
    email = target.user.email
    for waiting in pending_invitations(organization):  # no link left that lets them back in
        if waiting.email == email:
            db.session.delete(waiting)
    organization.memberships.remove(target)
    db.session.delete(target)
    db.session.flush()
    audit.record(actor=actor, action="organization.member_removed" if actor.id != user_id else "organization.left",
                 obj=organization, details={"email": email, "role": target.role})


def set_member_role(*, actor: User, organization: Organization, user_id: int, role: str) -> None:
    _require_owner(actor, organization)
    if role not in ("owner", "contributor"):
        raise ValidationFailed("Choose a role.", {"role": "Choose owner or contributor."})
    target = next((m for m in organization.memberships if m.user_id == user_id), None)
    if target is None:
        raise NotFound("That person is not a member.")
    if target.role == role:
        return
    if target.role == "owner" and len(_owners(organization)) == 1:
        raise Conflict("The organisation needs at least one owner: make someone else an owner first.")
    before, target.role = target.role, role
    db.session.flush()
    audit.record(actor=actor, action="organization.role_changed", obj=organization,
                 details={"email": target.user.email, "from": before, "to": role})


def pending_invitations(organization: Organization) -> list[Invitation]:
    return list(db.session.execute(select(Invitation).where(
        Invitation.organization_id == organization.id, Invitation.accepted_at.is_(None))
        .order_by(Invitation.created_at)).scalars())


def revoke_invitation(*, actor: User, invitation: Invitation) -> None:
    """The link stops working at once (it names a row that no longer exists)."""
    _require_owner(actor, invitation.organization)
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted; remove the member instead.")
    organization, email = invitation.organization, invitation.email
    db.session.delete(invitation)
    db.session.flush()
    audit.record(actor=actor, action="organization.invitation_revoked", obj=organization, details={"email": email})


# --- applications -------------------------------------------------------------------------


def accepting(phase: Phase, now: datetime | None = None) -> bool:
    """Whether the phase takes new applications and edits now (server clock, grace included)."""
    now = now or utcnow()
    return phase.challenge.status == ChallengeStatus.PUBLISHED.value and phase.opens_at <= now <= phase.hard_close


def can_start(phase: Phase, now: datetime | None = None) -> bool:
    """Whether a new application may begin: only until the published close. The grace window after it
    is for applications already under way (a slow upload at 4:59 pm), not for newcomers."""
    now = now or utcnow()
    return accepting(phase, now) and now <= phase.closes_at


def can_change(submission: Submission, now: datetime | None = None) -> bool:
    """Drafts and submitted entries change until the close, or until staff's reopening ends."""
    now = now or utcnow()
    if submission.status not in LIVE:
        return False
    if submission.reopened_until is not None and now <= submission.reopened_until:
        return True
    return accepting(submission.phase, now)


def _deadline_error(submission: Submission, now: datetime) -> Conflict:
    phase = submission.phase
    if now < phase.opens_at:
        return Conflict("This phase has not opened yet.")
    return Conflict("The deadline for this phase has passed; the application can no longer change.")


def start_application(*, actor: User, phase: Phase, organization: Organization,
                      now: datetime | None = None) -> Submission:
    now = now or utcnow()
    if membership(actor, organization) is None:
        raise PermissionDenied("You are not a member of that organisation.")
    if not can_start(phase, now):
        raise Conflict("This phase is not accepting applications now.")
    if phase.invitation_only and not invited(organization, phase):
        raise PermissionDenied(f"{phase.name} is open only to entries advanced from the previous round, "
                               "whose invitation was accepted.")
    lock_row(organization)  # two simultaneous starts cannot both see room
    count = db.session.execute(
        select(func.count(Submission.id)).where(Submission.phase_id == phase.id,
                                                Submission.organization_id == organization.id,
                                                Submission.status.in_(LIVE))
    ).scalar_one()
    if count >= phase.max_submissions_per_org:
        raise Conflict(f"{organization.legal_name} already has {count} application(s) in this phase, "
                       f"the most allowed ({phase.max_submissions_per_org}).")
    submission = Submission(phase_id=phase.id, organization_id=organization.id, created_by_id=actor.id,
                            form_version=phase.form_version, answers={})
    db.session.add(submission)
    db.session.flush()
    audit.record(actor=actor, action="submission.started", obj=submission,
                 details={"phase": phase.key, "organization": organization.id})
    return submission


def _answer_error(field: FormField, value: Any) -> tuple[Any, str | None]:
    """Normalise one answer and say what is wrong with it (required-ness is checked at submit)."""
    if field.type in ("text", "textarea", "url"):
        text = str(value or "").strip()
        if "\x00" in text:  # PostgreSQL's JSON cannot hold it; no one types it
            return text.replace("\x00", ""), "Remove the hidden NUL character (it often comes from pasting)."
        if field.max_length and len(text) > field.max_length:
            return text, f"Keep this to {field.max_length} characters (now {len(text)})."
        if field.type == "url" and text and not _is_http_url(text):
            return text, "Enter a full web address starting with https://"
        return text, None
    if field.type == "number":
        if value in (None, ""):
            return None, None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value, "Enter a number, such as 42 or 3.5."
        if not math.isfinite(number):  # "nan", "inf", "1e999": not numbers anyone means, and not JSON
            return str(value), "Enter a number, such as 42 or 3.5."
        return (int(number) if number.is_integer() else number), None
    if field.type == "select":
        text = str(value or "")
        if text and text not in field.options:
            return text, "Choose one of the listed options."
        return text, None
    if field.type == "multiselect":
        chosen = [str(v) for v in (value or [])]
        if any(v not in field.options for v in chosen):
            return chosen, "Choose only from the listed options."
        return chosen, None
    if field.type == "checkbox":
        return bool(value) and value not in ("", "0", "false", "off"), None
    return value, None


def save_answers(*, actor: User, submission: Submission, answers: dict[str, Any],
                 now: datetime | None = None) -> Submission:
    """Validate and store a draft; invalid answers are refused and nothing changes."""
    now = now or utcnow()
    require_member(actor, submission)
    if not can_change(submission, now):
        raise _deadline_error(submission, now)
    fields = {f.key: f for f in submission.phase.fields if f.type != "file"}
    errors: dict[str, str] = {}
    before = submission.working_answers()
    cleaned = dict(before)
    for key, field in fields.items():
        if key not in answers:
            continue
        value, problem = _answer_error(field, answers[key])
        if problem:
            errors[key] = problem
        cleaned[key] = value
    if errors:
        raise ValidationFailed("Some answers need fixing; your previous draft is unchanged.", errors)
    if cleaned != before:
        submission.version += 1
        if submission.status == SubmissionStatus.SUBMITTED.value:
            # The submitted answers stay what staff and judges see until the vendor submits again.
            submission.draft_answers = None if cleaned == (submission.answers or {}) else cleaned
            if not submission.has_unsubmitted_changes:  # edited back: exactly the submitted version again
                submission.version = submission.submitted_version or submission.version
        else:
            submission.answers = cleaned
    db.session.flush()
    return submission


def discard_changes(*, actor: User, submission: Submission, now: datetime | None = None) -> None:
    """Drop what changed since the last submission: the application is again exactly as submitted."""
    now = now or utcnow()
    require_member(actor, submission)
    if submission.status != SubmissionStatus.SUBMITTED.value or not submission.has_unsubmitted_changes:
        raise Conflict("There are no unsubmitted changes to discard.")
    dropped = [f.display_name for f in submission.files if f.status == "draft"]
    for record in submission.files:
        if record.status == "draft":
            record.status = "discarded"
    submission.draft_answers = None
    submission.version = submission.submitted_version or submission.version
    db.session.flush()
    audit.record(actor=actor, action="submission.changes_discarded", obj=submission,
                 details={"files": dropped, "version": submission.version})


def accept_rules(*, actor: User, submission: Submission, rules_version: str) -> None:
    """Record acceptance of exactly the rules text the vendor saw (by its hash)."""
    require_member(actor, submission)
    current = submission.phase.challenge.rules_version
    if rules_version != current:
        raise Conflict("The rules changed since you opened this page. Read the current rules and accept again.")
    submission.rules_version_accepted, submission.rules_accepted_at = current, utcnow()
    db.session.flush()
    audit.record(actor=actor, action="submission.rules_accepted", obj=submission, details={"rules_version": current})


def missing_items(submission: Submission) -> list[tuple[str, str]]:
    """(field key, label) of everything still needed before submit; the completeness meter."""
    missing: list[tuple[str, str]] = []
    stored = submission.working_files()
    answers = submission.working_answers()
    for field in submission.phase.fields:
        if not field.required:
            continue
        if field.type == "file":
            if field.key not in stored:
                missing.append((field.key, field.label))
            continue
        value = answers.get(field.key)
        if value in (None, "", [], False):
            missing.append((field.key, field.label))
    if submission.rules_version_accepted != submission.phase.challenge.rules_version:
        missing.append(("rules", "Accept the official rules"))
    return missing


def completeness(submission: Submission) -> int:
    """Percentage of required items done, for the meter."""
    required = [f for f in submission.phase.fields if f.required] + [None]  # None: rules acceptance
    done = len(required) - len(missing_items(submission))
    return round(100 * done / len(required))


def _answer_checksums(answers: dict[str, Any]) -> dict[str, str]:
    return {key: hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
            for key, value in sorted(answers.items())}


def submit(*, actor: User, submission: Submission, now: datetime | None = None) -> Receipt:
    """Record the current version as submitted, once; the receipt lists every checksum."""
    now = now or utcnow()
    require_member(actor, submission)
    existing = db.session.execute(
        select(Receipt).where(Receipt.submission_id == submission.id, Receipt.version == submission.version)
    ).scalar_one_or_none()
    if existing is not None and submission.status == SubmissionStatus.SUBMITTED.value:
        return existing  # the same version again: one submission, same receipt
    if submission.status in (SubmissionStatus.WITHDRAWN.value, SubmissionStatus.DISQUALIFIED.value):
        raise Conflict(f"This application was {submission.status}; it cannot be submitted again.")
    if not can_change(submission, now):
        raise _deadline_error(submission, now)
    missing = missing_items(submission)
    if missing:
        raise ValidationFailed("The application is not complete.", {key: f"{label} is required." if key != "rules"
                                                                      else label for key, label in missing})
    files = submission.working_files()
    answers = submission.working_answers()
    manifest = {
        "public_code": None,
        "version": submission.version,
        "answers": answers,
        "answer_sha256": _answer_checksums(answers),
        "files": [{"field": f.field_key, "name": f.display_name, "size": f.size, "sha256": f.sha256, "id": f.id}
                  for f in files.values()],
        "rules_version": submission.rules_version_accepted,
    }
    if not _insert_receipt(submission_id=submission.id, version=submission.version, received_at=now,
                           submitted_by_id=actor.id, manifest=manifest):
        # Another request recorded this version a moment ago: one submission, its receipt.
        return db.session.execute(
            select(Receipt).where(Receipt.submission_id == submission.id, Receipt.version == submission.version)
        ).scalar_one()
    receipt = db.session.execute(
        select(Receipt).where(Receipt.submission_id == submission.id, Receipt.version == submission.version)
    ).scalar_one()
    first = submission.submitted_at is None
    # What was submitted becomes what everyone reads: the edited answers, and new files over old ones.
    submission.answers, submission.draft_answers = answers, None
    for record in submission.files:
        if record.status == "stored" and files.get(record.field_key) is not record:
            record.status = "replaced"
    for record in files.values():
        record.status = "stored"
    submission.status = SubmissionStatus.SUBMITTED.value
    submission.submitted_at, submission.submitted_version = now, submission.version
    if submission.public_code is None:
        submission.public_code = f"AI-{now.year}-{submission.id:04d}"
    receipt.manifest = {**manifest, "public_code": submission.public_code}
    db.session.flush()
    audit.record(actor=actor, action="submission.submitted" if first else "submission.resubmitted", obj=submission,
                 details={"version": submission.version, "code": submission.public_code})
    _send_receipt(submission, receipt)
    return receipt


def _insert_receipt(**values: Any) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: atomic on both engines, no savepoint needed."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.flush()
    result = db.session.execute(insert(Receipt).values(**values).on_conflict_do_nothing(
        index_elements=["submission_id", "version"]))
    return bool(result.rowcount)


def _send_receipt(submission: Submission, receipt: Receipt) -> None:
    link = external_url("submissions.receipt", submission_id=submission.id, version=receipt.version)
    challenge = submission.phase.challenge
    for member in submission.organization.memberships:
        mail.queue(
            to=member.user.email,
            subject=f"Receipt: {submission.public_code} — {challenge.title}",
            template="submission_receipt",
            dedupe_key=f"receipt:{submission.id}:{receipt.version}:{member.user_id}",
            submission=submission, receipt=receipt, challenge=challenge, link=link,
        )


def withdraw(*, actor: User, submission: Submission, reason: str = "", now: datetime | None = None) -> None:
    now = now or utcnow()
    require_member(actor, submission)
    if not is_owner(actor, submission.organization):  # it cannot be undone: the organisation's decision
        raise PermissionDenied("Only an owner of the organisation can withdraw its application.")
    if not can_change(submission, now):
        raise _deadline_error(submission, now)
    old = submission.status
    submission.status, submission.status_reason = SubmissionStatus.WITHDRAWN.value, reason.strip()
    db.session.flush()
    audit.record(actor=actor, action="submission.withdrawn", obj=submission,
                 details={"from": old, "reason": reason.strip()})


def reopen(*, actor: User, submission: Submission, until: datetime, reason: str) -> None:
    """Staff let one entry change after the deadline (until a set time); always audited."""
    if not actor.is_staff:
        raise PermissionDenied("Only program staff can reopen an application.")
    if not reason.strip():
        raise ValidationFailed("A reason is required.", {"reason": "Say why this application is reopened."})
    if until <= utcnow():
        raise ValidationFailed("Choose a future time.", {"until": "The reopening must end in the future."})
    if refusal := reopen_refusal(submission):
        raise Conflict(refusal)
    submission.reopened_until = until
    db.session.flush()
    audit.record(actor=actor, action="submission.reopened", obj=submission,
                 details={"until": until.isoformat(), "reason": reason.strip()})
    _tell_applicant(submission, "application_reopened", f"Reopened until {until.isoformat()}",
                    subject="Your application is reopened", reason=reason.strip())


def reopen_refusal(submission: Submission) -> str | None:
    """Why staff cannot reopen this application (None when they can): only a draft or a submitted
    application can change, so reopening any other would let nobody change anything."""
    if submission.status in LIVE:
        return None
    if submission.status == SubmissionStatus.DISQUALIFIED.value:
        return ("This application was disqualified, so reopening it would not let anyone change it: reinstate it "
                "first.")
    return f"This application was {submission.status}, so reopening it would not let anyone change it."


def _tell_applicant(submission: Submission, template: str, key: str, *, subject: str, **context: Any) -> None:
    """Email every member of the applicant organisation about a decision on their application."""
    challenge = submission.phase.challenge
    link = external_url("submissions.application", submission_id=submission.id)
    for member in submission.organization.memberships:
        mail.queue(to=member.user.email, subject=f"{subject}: {submission.public_code or challenge.title}",
                   template=template, dedupe_key=f"{template}:{submission.id}:{key}:{member.user_id}",
                   submission=submission, challenge=challenge, link=link, **context)


# --- files --------------------------------------------------------------------------------


def _file_field(submission: Submission, field_key: str) -> FormField:
    field = next((f for f in submission.phase.fields if f.key == field_key and f.type == "file"), None)
    if field is None:
        raise NotFound("No such file question on this form.")
    return field


def upload_file(*, actor: User, submission: Submission, field_key: str, filename: str, stream: BinaryIO,
                now: datetime | None = None) -> SubmissionFile:
    """Stream a file to storage, check what it really is, keep it or delete it. Earlier versions stay."""
    now = now or utcnow()
    require_member(actor, submission)
    if not can_change(submission, now):
        raise _deadline_error(submission, now)
    field = _file_field(submission, field_key)
    try:
        name = check_name(filename)
    except UploadRefused as exc:
        raise ValidationFailed(str(exc), {field_key: str(exc)}) from exc
    storage = get_storage()
    key = new_key(f"submissions/{submission.id}")
    try:
        size, digest = storage.save_stream(key, stream, max_bytes=field.max_bytes or 0,
                                           content_type="application/octet-stream")
        track_new_object(db.session, key)
        content_type = check_content(name=name, head=storage.read_head(key, 65536), size=size,
                                     accept=list(field.accept or []), max_bytes=field.max_bytes or 0)
    except TooLarge as exc:
        storage.delete(key)
        message = f"The file is larger than this question allows ({(field.max_bytes or 0):,} bytes)."
        raise ValidationFailed(message, {field_key: message}) from exc
    except UploadRefused as exc:
        storage.delete(key)
        raise ValidationFailed(str(exc), {field_key: str(exc)}) from exc
    except StorageError as exc:
        storage.delete(key)
        message = "The file could not be stored just now; your application is unchanged. Try again shortly."
        raise ValidationFailed(message, {field_key: message}) from exc
    record = SubmissionFile(
        submission_id=submission.id, field_key=field_key, storage_key=key, display_name=name, size=size,
        content_type=content_type, status="checking", uploaded_by_id=actor.id)
    submission.files.append(record)
    _store(record, digest, actor=actor, now=now)
    return record


MULTIPART_THRESHOLD = 100 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024


def begin_direct_upload(*, actor: User, submission: Submission, field_key: str, filename: str,
                        content_type: str, size: int, now: datetime | None = None) -> dict[str, Any]:
    """S3 only: register a pending file and hand the browser a presigned upload bound to it.

    Claims are checked now (name, type, size) and the bytes again at `confirm_upload`.
    """
    now = now or utcnow()
    require_member(actor, submission)
    if not can_change(submission, now):
        raise _deadline_error(submission, now)
    field = _file_field(submission, field_key)
    storage = get_storage()
    if storage.kind != "s3":
        raise Conflict("Direct uploads need S3 storage; use the upload form.")
    try:
        name = check_name(filename)
        if content_type not in (field.accept or []) or extension_of(name) not in EXTENSIONS.get(content_type, ()):
            raise UploadRefused(f"Files like “{name}” ({content_type or 'unknown type'}) are not accepted here.")
        if not 0 < size <= (field.max_bytes or 0):
            raise UploadRefused(f"The file is {size:,} bytes; this question accepts 1 to {field.max_bytes:,} bytes.")
    except UploadRefused as exc:
        raise ValidationFailed(str(exc), {field_key: str(exc)}) from exc
    key = new_key(f"submissions/{submission.id}")
    record = SubmissionFile(submission_id=submission.id, field_key=field_key, storage_key=key, display_name=name,
                            size=size, declared_type=content_type, status="pending", uploaded_by_id=actor.id)
    submission.files.append(record)
    db.session.flush()
    if size > MULTIPART_THRESHOLD:
        upload_id = storage.create_multipart(key, content_type=content_type)  # type: ignore[attr-defined]
        count = -(-size // PART_SIZE)
        urls = [storage.presign_part(key, upload_id=upload_id, part_number=n)  # type: ignore[attr-defined]
                for n in range(1, count + 1)]
        return {"file_id": record.id, "mode": "multipart", "upload_id": upload_id, "part_size": PART_SIZE,
                "part_urls": urls}
    post = storage.presigned_post(key, content_type=content_type, max_bytes=field.max_bytes)  # type: ignore[attr-defined]
    return {"file_id": record.id, "mode": "post", "url": post["url"], "fields": post["fields"]}


def confirm_upload(*, actor: User, submission: Submission, file_id: int, upload_id: str | None = None,
                   parts: list[dict[str, Any]] | None = None, now: datetime | None = None) -> SubmissionFile:
    """Check what actually arrived in the bucket; keep it, or delete it and record why.

    A refusal is returned (status "rejected", `reject_reason`), not raised, so the caller commits
    it: the object is gone and no pending row is left behind.
    """
    now = now or utcnow()
    require_member(actor, submission)
    record = next((f for f in submission.files if f.id == file_id), None)
    if record is None:
        raise NotFound("No such upload for this application.")
    if record.status != "pending":
        raise Conflict("This upload was already checked.")
    field = _file_field(submission, record.field_key)
    storage = get_storage()

    def refuse(reason: str) -> SubmissionFile:
        _reject(record, reason, actor=actor)
        return record

    # The same rule as a form upload: the file must arrive while the application may still change
    # (announcing it before the deadline is not enough), and never on a withdrawn one.
    if submission.status not in (SubmissionStatus.DRAFT.value, SubmissionStatus.SUBMITTED.value):
        return refuse(f"This application was {submission.status}; the file was not kept.")
    if not can_change(submission, now):
        return refuse(_deadline_error(submission, now).message + " The file arrived too late and was not kept.")

    try:
        if upload_id and parts:
            storage.complete_multipart(record.storage_key, upload_id=upload_id, parts=parts)  # type: ignore[attr-defined]
        stat = storage.stat(record.storage_key)
        if stat is None:
            return refuse("Nothing arrived for this upload. Choose the file and upload it again.")
        if stat.size != record.size:
            return refuse(f"The upload is {stat.size:,} bytes but {record.size:,} were announced; upload it again.")
        if stat.encryption is None:
            return refuse("The stored file was not encrypted, so it was deleted. Upload it again.")
        content_type = check_content(name=record.display_name, head=storage.read_head(record.storage_key, 65536),
                                     size=stat.size, accept=list(field.accept or []), max_bytes=field.max_bytes or 0)
    except UploadRefused as exc:
        return refuse(str(exc))
    except StorageError:
        return refuse("The file store could not be reached; nothing was kept. Try again shortly.")
    record.content_type = content_type
    if stat.size > HASH_IN_JOB_BYTES:
        # Reading a large object back takes a while: hash it in a job; the page shows "being checked".
        record.status = "checking"
        db.session.flush()
        jobs.enqueue("submissions.hash_file", dedupe_key=f"hash:{record.id}", file_id=record.id)
        return record
    try:
        digest = storage.sha256(record.storage_key)
    except StorageError:
        return refuse("The file store could not be reached; nothing was kept. Try again shortly.")
    _store(record, digest, actor=actor, now=now)
    return record


HASH_IN_JOB_BYTES = 100 * 1024 * 1024


def _store(record: SubmissionFile, digest: str, *, actor: Any, now: datetime) -> None:
    """Keep a checked file. On a submitted application it waits as a "draft" file until the vendor
    submits again; the submitted file stays what staff and judges see."""
    submission = record.submission
    if submission.status not in LIVE:  # one rule for every way a file arrives
        raise Conflict(f"This application was {submission.status}; nothing can be added to it.")
    previous = submission.working_files().get(record.field_key)
    if previous is record:
        previous = None
    waiting = submission.status == SubmissionStatus.SUBMITTED.value
    if previous is not None and (previous.status == "draft" or not waiting):
        previous.status = "replaced"
    record.status, record.sha256, record.confirmed_at = ("draft" if waiting else "stored"), digest, now
    record.version = (previous.version + 1) if previous is not None else 1
    submission.version += 1
    db.session.flush()
    audit.record(actor=actor, action="submission.file_stored", obj=submission,
                 details={"field": record.field_key, "name": record.display_name, "size": record.size,
                          "sha256": digest})


@jobs.task("submissions.hash_file")
def hash_file(job: Any = None, *, file_id: int) -> dict[str, Any]:
    """Stream a large confirmed object once to compute its SHA-256, then keep it."""
    record = db.session.get(SubmissionFile, file_id)
    if record is None or record.status != "checking":
        return {"skipped": True}
    uploader = db.session.get(User, record.uploaded_by_id)
    if record.submission.status not in LIVE:  # withdrawn or disqualified while the job waited
        _reject(record, f"This application was {record.submission.status}; the file was not kept.", actor=uploader)
        db.session.commit()
        return {"stored": False}
    try:
        digest = get_storage().sha256(record.storage_key)
    except StorageError:
        _reject(record, "The file store could not be reached while checking the file; upload it again.",
                actor=uploader)
        db.session.commit()
        return {"stored": False}
    _store(record, digest, actor=uploader, now=utcnow())
    db.session.commit()
    return {"stored": True, "sha256": digest}


def _reject(record: SubmissionFile, reason: str, *, actor: Any) -> None:
    with contextlib.suppress(StorageError):  # the row says rejected either way; the object is unreachable
        get_storage().delete(record.storage_key)
    record.status, record.reject_reason = "rejected", reason
    db.session.flush()
    audit.record(actor=actor, action="submission.file_rejected", obj=record.submission,
                 details={"field": record.field_key, "reason": reason})


def cleanup_pending_uploads(*, older_than_seconds: int = 3600, now: datetime | None = None) -> int:
    """Reject uploads announced but never confirmed (browser closed, S3 outage); delete their objects."""
    from datetime import timedelta

    from ..accounts.services import get_system_user

    cutoff = (now or utcnow()) - timedelta(seconds=older_than_seconds)
    stale = db.session.execute(select(SubmissionFile).where(SubmissionFile.status == "pending",
                                                            SubmissionFile.created_at < cutoff)).scalars().all()
    system = get_system_user()
    for record in stale:
        _reject(record, "The upload was never confirmed and was removed.", actor=system)
    return len(stale)


# --- staff: applications and screening ----------------------------------------------------

SCREENING_ITEMS = {
    "entity": "Eligible entity (U.S. organisation, not a federal entity)",
    "sam": "Active SAM.gov registration and UEI",
    "complete": "All required materials present and readable",
    "scope": "Within the challenge's scope",
    "rules": "Complies with the official rules (length, format, prohibited content)",
}


def list_applications(*, phase: Phase, status: str = "", query: str = "") -> list[Submission]:
    stmt = (select(Submission).join(Organization).where(Submission.phase_id == phase.id)
            .options(contains_eager(Submission.organization)))  # each row's organisation, from the same query
    if status:
        stmt = stmt.where(Submission.status == status)
    if query.strip():
        stmt = stmt.where(contains_text(Organization.legal_name, query) | contains_text(Submission.public_code, query))
    return list(db.session.execute(stmt.order_by(Submission.public_code.is_(None), Submission.public_code,
                                                 Submission.id)).scalars())


def status_counts(phase: Phase) -> dict[str, int]:
    rows = db.session.execute(select(Submission.status, func.count(Submission.id))
                              .where(Submission.phase_id == phase.id).group_by(Submission.status)).all()
    return {status: count for status, count in rows}


def get_for_staff(actor: Any, submission_id: int) -> Submission:
    if not getattr(actor, "is_staff", False):
        raise PermissionDenied("Only program staff can see applications.")
    submission = db.session.get(Submission, submission_id)
    if submission is None:
        raise NotFound("No such application.")
    return submission


def screen(*, actor: User, submission: Submission, results: dict[str, tuple[bool, str]], decision: str,
           reason: str = "") -> Screening:
    """Record the eligibility checklist (pass/fail with a reason per item) and the decision."""
    if not actor.is_staff:
        raise PermissionDenied("Only program staff can screen applications.")
    errors: dict[str, str] = {}
    if decision not in ("eligible", "ineligible", "pending"):
        errors["decision"] = "Choose eligible, ineligible or pending."
    for item, (passed, why) in results.items():
        if item not in SCREENING_ITEMS:
            errors[item] = "Unknown checklist item."
        elif not passed and not why.strip():
            errors[item] = f"Say why “{SCREENING_ITEMS[item]}” failed."
    if decision == "ineligible" and not reason.strip():
        errors["reason"] = "Say why the application is ineligible; the vendor may ask."
    if decision == "eligible" and any(not passed for passed, _ in results.values()):
        errors["decision"] = "An application with a failed item cannot be eligible."
    if errors:
        raise ValidationFailed("Please correct the screening.", errors)
    screening = db.session.execute(select(Screening).where(Screening.submission_id == submission.id)
                                   ).scalar_one_or_none()
    before = dict(screening.checklist) if screening else None
    if screening is None:
        screening = Screening(submission_id=submission.id)
        db.session.add(screening)
    screening.checklist = {item: {"pass": passed, "reason": why.strip()} for item, (passed, why) in results.items()}
    screening.decision, screening.reason = decision, reason.strip()
    screening.decided_by_id, screening.decided_at = actor.id, utcnow()
    db.session.flush()
    audit.record(actor=actor, action="submission.screened", obj=submission,
                 details={"decision": decision, "reason": reason.strip(), "before": before,
                          "after": screening.checklist})
    return screening


def disqualify(*, actor: User, submission: Submission, reason: str) -> None:
    if not actor.is_staff:
        raise PermissionDenied("Only program staff can disqualify an application.")
    if not reason.strip():
        raise ValidationFailed("A reason is required.", {"reason": "Say why the application is disqualified."})
    if submission.status not in (SubmissionStatus.SUBMITTED.value, SubmissionStatus.ADVANCED.value):
        raise Conflict("Only a submitted application can be disqualified.")
    old = submission.status
    submission.status, submission.status_reason = SubmissionStatus.DISQUALIFIED.value, reason.strip()
    db.session.flush()
    event = audit.record(actor=actor, action="submission.disqualified", obj=submission,
                         details={"from": old, "reason": reason.strip()})
    # Keyed by the event: after a reinstatement, a second disqualification is a new message, not a duplicate.
    _tell_applicant(submission, "application_disqualified", f"disqualified:{event.seq}",
                    subject="Application disqualified")
    # An invitation to a later round rested on this entry: it no longer stands (an application already
    # made there stays for staff to decide).
    for advancement in db.session.execute(select(Advancement).where(
            Advancement.from_submission_id == submission.id,
            Advancement.status.in_(("invited", "accepted")))).scalars():
        advancement.status, advancement.decided_by_id, advancement.decided_at = "revoked", actor.id, utcnow()
        audit.record(actor=actor, action="advancement.revoked", obj=advancement,
                     details={"reason": "the advanced entry was disqualified"})
    db.session.flush()


def reinstate_refusal(submission: Submission) -> str | None:
    """Why a disqualified entry cannot be reinstated now (None when it can): once judging of its phase is
    over (closed by staff, or the challenge's results published) scores, ranking and awards are settled,
    and an entry returning to them would change what was decided without anyone judging it."""
    from ..judging.services import judging_over

    phase = submission.phase
    if not judging_over(phase):
        return None
    if phase.challenge.status in (ChallengeStatus.RESULTS_PUBLISHED.value, ChallengeStatus.ARCHIVED.value):
        return (f"The results of {phase.challenge.title} are published, so a disqualified entry can no longer "
                "be reinstated.")
    return (f"Judging of {phase.name} is closed, so a disqualified entry cannot return to it. Reopen judging "
            "first (Progress page) if the entry must be judged.")


def _audit_events(action: str, object_type: str, object_id: int) -> list[audit.AuditEvent]:
    """The object's events of one kind, latest first."""
    return list(db.session.execute(select(audit.AuditEvent).where(
        audit.AuditEvent.action == action, audit.AuditEvent.object_type == object_type,
        audit.AuditEvent.object_id == str(object_id)).order_by(audit.AuditEvent.seq.desc())).scalars())


def _status_before_disqualification(submission: Submission) -> str | None:
    """What the last disqualification recorded ("from"); without that record (an entry disqualified by
    hand or by an import), it was submitted if a receipt or a submission time says so; else None."""
    latest = next(iter(_audit_events("submission.disqualified", "submission", submission.id)), None)
    before = (latest.details or {}).get("from") if latest is not None else None
    if before in (SubmissionStatus.SUBMITTED.value, SubmissionStatus.ADVANCED.value):
        return before
    has_receipt = db.session.execute(select(Receipt.id).where(Receipt.submission_id == submission.id)).first()
    if has_receipt is not None or submission.submitted_at is not None:
        return SubmissionStatus.SUBMITTED.value
    return None


def reinstate(*, actor: User, submission: Submission, reason: str) -> None:
    """Undo a disqualification: the entry returns to the status it had before it.

    Disqualifying leaves the entry's judge assignments, reviews and awards as they are (judging and the
    awards only stop counting an entry that is not submitted), so they count again as soon as the status
    is back; anything staff or judges changed since (a withdrawn assignment, a recusal, a withdrawn award)
    was its own decision and stays. What disqualifying did undo itself, the invitations to a later round
    that rested on the entry, is restored: each revoked invitation returns as it was, accepted (by whom
    and when the audit log says) or open, whose own deadline still applies."""
    if not actor.is_staff:
        raise PermissionDenied("Only program staff can reinstate an application.")
    if not reason.strip():
        raise ValidationFailed("A reason is required.", {"reason": "Say why the application is reinstated."})
    lock_row(submission)  # a double click reinstates, audits and emails once
    db.session.refresh(submission, ["status"])
    if submission.status != SubmissionStatus.DISQUALIFIED.value:
        raise Conflict("Only a disqualified application can be reinstated.")
    if refusal := reinstate_refusal(submission):
        raise Conflict(refusal)
    before = _status_before_disqualification(submission)
    if before is None:
        raise Conflict("This application was never submitted, so it cannot return to judging.")
    submission.status, submission.status_reason = before, ""
    db.session.flush()
    event = audit.record(actor=actor, action="submission.reinstated", obj=submission,
                         details={"before": SubmissionStatus.DISQUALIFIED.value, "after": before,
                                  "reason": reason.strip()})
    restored = []
    for advancement in db.session.execute(select(Advancement).where(
            Advancement.from_submission_id == submission.id, Advancement.status == "revoked")
            .order_by(Advancement.id)).scalars():
        accepted = next(iter(_audit_events("advancement.accepted", "advancement", advancement.id)), None)
        if accepted is not None:
            advancement.status, advancement.decided_by_id, advancement.decided_at = \
                "accepted", accepted.actor_id, accepted.at
        else:
            advancement.status, advancement.decided_by_id, advancement.decided_at = "invited", None, None
        audit.record(actor=actor, action="advancement.restored", obj=advancement,
                     details={"status": advancement.status, "reason": "the advanced entry was reinstated"})
        restored.append(advancement)
    db.session.flush()
    _tell_applicant(submission, "application_reinstated", f"reinstated:{event.seq}",
                    subject="Application reinstated", reason=reason.strip(), restored=restored, now=utcnow())


EMAIL_GROUPS = {"draft": "Applicants with unsubmitted drafts", "submitted": "Applicants who submitted",
                "disqualified": "Disqualified applicants", "all": "Everyone who started an application"}


def email_group(*, actor: User, phase: Phase, group: str, subject: str, body: str) -> int:
    """Email the members of every organisation in a group, once per person, through the outbox."""
    if not actor.is_staff:
        raise PermissionDenied("Only program staff can email applicants.")
    errors: dict[str, str] = {}
    if group not in EMAIL_GROUPS:
        errors["group"] = "Choose who receives the message."
    if not subject.strip():
        errors["subject"] = "Enter a subject."
    elif problem := one_line_problem(subject.strip(), 200):
        errors["subject"] = problem
    if not body.strip():
        errors["body"] = "Enter the message."
    if errors:
        raise ValidationFailed("Please complete the message.", errors)
    stmt = select(Submission).where(Submission.phase_id == phase.id)
    if group != "all":
        stmt = stmt.where(Submission.status == group)
    recipients: dict[str, User] = {}
    for submission in db.session.execute(stmt).scalars():
        for member in submission.organization.memberships:
            recipients.setdefault(member.user.email, member.user)
    batch = hashlib.sha256(f"{phase.id}:{group}:{subject}:{body}:{utcnow().isoformat()}".encode()).hexdigest()[:16]
    for email in sorted(recipients):
        mail.queue(to=email, subject=subject.strip(), template="applicant_message", dedupe_key=f"msg:{batch}:{email}",
                   body=body.strip(), challenge=phase.challenge, phase=phase)
    audit.record(actor=actor, action="submission.group_emailed", obj=phase, object_type="phase",
                 details={"group": group, "subject": subject.strip(), "recipients": len(recipients)})
    return len(recipients)


# --- reminders ----------------------------------------------------------------------------

REMINDER_DAYS = (3, 1)


def send_reminders(*, now: datetime | None = None) -> int:
    """Email owners of unsubmitted drafts 3 days and 1 day before the close; never the same one twice.

    Meant for cron (hourly is fine): a draft is reminded once it is inside a window, and the outbox
    dedupe key (submission, window, person) makes every later run a no-op for it.
    """
    from datetime import timedelta

    now = now or utcnow()
    queued = 0
    drafts = db.session.execute(
        select(Submission).join(Phase, Phase.id == Submission.phase_id)
        .where(Submission.status == SubmissionStatus.DRAFT.value, Phase.closes_at > now,
               Phase.closes_at <= now + timedelta(days=max(REMINDER_DAYS)))
    ).scalars().all()
    for submission in drafts:
        phase, challenge = submission.phase, submission.phase.challenge
        if challenge.status != ChallengeStatus.PUBLISHED.value:
            continue
        window = min(d for d in REMINDER_DAYS if phase.closes_at <= now + timedelta(days=d))
        link = external_url("submissions.application", submission_id=submission.id)
        for member in submission.organization.memberships:
            if member.role != "owner":
                continue
            key = f"reminder:{submission.id}:{window}d:{member.user_id}"
            before = db.session.execute(select(func.count()).select_from(mail.OutboxMessage)
                                        .where(mail.OutboxMessage.dedupe_key == key)).scalar_one()
            if before:
                continue
            mail.queue(to=member.user.email, subject=f"{window} day{'s' if window > 1 else ''} left: {challenge.title}",
                       template="draft_reminder", dedupe_key=key, submission=submission, challenge=challenge,
                       phase=phase, days=window, link=link)
            queued += 1
    return queued


# --- access -------------------------------------------------------------------------------


def require_member(actor: Any, submission: Submission) -> None:
    if membership(actor, submission.organization) is None:
        raise NotFound("No such application.")


def get_for_vendor(actor: Any, submission_id: int) -> Submission:
    """The application if the actor belongs to its organisation; 404 otherwise (no existence leak)."""
    submission = db.session.get(Submission, submission_id)
    if submission is None or membership(actor, submission.organization) is None:
        raise NotFound("No such application.")
    return submission


def applications_of(user: User) -> list[Submission]:
    return list(db.session.execute(
        select(Submission).join(Membership, Membership.organization_id == Submission.organization_id)
        .where(Membership.user_id == user.id).order_by(Submission.updated_at.desc())
    ).scalars())


# --- rounds ------------------------------------------------------------------------------------


def invited(organization: Organization, phase: Phase) -> bool:
    return db.session.execute(select(Advancement.id).where(
        Advancement.organization_id == organization.id, Advancement.to_phase_id == phase.id,
        Advancement.status == "accepted")).first() is not None


def advance(*, actor: User, phase: Phase, submissions: list[Submission], to_phase: Phase, accept_by: datetime,
            now: datetime | None = None) -> list[Advancement]:
    """Advance entries of one phase to a later one. The later phase becomes invitation-only; each
    organisation is emailed and must accept by `accept_by` before applying there."""
    from ..services import require_staff

    require_staff(actor)
    now = now or utcnow()
    errors = {}
    if to_phase.challenge_id != phase.challenge_id or to_phase.order <= phase.order or to_phase.id == phase.id:
        errors["to_phase"] = "Choose a later phase of the same challenge."
    if accept_by <= now:
        errors["accept_by"] = "The acceptance deadline must be in the future."
    elif accept_by > to_phase.hard_close:
        errors["accept_by"] = "The acceptance deadline must be before the next phase closes."
    if not submissions:
        errors["entries"] = "Choose at least one entry."
    if now <= phase.hard_close:
        errors["entries"] = (f"{phase.name} still takes applications; entries advance once it has closed "
                             "and been judged.")
    if phase.challenge.status in (ChallengeStatus.RESULTS_PUBLISHED.value, ChallengeStatus.ARCHIVED.value):
        errors["to_phase"] = ("Results of this challenge are published, so no later phase will run: nobody can "
                              "be invited to one.")
    wrong = [s.public_code or str(s.id) for s in submissions if s.phase_id != phase.id or s.status != "submitted"]
    if wrong:
        errors["entries"] = f"Only submitted entries of {phase.name} can advance (not {', '.join(wrong)})."
    if errors:
        raise ValidationFailed("Please correct the advancement.", errors)
    if not to_phase.invitation_only:
        to_phase.invitation_only = True
        audit.record(actor=actor, action="phase.invitation_only", obj=to_phase, details={"from": phase.id})
    created = []
    for submission in submissions:
        existing = db.session.execute(select(Advancement).where(
            Advancement.from_submission_id == submission.id, Advancement.to_phase_id == to_phase.id)
        ).scalar_one_or_none()
        if existing is not None:
            continue
        advancement = Advancement(from_submission_id=submission.id, to_phase_id=to_phase.id,
                                  organization_id=submission.organization_id, accept_by=accept_by,
                                  invited_by_id=actor.id)
        db.session.add(advancement)
        db.session.flush()
        created.append(advancement)
        for member in submission.organization.memberships:
            mail.queue(to=member.user.email, subject=f"You advanced to {to_phase.name}: {phase.challenge.title}",
                       template="advancement", dedupe_key=f"advancement:{advancement.id}:{member.user_id}",
                       advancement=advancement, submission=submission, to_phase=to_phase,
                       link=external_url("submissions.dashboard"))
        audit.record(actor=actor, action="submission.advanced", obj=submission,
                     details={"to_phase": to_phase.id, "accept_by": accept_by.isoformat()})
    return created


def respond_to_advancement(*, actor: User, advancement: Advancement, accept: bool,
                           now: datetime | None = None) -> Advancement:
    now = now or utcnow()
    if membership(actor, advancement.organization) is None:
        raise NotFound("No such invitation.")
    state = advancement.state(now)
    if state == "expired":
        raise Conflict("The deadline to accept this invitation has passed.")
    if state != "invited":
        raise Conflict(f"This invitation was already {state}.")
    advancement.status = "accepted" if accept else "declined"
    advancement.decided_by_id, advancement.decided_at = actor.id, now
    db.session.flush()
    audit.record(actor=actor, action=f"advancement.{advancement.status}", obj=advancement)
    return advancement


def advancements_of(user: User) -> list[Advancement]:
    return list(db.session.execute(
        select(Advancement).join(Membership, Membership.organization_id == Advancement.organization_id)
        .where(Membership.user_id == user.id).order_by(Advancement.created_at.desc())).scalars())


def advancements_from(phase: Phase) -> dict[int, Advancement]:
    """Entries of `phase` already advanced, by submission id."""
    return {a.from_submission_id: a for a in db.session.execute(
        select(Advancement).join(Submission, Submission.id == Advancement.from_submission_id)
        .where(Submission.phase_id == phase.id)).scalars()}

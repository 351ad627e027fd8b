"""Judging rules: panels, attestation, conflicts, bids, assignment, reviews, progress, score import.

One rule, one place: who may see an entry (`judge_assignment`), which pairs conflict
(`conflicted_pairs`), when judging is open (`judging_open`), what a review must contain
(`scoring.review_errors`). Views, CLI commands and jobs all call these functions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select, union, union_all, update
from sqlalchemy.orm import joinedload, lazyload, selectinload

from .. import audit, mail
from ..accounts.models import Role, User, UserRole
from ..errors import Conflict as ConflictError
from ..errors import NotFound, PermissionDenied, ValidationFailed
from ..exports import cell_safe
from ..extensions import db, lock_row
from ..links import external_url, read_invitation, sign_invitation
from ..models import Challenge, ChallengeStatus, Phase, Rubric
from ..services import current_rubric, require_staff
from ..submissions.models import Membership, Organization, Submission
from ..timezones import utcnow
from . import assignment as solver
from .models import (
    BID_VALUES,
    CONFLICT_TYPES,
    Assignment,
    AssignmentRun,
    Award,
    Bid,
    Conflict,
    PanelMember,
    PanelStatus,
    Review,
    ReviewRevision,
    Score,
)
from .scoring import ReviewTotal, must_score, parse_value, review_errors, review_total

ATTESTATION_TEXT = """\
**Non-disclosure.** I will keep every application, file, score and discussion of this challenge
confidential, use them only to judge this phase, and delete any copies I made when judging ends.

**Conflicts of interest.** I will declare any financial, employment, organisational, personal or
advisory relationship with an applicant, or anything else that could make my judgement appear
partial, as soon as I become aware of it, and I will not score an entry I am conflicted with.

**Independence.** My scores will be my own judgement against the published rubric.
"""
ATTESTATION_VERSION = hashlib.sha256(ATTESTATION_TEXT.encode()).hexdigest()[:16]
FREE_MAIL = frozenset({"gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "aol.com",
                       "proton.me", "protonmail.com", "example.com"})
LIVE_ASSIGNMENT = "assigned"
MODES = ("assign", "ensure", "rebalance")


# --- panel ------------------------------------------------------------------------------------


def _normalise_tags(tags: Any) -> list[str]:
    if isinstance(tags, str):
        tags = re.split(r"[,;\n]", tags)
    return sorted({t.strip().lower() for t in tags or [] if t and t.strip()})


MAX_TAG, MAX_TAGS, MAX_AGENCY, MAX_REASON = 60, 30, 200, 2000
CREATE_MISSING_HINT = "tick “Create entries and judges the file names”, or use --create-missing on the command line"


def _panel_errors(max_load: int, min_load: int, expertise: Any = (), agency: str = "") -> dict[str, str]:
    errors = {}
    tags = _normalise_tags(expertise)
    if len(tags) > MAX_TAGS or any(len(t) > MAX_TAG for t in tags):
        errors["expertise"] = (f"List at most {MAX_TAGS} expertise tags of up to {MAX_TAG} characters each, "
                               "separated by commas.")
    if len((agency or "").strip()) > MAX_AGENCY:
        errors["agency"] = f"Shorten the agency to {MAX_AGENCY} characters."
    if max_load < 0 or max_load > 1000:
        errors["max_load"] = "Enter a maximum load from 0 to 1000."
    if min_load < 0 or min_load > max_load:
        errors["min_load"] = "The minimum load must be between 0 and the maximum load."
    return errors


def invite_judge(*, actor: User, phase: Phase, email: str, expertise: Any = (), max_load: int = 10,
                 min_load: int = 0, agency: str = "", is_chair: bool = False, notify: bool = True) -> PanelMember:
    """Add a judge to the phase's panel and email them a link (works for existing and new people)."""
    from ..accounts.services import get_user_by_email, normalize_email

    require_staff(actor)
    try:
        address = normalize_email(email)
    except ValidationFailed as exc:
        raise ValidationFailed("Enter the judge's email address.", {"email": exc.message}) from exc
    errors = _panel_errors(max_load, min_load, expertise, agency)
    if errors:
        raise ValidationFailed("Please correct the judge's details.", errors)
    member = db.session.execute(select(PanelMember).where(PanelMember.phase_id == phase.id,
                                                          PanelMember.email == address)).scalar_one_or_none()
    if member is not None and member.status in (PanelStatus.ACTIVE, PanelStatus.INVITED):
        raise ConflictError(f"{address} is already on this panel.", {"email": f"{address} is already on this panel."})
    user = get_user_by_email(address)
    if member is None:
        member = PanelMember(phase_id=phase.id, email=address)
        db.session.add(member)
    member.user_id = user.id if user else None
    member.status = PanelStatus.INVITED.value
    member.expertise, member.max_load, member.min_load = _normalise_tags(expertise), max_load, min_load
    member.agency = (agency or address.rsplit("@", 1)[-1]).strip()[:200]
    member.is_chair, member.invited_by_id, member.invited_at = bool(is_chair), actor.id, utcnow()
    db.session.flush()
    if is_chair:
        _only_one_chair(member)
    if notify:
        _send_invitation(member, actor)
    audit.record(actor=actor, action="panel.invited", obj=member,
                 details={"phase": phase.id, "email": address, "max_load": max_load, "min_load": min_load})
    detect_suspected(phase)
    return member


def _send_invitation(member: PanelMember, actor: User) -> None:
    token = sign_invitation("panel-invitation", {"id": member.id, "email": member.email})
    mail.queue(to=member.email, subject=f"Invitation to judge: {member.phase.challenge.title}",
               template="judge_invitation", dedupe_key=f"panel-invite:{member.id}:{member.invited_at.isoformat()}",
               member=member, phase=member.phase, inviter=actor,
               link=external_url("judging.accept_invitation", token=token))


def resend_invitation(*, actor: User, member: PanelMember) -> PanelMember:
    """A fresh link (valid 30 days from now) for a judge who has not answered: the usual answer to
    "my link expired" or "I cannot find the email"."""
    require_staff(actor)
    if member.status != PanelStatus.INVITED:
        raise ConflictError(f"{member.email} is {member.status}, not waiting for an invitation.")
    _refuse_when_over(member.phase)
    member.invited_at, member.invited_by_id = utcnow(), actor.id
    db.session.flush()
    _send_invitation(member, actor)
    audit.record(actor=actor, action="panel.invitation_resent", obj=member, details={"email": member.email})
    return member


def _only_one_chair(member: PanelMember) -> None:
    db.session.execute(update(PanelMember).where(PanelMember.phase_id == member.phase_id,
                                                 PanelMember.id != member.id).values(is_chair=False))


def update_member(*, actor: User, member: PanelMember, expertise: Any, max_load: int, min_load: int,
                  agency: str, is_chair: bool) -> PanelMember:
    require_staff(actor)
    errors = _panel_errors(max_load, min_load, expertise, agency)
    if errors:
        raise ValidationFailed("Please correct the judge's details.", errors)
    before = {"expertise": member.expertise, "max_load": member.max_load, "min_load": member.min_load,
              "agency": member.agency, "is_chair": member.is_chair}
    member.expertise, member.max_load, member.min_load = _normalise_tags(expertise), max_load, min_load
    member.agency, member.is_chair = agency.strip()[:200], bool(is_chair)
    if is_chair:
        _only_one_chair(member)
    db.session.flush()
    audit.record(actor=actor, action="panel.updated", obj=member, details={"before": before})
    return member


def remove_member(*, actor: User, member: PanelMember, reason: str) -> None:
    require_staff(actor)
    _refuse_when_over(member.phase)
    if not reason.strip():
        raise ValidationFailed("Give a reason.", {"reason": "Say why this judge leaves the panel."})
    member.status = PanelStatus.REMOVED.value
    for assignment in _live_assignments(member.phase_id, member_id=member.id):
        assignment.status, assignment.reason = "removed", f"judge removed from the panel: {reason.strip()}"
    db.session.flush()
    audit.record(actor=actor, action="panel.removed", obj=member, details={"reason": reason.strip()})


def invitation_for(token: str, max_age: int = 30 * 24 * 3600) -> PanelMember | None:
    """The panel seat an invitation link is for, to name it before accepting (None when the link is bad;
    accepting then says why)."""
    try:
        data = read_invitation("panel-invitation", token, max_age, expired="")
    except ValidationFailed:
        return None
    return db.session.get(PanelMember, data.get("id") or 0)


def _invited_member(actor: User, token: str, max_age: int) -> PanelMember:
    data = read_invitation("panel-invitation", token, max_age,
                           expired="This invitation has expired; ask the programme team to send a new one.")
    member = db.session.get(PanelMember, data.get("id"))
    if member is None or member.email != data.get("email") or member.status == PanelStatus.REMOVED:
        raise ValidationFailed("This invitation no longer exists.")
    if actor.email != member.email:
        raise PermissionDenied(f"This invitation is for {member.email}. Sign in with that address.")
    return member


def decline_invitation(*, actor: User, token: str, max_age: int = 30 * 24 * 3600) -> PanelMember:
    """The invited person says no; staff see it on the panel page (and may invite someone else)."""
    member = _invited_member(actor, token, max_age)
    if member.status != PanelStatus.INVITED:
        raise ConflictError("You already answered this invitation." if member.status == PanelStatus.DECLINED else
                            "You already accepted this invitation; ask the programme team to take you off the "
                            "panel.")
    member.status = PanelStatus.DECLINED.value
    db.session.flush()
    audit.record(actor=actor, action="panel.declined", obj=member, details={"phase": member.phase_id})
    return member


def accept_invitation(*, actor: User, token: str, max_age: int = 30 * 24 * 3600) -> PanelMember:
    member = _invited_member(actor, token, max_age)
    if member.status != PanelStatus.ACTIVE:
        member.user_id, member.status, member.accepted_at = actor.id, PanelStatus.ACTIVE.value, utcnow()
        audit.record(actor=actor, action="panel.accepted", obj=member, details={"phase": member.phase_id})
    if not actor.has_role(Role.JUDGE):
        actor.role_rows.append(UserRole(user_id=actor.id, role=Role.JUDGE.value, granted_by_id=member.invited_by_id))
        audit.record(actor=actor, action="user.role_granted", obj=actor, details={"role": "judge", "via": "panel"})
    db.session.flush()
    return member


def attest(*, actor: User, member: PanelMember, version: str, affiliations: Any = ()) -> PanelMember:
    """The judge signs the current attestation text (its version hash is stored) and lists affiliations."""
    _require_own(actor, member)
    if version != ATTESTATION_VERSION:
        raise ConflictError("The attestation text changed while you were reading it; read it again.")
    member.attested_at, member.attestation_version = utcnow(), ATTESTATION_VERSION
    member.affiliations = [a for a in (x.strip() for x in (
        re.split(r"[\n;]", affiliations) if isinstance(affiliations, str) else affiliations)) if a][:50]
    db.session.flush()
    audit.record(actor=actor, action="panel.attested", obj=member,
                 details={"version": ATTESTATION_VERSION, "affiliations": member.affiliations})
    detect_suspected(member.phase)
    return member


def _require_own(actor: User, member: PanelMember) -> None:
    if member.user_id != actor.id or member.status != PanelStatus.ACTIVE:
        raise NotFound("No such panel.")


def panel(phase: Phase) -> list[PanelMember]:
    return list(db.session.execute(
        select(PanelMember).where(PanelMember.phase_id == phase.id, PanelMember.status != PanelStatus.REMOVED)
        .options(selectinload(PanelMember.user))  # pages show each judge's name
        .order_by(PanelMember.is_chair.desc(), PanelMember.email)).scalars())


def memberships_of(user: User) -> list[PanelMember]:
    """The panels a person sits on (active), newest phase first."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(db.session.execute(
        select(PanelMember).join(Phase).join(Challenge)
        .where(PanelMember.user_id == user.id, PanelMember.status == PanelStatus.ACTIVE,
               Challenge.status != ChallengeStatus.ARCHIVED.value)
        .order_by(Phase.closes_at.desc())).scalars())


def member_for(user: User, phase: Phase) -> PanelMember | None:
    return next((m for m in memberships_of(user) if m.phase_id == phase.id), None)


# --- entries ----------------------------------------------------------------------------------


def entries(phase: Phase) -> list[Submission]:
    """Entries that can be judged: submitted (or imported) and not withdrawn or disqualified."""
    return list(db.session.execute(
        select(Submission).where(Submission.phase_id == phase.id, Submission.status == "submitted")
        .options(selectinload(Submission.organization),  # titles and names: one query, not one per entry
                 lazyload(Submission.files))  # files load only for the pages that show them
        .order_by(Submission.public_code, Submission.id)).scalars())


def entry_tags(submission: Submission, questions: list | None = None) -> set[str]:
    """An entry's topics: the options chosen in its select and multi-select questions."""
    tags: set[str] = set()
    for question in submission.phase.fields if questions is None else questions:
        value = (submission.answers or {}).get(question.key)
        if question.type == "select" and value:
            tags.add(str(value).strip().lower())
        elif question.type == "multiselect":
            tags.update(str(v).strip().lower() for v in value or [])
    return tags


# --- conflicts --------------------------------------------------------------------------------


def _conflict_errors(type_: str, reason: str, organization: Organization | None,
                     submission: Submission | None) -> dict[str, str]:
    errors = {}
    if type_ not in CONFLICT_TYPES:
        errors["type"] = "Choose the kind of conflict."
    if not reason.strip():
        errors["reason"] = "Describe the conflict in a sentence."
    elif len(reason.strip()) > MAX_REASON:
        errors["reason"] = f"Describe the conflict in at most {MAX_REASON:,} characters."
    if (organization is None) == (submission is None):
        errors["target"] = "Choose an organisation or one entry."
    return errors


def declare_conflict(*, actor: User, member: PanelMember, type_: str, reason: str,
                     organization: Organization | None = None, submission: Submission | None = None) -> Conflict:
    """The judge declares a conflict; it takes effect at once (assignments to it are withdrawn)."""
    _require_own(actor, member)
    return _add_conflict(actor, member, "declared", type_, reason, organization, submission)


def declare_organisation(*, actor: User, member: PanelMember, type_: str, reason: str, name: str) -> Conflict | None:
    """A conflict typed by organisation name. If an applicant matches it becomes a conflict with it; either
    way the name joins the judge's affiliations, so a later applicant of that name is flagged. The answer
    is the same whether or not anyone matched, so the page never says who applied; only an entry that
    leaves the judge's own queue shows a match, and that entry is one they will not score."""
    _require_own(actor, member)
    _refuse_when_over(member.phase)
    errors = {k: v for k, v in _conflict_errors(type_, reason, None, None).items() if k != "target"}
    if not _name_key(name):
        errors["organization"] = "Name the organisation."
    if errors:
        raise ValidationFailed("Please correct the conflict.", errors)
    if name.strip() not in (member.affiliations or []):
        member.affiliations = [*(member.affiliations or []), name.strip()[:200]]
    match = next((o for o in db.session.execute(select(Organization).where(Organization.id.in_(
        select(Submission.organization_id).where(Submission.phase_id == member.phase_id)))).scalars()
        if _name_key(o.legal_name) == _name_key(name)), None)
    audit.record(actor=actor, action="conflict.declared_name", obj=member, details={"name": name.strip()})
    if match is None:
        db.session.flush()
        return None
    return _add_conflict(actor, member, "declared", type_, reason, match, None)


def pin_conflict(*, actor: User, member: PanelMember, type_: str, reason: str,
                 organization: Organization | None = None, submission: Submission | None = None) -> Conflict:
    require_staff(actor)
    return _add_conflict(actor, member, "pinned", type_, reason, organization, submission)


def _add_conflict(actor: User, member: PanelMember, source: str, type_: str, reason: str,
                  organization: Organization | None, submission: Submission | None) -> Conflict:
    _refuse_when_over(member.phase)
    errors = _conflict_errors(type_, reason, organization, submission)
    if submission is not None and submission.phase_id != member.phase_id:
        errors["target"] = "That entry is not in this phase."
    if not errors and _same_conflict(member, organization, submission) is not None:
        errors["target"] = (f"{member.email} already has a conflict with "
                            f"{'that organisation' if organization is not None else 'that entry'}.")
    if errors:
        raise ValidationFailed("Please correct the conflict.", errors)
    conflict = Conflict(phase_id=member.phase_id, panel_member_id=member.id, type=type_, source=source,
                        status="active", reason=reason.strip(), created_by_id=actor.id,
                        organization_id=organization.id if organization else None,
                        submission_id=submission.id if submission else None)
    db.session.add(conflict)
    db.session.flush()
    audit.record(actor=actor, action=f"conflict.{source}", obj=conflict,
                 details={"judge": member.email, "type": type_, "organization": conflict.organization_id,
                          "submission": conflict.submission_id})
    _withdraw_conflicted(actor, member.phase)
    return conflict


def _same_conflict(member: PanelMember, organization: Organization | None,
                   submission: Submission | None) -> Conflict | None:
    """A blocking conflict of this judge with exactly this organisation or entry, if one exists: a second
    one would only make the record harder to read (and to lift)."""
    target = (Conflict.organization_id == organization.id if organization is not None
              else Conflict.submission_id == (submission.id if submission is not None else None))
    return db.session.execute(select(Conflict).where(
        Conflict.panel_member_id == member.id, target, Conflict.status.in_(("active", "suspected")))
    ).scalars().first()


def lift_conflict(*, actor: User, conflict: Conflict, reason: str) -> Conflict:
    """Staff lift an active conflict (pinned by mistake, or a declaration that turns out not to be one).
    The reason is kept with the conflict and in the audit log; the judge is not re-assigned by this:
    that stays a separate, visible decision."""
    require_staff(actor)
    if conflict.status != "active":
        raise ConflictError("Only an active conflict can be lifted.")
    _refuse_when_over(db.session.get(Phase, conflict.phase_id))
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Give a reason.", {"reason": "Say why this is no longer a conflict."})
    if len(reason) > MAX_REASON:
        raise ValidationFailed("Shorten the reason.", {"reason": f"Use at most {MAX_REASON:,} characters."})
    conflict.status, conflict.decision_note = "lifted", reason
    conflict.decided_by_id, conflict.decided_at = actor.id, utcnow()
    db.session.flush()
    audit.record(actor=actor, action="conflict.lifted", obj=conflict,
                 details={"judge": conflict.panel_member.email, "source": conflict.source, "reason": reason})
    return conflict


def decide_suspected(*, actor: User, conflict: Conflict, confirm: bool, reason: str = "") -> Conflict:
    """Staff confirm a suspected conflict (it becomes active) or dismiss it (it stops blocking)."""
    require_staff(actor)
    if conflict.status != "suspected":
        raise ConflictError("This conflict was already decided.")
    phase = db.session.get(Phase, conflict.phase_id)
    _refuse_when_over(phase)
    if not confirm and not reason.strip():
        raise ValidationFailed("Give a reason.", {"reason": "Say why this is not a conflict."})
    if len(reason.strip()) > MAX_REASON:
        raise ValidationFailed("Shorten the note.", {"reason": f"Use at most {MAX_REASON:,} characters."})
    conflict.status = "active" if confirm else "dismissed"
    conflict.decided_by_id, conflict.decided_at = actor.id, utcnow()
    conflict.decision_note = reason.strip()
    db.session.flush()
    audit.record(actor=actor, action="conflict.confirmed" if confirm else "conflict.dismissed", obj=conflict,
                 details={"reason": reason.strip()})
    if confirm:
        _withdraw_conflicted(actor, phase)  # only now: a suspicion alone never withdraws a review
    return conflict


def _domain(address_or_url: str) -> str:
    text = (address_or_url or "").strip().lower()
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    text = re.sub(r"^[a-z]+://", "", text).split("/", 1)[0].split(":", 1)[0]
    return text.removeprefix("www.").rstrip(".")


_NOT_NAME = re.compile(r"[^a-z0-9 ]")
_NAME_NOISE = frozenset({"inc", "llc", "ltd", "corp", "corporation", "co", "the", "company"})


def _name_key(text: str) -> str:
    return " ".join(w for w in _NOT_NAME.sub(" ", (text or "").lower()).split() if w not in _NAME_NOISE)


def detect_suspected(phase: Phase, members: list[PanelMember] | None = None) -> list[Conflict]:
    """Flag judge-organisation pairs that look related; a dismissed pair is never flagged again.

    Runs whenever assignments may change (invitation, attestation, each proposal and approval), since
    vendors change their organisations too. The judges' side is indexed first (their domains and
    affiliations), so each organisation costs one set look-up and nothing when no judge has any."""
    members = [m for m in (panel(phase) if members is None else members)
               if m.status in (PanelStatus.ACTIVE, PanelStatus.INVITED)]
    if not members:
        return []
    judge_domains = {_domain(m.email) for m in members} - FREE_MAIL - {""}
    for member in members:
        judge_domains.update(d for d in map(_domain, member.affiliations or []) if "." in d)
    affiliation_names = {_name_key(a) for m in members for a in m.affiliations or []} - {""}
    entered = select(Submission.organization_id).where(Submission.phase_id == phase.id)
    by_domain: dict[str, list[int]] = defaultdict(list)
    by_name: dict[str, list[int]] = defaultdict(list)
    if judge_domains or affiliation_names:
        for org_id, legal_name, email_domain, website in db.session.execute(
                select(Organization.id, Organization.legal_name, Organization.email_domain, Organization.website)
                .where(Organization.id.in_(entered))):
            for domain in {d for d in (email_domain or "", _domain(website or "")) if d in judge_domains}:
                by_domain[domain].append(org_id)
            if affiliation_names and (key := _name_key(legal_name)) in affiliation_names:
                by_name[key].append(org_id)
    orgs_of_user: dict[int, list[int]] = defaultdict(list)
    for org_id, user_id in db.session.execute(
            select(Membership.organization_id, Membership.user_id)
            .where(Membership.user_id.in_({m.user_id for m in members if m.user_id is not None}),
                   Membership.organization_id.in_(entered))):
        orgs_of_user[user_id].append(org_id)
    if not (by_domain or by_name or orgs_of_user):
        return []
    found: dict[tuple[int, int], list[str]] = defaultdict(list)
    for member in members:
        evidence: dict[int, list[str]] = defaultdict(list)
        for org_id in orgs_of_user.get(member.user_id or -1, []):
            evidence[org_id].append("the judge is a member of this organisation")
        judge_domain = _domain(member.email)
        if judge_domain and judge_domain not in FREE_MAIL:
            for org_id in by_domain.get(judge_domain, []):
                evidence[org_id].append(f"the judge's email domain {judge_domain} is the organisation's")
        for affiliation in member.affiliations or []:
            for org_id in by_name.get(_name_key(affiliation), []) if _name_key(affiliation) else []:
                evidence[org_id].append(f"declared affiliation “{affiliation}” matches the organisation's name")
            domain = _domain(affiliation)
            if "." in domain:
                for org_id in by_domain.get(domain, []):
                    evidence[org_id].append(f"declared affiliation “{affiliation}” matches the organisation's domain")
        for org_id, reasons in evidence.items():
            found[member.id, org_id] = reasons

    def known() -> set[tuple[int, int]]:
        return set(db.session.execute(
            select(Conflict.panel_member_id, Conflict.organization_id)
            .where(Conflict.phase_id == phase.id, Conflict.organization_id.is_not(None))).tuples())

    if not found.keys() - known():
        return []
    # Something new: serialise on the phase and look again, so two simultaneous checks (two staff, or a
    # check while a judge attests) cannot both record the same suspicion.
    lock_row(phase)
    existing = known()
    created = []
    for (member_id, org_id), reasons in found.items():
        if (member_id, org_id) in existing:
            continue
        conflict = Conflict(phase_id=phase.id, panel_member_id=member_id, organization_id=org_id,
                            type="organisational", source="suspected", status="suspected",
                            evidence="; ".join(dict.fromkeys(reasons)))
        db.session.add(conflict)
        created.append(conflict)
    if created:
        db.session.flush()
        for conflict in created:
            audit.record(actor=None, action="conflict.suspected", obj=conflict,
                         details={"evidence": conflict.evidence, "organization": conflict.organization_id})
        # A suspicion keeps the judge from the entry (their queue, new assignments) until staff decide;
        # it withdraws nothing, so a wrong guess never discards a submitted review.
    return created


def conflicted_pairs(phase: Phase, *, suspected: bool = True) -> set[tuple[int, int]]:
    """(panel member id, submission id) pairs that must never meet: blocking conflicts and 'no' bids
    (with `suspected=False`, only confirmed conflicts and bids: what withdraws an assignment).
    One query: conflicts with an organisation are resolved to its entries in SQL."""
    statuses = ("active", "suspected") if suspected else ("active",)
    blocking = (Conflict.phase_id == phase.id) & Conflict.status.in_(statuses)
    return {(member_id, sub_id) for member_id, sub_id in db.session.execute(union_all(
        select(Conflict.panel_member_id, Conflict.submission_id).where(blocking, Conflict.submission_id.is_not(None)),
        select(Conflict.panel_member_id, Submission.id)
        .join(Submission, (Submission.organization_id == Conflict.organization_id) & (Submission.phase_id == phase.id))
        .where(blocking, Conflict.organization_id.is_not(None)),
        select(Bid.panel_member_id, Bid.submission_id).join(PanelMember)
        .where(PanelMember.phase_id == phase.id, Bid.value == "no"),
    ))}  # plain tuples: numpy turns them into arrays far faster than Row objects


def conflicted_entries(member: PanelMember) -> set[int]:
    """The ids of the entries `conflicted_pairs` keeps from this one judge, in one query that reads only
    their own conflicts and bids (what pages for one judge need)."""
    own_conflicts = ((Conflict.phase_id == member.phase_id) & (Conflict.panel_member_id == member.id)
                     & Conflict.status.in_(("active", "suspected")))
    return set(db.session.execute(union(
        select(Conflict.submission_id).where(own_conflicts, Conflict.submission_id.is_not(None)),
        select(Submission.id).where(Submission.phase_id == member.phase_id, Submission.organization_id.in_(
            select(Conflict.organization_id).where(own_conflicts, Conflict.organization_id.is_not(None)))),
        select(Bid.submission_id).where(Bid.panel_member_id == member.id, Bid.value == "no"),
    )).scalars())


def is_conflicted(member: PanelMember, submission: Submission) -> bool:
    return submission.id in conflicted_entries(member)


def _withdraw_conflicted(actor: User | None, phase: Phase) -> None:
    """Conflicts are checked again whenever they change: an assignment with a confirmed conflict (or a
    'no' bid) is withdrawn."""
    pairs = conflicted_pairs(phase, suspected=False)
    for assignment in _live_assignments(phase.id):
        if (assignment.panel_member_id, assignment.submission_id) in pairs:
            assignment.status, assignment.reason = "removed", "conflict of interest"
            audit.record(actor=actor, action="assignment.removed", obj=assignment, details={"reason": "conflict"})
    db.session.flush()


# --- bids -------------------------------------------------------------------------------------


def _submitted_review(member: PanelMember, submission: Submission) -> bool:
    return db.session.execute(select(func.count(Review.id)).join(Assignment).where(
        Assignment.panel_member_id == member.id, Assignment.submission_id == submission.id,
        Assignment.status == LIVE_ASSIGNMENT, Review.status == "submitted")).scalar_one() > 0


def place_bid(*, actor: User, member: PanelMember, submission: Submission, value: str) -> Bid | None:
    """yes / maybe / no, or '' to clear. 'no' keeps the judge away from the entry like a conflict."""
    _require_own(actor, member)
    phase = member.phase
    if not phase.bids_enabled:
        raise ConflictError("Bidding is not open for this phase.")
    if submission.phase_id != phase.id or submission.status != "submitted":
        raise NotFound("No such entry.")
    if value not in (*BID_VALUES, ""):
        raise ValidationFailed("Choose yes, maybe or no.", {"value": "Choose yes, maybe or no."})
    _refuse_when_over(phase)
    if value == "no" and _submitted_review(member, submission):
        raise ConflictError("You already submitted a review of this entry, so a 'no' would discard it. If you "
                            "have a conflict of interest, declare it; otherwise ask the programme staff.")
    if value == "no" and db.session.execute(select(Assignment.id).where(
            Assignment.panel_member_id == member.id, Assignment.submission_id == submission.id,
            Assignment.status == LIVE_ASSIGNMENT)).first() is not None:
        # A preference must not silently take away an assigned entry (and the judge's draft with it).
        raise ConflictError(f"{submission.public_code} is already assigned to you: bids only guide the "
                            "assignment. To step away from it, recuse from its page with a reason, or declare a "
                            "conflict of interest.")
    bid = db.session.execute(select(Bid).where(Bid.panel_member_id == member.id,
                                               Bid.submission_id == submission.id)).scalar_one_or_none()
    if value == "":
        if bid is not None:
            db.session.delete(bid)
        bid = None
    else:
        if bid is None:
            bid = Bid(panel_member_id=member.id, submission_id=submission.id, value=value)
            db.session.add(bid)
        bid.value = value
    db.session.flush()
    if value == "no":
        _withdraw_conflicted(actor, phase)
    return bid


def phase_bids(phase: Phase) -> dict[tuple[int, int], str]:
    return {(m, s): v for m, s, v in db.session.execute(
        select(Bid.panel_member_id, Bid.submission_id, Bid.value).join(PanelMember)
        .where(PanelMember.phase_id == phase.id))}


def bids_of(member: PanelMember) -> dict[int, str]:
    return dict(db.session.execute(select(Bid.submission_id, Bid.value)
                                   .where(Bid.panel_member_id == member.id)).tuples().all())


# --- assignment -------------------------------------------------------------------------------


def with_relations(query):
    """Load what pages show of each assignment in a fixed number of queries, however many there are."""
    return query.options(selectinload(Assignment.review).lazyload(Review.scores),  # scores load only if used
                         selectinload(Assignment.panel_member),
                         selectinload(Assignment.submission).options(selectinload(Submission.organization),
                                                                     lazyload(Submission.files)))


def _live_assignments(phase_id: int, *, member_id: int | None = None) -> list[Assignment]:
    query = with_relations(select(Assignment).where(Assignment.phase_id == phase_id,
                                                    Assignment.status == LIVE_ASSIGNMENT))
    if member_id is not None:
        query = query.where(Assignment.panel_member_id == member_id)
    return list(db.session.execute(query).scalars())


def _refuse_pair(member: PanelMember, submission: Submission, conflicts: set[tuple[int, int]]) -> None:
    if member.status != PanelStatus.ACTIVE:
        raise ConflictError(f"{member.email} has not accepted the invitation yet.")
    if submission.phase_id != member.phase_id or submission.status != "submitted":
        raise ConflictError(f"{submission.public_code or submission.id} is not a submitted entry of this phase.")
    if (member.id, submission.id) in conflicts:
        raise ConflictError(f"{member.email} has a conflict of interest with {submission.public_code}.")


def _make_live(existing: Assignment | None, member: PanelMember, submission: Submission, source: str,
               run: AssignmentRun | None) -> Assignment | None:
    """The assignment to add, or None when the pair is already live. A recusal is never undone."""
    if existing is not None and existing.status == LIVE_ASSIGNMENT:
        return None
    if existing is not None and existing.status == "recused":
        raise ConflictError(f"{member.email} recused from {submission.public_code}.")
    assignment = existing or Assignment(phase_id=member.phase_id, panel_member_id=member.id,
                                        submission_id=submission.id)
    assignment.status, assignment.source, assignment.reason = LIVE_ASSIGNMENT, source, ""
    assignment.run_id = run.id if run else None
    return assignment


def assign(*, actor: User, member: PanelMember, submission: Submission, source: str = "manual",
           notify: bool = True, conflicts: set[tuple[int, int]] | None = None) -> Assignment:
    """Assign one entry to one judge; refuses conflicts (checked now, not remembered from invitation),
    inactive judges and entries not open to judging."""
    require_staff(actor)
    _refuse_when_over(member.phase)
    _refuse_pair(member, submission, conflicted_pairs(member.phase) if conflicts is None else conflicts)
    existing = db.session.execute(select(Assignment).where(
        Assignment.panel_member_id == member.id, Assignment.submission_id == submission.id)).scalar_one_or_none()
    assignment = _make_live(existing, member, submission, source, None)
    if assignment is None:
        return existing  # type: ignore[return-value]
    db.session.add(assignment)
    db.session.flush()
    audit.record(actor=actor, action="assignment.created", obj=assignment,
                 details={"judge": member.email, "entry": submission.public_code, "source": source})
    if notify:
        _notify_judge(member, reason=f"assign:{assignment.id}")
    return assignment


def unassign(*, actor: User, assignment: Assignment, reason: str) -> None:
    require_staff(actor)
    _refuse_when_over(db.session.get(Phase, assignment.phase_id))
    if not reason.strip():
        raise ValidationFailed("Give a reason.", {"reason": "Say why the assignment is withdrawn."})
    if assignment.review is not None and assignment.review.status == "submitted":
        raise ConflictError("This judge already submitted a review of the entry; it stays on record.")
    assignment.status, assignment.reason = "removed", reason.strip()
    db.session.flush()
    audit.record(actor=actor, action="assignment.removed", obj=assignment, details={"reason": reason.strip()})


def recuse(*, actor: User, assignment: Assignment, reason: str) -> None:
    """The judge steps away from one assigned entry; staff top up with the ensure mode."""
    member = assignment.panel_member
    _require_own(actor, member)
    if not reason.strip():
        raise ValidationFailed("Give a reason.", {"reason": "Say briefly why you recuse yourself."})
    if assignment.status != LIVE_ASSIGNMENT:
        raise NotFound("No such assignment.")
    if judging_over(member.phase):
        raise ConflictError("Judging for this phase is closed, so nothing changes any more; write to the "
                            "programme staff if you have a conflict of interest.")
    if assignment.review is not None and assignment.review.status == "submitted":
        raise ConflictError("You already submitted your review of this entry, so it stays on record. If you "
                            "have a conflict of interest, declare it; otherwise ask the programme staff.")
    assignment.status, assignment.reason = "recused", reason.strip()
    db.session.flush()
    audit.record(actor=actor, action="assignment.recused", obj=assignment, details={"reason": reason.strip()})


def _notify_judge(member: PanelMember, *, reason: str) -> None:
    if member.user is None or not member.user.password_hash:
        return
    mail.queue(to=member.email, subject=f"Entries to judge: {member.phase.challenge.title}",
               template="judge_assigned", dedupe_key=f"judge-assigned:{member.id}:{reason}", member=member,
               phase=member.phase, link=external_url("judging.queue"))


def affinity(members: list[PanelMember], subs: list[Any], *, bids: dict[tuple[int, int], str],
             use_bids: bool, questions: list | None = None) -> np.ndarray:
    """a_ij in [0, 1]: with bidding, 0.7 x the bid rank (yes 1, maybe 0.6, none 0.3) + 0.3 x expertise
    overlap; without, the expertise overlap alone (the share of the entry's topics the judge knows).
    Computed as matrix products over a tag vocabulary, since it is needed for every pair."""
    if questions is None:
        questions = subs[0].phase.fields if subs else []
    questions = _tag_questions(questions)
    tags = [entry_tags(s, questions) for s in subs] if questions else [set() for _ in subs]
    vocabulary = {t: n for n, t in enumerate(sorted(set().union(*tags, *(m.expertise or [] for m in members))))}
    overlap = np.zeros((len(members), len(subs)))
    if vocabulary:
        knows = np.zeros((len(members), len(vocabulary)))
        for ji, member in enumerate(members):
            knows[ji, [vocabulary[t] for t in member.expertise or []]] = 1
        topics = np.zeros((len(subs), len(vocabulary)))
        for ei, entry in enumerate(tags):
            topics[ei, [vocabulary[t] for t in entry]] = 1
        sizes = topics.sum(axis=1)
        overlap = np.divide(knows @ topics.T, sizes, out=np.zeros_like(overlap), where=sizes > 0)
    if not use_bids:
        return np.round(overlap, 3)
    rank = np.full((len(members), len(subs)), 0.3)
    jindex = {m.id: n for n, m in enumerate(members)}
    eindex = {s.id: n for n, s in enumerate(subs)}
    for (member_id, sub_id), value in bids.items():
        if member_id in jindex and sub_id in eindex and value in ("yes", "maybe"):
            rank[jindex[member_id], eindex[sub_id]] = 1.0 if value == "yes" else 0.6
    return np.round(0.7 * rank + 0.3 * overlap, 3)


def _inputs_hash(phase: Phase, members: list[PanelMember], subs: list[Any], locked: set,
                 forbidden_pairs: set, params: dict) -> str:
    """What a proposal was computed from; approval refuses it when this changed. The pair sets are
    hashed as sorted integer arrays (thousands of pairs: cheaper than JSON)."""
    payload = json.dumps({"phase": phase.id, "members": [(m.id, m.max_load, m.min_load, m.agency, m.expertise)
                                                         for m in members],
                          "entries": [s.id for s in subs], "params": params}, sort_keys=True, default=str)
    digest = hashlib.sha256(payload.encode())
    for pairs in (locked, forbidden_pairs):
        digest.update(b"|" + np.array(sorted(pairs), dtype=np.int64).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class EntryRow:
    """The columns of an entry that assignment reads (loading 1,000 full entries costs more than solving)."""
    id: int
    public_code: str | None
    answers: dict | None
    phase_id: int
    status: str


def _entry_rows(phase: Phase, *, with_answers: bool) -> list[EntryRow]:
    answers = Submission.answers if with_answers else None
    columns = [Submission.id, Submission.public_code, Submission.phase_id, Submission.status]
    query = (select(*columns, *([answers] if answers is not None else []))
             .where(Submission.phase_id == phase.id, Submission.status == "submitted")
             .order_by(Submission.public_code, Submission.id))
    return [EntryRow(id=row[0], public_code=row[1], phase_id=row[2], status=row[3],
                     answers=row[4] if with_answers else None) for row in db.session.execute(query)]


def _tag_questions(fields: list) -> list:
    """The questions whose chosen options are an entry's topics (see `entry_tags`)."""
    return [q for q in fields if q.type in ("select", "multiselect")]


def _problem_inputs(phase: Phase, mode: str, members: list[PanelMember] | None = None,
                    blocked: set[tuple[int, int]] | None = None,
                    ) -> tuple[list[PanelMember], list[EntryRow], set, list[Assignment], set[tuple[int, int]]]:
    """Judges, entries, locked pairs, movable assignments and pairs never to propose. A live pair that a
    conflict (even a suspected one) now blocks is not locked: the judge cannot score it, so "ensure"
    finds the entry another judge."""
    members = [m for m in (panel(phase) if members is None else members) if m.status == PanelStatus.ACTIVE]
    subs = _entry_rows(phase, with_answers=bool(_tag_questions(phase.fields)))
    live = _live_assignments(phase.id)
    started = {a.id for a in live if a.review is not None}
    if mode == "assign" and live:
        raise ConflictError("This phase already has assignments: use “ensure” to top up or “rebalance” to move "
                            "unstarted ones.")
    movable = [a for a in live if a.id not in started] if mode == "rebalance" else []
    locked = {(a.panel_member_id, a.submission_id) for a in live if a not in movable} - (blocked or set())
    # Recused pairs are never proposed again.
    gone = set(db.session.execute(select(Assignment.panel_member_id, Assignment.submission_id)
                                  .where(Assignment.phase_id == phase.id,
                                         Assignment.status == "recused")).tuples())
    return members, subs, locked, movable, gone


def forbidden_matrix(members: list[Any], subs: list[Any], pairs: set[tuple[int, int]]) -> np.ndarray:
    """Boolean judges x entries matrix of the pairs that must not meet (ids outside the lists ignored)."""
    forbidden = np.zeros((len(members), len(subs)), dtype=bool)
    if not pairs or not members or not subs:
        return forbidden
    member_ids = np.array([m.id for m in members], dtype=np.int64)
    sub_ids = np.array([s.id for s in subs], dtype=np.int64)
    judge_at = np.full(int(member_ids.max()) + 1, -1)
    judge_at[member_ids] = np.arange(len(members))
    entry_at = np.full(int(sub_ids.max()) + 1, -1)
    entry_at[sub_ids] = np.arange(len(subs))
    pair_array = np.array(list(pairs), dtype=np.int64)
    j, e = pair_array[:, 0], pair_array[:, 1]
    inside = (j <= member_ids.max()) & (e <= sub_ids.max())
    rows, cols = judge_at[j[inside]], entry_at[e[inside]]
    keep = (rows >= 0) & (cols >= 0)
    forbidden[rows[keep], cols[keep]] = True
    return forbidden


def _refuse_when_over(phase: Phase) -> None:
    if judging_over(phase):
        raise ConflictError("Judging for this phase is over, so its results no longer change: nothing is assigned, "
                            "withdrawn or declared. Staff can reopen judging first (Progress page) if the panel "
                            "must change something.")


def propose(*, actor: User, phase: Phase, mode: str = "assign", k: int | None = None, max_load: int | None = None,
            agency_cap: int | None = None, seed: int = 0) -> AssignmentRun:
    """Solve and store a proposal; nothing changes for judges until `approve_run`."""
    require_staff(actor)
    if mode not in MODES:
        raise ValidationFailed("Choose a mode.", {"mode": "Choose assign, ensure or rebalance."})
    k = phase.judges_per_entry if k is None else k
    errors = {}
    if k < 1 or k > 50:
        errors["k"] = "Judges per entry must be from 1 to 50."
    if max_load is not None and max_load < 1:
        errors["max_load"] = "The maximum load must be at least 1."
    if agency_cap is not None and agency_cap < 1:
        errors["agency_cap"] = "The agency cap must be at least 1."
    if errors:
        raise ValidationFailed("Please correct the assignment settings.", errors)
    _refuse_when_over(phase)
    whole_panel = panel(phase)
    detect_suspected(phase, whole_panel)
    conflicts = conflicted_pairs(phase)
    members, subs, locked, movable, gone = _problem_inputs(phase, mode, whole_panel, conflicts)
    if not members:
        raise ConflictError("No judge has accepted an invitation to this panel yet.")
    if not subs:
        raise ConflictError("There are no submitted entries to assign.")
    member_index = {m.id: n for n, m in enumerate(members)}
    sub_index = {s.id: n for n, s in enumerate(subs)}
    forbidden = forbidden_matrix(members, subs, conflicts | gone)
    bids = phase_bids(phase) if phase.bids_enabled else {}
    problem = solver.Problem(
        # Minimum loads shape a first assignment; a top-up ("ensure") only fills what recusals and
        # conflicts left open, so a judge's minimum never makes it fail.
        judges=[solver.Judge(m.id, max_load if max_load is not None else m.max_load,
                             0 if mode == "ensure" else m.min_load, m.agency or "") for m in members],
        entries=[solver.Entry(s.id, k) for s in subs],
        affinity=affinity(members, subs, bids=bids, use_bids=phase.bids_enabled, questions=phase.fields),
        forbidden=forbidden, locked={p for p in locked if p[0] in member_index and p[1] in sub_index},
        agency_cap=agency_cap, seed=seed)
    params = {"k": k, "max_load": max_load, "agency_cap": agency_cap, "mode": mode}
    code = {s.id: s.public_code or f"#{s.id}" for s in subs}
    email = {m.id: m.email for m in members}
    try:
        solution = solver.solve(problem)
    except solver.Infeasible as exc:
        named = [re.sub(r"entry (\d+)", lambda m: f"entry {code.get(int(m.group(1)), m.group(1))}", r)
                 for r in exc.reasons]
        named = [re.sub(r"judge (\d+)", lambda m: f"judge {email.get(int(m.group(1)), m.group(1))}", r)
                 for r in named]
        raise ValidationFailed("No assignment meets every rule: " + "; ".join(named) + ".",
                               {"entries": ", ".join(code.get(e, str(e)) for e in exc.entries)}) from exc
    run = AssignmentRun(
        phase_id=phase.id, mode=mode, status="proposed", parameters=params, seed=seed,
        inputs_hash=_inputs_hash(phase, members, subs, locked, conflicts | gone, params),
        objective=solution.objective, total_affinity=solution.total_affinity, created_by_id=actor.id,
        result={"pairs": [[j, e] for j, e in solution.pairs],
                "removed": [a.id for a in movable if (a.panel_member_id, a.submission_id) not in set(solution.pairs)],
                "kept": len(locked), "loads": {str(j): n for j, n in solution.loads.items()},
                "min_affinity": {str(e): a for e, a in solution.min_affinity.items()}})
    # In rebalance mode a movable pair the solver chose again simply stays.
    again = {(a.panel_member_id, a.submission_id) for a in movable} & set(solution.pairs)
    run.result["pairs"] = [[j, e] for j, e in solution.pairs if (j, e) not in again]
    db.session.add(run)
    db.session.flush()
    audit.record(actor=actor, action="assignment.proposed", obj=run,
                 details={**params, "seed": seed, "objective": solution.objective, "pairs": len(solution.pairs)})
    return run


def approve_run(*, actor: User, run: AssignmentRun) -> list[Assignment]:
    """Apply a proposal if nothing it depended on changed since; judges are then told."""
    require_staff(actor)
    if run.status != "proposed":
        raise ConflictError("This proposal was already decided.")
    phase = db.session.get(Phase, run.phase_id)
    _refuse_when_over(phase)
    whole_panel = panel(phase)
    detect_suspected(phase, whole_panel)
    try:
        blocked = conflicted_pairs(phase)
        members, subs, locked, _movable, gone = _problem_inputs(phase, run.mode, whole_panel, blocked)
        now_hash = _inputs_hash(phase, members, subs, locked, blocked | gone, run.parameters)
    except ConflictError:  # "assign" on a phase that got assignments meanwhile
        now_hash = ""
    if now_hash != run.inputs_hash:
        run.status = "stale"
        db.session.flush()
        raise ConflictError("The panel, the entries or the conflicts changed since this proposal was made; "
                            "run the assignment again.")
    by_id = {m.id: m for m in members}
    sub_by_id = {s.id: s for s in subs}
    for assignment_id in run.result.get("removed", []):
        assignment = db.session.get(Assignment, assignment_id)
        if assignment is not None and assignment.status == LIVE_ASSIGNMENT:
            assignment.status, assignment.reason = "removed", f"rebalanced by proposal {run.id}"
    # Every pair is checked again against the conflicts as they are now (read once, not per pair).
    conflicts = conflicted_pairs(phase)
    existing = {(a.panel_member_id, a.submission_id): a for a in db.session.execute(
        select(Assignment).where(Assignment.phase_id == phase.id)).scalars()}
    created = []
    for j, e in run.result.get("pairs", []):
        _refuse_pair(by_id[j], sub_by_id[e], conflicts)
        assignment = _make_live(existing.get((j, e)), by_id[j], sub_by_id[e], "auto", run)
        if assignment is not None:
            created.append(assignment)
    db.session.add_all(created)
    run.status, run.decided_by_id, run.decided_at = "approved", actor.id, utcnow()
    db.session.flush()
    for member_id in sorted({j for j, _ in run.result.get("pairs", [])}):
        _notify_judge(by_id[member_id], reason=f"run:{run.id}")
    audit.record(actor=actor, action="assignment.approved", obj=run, details={"created": len(created)})
    return created


def discard_run(*, actor: User, run: AssignmentRun) -> None:
    require_staff(actor)
    if run.status != "proposed":
        raise ConflictError("This proposal was already decided.")
    run.status, run.decided_by_id, run.decided_at = "discarded", actor.id, utcnow()
    db.session.flush()
    audit.record(actor=actor, action="assignment.discarded", obj=run)


def runs(phase: Phase) -> list[AssignmentRun]:
    return list(db.session.execute(select(AssignmentRun).where(AssignmentRun.phase_id == phase.id)
                                   .order_by(AssignmentRun.id.desc())).scalars())


def export_pairs(phase: Phase) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["entry", "judge", "status"])
    for a in db.session.execute(select(Assignment).where(Assignment.phase_id == phase.id)
                                .options(selectinload(Assignment.submission).lazyload(Submission.files),
                                         selectinload(Assignment.panel_member))
                                .order_by(Assignment.submission_id, Assignment.id)).scalars():
        writer.writerow([cell_safe(a.submission.public_code), cell_safe(a.panel_member.email), a.status])
    return out.getvalue()


def import_pairs(*, actor: User, phase: Phase, text: str) -> int:
    """CSV `entry,judge` (an optional `status` column, as the export writes, keeps only its 'assigned'
    rows, so exporting and importing again never revives a withdrawn pair). Every row is checked first;
    one bad row rejects the file. Returns how many pairs became live."""
    require_staff(actor)
    _refuse_when_over(phase)
    rows, errors = _read_csv(text, required=("entry", "judge"))
    rows = [(line, row) for line, row in rows if (row.get("status") or LIVE_ASSIGNMENT).strip() == LIVE_ASSIGNMENT]
    members = {m.email: m for m in panel(phase)}
    subs = {s.public_code: s for s in entries(phase)}
    pairs = []
    for line, row in rows:
        # A leading quote is how the export keeps a spreadsheet from running a cell: read it as text.
        entry, judge = (row["entry"].strip().removeprefix("'"),
                        row["judge"].strip().lower().removeprefix("'"))
        if entry not in subs:
            errors.append(f"line {line}: no submitted entry {entry!r} in this phase")
        elif judge not in members or members[judge].status != PanelStatus.ACTIVE:
            errors.append(f"line {line}: {judge!r} is not an active judge on this panel")
        elif is_conflicted(members[judge], subs[entry]):
            errors.append(f"line {line}: {judge} has a conflict of interest with {entry}")
        else:
            pairs.append((members[judge], subs[entry]))
    if errors:
        raise ValidationFailed(f"The file was not imported: {len(errors)} line(s) need fixing.",
                               {f"line-{n}": message for n, message in enumerate(errors[:50])})
    conflicts = conflicted_pairs(phase)
    live = {(a.panel_member_id, a.submission_id) for a in _live_assignments(phase.id)}
    for member, submission in pairs:
        assign(actor=actor, member=member, submission=submission, conflicts=conflicts)
    return len({(m.id, s.id) for m, s in pairs} - live)


# --- reviews ----------------------------------------------------------------------------------


def judging_over(phase: Phase, now: datetime | None = None) -> bool:
    """Staff closed judging, or the challenge's results are out: scores will not change any more."""
    now = now or utcnow()
    return (phase.judging_closed_at is not None and now >= phase.judging_closed_at) or \
        phase.challenge.status in (ChallengeStatus.RESULTS_PUBLISHED.value, ChallengeStatus.ARCHIVED.value)


def judging_open(phase: Phase, now: datetime | None = None) -> bool:
    """Judges may score once the phase stopped taking applications, until staff close judging."""
    now = now or utcnow()
    if phase.judging_closed_at is not None and now >= phase.judging_closed_at:
        return False
    if phase.challenge.status in (ChallengeStatus.RESULTS_PUBLISHED.value, ChallengeStatus.ARCHIVED.value):
        return False
    return now > phase.closes_at + timedelta(seconds=phase.grace_seconds or 0)


@dataclass(frozen=True)
class QueueEntry:
    """One line of a judge's queue: what the page shows, read as columns (no entry is loaded whole)."""

    assignment_id: int
    public_code: str
    title: str
    review_status: str | None  # None before the judge starts; draft | submitted


def queue(user: User) -> list[tuple[PanelMember, list[Assignment]]]:
    """Per panel: the judge's live, non-conflicted assignments (nothing else is ever listed)."""
    out = []
    for member in memberships_of(user):
        conflicts = conflicted_entries(member)
        live = [a for a in _live_assignments(member.phase_id, member_id=member.id)
                if a.submission_id not in conflicts and a.submission.status == "submitted"]
        live.sort(key=lambda a: (a.review is not None and a.review.status == "submitted",
                                 a.submission.public_code or ""))
        out.append((member, live))
    return out


def queue_lines(user: User) -> list[tuple[PanelMember, list[QueueEntry]]]:
    """`queue` as the queue page shows it, open reviews first: two queries per panel whatever the number
    of entries (the judge's conflicts, then the lines as columns), where loading every assignment, entry,
    organisation and review as objects took most of the page's time."""
    out = []
    for member in memberships_of(user):
        conflicts = conflicted_entries(member)
        rows = db.session.execute(
            select(Assignment.id, Assignment.submission_id, Submission.public_code,
                   Submission.answers["title"].as_string(), Organization.legal_name, Review.status)
            .join(Submission, Submission.id == Assignment.submission_id)
            .outerjoin(Organization, Organization.id == Submission.organization_id)
            .outerjoin(Review, Review.assignment_id == Assignment.id)
            .where(Assignment.panel_member_id == member.id, Assignment.phase_id == member.phase_id,
                   Assignment.status == LIVE_ASSIGNMENT, Submission.status == "submitted")).tuples()
        phase = member.phase
        live = [QueueEntry(assignment_id, code or "", entry_title_from(phase, code, title, legal_name), status)
                for assignment_id, submission_id, code, title, legal_name, status in rows
                if submission_id not in conflicts]
        live.sort(key=lambda e: (e.review_status == "submitted", e.public_code))
        out.append((member, live))
    # Panels where scoring is open and something is left to do come first, then other open ones.
    now = utcnow()
    out.sort(key=lambda pair: (not judging_open(pair[0].phase, now),
                               not any(e.review_status != "submitted" for e in pair[1])))
    return out


def judge_assignment(user: Any, assignment_id: int) -> Assignment:
    """The one gate to an entry for a judge: theirs, live, not conflicted, attested. 404 otherwise."""
    # One query for the assignment and what the entry page follows from it (judge, phase, challenge,
    # entry, organisation, review); the collections they own load as their relationships say.
    assignment = db.session.execute(select(Assignment).where(Assignment.id == assignment_id).options(
        joinedload(Assignment.panel_member).joinedload(PanelMember.phase).joinedload(Phase.challenge)
        .lazyload(Challenge.phases),
        joinedload(Assignment.submission).joinedload(Submission.organization).lazyload(Organization.memberships),
        joinedload(Assignment.review))).unique().scalar_one_or_none()
    if (assignment is None or not getattr(user, "is_authenticated", False)
            or assignment.panel_member.user_id != user.id or assignment.status != LIVE_ASSIGNMENT
            or assignment.panel_member.status != PanelStatus.ACTIVE
            or assignment.submission.status != "submitted"  # disqualified or withdrawn: no longer judged
            or assignment.panel_member.phase.challenge.status == ChallengeStatus.ARCHIVED.value
            or is_conflicted(assignment.panel_member, assignment.submission)):
        raise NotFound("No such entry in your queue.")
    if not assignment.panel_member.attested:
        raise AttestationNeeded(assignment.panel_member)
    return assignment


class AttestationNeeded(PermissionDenied):
    def __init__(self, member: PanelMember) -> None:
        super().__init__("Sign the non-disclosure and conflict-of-interest attestation first.")
        self.member = member


def _snapshot(review: Review) -> dict[str, Any]:
    return {"values": review.values(), "comments": review.comments(), "overall_comment": review.overall_comment,
            "status": review.status}


def save_review(*, actor: User, assignment: Assignment, values: dict[str, Any], comments: dict[str, str],
                overall_comment: str = "", submit: bool = False, reason: str = "",
                now: datetime | None = None, _by_import: bool = False) -> Review:
    """Save a draft (only V1 checked) or submit (V1-V3). A submitted review changes only with a reason."""
    now = now or utcnow()
    phase = assignment.panel_member.phase
    if not _by_import:
        if not judging_open(phase, now):
            raise ConflictError("Judging of this phase is closed; reviews can no longer change.")
        # Serialise saves of one assignment: a double click or two tabs give one review, not two.
        db.session.execute(update(Assignment).where(Assignment.id == assignment.id).values(id=Assignment.id))
        db.session.refresh(assignment)
    review = assignment.review
    rubric = review.rubric if review is not None else current_rubric(phase)
    criteria = list(rubric.criteria)
    errors: dict[str, str] = {}
    parsed: dict[str, float | None] = {}
    for criterion in criteria:
        try:
            parsed[criterion.key] = parse_value(values.get(criterion.key))
        except ValueError:
            errors[criterion.key] = f"Enter a number for {criterion.name}."
    was_submitted = review is not None and review.status == "submitted"
    submitting = submit or was_submitted
    errors.update({k: v for k, v in review_errors(criteria, parsed, comments, submitting=submitting).items()
                   if k not in errors})
    if was_submitted and not reason.strip():
        errors["reason"] = "Say why you are changing a submitted review."
    if errors:
        raise ValidationFailed("Please correct the scores.", errors)
    if review is None:
        review = Review(assignment_id=assignment.id, rubric_id=rubric.id)
        db.session.add(review)
        db.session.flush()
        db.session.refresh(assignment)
    before = _snapshot(review) if was_submitted else None
    by_criterion = {s.criterion_id: s for s in review.scores}
    for criterion in criteria:
        score = by_criterion.get(criterion.id)
        if score is None:
            score = Score(criterion_id=criterion.id, criterion=criterion)
            review.scores.append(score)
        score.value = parsed[criterion.key]
        score.comment = (comments.get(criterion.key) or "").strip()
    review.overall_comment = (overall_comment or "").strip()
    if submitting and review.status != "submitted":
        review.status, review.submitted_at = "submitted", now
        if rubric.frozen_at is None:
            rubric.frozen_at = now  # V5: the rubric freezes with its first submitted review
    db.session.flush()
    if before is not None:
        after = _snapshot(review)
        if after != before:
            db.session.add(ReviewRevision(review_id=review.id, changed_by_id=actor.id if actor else None,
                                          reason=reason.strip(), before=before, after=after))
            audit.record(actor=actor, action="review.changed", obj=review,
                         details={"reason": reason.strip(), "before": before, "after": after})
    elif submitting:
        audit.record(actor=actor, action="review.submitted", obj=review,
                     details={"entry": assignment.submission.public_code, "judge": assignment.panel_member.email,
                              "total": total_of(review).total})
    db.session.flush()
    return review


def total_of(review: Review) -> ReviewTotal:
    return review_total(review.rubric.criteria, review.values())


def completion(review: Review | None, rubric: Rubric, typed: dict[str, Any] | None = None) -> int:
    """Share of the required criteria scored, for the progress shown to the judge: of what they typed
    when the form comes back with an error, else of the saved review."""
    required = [c for c in rubric.criteria if must_score(c)]
    if typed is not None:
        values = {k: (v if str(v).strip() else None) for k, v in typed.items()}
    else:
        values = review.values() if review is not None else {}
    if not required:
        return 100 if review is not None or typed is not None else 0
    return round(100 * sum(1 for c in required if values.get(c.key) is not None) / len(required))


def next_in_queue(assignment: Assignment) -> int | None:
    """The judge's next entry still to review on the same panel (open ones first, as the queue lists
    them), so finishing one review leads straight to the next."""
    user = assignment.panel_member.user
    for member, lines in queue_lines(user):
        if member.id == assignment.panel_member_id:
            return next((line.assignment_id for line in lines
                         if line.review_status != "submitted" and line.assignment_id != assignment.id), None)
    return None


def others_reviews(assignment: Assignment) -> list[Review]:
    """Other judges' submitted reviews of this entry, only as the phase allows."""
    phase = assignment.panel_member.phase
    rule = phase.others_scores_visible
    own_done = assignment.review is not None and assignment.review.status == "submitted"
    if rule == "never" or (rule == "after_own" and not own_done):
        return []
    # Only reviews that count: live assignments (not recused or withdrawn for a conflict).
    return [a.review for a in db.session.execute(
        select(Assignment).where(Assignment.submission_id == assignment.submission_id,
                                 Assignment.status == LIVE_ASSIGNMENT, Assignment.id != assignment.id)).scalars()
        if a.review is not None and a.review.status == "submitted"]


def judge_sees_leaderboard(member: PanelMember) -> bool:
    """Aggregates reach a judge only as the phase allows, and never before their own reviews are in."""
    rule = member.phase.others_scores_visible
    if rule == "always":
        return True
    if rule != "after_own":
        return False
    hidden = conflicted_entries(member)
    reviews = [(sub_id, review_status) for sub_id, review_status in db.session.execute(
        select(Assignment.submission_id, Review.status)
        .join(Submission, Submission.id == Assignment.submission_id)
        .outerjoin(Review, Review.assignment_id == Assignment.id)
        .where(Assignment.phase_id == member.phase_id, Assignment.panel_member_id == member.id,
               Assignment.status == LIVE_ASSIGNMENT, Submission.status == "submitted"))
        if sub_id not in hidden]  # only what the judge can open counts as their own work
    return bool(reviews) and all(status == "submitted" for _, status in reviews)


def judge_leaderboard(member: PanelMember) -> list[dict[str, Any]]:
    """The leaderboard rows a judge may see: never an entry they are conflicted with (not even its rank),
    and titles as blind judging allows."""
    from . import results

    _, rows = results.phase_leaderboard(member.phase, bootstrap=200)
    hidden = conflicted_entries(member)
    entry_rows = {code: (sub_id, title, legal_name) for sub_id, code, title, legal_name in db.session.execute(
        select(Submission.id, Submission.public_code, Submission.answers["title"].as_string(),
               Organization.legal_name).outerjoin(Organization, Organization.id == Submission.organization_id)
        .where(Submission.phase_id == member.phase_id))}
    out = []
    for row in rows:
        sub_id, title, legal_name = entry_rows.get(row["entry"], (None, None, None))
        if sub_id is None or sub_id in hidden:
            continue
        out.append({**row, "title": entry_title_from(member.phase, row["entry"], title, legal_name)})
    return out


def blind_view(submission: Submission, blind: bool) -> dict[str, Any]:
    """What a judge sees of an entry: in blind mode no identifying answers, organisation or people."""
    answers = []
    for question in submission.phase.fields:
        if question.type == "file":
            continue
        hidden = blind and question.identifying
        answers.append((question, None if hidden else (submission.answers or {}).get(question.key), hidden))
    files = []
    for question in submission.phase.fields:
        stored = submission.current_files().get(question.key)
        if question.type == "file" and stored is not None:
            hidden = blind and question.identifying
            files.append((question, stored, None if hidden else download_name(submission, stored, blind)))
    return {"answers": answers, "files": files,
            "organization": None if blind else submission.organization}


def entry_title(submission: Submission) -> str:
    """The title a judge may see: the entry code instead when the title question is identifying in blind mode."""
    if _title_hidden(submission.phase, (submission.answers or {}).get("title")):
        return f"Entry {submission.public_code}"
    return submission.title


def entry_title_from(phase: Phase, public_code: str | None, title: Any, legal_name: str | None) -> str:
    """`entry_title` from columns: the answer to the `title` question (None when unanswered), the name."""
    if _title_hidden(phase, title):
        return f"Entry {public_code}"
    return Submission.title_from({"title": title}, legal_name)


def _title_hidden(phase: Phase, title: Any) -> bool:
    # Blind: an identifying title question, or no title at all (the fallback is the organisation's name).
    # An empty or blank answer counts as none: the name would show through `title_from`'s fallback.
    return phase.blind and (not str(title or "").strip()
                            or any(q.key == "title" and q.identifying for q in phase.fields))


def download_name(submission: Submission, stored: Any, blind: bool) -> str:
    if not blind:
        return stored.display_name
    suffix = stored.display_name.rsplit(".", 1)[-1] if "." in stored.display_name else "bin"
    return f"{submission.public_code or submission.id}-{stored.field_key}.{suffix}"


def set_due(*, actor: User, phase: Phase, due: datetime | None) -> None:
    require_staff(actor)
    phase.reviews_due_at = due
    db.session.flush()
    audit.record(actor=actor, action="judging.due_set", obj=phase, details={"due": due.isoformat() if due else None})


def close_judging(*, actor: User, phase: Phase, reopen: bool = False) -> None:
    require_staff(actor)
    if reopen and phase.challenge.status in (ChallengeStatus.RESULTS_PUBLISHED.value, ChallengeStatus.ARCHIVED.value):
        raise ConflictError("The challenge's results are published: judging cannot be reopened.")
    if reopen and phase.feedback_released_at is not None:
        raise ConflictError("Feedback for this phase is already released: reopening judging would change what "
                            "applicants have read.")
    phase.judging_closed_at = None if reopen else utcnow()
    db.session.flush()
    audit.record(actor=actor, action="judging.reopened" if reopen else "judging.closed", obj=phase)


# --- progress ---------------------------------------------------------------------------------


@dataclass
class JudgeProgress:
    member: PanelMember
    assigned: int = 0
    submitted: int = 0
    drafts: int = 0
    recused: int = 0
    on_hold: int = 0  # live but blocked: a suspected or newer conflict, or the entry is no longer judged

    @property
    def outstanding(self) -> int:
        return self.assigned - self.submitted


@dataclass
class EntryProgress:
    submission: Submission
    assigned: int = 0
    submitted: int = 0
    judges: list[str] = field(default_factory=list)


def progress(phase: Phase) -> tuple[list[JudgeProgress], list[EntryProgress]]:
    members = {m.id: JudgeProgress(m) for m in panel(phase)}
    per_entry = {s.id: EntryProgress(s) for s in entries(phase)}
    blocked = conflicted_pairs(phase)
    rows = db.session.execute(
        select(Assignment.panel_member_id, Assignment.submission_id, Assignment.status, Review.status)
        .outerjoin(Review, Review.assignment_id == Assignment.id).where(Assignment.phase_id == phase.id)).all()
    for member_id, sub_id, status, review_status in rows:
        judge = members.get(member_id)
        if judge is None:
            continue
        if status == "recused":
            judge.recused += 1
            continue
        if status != LIVE_ASSIGNMENT:
            continue
        if sub_id not in per_entry or (member_id, sub_id) in blocked:
            # The judge cannot open it, so it is neither outstanding nor covering the entry: staff
            # decide the suspicion, or top up with "ensure".
            judge.on_hold += 1
            continue
        judge.assigned += 1
        judge.submitted += review_status == "submitted"
        judge.drafts += review_status == "draft"
        if sub_id in per_entry:
            per_entry[sub_id].assigned += 1
            per_entry[sub_id].submitted += review_status == "submitted"
            per_entry[sub_id].judges.append(judge.member.email)
    return list(members.values()), list(per_entry.values())


def is_overdue(phase: Phase, judge: JudgeProgress, now: datetime | None = None) -> bool:
    return phase.reviews_due_at is not None and (now or utcnow()) > phase.reviews_due_at and judge.outstanding > 0


def send_reminders(*, actor: User, phase: Phase, member_ids: list[int] | None = None) -> int:
    """Email judges with outstanding reviews (one message per judge per day, however often pressed)."""
    require_staff(actor)
    if not judging_open(phase):
        raise ConflictError("Scoring is not open, so judges could not act on a reminder"
                            + (": reopen judging first." if judging_over(phase) else
                               " until the phase stops taking applications."))
    judges, _ = progress(phase)
    sent = 0
    today = utcnow().date().isoformat()
    for judge in judges:
        if judge.outstanding <= 0 or judge.member.status != PanelStatus.ACTIVE:
            continue
        if member_ids is not None and judge.member.id not in member_ids:
            continue
        message = mail.queue(to=judge.member.email, subject=f"Reminder: reviews for {phase.challenge.title}",
                             template="judge_reminder", dedupe_key=f"judge-reminder:{judge.member.id}:{today}",
                             member=judge.member, phase=phase, outstanding=judge.outstanding,
                             link=external_url("judging.queue"))
        judge.member.last_reminded_at = message.created_at
        sent += 1
    audit.record(actor=actor, action="judging.reminded", obj=phase, details={"judges": sent})
    return sent


# --- offline score import -----------------------------------------------------------------------


def _read_csv(text: str, *, required: tuple[str, ...]) -> tuple[list[tuple[int, dict[str, str]]], list[str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [h for h in required if h not in header]
    if missing:
        message = (f"The first line of the CSV must be its header, with the columns {','.join(required)} "
                   f"(missing: {', '.join(missing)}); save the file as comma-separated values.")
        raise ValidationFailed(message, {"file": message})
    reader.fieldnames = header
    rows = [(n, {k: (v or "") for k, v in row.items() if k}) for n, row in enumerate(reader, start=2)]
    return rows, []


@dataclass
class ImportResult:
    reviews_created: int = 0
    reviews_updated: int = 0
    reviews_unchanged: int = 0
    entries_created: list[str] = field(default_factory=list)
    judges_created: list[str] = field(default_factory=list)


def _find_entry(phase: Phase, text: str) -> Submission | None:
    by_code = db.session.execute(select(Submission).where(Submission.phase_id == phase.id,
                                                          Submission.public_code == text)).scalar_one_or_none()
    if by_code is not None:
        return by_code
    matches = [s for s in db.session.execute(select(Submission).where(Submission.phase_id == phase.id)).scalars()
               if s.title.strip().lower() == text.strip().lower()]
    return matches[0] if len(matches) == 1 else None


def import_scores(*, actor: User, challenge: Challenge, phase: Phase, text: str,
                  create_missing: bool = False) -> ImportResult:
    """Bring offline or historical judging in. All rows are validated as a judge's form would be; one
    bad row rejects the whole file (line-numbered messages). Re-importing the same file changes nothing."""
    require_staff(actor)
    if challenge.status == ChallengeStatus.ARCHIVED.value:
        raise ConflictError("This challenge is archived; nothing can be imported into it.")
    if phase.feedback_released_at is not None:
        raise ConflictError("Feedback for this phase is released: applicants have read their scores, so "
                            "scores can no longer change.")
    if challenge.status == ChallengeStatus.RESULTS_PUBLISHED.value and db.session.execute(
            select(Award.id).where(Award.phase_id == phase.id, Award.status == "approved")).first():
        raise ConflictError("This phase's winners are published; importing scores now would change the ranking "
                            "behind them.")
    rows, errors = _read_csv(text, required=("entry", "judge", "criterion", "score"))
    rubric = current_rubric(phase)
    criteria = {c.key: c for c in rubric.criteria}
    members = {m.email: m for m in db.session.execute(select(PanelMember).where(
        PanelMember.phase_id == phase.id)).scalars()}
    from ..accounts.services import normalize_email

    groups: dict[tuple[str, str], dict[str, Any]] = {}
    entry_cache: dict[str, Submission | None] = {}
    for line, row in rows:
        entry_text, judge_text = row.get("entry", "").strip(), row.get("judge", "").strip()
        key, raw = row.get("criterion", "").strip(), row.get("score", "")
        if not entry_text:
            errors.append(f"line {line}: the entry is empty")
            continue
        try:
            email = normalize_email(judge_text)
        except ValidationFailed:
            errors.append(f"line {line}: {judge_text!r} is not an email address")
            continue
        if key not in criteria:
            errors.append(f"line {line}: unknown criterion {key!r} (expected one of {', '.join(criteria)})")
            continue
        if entry_text not in entry_cache:
            entry_cache[entry_text] = _find_entry(phase, entry_text)
        if entry_cache[entry_text] is None and not create_missing:
            errors.append(f"line {line}: no entry with code or title {entry_text!r} in phase {phase.key} "
                          f"({CREATE_MISSING_HINT})")
            continue
        found = entry_cache[entry_text]
        if found is not None and found.status != "submitted":
            errors.append(f"line {line}: entry {found.public_code or entry_text} is {found.status}, so it is no "
                          "longer judged")
            continue
        member = members.get(email)
        if member is not None and member.status == PanelStatus.REMOVED:
            errors.append(f"line {line}: {email} was removed from the panel of phase {phase.key}; invite them "
                          "again first if their scores should count")
            continue
        if member is None and not create_missing:
            errors.append(f"line {line}: {email} is not on the panel of phase {phase.key} "
                          f"({CREATE_MISSING_HINT})")
            continue
        group = groups.setdefault((entry_text, email), {"values": {}, "comments": {}, "lines": {}})
        if key in group["values"]:
            errors.append(f"line {line}: a second score for {key} by {email} on {entry_text} "
                          f"(first on line {group['lines'][key]})")
            continue
        try:
            group["values"][key] = parse_value(raw)
        except ValueError:
            errors.append(f"line {line}: score {raw!r} for {key} is not a number")
            continue
        group["comments"][key] = row.get("comment", "").strip()
        group["lines"][key] = line
    recused = set(db.session.execute(select(Assignment.panel_member_id, Assignment.submission_id).where(
        Assignment.phase_id == phase.id, Assignment.status == "recused")).tuples())
    for (entry_text, email), group in groups.items():
        problems = review_errors(rubric.criteria, group["values"], group["comments"], submitting=True)
        for key, message in problems.items():
            line = group["lines"].get(key.removeprefix("comment-"), min(group["lines"].values()))
            errors.append(f"line {line}: {entry_text} by {email}: {message}")
        sub = entry_cache.get(entry_text)
        member = members.get(email)
        if sub is not None and member is not None and is_conflicted(member, sub):
            errors.append(f"line {min(group['lines'].values())}: {email} has a conflict of interest with "
                          f"{sub.public_code}")
        elif sub is not None and member is not None and (member.id, sub.id) in recused:
            errors.append(f"line {min(group['lines'].values())}: {email} recused from {sub.public_code}; a "
                          "recusal is never undone")
    if errors:
        raise ValidationFailed(f"Nothing was imported: {len(errors)} problem(s).", {"file": "\n".join(errors)})

    result = ImportResult()
    for (entry_text, email), group in groups.items():
        sub = entry_cache.get(entry_text) or entry_cache.setdefault(entry_text, None)
        if sub is None:
            sub = _imported_entry(actor, challenge, phase, entry_text)
            entry_cache[entry_text] = sub
            result.entries_created.append(sub.public_code)
        member = members.get(email)
        if member is None:
            member = _imported_judge(actor, phase, email)
            members[email] = member
            result.judges_created.append(email)
        assignment = db.session.execute(select(Assignment).where(
            Assignment.panel_member_id == member.id, Assignment.submission_id == sub.id)).scalar_one_or_none()
        if assignment is None:
            assignment = Assignment(phase_id=phase.id, panel_member_id=member.id, submission_id=sub.id,
                                    status=LIVE_ASSIGNMENT, source="import")
            db.session.add(assignment)
            db.session.flush()
        elif assignment.status != LIVE_ASSIGNMENT:
            assignment.status, assignment.reason = LIVE_ASSIGNMENT, ""
        review = assignment.review
        wanted = {"values": {k: group["values"].get(k) for k in criteria},
                  "comments": {k: group["comments"].get(k, "") for k in criteria}}
        if review is not None and review.status == "submitted" and \
                {"values": review.values(), "comments": review.comments()} == wanted:
            result.reviews_unchanged += 1
            continue
        existed = review is not None and review.status == "submitted"
        save_review(actor=actor, assignment=assignment, values=group["values"], comments=group["comments"],
                    overall_comment=review.overall_comment if review else "", submit=True,
                    reason="score import" if existed else "", _by_import=True)
        if existed:
            result.reviews_updated += 1
        else:
            result.reviews_created += 1
    audit.record(actor=actor, action="judging.scores_imported", obj=phase, details={
        "created": result.reviews_created, "updated": result.reviews_updated,
        "unchanged": result.reviews_unchanged, "entries_created": result.entries_created,
        "judges_created": result.judges_created})
    return result


def _imported_entry(actor: User, challenge: Challenge, phase: Phase, title: str) -> Submission:
    placeholder = f"Imported entries — {challenge.title}"[:200]
    org = db.session.execute(select(Organization).where(Organization.legal_name == placeholder)).scalar_one_or_none()
    if org is None:
        org = Organization(legal_name=placeholder, created_by_id=actor.id, is_placeholder=True)
        db.session.add(org)
        db.session.flush()
    now = utcnow()
    sub = Submission(phase_id=phase.id, organization_id=org.id, status="submitted", answers={"title": title},
                     form_version=phase.form_version, created_by_id=actor.id, submitted_at=now, submitted_version=1)
    db.session.add(sub)
    db.session.flush()
    sub.public_code = f"AI-{now.year}-{sub.id:04d}"
    db.session.flush()
    audit.record(actor=actor, action="submission.imported", obj=sub, details={"title": title})
    return sub


def _imported_judge(actor: User, phase: Phase, email: str) -> PanelMember:
    from ..accounts.services import get_user_by_email

    user = get_user_by_email(email)
    if user is None:  # a panel member without sign-in rights: no password, so no way in
        user = User(email=email, name="", password_hash=None, verified_at=None)
        db.session.add(user)
        db.session.flush()
    member = PanelMember(phase_id=phase.id, email=email)
    db.session.add(member)
    member.user_id, member.status, member.accepted_at = user.id, PanelStatus.ACTIVE.value, utcnow()
    member.agency = email.rsplit("@", 1)[-1]
    member.invited_by_id = actor.id
    db.session.flush()
    audit.record(actor=actor, action="panel.imported", obj=member, details={"email": email})
    return member


def counts(phase: Phase) -> dict[str, int]:
    return dict(db.session.execute(select(Assignment.status, func.count()).where(Assignment.phase_id == phase.id)
                                   .group_by(Assignment.status)).tuples().all())


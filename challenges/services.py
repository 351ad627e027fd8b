"""Challenge authoring, validation, lifecycle, approval and cloning.

Every rule about what a valid challenge is lives here, so the web forms, the JSON definition
import and the CLI all refuse the same things with the same messages. Functions validate fully
before touching a row: a refused save leaves the previous version intact.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import column as sa_column
from sqlalchemy import func, or_, select
from sqlalchemy import table as sa_table

from . import audit
from .accounts.models import Role, User
from .errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from .extensions import contains_text, db
from .models import (
    FIELD_TYPES,
    PRIMARY_METHODS,
    PUBLIC_RESULTS,
    PUBLIC_STATUSES,
    SCORE_VISIBILITY,
    Challenge,
    ChallengeStatus,
    Criterion,
    FormField,
    Phase,
    Rubric,
    RulesVersion,
)
from .timezones import TimezoneError, get_zone, local_to_utc, utc_to_local, utcnow


def _column_chars(column: Any) -> int:
    """The n of a String(n) column. The models are the one place each text limit is set: the web forms,
    these rules and so the JSON import read it from here (PostgreSQL refuses longer text with an error)."""
    return int(column.type.length)


TITLE_MAX_CHARS = _column_chars(Challenge.title)
SLUG_MAX_CHARS = _column_chars(Challenge.slug)
AGENCY_MAX_CHARS = _column_chars(Challenge.agency)
SUMMARY_MAX_CHARS = _column_chars(Challenge.summary)
KEY_MAX_CHARS = _column_chars(Phase.key)  # phases, form fields and criteria alike
PHASE_NAME_MAX_CHARS = _column_chars(Phase.name)
FIELD_LABEL_MAX_CHARS = _column_chars(FormField.label)
CRITERION_NAME_MAX_CHARS = _column_chars(Criterion.name)
COMMENT_RULE_MAX_CHARS = _column_chars(Criterion.comment_rule)
# Long texts (Text columns): the web forms and the JSON import share these limits.
DESCRIPTION_MAX_CHARS = 100_000  # challenge and phase descriptions, eligibility
AWARDS_MAX_CHARS = 50_000
RULES_MAX_CHARS = 200_000
HELP_TEXT_MAX_CHARS = 2_000
CRITERION_DESCRIPTION_MAX_CHARS = 5_000

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEY_RE = re.compile(rf"^[a-z][a-z0-9_-]{{0,{KEY_MAX_CHARS - 1}}}$")
COMMENT_RULE_RE = re.compile(r"^(never|always|extremes|below:(0(\.\d+)?|1(\.0+)?))$")
MAX_FILE_BYTES = 5 * 1024**3
MAX_GRACE_SECONDS = 24 * 3600
MAX_PRIZE_TOTAL = 2**31 - 1  # challenges.prize_total is a 32-bit INTEGER column on PostgreSQL
# Weights only count relative to each other; the cap keeps totals, sums and shares finite (1e308 twice is inf).
MAX_WEIGHT = 1000
MAX_SCALE = 1_000_000  # bounds of a rubric scale and its step

# MIME types a file field may allow; the upload confirm step sniffs real content against these.
KNOWN_MIME_TYPES = {
    "application/pdf": "PDF",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word (.docx)",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "PowerPoint (.pptx)",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel (.xlsx)",
    "text/plain": "Plain text",
    "text/csv": "CSV",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "video/mp4": "MP4 video",
    "application/zip": "ZIP archive",
}

# Which sections may change in which status. Form and rubric lock at publication because
# applications and reviews refer to them; text and dates stay editable, every change audited.
SECTIONS = ("general", "prizes", "rules", "timeline", "form", "rubric", "judging")
EDITABLE = {
    ChallengeStatus.DRAFT: set(SECTIONS),
    ChallengeStatus.IN_REVIEW: set(),
    ChallengeStatus.PUBLISHED: {"general", "prizes", "rules", "timeline", "judging"},
    ChallengeStatus.CLOSED: {"general", "prizes", "timeline", "judging"},
    ChallengeStatus.JUDGING: {"general", "judging"},
    ChallengeStatus.RESULTS_PUBLISHED: set(),
    ChallengeStatus.ARCHIVED: set(),
}

# Staff-driven transitions after publication (draft → review → published has its own steps).
TRANSITIONS: dict[ChallengeStatus, set[ChallengeStatus]] = {
    ChallengeStatus.PUBLISHED: {ChallengeStatus.CLOSED},
    ChallengeStatus.CLOSED: {ChallengeStatus.JUDGING, ChallengeStatus.PUBLISHED},
    ChallengeStatus.JUDGING: {ChallengeStatus.RESULTS_PUBLISHED, ChallengeStatus.CLOSED},
    ChallengeStatus.RESULTS_PUBLISHED: {ChallengeStatus.ARCHIVED},
    ChallengeStatus.ARCHIVED: set(),
}


# --- guards -------------------------------------------------------------------------------


def require_staff(actor: User | None) -> User:
    if actor is None or not (actor.is_system or (actor.active and actor.has_role(Role.STAFF, Role.ADMIN))):
        raise PermissionDenied("Only program staff can do that.")
    return actor


def can_edit(challenge: Challenge, section: str, phase: Phase | None = None) -> bool:
    """Whether `section` may change now. A phase added after publication (a later round) keeps its own
    form, rubric and existence editable until it opens, as long as nobody has applied to it."""
    if section in EDITABLE[challenge.status_enum]:
        return True
    return phase is not None and phase.id in _later_rounds_editable(challenge, section, [phase])


def phases_editable(challenge: Challenge, section: str) -> set[int]:
    """The ids of the challenge's phases whose `section` may change now: `can_edit` for every phase at once,
    in at most two queries however many phases there are."""
    if section in EDITABLE[challenge.status_enum]:
        return {p.id for p in challenge.phases}
    return _later_rounds_editable(challenge, section, challenge.phases)


def _later_rounds_editable(challenge: Challenge, section: str, phases: Iterable[Phase]) -> set[int]:
    """Of `phases`, those still being built: the form or rubric of a round added after publication (the audit
    log dates it: only such a round was never part of what a second staff member approved), before it opens
    and while nobody has applied to it."""
    if section not in ("form", "rubric") or challenge.status_enum not in (
            ChallengeStatus.PUBLISHED, ChallengeStatus.CLOSED, ChallengeStatus.JUDGING):
        return set()
    if challenge.published_at is None:  # only a round added after approval: the first phase never was
        return set()
    now, first = utcnow(), min(p.order for p in challenge.phases)
    candidates = {p.id: p for p in phases if p.id is not None and p.opens_at > now and p.order != first}
    if not candidates:
        return set()
    added = set(db.session.execute(select(audit.AuditEvent.object_id).where(
        audit.AuditEvent.action == "phase.created", audit.AuditEvent.object_type == "phase",
        audit.AuditEvent.object_id.in_([str(i) for i in candidates]),
        audit.AuditEvent.at > challenge.published_at)).scalars())
    candidates = {i: p for i, p in candidates.items() if str(i) in added}
    if not candidates:
        return set()
    applied = set(db.session.execute(select(_SUBMISSIONS.c.phase_id).where(
        _SUBMISSIONS.c.phase_id.in_(list(candidates))).distinct()).scalars())
    return set(candidates) - applied


# The applications table, named without importing the submissions package (it depends on this one).
_SUBMISSIONS = sa_table("submissions", sa_column("phase_id"))


def ensure_editable(challenge: Challenge, section: str, phase: Phase | None = None) -> None:
    if not can_edit(challenge, section, phase):
        label = challenge.status_enum.label.lower()
        if challenge.status_enum is ChallengeStatus.IN_REVIEW:
            raise Conflict("This challenge is waiting for approval. Withdraw it to draft to edit it.")
        raise Conflict(f"The {section} section cannot be changed while the challenge is {label}.")


def start_edit(actor: User, challenge: Challenge, section: str, phase: Phase | None = None) -> None:
    """Every change to a challenge's content starts here: it must be editable now, and until approval
    the person is remembered as one of its editors, none of whom may approve it."""
    ensure_editable(challenge, section, phase)
    if challenge.approved_at is None and actor.id not in (challenge.editor_ids or []) and not actor.is_system:
        challenge.editor_ids = [*(challenge.editor_ids or []), actor.id]


def _fail_if(errors: dict[str, str], summary: str = "Please correct the errors below.") -> None:
    if errors:
        raise ValidationFailed(summary, errors)


def rules_hash(text: str) -> str:
    """Version of the rules a vendor accepts: the SHA-256 of the text (whitespace-normalised)."""
    normalised = "\n".join(line.rstrip() for line in (text or "").strip().splitlines())
    return hashlib.sha256(normalised.encode()).hexdigest()


# --- lookups ------------------------------------------------------------------------------


def get_challenge(slug: str) -> Challenge:
    challenge = db.session.execute(select(Challenge).where(Challenge.slug == slug)).scalar_one_or_none()
    if challenge is None:
        raise NotFound("No challenge at this address.")
    return challenge


def get_phase(challenge: Challenge, phase_id: int) -> Phase:
    phase = next((p for p in challenge.phases if p.id == phase_id), None)
    if phase is None:
        raise NotFound("No such phase in this challenge.")
    return phase


def current_rubric(phase: Phase) -> Rubric:
    """The phase's rubric, created empty on first use."""
    if phase.rubric is None:
        rubric = Rubric(phase=phase, version=1)
        db.session.add(rubric)
        db.session.flush()
        return rubric
    return phase.rubric


# --- general, prizes, rules ---------------------------------------------------------------


def _check_slug(slug: str, *, exclude_id: int | None = None) -> str | None:
    if not slug:
        return "Enter a slug: lower-case letters, digits and hyphens, such as ai-health-2026."
    if len(slug) < 3 or len(slug) > SLUG_MAX_CHARS:
        return f"A slug must be 3 to {SLUG_MAX_CHARS} characters long."
    if not SLUG_RE.match(slug):
        return "Use only lower-case letters, digits and single hyphens (no spaces), e.g. ai-health-2026."
    stmt = select(Challenge.id).where(Challenge.slug == slug)
    if exclude_id is not None:
        stmt = stmt.where(Challenge.id != exclude_id)
    if db.session.execute(stmt).first():
        return f"The slug “{slug}” is already used by another challenge. Choose another."
    return None


def _check_timezone(name: str) -> str | None:
    try:
        get_zone(name)
    except TimezoneError as exc:
        return str(exc)
    return None


def _too_long(text: str | None, limit: int, what: str) -> str | None:
    if text is not None and len(text) > limit:
        return f"Keep the {what} to {limit} characters or fewer."
    return None


def _general_errors(
    *, title: str, slug: str, agency: str, summary: str, timezone: str, exclude_id: int | None
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "Enter a title."
    elif (msg := _too_long(title, TITLE_MAX_CHARS, "title")) is not None:
        errors["title"] = msg
    if (msg := _check_slug(slug, exclude_id=exclude_id)) is not None:
        errors["slug"] = msg
    if (msg := _too_long(agency, AGENCY_MAX_CHARS, "agency")) is not None:
        errors["agency"] = msg
    if (msg := _too_long(summary, SUMMARY_MAX_CHARS, "summary")) is not None:
        errors["summary"] = msg
    if (msg := _check_timezone(timezone)) is not None:
        errors["timezone"] = msg
    return errors


def create_challenge(
    *,
    actor: User,
    title: str,
    slug: str,
    agency: str = "",
    summary: str = "",
    timezone: str = "America/New_York",
) -> Challenge:
    require_staff(actor)
    title, slug, agency, summary = title.strip(), slug.strip(), agency.strip(), summary.strip()
    _fail_if(_general_errors(title=title, slug=slug, agency=agency, summary=summary, timezone=timezone,
                             exclude_id=None))
    challenge = Challenge(
        title=title,
        slug=slug,
        agency=agency,
        summary=summary,
        timezone=timezone,
        created_by_id=actor.id,
        editor_ids=[] if actor.is_system else [actor.id],
        status=ChallengeStatus.DRAFT.value,
        rules_version=rules_hash(""),
    )
    db.session.add(challenge)
    db.session.flush()
    audit.record(actor=actor, action="challenge.created", obj=challenge, details={"slug": slug})
    return challenge


def update_general(
    *,
    actor: User,
    challenge: Challenge,
    title: str,
    slug: str,
    agency: str,
    summary: str,
    description_md: str,
    timezone: str,
) -> Challenge:
    require_staff(actor)
    start_edit(actor, challenge, "general")
    title, slug, agency, summary = title.strip(), slug.strip(), agency.strip(), summary.strip()
    errors = _general_errors(
        title=title, slug=slug, agency=agency, summary=summary, timezone=timezone, exclude_id=challenge.id
    )
    if slug != challenge.slug and challenge.is_public:
        errors["slug"] = "A published challenge keeps its address; the slug cannot change now."
    if timezone != challenge.timezone and challenge.status_enum is not ChallengeStatus.DRAFT:
        errors["timezone"] = "The time zone can change only while the challenge is a draft."
    moved: dict[Phase, tuple[datetime, datetime]] = {}
    if timezone != challenge.timezone and "timezone" not in errors:
        # A draft's deadlines keep the times of day staff typed: 5:00 PM stays 5:00 PM, now in the new zone
        # (keeping the instants instead would silently show every deadline at another hour).
        for phase in challenge.phases:
            try:
                moved[phase] = tuple(local_to_utc(utc_to_local(t, challenge.timezone).replace(tzinfo=None), timezone)
                                     for t in (phase.opens_at, phase.closes_at))  # type: ignore[assignment]
            except TimezoneError as exc:
                errors["timezone"] = f"The phase “{phase.name}”: {exc}"
                break
    _fail_if(errors)
    for phase, (opens, closes) in moved.items():
        phase.opens_at, phase.closes_at = opens, closes
    before = {"title": challenge.title, "slug": challenge.slug, "agency": challenge.agency,
              "timezone": challenge.timezone}
    challenge.title, challenge.slug, challenge.agency = title, slug, agency
    challenge.summary, challenge.description_md, challenge.timezone = summary, description_md, timezone
    db.session.flush()
    after = {"title": title, "slug": slug, "agency": agency, "timezone": timezone}
    audit.record(actor=actor, action="challenge.general_saved", obj=challenge,
                 details={"before": before, "after": after})
    return challenge


def update_prizes(*, actor: User, challenge: Challenge, prize_total: int, awards_md: str) -> Challenge:
    require_staff(actor)
    start_edit(actor, challenge, "prizes")
    errors: dict[str, str] = {}
    if prize_total is None or prize_total < 0:
        errors["prize_total"] = "Enter the total prize amount in whole dollars (0 or more)."
    elif prize_total > MAX_PRIZE_TOTAL:
        errors["prize_total"] = "That prize total is too large; enter whole dollars."
    _fail_if(errors)
    before = challenge.prize_total
    challenge.prize_total, challenge.awards_md = int(prize_total), awards_md
    db.session.flush()
    audit.record(actor=actor, action="challenge.prizes_saved", obj=challenge,
                 details={"before": {"prize_total": before}, "after": {"prize_total": int(prize_total)}})
    return challenge


def keep_rules_version(challenge: Challenge, actor: User | None) -> None:
    """Store the challenge's current rules text under its hash, once: what applicants accepted stays
    readable after the rules change."""
    if not (challenge.rules_md or "").strip():
        return  # nobody can accept empty rules (a challenge is incomplete without them)
    if challenge.id is None:
        db.session.flush()
    exists = db.session.execute(select(RulesVersion.id).where(
        RulesVersion.challenge_id == challenge.id, RulesVersion.sha256 == challenge.rules_version)).first()
    if exists is None:
        db.session.add(RulesVersion(challenge_id=challenge.id, sha256=challenge.rules_version,
                                    text=challenge.rules_md or "",
                                    created_by_id=None if actor is None or actor.is_system else actor.id))


def rules_versions(challenge: Challenge) -> list[RulesVersion]:
    return list(db.session.execute(select(RulesVersion).where(RulesVersion.challenge_id == challenge.id)
                                   .order_by(RulesVersion.created_at, RulesVersion.id)).scalars())


def rules_version(challenge: Challenge, sha256: str) -> RulesVersion:
    found = db.session.execute(select(RulesVersion).where(
        RulesVersion.challenge_id == challenge.id, RulesVersion.sha256 == sha256)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such version of the rules.")
    return found


def update_rules(*, actor: User, challenge: Challenge, eligibility_md: str, rules_md: str) -> Challenge:
    require_staff(actor)
    start_edit(actor, challenge, "rules")
    before = challenge.rules_version
    challenge.eligibility_md, challenge.rules_md = eligibility_md, rules_md
    challenge.rules_version = rules_hash(rules_md)
    keep_rules_version(challenge, actor)
    db.session.flush()
    audit.record(actor=actor, action="challenge.rules_saved", obj=challenge,
                 details={"before": {"rules_version": before}, "after": {"rules_version": challenge.rules_version}})
    return challenge


# --- timeline -----------------------------------------------------------------------------


def _to_utc(value: datetime | None, zone: str, field: str, errors: dict[str, str]) -> datetime | None:
    if value is None:
        errors[field] = "Enter a date and time."
        return None
    try:
        return local_to_utc(value, zone)
    except TimezoneError as exc:
        errors[field] = str(exc)
        return None


def _unchanged(posted: datetime | None, stored: datetime, zone: str) -> datetime | None:
    """`stored` when `posted` is how the edit form showed it (to the minute, without saying which of a
    repeated autumn hour it was), so saving a phase untouched never moves it: not by the seconds the form
    cannot show, nor by an hour on the night clocks go back."""
    if posted is None or posted.tzinfo is not None:
        return None
    shown = utc_to_local(stored, zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
    return stored if posted.replace(fold=0) == shown else None


def phase_errors(
    *,
    key: str,
    name: str,
    opens: datetime | None,
    closes: datetime | None,
    grace_seconds: int | None,
    max_submissions_per_org: int | None,
    others: Iterable[tuple[str, str, datetime, datetime]],
) -> dict[str, str]:
    """Rules for one phase against its siblings (key, name, opens, hard close); times in UTC."""
    errors: dict[str, str] = {}
    others = list(others)
    if not KEY_RE.match(key or ""):
        errors["key"] = "Use a short key of lower-case letters, digits, - or _, starting with a letter."
    elif any(other_key == key for other_key, *_ in others):
        errors["key"] = f"Another phase already uses the key “{key}”."
    if not (name or "").strip():
        errors["name"] = "Enter a phase name, such as Concept papers."
    elif (msg := _too_long(name, PHASE_NAME_MAX_CHARS, "phase name")) is not None:
        errors["name"] = msg
    if opens and closes and closes <= opens:
        errors["closes_at"] = "Closing time must be after opening time."
    if grace_seconds is None or not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        errors["grace_seconds"] = "The grace window must be between 0 and 86400 seconds (one day)."
    if max_submissions_per_org is None or not 1 <= max_submissions_per_org <= 100:
        errors["max_submissions_per_org"] = "Allow between 1 and 100 applications per organisation."
    if opens and closes and "closes_at" not in errors:
        # Each phase occupies its opening to its hard close (close plus grace): its own grace counts too.
        hard_close = closes + timedelta(seconds=grace_seconds if "grace_seconds" not in errors else 0)
        for _key, other_name, other_opens, other_close in others:
            if opens < other_close and other_opens < closes:
                errors["opens_at"] = (
                    f"These dates overlap the phase “{other_name}”. Phases must not overlap; "
                    "make this one start after the other closes."
                )
                break
            if opens < other_close and other_opens < hard_close:
                errors["grace_seconds"] = (
                    f"With this grace window the phase runs into “{other_name}”, which opens "
                    f"{int((hard_close - other_opens).total_seconds())} seconds before the window ends. "
                    "Shorten the window or move the other phase."
                )
                break
    return errors


def save_phase(
    *,
    actor: User,
    challenge: Challenge,
    phase: Phase | None = None,
    key: str,
    name: str,
    opens_local: datetime | None,
    closes_local: datetime | None,
    description_md: str = "",
    grace_seconds: int = 0,
    max_submissions_per_org: int = 1,
) -> Phase:
    """Create or change a phase; times are wall-clock in the challenge's zone."""
    require_staff(actor)
    start_edit(actor, challenge, "timeline")
    key, name = key.strip(), name.strip()
    errors: dict[str, str] = {}
    opens = _to_utc(opens_local, challenge.timezone, "opens_at", errors)
    closes = _to_utc(closes_local, challenge.timezone, "closes_at", errors)
    if phase is not None:  # a time shown and posted back unchanged keeps its exact stored instant
        opens = _unchanged(opens_local, phase.opens_at, challenge.timezone) or opens
        closes = _unchanged(closes_local, phase.closes_at, challenge.timezone) or closes
    others = [(p.key, p.name, p.opens_at, p.hard_close) for p in challenge.phases if p is not phase]
    errors.update(
        phase_errors(key=key, name=name, opens=opens, closes=closes, grace_seconds=grace_seconds,
                     max_submissions_per_org=max_submissions_per_org, others=others)
    )
    if phase is not None and key != phase.key and challenge.is_public:
        errors["key"] = "A published phase keeps its key."
    _fail_if(errors)
    assert opens is not None and closes is not None
    created = phase is None
    before = None if created else {"key": phase.key, "opens_at": phase.opens_at, "closes_at": phase.closes_at}
    if phase is None:
        phase = Phase(challenge=challenge)
        db.session.add(phase)
    phase.key, phase.name, phase.description_md = key, name, description_md
    phase.opens_at, phase.closes_at = opens, closes
    phase.grace_seconds, phase.max_submissions_per_org = int(grace_seconds), int(max_submissions_per_org)
    _renumber_phases(challenge)
    db.session.flush()
    audit.record(
        actor=actor,
        action="phase.created" if created else "phase.saved",
        obj=phase,
        details={"challenge": challenge.slug, "before": before,
                 "after": {"key": key, "opens_at": opens, "closes_at": closes}},
    )
    return phase


def _renumber_phases(challenge: Challenge) -> None:
    for index, phase in enumerate(sorted(challenge.phases, key=lambda p: p.opens_at or utcnow())):
        phase.order = index + 1


def delete_phase(*, actor: User, phase: Phase) -> None:
    require_staff(actor)
    challenge = phase.challenge
    start_edit(actor, challenge, "form", phase)  # removing a phase removes its form and rubric too
    if len(challenge.phases) == 1:
        raise Conflict("A challenge needs at least one phase: add another before deleting this one.")
    challenge.phases.remove(phase)
    db.session.flush()
    audit.record(actor=actor, action="phase.deleted", object_type="phase", object_id=phase.id,
                 details={"challenge": challenge.slug, "key": phase.key})


def save_judging(
    *,
    actor: User,
    phase: Phase,
    judges_per_entry: int,
    quorum: int,
    primary_method: str,
    blind: bool,
    others_scores_visible: str,
    bids_enabled: bool = False,
    public_results: str = "winners",
) -> Phase:
    require_staff(actor)
    start_edit(actor, phase.challenge, "judging")
    errors: dict[str, str] = {}
    if judges_per_entry is None or not 1 <= judges_per_entry <= 50:
        errors["judges_per_entry"] = "Judges per entry must be between 1 and 50."
    if quorum is None or quorum < 1:
        errors["quorum"] = "Quorum must be at least 1 review."
    elif judges_per_entry and quorum > judges_per_entry:
        errors["quorum"] = "Quorum cannot exceed the number of judges per entry."
    if primary_method not in PRIMARY_METHODS:
        errors["primary_method"] = "Choose one of: " + ", ".join(PRIMARY_METHODS) + "."
    if others_scores_visible not in SCORE_VISIBILITY:
        errors["others_scores_visible"] = "Choose one of: " + ", ".join(SCORE_VISIBILITY) + "."
    if public_results not in PUBLIC_RESULTS:
        errors["public_results"] = "Choose what the public sees: the winners or the whole leaderboard."
    _fail_if(errors)
    before = _judging_dict(phase)
    phase.judges_per_entry, phase.quorum, phase.primary_method = judges_per_entry, quorum, primary_method
    phase.blind, phase.others_scores_visible = bool(blind), others_scores_visible
    phase.bids_enabled, phase.public_results = bool(bids_enabled), public_results
    db.session.flush()
    audit.record(actor=actor, action="phase.judging_saved", obj=phase,
                 details={"before": before, "after": _judging_dict(phase)})
    return phase


def _judging_dict(phase: Phase) -> dict[str, Any]:
    return {
        "judges_per_entry": phase.judges_per_entry,
        "quorum": phase.quorum,
        "primary_method": phase.primary_method,
        "blind": phase.blind,
        "others_scores_visible": phase.others_scores_visible,
        "bids_enabled": phase.bids_enabled,
        "public_results": phase.public_results,
    }


# --- application form ---------------------------------------------------------------------


def field_errors(
    *,
    key: str,
    label: str,
    type: str,
    max_length: int | None,
    options: list[str],
    accept: list[str],
    max_bytes: int | None,
    taken_keys: Iterable[str],
) -> dict[str, str]:
    """Every rule a form field must meet; shared by the form builder and the JSON import."""
    errors: dict[str, str] = {}
    if not KEY_RE.match(key or ""):
        errors["key"] = "Use a short key of lower-case letters, digits, - or _, starting with a letter."
    elif key in set(taken_keys):
        errors["key"] = f"The key “{key}” is already used by another field of this form."
    if not (label or "").strip():
        errors["label"] = "Enter the question or label applicants will see."
    elif (msg := _too_long(label, FIELD_LABEL_MAX_CHARS, "label")) is not None:
        errors["label"] = msg
    if type not in FIELD_TYPES:
        errors["type"] = "Choose a field type: " + ", ".join(FIELD_TYPES) + "."
    if max_length is not None and not 1 <= max_length <= 100_000:
        errors["max_length"] = "Maximum length must be between 1 and 100000 characters."
    if type in ("select", "multiselect"):
        cleaned = [o.strip() for o in options if o.strip()]
        if not cleaned:
            errors["options"] = "List at least one option, one per line."
        elif len(set(cleaned)) != len(cleaned):
            errors["options"] = "Each option must be different."
    if type == "file":
        if not accept:
            errors["accept"] = "Choose at least one allowed file type."
        else:
            unknown = [a for a in accept if a not in KNOWN_MIME_TYPES]
            if unknown:
                errors["accept"] = "Unknown file type: " + ", ".join(unknown) + "."
        if max_bytes is None or not 1 <= max_bytes <= MAX_FILE_BYTES:
            errors["max_bytes"] = "Set a maximum file size between 1 byte and 5 GiB."
    return errors


def save_field(
    *,
    actor: User,
    phase: Phase,
    field: FormField | None = None,
    key: str,
    label: str,
    type: str,
    help_text: str = "",
    required: bool = False,
    max_length: int | None = None,
    options: list[str] | None = None,
    accept: list[str] | None = None,
    max_bytes: int | None = None,
    identifying: bool = False,
) -> FormField:
    require_staff(actor)
    start_edit(actor, phase.challenge, "form", phase)
    key = (key or "").strip()
    options = [o.strip() for o in (options or []) if o.strip()]
    accept = [a.strip() for a in (accept or []) if a.strip()]
    errors = field_errors(
        key=key, label=label, type=type, max_length=max_length, options=options, accept=accept,
        max_bytes=max_bytes, taken_keys=[f.key for f in phase.fields if f is not field],
    )
    _fail_if(errors)
    created = field is None
    if field is None:
        field = FormField(phase=phase, order=max((f.order for f in phase.fields), default=0) + 1)
        db.session.add(field)
    field.key, field.label, field.type, field.help_text = key, label.strip(), type, help_text
    field.required, field.identifying = bool(required), bool(identifying)
    field.max_length = max_length if type in ("text", "textarea", "url") else None
    field.options = options if type in ("select", "multiselect") else []
    field.accept = accept if type == "file" else []
    field.max_bytes = max_bytes if type == "file" else None
    phase.form_version += 1
    db.session.flush()
    audit.record(actor=actor, action="field.created" if created else "field.saved", obj=field,
                 object_type="form_field", details={"phase": phase.key, "key": key, "type": type})
    return field


def delete_field(*, actor: User, field: FormField) -> None:
    require_staff(actor)
    phase = field.phase
    start_edit(actor, phase.challenge, "form", phase)
    phase.fields.remove(field)
    phase.form_version += 1
    db.session.flush()
    audit.record(actor=actor, action="field.deleted", object_type="form_field", object_id=field.id,
                 details={"phase": phase.key, "key": field.key})


def _move(items: list[Any], item: Any, direction: str) -> None:
    ordered = sorted(items, key=lambda x: x.order)
    index = ordered.index(item)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, thing in enumerate(ordered, start=1):
        thing.order = position


def move_field(*, actor: User, field: FormField, direction: str) -> None:
    require_staff(actor)
    start_edit(actor, field.phase.challenge, "form", field.phase)
    _move(field.phase.fields, field, direction)
    db.session.flush()


# --- rubric -------------------------------------------------------------------------------


def _on_step(value: float, scale_min: float, step: float) -> bool:
    ratio = (value - scale_min) / step
    return math.isclose(ratio, round(ratio), abs_tol=1e-9)


def criterion_errors(
    *,
    key: str,
    name: str,
    weight: float | None,
    scale_min: float | None,
    scale_max: float | None,
    step: float | None,
    anchors: dict[str, str],
    comment_rule: str,
    min_comment_chars: int | None,
    taken_keys: Iterable[str],
) -> dict[str, str]:
    """Every rule one criterion must meet (SCORING.md section 1)."""
    errors: dict[str, str] = {}
    if not KEY_RE.match(key or ""):
        errors["key"] = "Use a short key of lower-case letters, digits, - or _, starting with a letter."
    elif key in set(taken_keys):
        errors["key"] = f"The key “{key}” is already used by another criterion."
    if not (name or "").strip():
        errors["name"] = "Enter the criterion name judges will see."
    elif (msg := _too_long(name, CRITERION_NAME_MAX_CHARS, "criterion name")) is not None:
        errors["name"] = msg
    if weight is None or not math.isfinite(weight) or not 0 <= weight <= MAX_WEIGHT:
        errors["weight"] = f"Enter a weight from 0 to {MAX_WEIGHT:,}."
    for field, value in (("min", scale_min), ("max", scale_max), ("step", step)):
        if value is None or not math.isfinite(value):
            errors[field] = "Enter a number."
        elif abs(value) > MAX_SCALE:  # totals of weighted scores must stay finite
            errors[field] = f"Use a number from −{MAX_SCALE:,} to {MAX_SCALE:,}."
    if "min" not in errors and "max" not in errors and scale_max <= scale_min:  # type: ignore[operator]
        errors["max"] = "The scale maximum must be greater than its minimum."
    if "step" not in errors and step <= 0:  # type: ignore[operator]
        errors["step"] = "The step must be greater than 0."
    if not errors.keys() & {"min", "max", "step"} and not _on_step(scale_max, scale_min, step):  # type: ignore[arg-type]
        errors["step"] = "The step must divide the scale evenly (max − min must be a multiple of step)."
    if not errors.keys() & {"min", "max", "step"}:
        for value_text in anchors:
            try:
                value = float(value_text)
            except ValueError:
                errors["anchors"] = f"Anchor “{value_text}” is not a number on the scale."
                break
            if not scale_min <= value <= scale_max or not _on_step(value, scale_min, step):  # type: ignore[operator,arg-type]
                errors["anchors"] = f"Anchor {value_text} is not a value on the scale."
                break
    if not COMMENT_RULE_RE.match(comment_rule or ""):
        errors["comment_rule"] = "Comment rule must be never, always, extremes or below:<0..1>."
    elif (msg := _too_long(comment_rule, COMMENT_RULE_MAX_CHARS, "comment rule")) is not None:
        errors["comment_rule"] = msg
    if min_comment_chars is None or not 0 <= min_comment_chars <= 10_000:
        errors["min_comment_chars"] = "Minimum comment length must be between 0 and 10000."
    return errors


def rubric_errors(criteria: list[dict[str, Any]]) -> str | None:
    """Rubric-wide rule V4: at least one weighted, non-independent criterion."""
    if criteria and not any(c["weight"] > 0 and not c["independent"] for c in criteria):
        return "A rubric needs at least one criterion with a weight above 0 that is not independent."
    return None


def save_criterion(
    *,
    actor: User,
    phase: Phase,
    criterion: Criterion | None = None,
    key: str,
    name: str,
    weight: float | None,
    scale_min: float | None,
    scale_max: float | None,
    step: float | None = 1.0,
    description: str = "",
    anchors: dict[str, str] | None = None,
    higher_is_better: bool = True,
    required: bool = True,
    independent: bool = False,
    comment_rule: str = "never",
    min_comment_chars: int | None = 0,
) -> Criterion:
    require_staff(actor)
    start_edit(actor, phase.challenge, "rubric", phase)
    rubric = current_rubric(phase)
    if rubric.frozen_at is not None:
        raise Conflict("This rubric is frozen because reviews exist; create a new rubric version.")
    key = (key or "").strip()
    anchors = {str(k).strip(): str(v).strip() for k, v in (anchors or {}).items() if str(v).strip()}
    if independent:
        weight = 0.0  # V4: independent criteria never count towards the total
    errors = criterion_errors(
        key=key, name=name, weight=weight, scale_min=scale_min, scale_max=scale_max, step=step,
        anchors=anchors, comment_rule=comment_rule, min_comment_chars=min_comment_chars,
        taken_keys=[c.key for c in rubric.criteria if c is not criterion],
    )
    if not errors:
        others = [{"weight": c.weight, "independent": c.independent} for c in rubric.criteria if c is not criterion]
        if (msg := rubric_errors([*others, {"weight": weight, "independent": independent}])) is not None:
            errors["weight"] = msg
    _fail_if(errors)
    created = criterion is None
    before = None if created else {"weight": criterion.weight, "min": criterion.scale_min,
                                   "max": criterion.scale_max, "step": criterion.step}
    if criterion is None:
        criterion = Criterion(rubric=rubric, order=max((c.order for c in rubric.criteria), default=0) + 1)
        db.session.add(criterion)
    criterion.key, criterion.name, criterion.description = key, name.strip(), description
    criterion.weight, criterion.scale_min, criterion.scale_max = float(weight), float(scale_min), float(scale_max)  # type: ignore[arg-type]
    criterion.step, criterion.anchors = float(step), _sorted_anchors(anchors)  # type: ignore[arg-type]
    criterion.higher_is_better, criterion.required = bool(higher_is_better), bool(required)
    criterion.independent, criterion.comment_rule = bool(independent), comment_rule
    criterion.min_comment_chars = int(min_comment_chars or 0)
    db.session.flush()
    audit.record(actor=actor, action="criterion.created" if created else "criterion.saved", obj=criterion,
                 details={"phase": phase.key, "key": key, "before": before,
                          "after": {"weight": criterion.weight, "min": criterion.scale_min,
                                    "max": criterion.scale_max, "step": criterion.step}})
    return criterion


def _sorted_anchors(anchors: dict[str, str]) -> dict[str, str]:
    def canonical(text: str) -> str:
        value = float(text)
        return str(int(value)) if value.is_integer() else repr(value)

    return {canonical(k): v for k, v in sorted(anchors.items(), key=lambda kv: float(kv[0]))}


def delete_criterion(*, actor: User, criterion: Criterion) -> None:
    require_staff(actor)
    rubric = criterion.rubric
    start_edit(actor, rubric.phase.challenge, "rubric", rubric.phase)
    if rubric.frozen_at is not None:
        raise Conflict("This rubric is frozen because reviews exist.")
    remaining = [{"weight": c.weight, "independent": c.independent} for c in rubric.criteria if c is not criterion]
    if (msg := rubric_errors(remaining)) is not None:
        raise ValidationFailed(msg, {"weight": msg})
    rubric.criteria.remove(criterion)
    db.session.flush()
    audit.record(actor=actor, action="criterion.deleted", object_type="criterion", object_id=criterion.id,
                 details={"phase": rubric.phase.key, "key": criterion.key})


def move_criterion(*, actor: User, criterion: Criterion, direction: str) -> None:
    require_staff(actor)
    start_edit(actor, criterion.rubric.phase.challenge, "rubric", criterion.rubric.phase)
    _move(criterion.rubric.criteria, criterion, direction)
    db.session.flush()


# --- lifecycle ----------------------------------------------------------------------------


def completeness_problems(challenge: Challenge, *, now: datetime | None = None) -> list[str]:
    """What stops publication, in words staff can act on. Empty means ready."""
    now = now or utcnow()
    problems: list[str] = []
    if not challenge.summary.strip():
        problems.append("General: add a summary.")
    if not challenge.rules_md.strip():
        problems.append("Eligibility and rules: add the official rules.")
    if not challenge.phases:
        problems.append("Timeline: add at least one phase.")
    elif not any(p.closes_at > now for p in challenge.phases):
        problems.append("Timeline: at least one phase must close in the future.")
    for phase in challenge.phases:
        if not phase.fields:
            problems.append(f"Application form: phase “{phase.name}” has no fields.")
        criteria = phase.rubric.criteria if phase.rubric else []
        if not criteria:
            problems.append(f"Rubric: phase “{phase.name}” has no criteria.")
        elif (msg := rubric_errors([{"weight": c.weight, "independent": c.independent} for c in criteria])):
            problems.append(f"Rubric: phase “{phase.name}”: {msg}")
    return problems


def _set_status(actor: User, challenge: Challenge, new: ChallengeStatus, action: str, **details: Any) -> None:
    old = challenge.status
    challenge.status = new.value
    db.session.flush()
    audit.record(actor=actor, action=action, obj=challenge,
                 details={"from": old, "to": new.value, **details})


def _incomplete(problems: list[str]) -> ValidationFailed:
    return ValidationFailed("This challenge is not complete yet.", {f"problem{i}": p for i, p in enumerate(problems)})


def submit_for_review(*, actor: User, challenge: Challenge, note: str = "") -> list[User]:
    """Author asks for approval; returns the staff who were asked (by email)."""
    require_staff(actor)
    if challenge.status_enum is not ChallengeStatus.DRAFT:
        raise Conflict("Only a draft can be sent for approval.")
    problems = completeness_problems(challenge)
    if problems:
        raise _incomplete(problems)
    challenge.review_note = note.strip()
    _set_status(actor, challenge, ChallengeStatus.IN_REVIEW, "challenge.submitted_for_review", note=note.strip())
    return _notify_reviewers(actor, challenge)


def _notify_reviewers(actor: User, challenge: Challenge) -> list[User]:
    from . import mail
    from .links import external_url

    reviewers = [
        u for u in staff_members()
        if u.id not in {actor.id, challenge.created_by_id, *(challenge.editor_ids or [])} and u.active
        and u.is_verified
    ]
    link = external_url("challenges.review", slug=challenge.slug)
    for reviewer in reviewers:
        mail.queue(
            to=reviewer.email,
            subject=f"Approval requested: {challenge.title}",
            template="approval_request",
            reviewer=reviewer,
            author=actor,
            challenge=challenge,
            link=link,
            dedupe_key=f"approval-request:{challenge.id}:{reviewer.id}:{audit_seq()}",
        )
    return reviewers


def audit_seq() -> int:
    from .audit import AuditHead

    head = db.session.get(AuditHead, 1)
    return head.seq if head else 0


def staff_members() -> list[User]:
    from .accounts.models import UserRole

    return list(
        db.session.execute(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role.in_([Role.STAFF.value, Role.ADMIN.value]), User.is_system.is_(False))
            .distinct()
            .order_by(User.email)
        ).scalars()
    )


def withdraw_to_draft(*, actor: User, challenge: Challenge) -> None:
    require_staff(actor)
    if challenge.status_enum is not ChallengeStatus.IN_REVIEW:
        raise Conflict("Only a challenge waiting for approval can be withdrawn to draft.")
    _set_status(actor, challenge, ChallengeStatus.DRAFT, "challenge.withdrawn_to_draft")


def request_changes(*, actor: User, challenge: Challenge, note: str) -> None:
    require_staff(actor)
    if challenge.status_enum is not ChallengeStatus.IN_REVIEW:
        raise Conflict("Only a challenge waiting for approval can be sent back.")
    if wrote(actor, challenge):
        raise PermissionDenied("Ask another staff member to review your challenge.")
    if not note.strip():
        raise ValidationFailed("Say what needs to change.", {"note": "Say what the author needs to change."})
    challenge.review_note = note.strip()
    _set_status(actor, challenge, ChallengeStatus.DRAFT, "challenge.changes_requested", note=note.strip())


def wrote(actor: User, challenge: Challenge) -> bool:
    """Whether `actor` wrote or changed the challenge's content, which rules them out as its approver."""
    return not actor.is_system and (actor.id == challenge.created_by_id or actor.id in (challenge.editor_ids or []))


def editors(challenge: Challenge) -> list[User]:
    ids = {challenge.created_by_id, *(challenge.editor_ids or [])}
    return list(db.session.execute(select(User).where(User.id.in_(ids)).order_by(User.email)).scalars())


def approve_and_publish(*, actor: User, challenge: Challenge, now: datetime | None = None) -> None:
    """A second person approves; approval publishes. The system user may approve imports."""
    require_staff(actor)
    if challenge.status_enum is not ChallengeStatus.IN_REVIEW:
        raise Conflict("Only a challenge waiting for approval can be approved.")
    if wrote(actor, challenge):
        raise PermissionDenied("You wrote or changed this challenge, so you cannot approve it: ask a staff "
                               "member who did not edit it.")
    problems = completeness_problems(challenge, now=now)
    if problems:
        raise _incomplete(problems)
    moment = now or utcnow()
    challenge.approved_by_id, challenge.approved_at, challenge.published_at = actor.id, moment, moment
    challenge.review_note = ""
    _set_status(actor, challenge, ChallengeStatus.PUBLISHED, "challenge.approved_and_published")


def transition(*, actor: User, challenge: Challenge, to: ChallengeStatus | str, reason: str = "",
               results_checked: bool = False) -> None:
    """Later lifecycle steps (close, judging, results published, archived) and their undo steps.

    Results are published only through `judging.awards.publish_results`, which checks the awards and
    tells every applicant; it passes `results_checked`."""
    require_staff(actor)
    target = ChallengeStatus(to)
    allowed = TRANSITIONS.get(challenge.status_enum, set())
    if target not in allowed:
        raise Conflict(
            f"A challenge that is {challenge.status_enum.label.lower()} cannot move to "
            f"{target.label.lower()}."
        )
    if target is ChallengeStatus.RESULTS_PUBLISHED and not results_checked:
        raise Conflict("Publish results from a phase's Awards page: it checks that every award is approved "
                       "and tells every applicant.")
    backwards = list(ChallengeStatus).index(target) < list(ChallengeStatus).index(challenge.status_enum)
    if backwards and not reason.strip():
        raise ValidationFailed("A reason is required.", {"reason": "Say why the challenge moves back."})
    _set_status(actor, challenge, target, f"challenge.{target.value}", reason=reason.strip())


def delete_draft(*, actor: User, challenge: Challenge, confirm: str) -> dict[str, Any]:
    """Delete a draft that was never published (a mistaken copy or import). The audit event keeps its
    whole definition, so it can be imported again. Anything people could have acted on stops it."""
    from .definition import export_definition

    require_staff(actor)
    if challenge.status_enum is not ChallengeStatus.DRAFT or challenge.published_at is not None:
        raise Conflict("Only a draft that was never published can be deleted; archive a published challenge.")
    if (confirm or "").strip() != challenge.slug:
        raise ValidationFailed("Type the slug to confirm.",
                               {"confirm": f"Type {challenge.slug} exactly to delete this draft."})
    phase_ids = [p.id for p in challenge.phases]
    from .judging.models import PanelMember

    if phase_ids and (
            db.session.execute(select(func.count()).select_from(_SUBMISSIONS).where(
                _SUBMISSIONS.c.phase_id.in_(phase_ids))).scalar_one()
            or db.session.execute(select(func.count(PanelMember.id)).where(
                PanelMember.phase_id.in_(phase_ids))).scalar_one()):
        raise Conflict("This draft has applications or judges (imported or invited), so it cannot be deleted.")
    definition = export_definition(challenge)
    audit.record(actor=actor, action="challenge.deleted", obj=challenge,
                 details={"slug": challenge.slug, "title": challenge.title, "definition": definition})
    db.session.delete(challenge)
    db.session.flush()
    return definition


# --- clone --------------------------------------------------------------------------------


def clone_challenge(*, actor: User, challenge: Challenge, slug: str, title: str) -> Challenge:
    """A new draft with the same text, phases, form and rubric (as of the current versions)."""
    from .definition import build_from_definition, export_definition

    require_staff(actor)
    data = export_definition(challenge)
    data["slug"], data["title"] = slug.strip(), title.strip()
    copy = build_from_definition(actor=actor, data=data)
    audit.record(actor=actor, action="challenge.cloned", obj=copy, details={"from": challenge.slug})
    return copy


def copy_defaults(challenge: Challenge) -> dict[str, str]:
    """What the copy form suggests: "Copy of <title>" and "<slug>-copy", shortened to fit the title and
    slug limits (a long title ends in "…"), so the suggestion can always be sent as it is."""
    title = f"Copy of {challenge.title}"
    if len(title) > TITLE_MAX_CHARS:
        title = title[:TITLE_MAX_CHARS - 1].rstrip() + "…"
    suffix = "-copy"
    return {"title": title, "slug": challenge.slug[:SLUG_MAX_CHARS - len(suffix)].rstrip("-") + suffix}


# --- listings -----------------------------------------------------------------------------


def public_state(challenge: Challenge, now: datetime) -> str:
    """open, upcoming or closed as the public sees it, from the clock and the status."""
    if challenge.status_enum is not ChallengeStatus.PUBLISHED:
        return "closed"
    states = [p.state(now) for p in challenge.phases]
    if "open" in states:
        return "open"
    if "upcoming" in states:
        return "upcoming"
    return "closed"


def next_deadline(challenge: Challenge, now: datetime) -> Phase | None:
    """The next phase to close, while the challenge takes applications at all (not once it is closed,
    in judging or its results are out: a later phase's dates no longer mean anything to applicants)."""
    if challenge.status_enum is not ChallengeStatus.PUBLISHED:
        return None
    upcoming = [p for p in challenge.phases if p.closes_at > now]
    return min(upcoming, key=lambda p: p.closes_at) if upcoming else None


def list_public_challenges(
    *, query: str = "", agency: str = "", state: str = "", now: datetime | None = None
) -> list[Challenge]:
    now = now or utcnow()
    stmt = select(Challenge).where(Challenge.status.in_([s.value for s in PUBLIC_STATUSES]))
    if agency:
        stmt = stmt.where(Challenge.agency == agency)
    if query.strip():
        stmt = stmt.where(or_(contains_text(Challenge.title, query), contains_text(Challenge.summary, query),
                              contains_text(Challenge.agency, query)))
    challenges = list(db.session.execute(stmt.order_by(Challenge.published_at.desc())).scalars())
    if state:
        challenges = [c for c in challenges if public_state(c, now) == state]
    order = {"open": 0, "upcoming": 1, "closed": 2}
    challenges.sort(key=lambda c: (order[public_state(c, now)], (next_deadline(c, now).closes_at
                                   if next_deadline(c, now) else now).timestamp()))
    return challenges


def public_agencies() -> list[str]:
    stmt = (
        select(Challenge.agency)
        .where(Challenge.status.in_([s.value for s in PUBLIC_STATUSES]), Challenge.agency != "")
        .distinct()
        .order_by(Challenge.agency)
    )
    return list(db.session.execute(stmt).scalars())


def list_for_staff(*, status: str = "", query: str = "") -> list[Challenge]:
    stmt = select(Challenge).order_by(Challenge.updated_at.desc())
    if status:
        stmt = stmt.where(Challenge.status == status)
    if query.strip():
        stmt = stmt.where(or_(contains_text(Challenge.title, query), contains_text(Challenge.slug, query)))
    return list(db.session.execute(stmt).scalars())

"""Awards and publishing results: record from the leaderboard, a second person approves, publish."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .. import audit, mail
from ..accounts.models import User
from ..errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from ..extensions import db, lock_row
from ..links import external_url
from ..models import Challenge, ChallengeStatus, Phase
from ..services import require_staff, transition
from ..submissions.models import Submission
from ..timezones import utcnow
from . import results
from .models import Award

NEEDS_OVERRIDE = ("provisional", "tie", "statistical_tie", "requires_panel_decision")
PUBLIC = (ChallengeStatus.RESULTS_PUBLISHED.value, ChallengeStatus.ARCHIVED.value)


def awards_of(phase: Phase, *, include_withdrawn: bool = False) -> list[Award]:
    query = select(Award).where(Award.phase_id == phase.id)
    if not include_withdrawn:
        query = query.where(Award.status != "withdrawn")
    return list(db.session.execute(query.order_by(Award.place, Award.id)).scalars())


def record_award(*, actor: User, phase: Phase, submission: Submission, place: int | None, title: str,
                 amount: int | None, justification: str, override_reason: str = "") -> Award:
    """An award for an entry on the leaderboard. A provisional or tied entry needs a written override."""
    require_staff(actor)
    lock_row(phase.challenge)  # one award per entry and the prize total hold under simultaneous requests
    errors: dict[str, str] = {}
    if place is None or place < 1:
        errors["place"] = "Enter the place: 1 for first."
    if len(title.strip()) > 200:
        errors["title"] = "Shorten the award's name to 200 characters."
    if len(justification.strip()) > 5000:
        errors["justification"] = "Shorten the justification to 5,000 characters."
    if not title.strip():
        errors["title"] = "Name the award, such as First place."
    if amount is None or amount < 0:
        errors["amount"] = "Enter the amount in whole dollars (0 for a non-cash award)."
    if not justification.strip():
        errors["justification"] = "Write why this entry earns the award: it goes into the award report."
    _, rows = results.phase_leaderboard(phase, bootstrap=1000)
    row = next((r for r in rows if r["entry"] == submission.public_code), None)
    if submission.phase_id != phase.id or row is None:
        errors["entry"] = "Only an entry on this phase's leaderboard (with counted reviews) can be awarded."
    flags = [f for f in (row["flags"] if row else []) if f in NEEDS_OVERRIDE]
    if flags and not override_reason.strip():
        errors["override_reason"] = (f"This entry is flagged {', '.join(f.replace('_', ' ') for f in flags)}: "
                                     "give the panel's reason for awarding it anyway.")
    if "entry" not in errors and any(a.submission_id == submission.id for a in awards_of(phase)):
        errors["entry"] = (f"{submission.public_code} already has an award in this phase; withdraw it first "
                           "to record a different one.")
    too_much = _over_prize_total(phase.challenge, amount or 0) if "amount" not in errors else None
    if too_much:
        errors["amount"] = too_much
    if errors:
        raise ValidationFailed("Please correct the award.", errors)
    award = Award(phase_id=phase.id, submission_id=submission.id, place=place, title=title.strip()[:200],
                  amount=amount, justification=justification.strip(), override_reason=override_reason.strip(),
                  flags_at_award=flags, created_by_id=actor.id)
    db.session.add(award)
    db.session.flush()
    audit.record(actor=actor, action="award.recorded", obj=award,
                 details={"entry": submission.public_code, "place": place, "amount": amount, "flags": flags,
                          "override_reason": override_reason.strip()})
    return award


def _over_prize_total(challenge: Challenge, amount: int, *, besides: Award | None = None) -> str | None:
    """The message when `amount` more would exceed the challenge's prize total (0: no total set)."""
    prize_total = challenge.prize_total or 0
    awarded = sum(a.amount or 0 for phase in challenge.phases for a in awards_of(phase) if a is not besides)
    if prize_total and awarded + amount > prize_total:
        return (f"The challenge's prize total is ${prize_total:,}; ${awarded:,} is already awarded, "
                f"so at most ${max(prize_total - awarded, 0):,} is left.")
    return None


def approve_award(*, actor: User, award: Award) -> Award:
    require_staff(actor)
    if award.status != "proposed":
        raise Conflict("This award was already decided.")
    if award.created_by_id == actor.id and not actor.is_system:
        raise PermissionDenied("Another staff member must approve an award you recorded.")
    lock_row(award.phase.challenge)
    db.session.refresh(award)
    if award.status != "proposed":  # decided by someone else while this request waited for the lock
        raise Conflict("This award was already decided.")
    too_much = _over_prize_total(award.phase.challenge, award.amount or 0, besides=award)
    if too_much:  # the total may have been lowered since the award was recorded
        raise Conflict(too_much)
    award.status, award.approved_by_id, award.approved_at = "approved", actor.id, utcnow()
    db.session.flush()
    audit.record(actor=actor, action="award.approved", obj=award)
    return award


def withdraw_award(*, actor: User, award: Award, reason: str) -> Award:
    require_staff(actor)
    if not reason.strip():
        raise ValidationFailed("Give a reason.", {"reason": "Say why the award is withdrawn."})
    if award.phase.challenge.status in PUBLIC:
        raise Conflict("Results are published; an award can no longer be withdrawn here.")
    award.status = "withdrawn"
    db.session.flush()
    audit.record(actor=actor, action="award.withdrawn", obj=award, details={"reason": reason.strip()})
    return award


def publish_results(*, actor: User, challenge: Challenge) -> int:
    """Check every award is approved, publish, and tell every applicant of the challenge. Returns mails."""
    require_staff(actor)
    awards = [a for phase in challenge.phases for a in awards_of(phase)]
    pending = [a for a in awards if a.status == "proposed"]
    if pending:
        raise Conflict(f"{len(pending)} award(s) still wait for a second staff member's approval.")
    if not awards:
        raise Conflict("Record and approve at least one award before publishing results.")
    transition(actor=actor, challenge=challenge, to=ChallengeStatus.RESULTS_PUBLISHED, results_checked=True)
    won = {a.submission_id: a for a in awards}
    sent = 0
    entries = db.session.execute(select(Submission).join(Phase).where(
        Phase.challenge_id == challenge.id, Submission.status.in_(("submitted", "disqualified")))).scalars()
    for entry in entries:
        award = won.get(entry.id)
        for member in entry.organization.memberships:
            mail.queue(to=member.user.email, subject=f"Results of {challenge.title}", template="results_published",
                       dedupe_key=f"results:{challenge.id}:{entry.id}:{member.user_id}", challenge=challenge,
                       entry=entry, award=award, link=external_url("results.winners", slug=challenge.slug))
            sent += 1
    audit.record(actor=actor, action="results.published", obj=challenge,
                 details={"awards": len(awards), "emails": sent})
    return sent


def public_winners(challenge: Challenge) -> list[Award]:
    if challenge.status not in PUBLIC:
        raise NotFound("Results are not published yet.")
    return [a for phase in challenge.phases for a in awards_of(phase) if a.status == "approved"]


def public_leaderboards(challenge: Challenge) -> list[tuple[Phase, str, list[dict[str, Any]]]]:
    """For each phase whose staff chose to publish the whole ranking: (phase, method, rows), with only
    what a member of the public may see (rank, entry, title, score, reviews, rank interval, award).
    Judges and per-judge numbers never leave staff pages."""
    from .statistics import PRIMARY_COLUMN

    if challenge.status not in PUBLIC:
        raise NotFound("Results are not published yet.")
    out = []
    for phase in challenge.phases:
        if phase.public_results != "leaderboard":
            continue
        method = phase.primary_method
        _board, rows = results.cached_leaderboard(phase, method)
        won = {a.submission.public_code: a.title for a in awards_of(phase) if a.status == "approved"}
        column = PRIMARY_COLUMN[method]
        out.append((phase, method, [
            {"rank": r["rank"], "entry": r["entry"], "title": r["title"], "score": r[column],
             "n_reviews": r["n_reviews"], "rank_low": r["rank_low"], "rank_high": r["rank_high"],
             "award": won.get(r["entry"], "")} for r in rows]))
    return out


def award_summary(award: Award) -> dict[str, Any]:
    return {"place": award.place, "title": award.title, "amount": award.amount, "entry": award.submission.public_code,
            "entry_title": award.submission.title, "organization": award.submission.organization.legal_name}

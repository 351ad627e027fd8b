"""Awards and publishing results: record from the leaderboard, a second person approves, publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import lazyload, selectinload

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
from .services import judging_over

NEEDS_OVERRIDE = ("provisional", "tie", "statistical_tie", "requires_panel_decision")
PUBLIC = (ChallengeStatus.RESULTS_PUBLISHED.value, ChallengeStatus.ARCHIVED.value)
IN_THE_RUNNING = "submitted"  # an entry withdrawn or disqualified since it was awarded can win nothing
TEXT_LIMIT = 5000


def awards_of(phase: Phase, *, include_withdrawn: bool = False, with_entries: bool = True) -> list[Award]:
    """The phase's awards by place; `with_entries` loads each one's entry and organisation too, in a fixed
    number of queries however many awards there are (pages show them)."""
    query = select(Award).where(Award.phase_id == phase.id)
    if with_entries:
        query = query.options(selectinload(Award.submission).options(selectinload(Submission.organization),
                                                                     lazyload(Submission.files)))
    if not include_withdrawn:
        query = query.where(Award.status != "withdrawn")
    return list(db.session.execute(query.order_by(Award.place, Award.id)).scalars())


def record_award(*, actor: User, phase: Phase, submission: Submission, place: int | None, title: str,
                 amount: int | None, justification: str, override_reason: str = "") -> Award:
    """An award for an entry on the leaderboard. A provisional or tied entry needs a written override."""
    require_staff(actor)
    lock_row(phase.challenge)  # one award per entry and the prize total hold under simultaneous requests
    _refuse_once_published(phase.challenge, "recorded")
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
    if len(override_reason.strip()) > TEXT_LIMIT:
        errors["override_reason"] = "Shorten the override reason to 5,000 characters."
    current = awards_of(phase)
    if "entry" not in errors and any(a.submission_id == submission.id for a in current):
        errors["entry"] = (f"{submission.public_code} already has an award in this phase; withdraw it first "
                           "to record a different one.")
    taken = next((a for a in current if place is not None and a.place == place), None)
    if "place" not in errors and taken is not None:
        errors["place"] = (f"Place {place} is already awarded to {taken.submission.public_code} ({taken.title}); "
                           "withdraw that award or choose another place.")
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
    awarded = sum(a.amount or 0 for phase in challenge.phases
                  for a in awards_of(phase, with_entries=False) if a is not besides)
    if prize_total and awarded + amount > prize_total:
        return (f"The challenge's prize total is ${prize_total:,}; ${awarded:,} is already awarded, "
                f"so at most ${max(prize_total - awarded, 0):,} is left.")
    return None


def _refuse_once_published(challenge: Challenge, verb: str) -> None:
    """Awards are settled when results go out: call with the challenge's row locked."""
    db.session.refresh(challenge, ["status"])  # as committed, not as this request first read it
    if challenge.status in PUBLIC:
        raise Conflict(f"Results of {challenge.title} are published; awards can no longer be {verb}.")


def out_of_the_running(awards: list[Award]) -> list[Award]:
    """Awards whose entry has since been withdrawn or disqualified (as the database has it now)."""
    for award in awards:
        db.session.refresh(award.submission, ["status"])
    return [a for a in awards if a.submission.status != IN_THE_RUNNING]


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
    _refuse_once_published(award.phase.challenge, "approved")
    if out_of_the_running([award]):
        entry = award.submission
        raise Conflict(f"{entry.public_code} is {entry.status}, so its award ({award.title}) cannot be approved; "
                       "withdraw the award instead.")
    too_much = _over_prize_total(award.phase.challenge, award.amount or 0, besides=award)
    if too_much:  # the total may have been lowered since the award was recorded
        raise Conflict(too_much)
    award.status, award.approved_by_id, award.approved_at = "approved", actor.id, utcnow()
    db.session.flush()
    audit.record(actor=actor, action="award.approved", obj=award)
    return award


def withdraw_award(*, actor: User, award: Award, reason: str) -> Award:
    """Take back a proposed or approved award before results are published; the reason is audited."""
    require_staff(actor)
    if not reason.strip():
        raise ValidationFailed("Give a reason.", {"reason": "Say why the award is withdrawn."})
    if len(reason.strip()) > TEXT_LIMIT:
        raise ValidationFailed("Shorten the reason.", {"reason": "Shorten the reason to 5,000 characters."})
    lock_row(award.phase.challenge)
    db.session.refresh(award)
    if award.status == "withdrawn":
        raise Conflict(f"The award {award.title} for {award.submission.public_code} was already withdrawn.")
    if award.phase.challenge.status in PUBLIC:
        raise Conflict("Results are published; an award can no longer be withdrawn here.")
    award.status = "withdrawn"
    db.session.flush()
    audit.record(actor=actor, action="award.withdrawn", obj=award, details={"reason": reason.strip()})
    return award


def publish_results(*, actor: User, challenge: Challenge) -> int:
    """Check every award is approved, publish, and tell every applicant of the challenge. Returns mails."""
    require_staff(actor)
    lock_row(challenge)  # no award is recorded, approved or withdrawn while this checks them
    awards = [a for phase in challenge.phases for a in awards_of(phase)]
    pending = [a for a in awards if a.status == "proposed"]
    if pending:
        raise Conflict(f"{len(pending)} award(s) still wait for a second staff member's approval.")
    if not awards:
        raise Conflict("Record and approve at least one award before publishing results.")
    gone = out_of_the_running(awards)
    if gone:
        raise Conflict("Withdraw the awards of entries no longer in the running before publishing: "
                       + "; ".join(f"{a.title} for {a.submission.public_code} ({a.submission.status})" for a in gone)
                       + ".")
    still_judging = phases_still_judging(challenge)
    if still_judging:
        raise Conflict(f"Close judging first for {', '.join(p.name for p in still_judging)} (Progress page): "
                       "results published while judges can still score could change after the winners are "
                       "announced.")
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


def phases_still_judging(challenge: Challenge) -> list[Phase]:
    """Phases with awards whose judging is not over: results cannot be published while any remain (the same
    condition as releasing feedback)."""
    return [p for p in challenge.phases if awards_of(p, with_entries=False) and not judging_over(p)]


@dataclass
class AwardRow:
    """One award as staff and the award report show it: who recorded and approved it, and where its entry
    stands now beside the flags it had when it was recorded."""

    award: Award
    recorded_by: User | None
    approved_by: User | None
    entry_status: str
    rank: int | None  # on the current leaderboard; None when the entry is no longer on it
    flags: list[str] = field(default_factory=list)  # current flags


def award_rows(phase: Phase, awards: list[Award] | None = None, *,
               rows: list[dict[str, Any]] | None = None) -> list[AwardRow]:
    """`awards` (default: every award of the phase, withdrawn ones too) with their people and their entry's
    current rank and flags, from `rows` (default: the phase's leaderboard by its primary method)."""
    awards = awards_of(phase, include_withdrawn=True) if awards is None else awards
    if rows is None:
        rows = results.cached_leaderboard(phase)[1] if awards else []
    ranked = {r["entry"]: r for r in rows}
    ids = {i for a in awards for i in (a.created_by_id, a.approved_by_id) if i is not None}
    people = {u.id: u for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    out = []
    for award in awards:
        row = ranked.get(award.submission.public_code)
        out.append(AwardRow(award=award, recorded_by=people.get(award.created_by_id),
                            approved_by=people.get(award.approved_by_id), entry_status=award.submission.status,
                            rank=row["rank"] if row else None, flags=list(row["flags"]) if row else []))
    return out


def published_award_of(submission: Submission) -> Award | None:
    """The entry's award once results are public (what its applicants may be told they won), else None."""
    if submission.phase.challenge.status not in PUBLIC or submission.status != "submitted":
        return None
    return db.session.execute(select(Award).where(Award.submission_id == submission.id,
                                                  Award.status == "approved")).scalars().first()


def public_winners(challenge: Challenge) -> list[Award]:
    if challenge.status not in PUBLIC:
        raise NotFound("Results are not published yet.")
    # An entry disqualified (or withdrawn) after publication stops being shown as a winner at once.
    return [a for phase in challenge.phases for a in awards_of(phase)
            if a.status == "approved" and a.submission.status == IN_THE_RUNNING]


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

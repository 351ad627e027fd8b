"""Feedback to vendors: staff redact comments, then release; each vendor sees their own scores per
criterion against the field's quartiles (only when at least five entries were judged) and the judges'
comments, judges anonymised (Judge A, B, ...)."""

from __future__ import annotations

import io
import string
from dataclasses import dataclass, field
from typing import Any

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import contains_eager
from weasyprint import HTML

from .. import audit, mail
from ..accounts.models import User
from ..errors import Conflict, NotFound
from ..extensions import db
from ..links import external_url
from ..models import Phase
from ..services import require_staff
from ..submissions.models import Submission
from ..timezones import utcnow
from . import results
from .models import Assignment, Review, Score


def counted_reviews(submission: Submission) -> list[Review]:
    """The entry's counted reviews (submitted, on a live assignment), in a stable order."""
    return list(db.session.execute(
        select(Review).join(Assignment).where(Assignment.submission_id == submission.id,
                                              Assignment.status == "assigned", Review.status == "submitted")
        .order_by(Review.id)).scalars())


def counted_reviews_of(entries: list[Submission]) -> dict[int, list[Review]]:
    """`counted_reviews` of many entries, by entry id, in a fixed number of queries (with each review's judge)."""
    found: dict[int, list[Review]] = {e.id: [] for e in entries}
    if not found:
        return found
    reviews = db.session.execute(
        select(Review).join(Review.assignment).where(Assignment.submission_id.in_(found),
                                                     Assignment.status == "assigned", Review.status == "submitted")
        .options(contains_eager(Review.assignment).selectinload(Assignment.panel_member))
        .order_by(Review.id)).scalars()
    for review in reviews:
        found[review.assignment.submission_id].append(review)
    return found


def set_redaction(*, actor: User, target: Score | Review, redacted: bool) -> bool:
    """Hide (or show again) one comment in the vendor's feedback; the judge's text itself is kept. Setting
    the state a comment already has changes and records nothing: returns whether it changed."""
    require_staff(actor)
    review = target.review if isinstance(target, Score) else target
    current = target.comment_redacted if isinstance(target, Score) else target.overall_redacted
    if bool(current) == redacted:
        return False
    if isinstance(target, Score):
        target.comment_redacted = redacted
    else:
        target.overall_redacted = redacted
    db.session.flush()
    audit.record(actor=actor, action="feedback.redacted" if redacted else "feedback.unredacted", obj=review,
                 details={"score": target.id if isinstance(target, Score) else None})
    return True


def release(*, actor: User, phase: Phase) -> int:
    """Release feedback for the phase and email every applicant with a submitted entry. Returns mails."""
    require_staff(actor)
    if phase.feedback_released_at is not None:
        raise Conflict("Feedback for this phase was already released.")
    from .services import judging_over

    if not judging_over(phase):
        raise Conflict("Close judging for this phase first (Progress page): feedback released while judges "
                       "are still scoring would change after vendors have read it.")
    phase.feedback_released_at = utcnow()
    sent = 0
    for entry in db.session.execute(select(Submission).where(Submission.phase_id == phase.id,
                                                             Submission.status == "submitted")).scalars():
        for member in entry.organization.memberships:
            mail.queue(to=member.user.email, subject=f"Feedback on {entry.public_code}: {phase.challenge.title}",
                       template="feedback_released", dedupe_key=f"feedback:{phase.id}:{entry.id}:{member.user_id}",
                       entry=entry, phase=phase,
                       link=external_url("results.feedback", submission_id=entry.id))
            sent += 1
    audit.record(actor=actor, action="feedback.released", obj=phase, details={"emails": sent})
    return sent


# Figures of the field are shown only when at least this many entries have counted reviews: with fewer,
# they would let a vendor work out other vendors' scores. Even then the field is described by its
# quartiles, never by its lowest and highest entry.
MIN_FIELD = 5


@dataclass
class CriterionFeedback:
    key: str
    name: str
    scale: str
    yours: float | None
    field_q1: float | None  # 25th percentile of the entries' mean scores
    field_median: float | None
    field_q3: float | None  # 75th percentile
    comments: list[tuple[str, str]] = field(default_factory=list)  # (Judge A, text)


def _quartiles(values: Any) -> tuple[float, float, float] | None:
    """25th, 50th and 75th percentiles (linear), rounded; None for fewer than MIN_FIELD values."""
    if values is None or len(values) < MIN_FIELD:
        return None
    q1, median, q3 = (round(float(v), 2) for v in values.quantile([0.25, 0.5, 0.75]))
    return q1, median, q3


def for_vendor(submission: Submission) -> dict[str, Any]:
    """What the vendor sees once feedback is released (NotFound before: nothing leaks early)."""
    phase = submission.phase
    if phase.feedback_released_at is None:
        raise NotFound("Feedback for this phase has not been released.")
    reviews = counted_reviews(submission)
    names = {review.id: f"Judge {string.ascii_uppercase[n % 26]}" for n, review in enumerate(reviews)}
    scores = results.score_rows(phase)
    totals = results.review_totals(scores)
    counted = scores.merge(totals[["entry", "judge"]], on=["entry", "judge"]) if len(scores) else scores
    per_entry = counted.groupby(["criterion", "entry"])["value"].mean() if len(counted) else None
    criteria = []
    for criterion in phase.rubric.criteria if phase.rubric else []:
        field_values = per_entry.loc[criterion.key] if per_entry is not None and criterion.key in \
            per_entry.index.get_level_values(0) else None
        mine = field_values.get(submission.public_code) if field_values is not None else None
        quartiles = _quartiles(field_values.dropna() if field_values is not None else None)
        item = CriterionFeedback(
            key=criterion.key, name=criterion.name,
            scale=f"{criterion.scale_min:g} to {criterion.scale_max:g}",
            yours=None if mine is None else round(float(mine), 2),
            field_q1=quartiles[0] if quartiles else None, field_median=quartiles[1] if quartiles else None,
            field_q3=quartiles[2] if quartiles else None)
        for review in reviews:
            score = next((s for s in review.scores if s.criterion_id == criterion.id), None)
            if score is not None and score.comment and not score.comment_redacted:
                item.comments.append((names[review.id], score.comment))
        criteria.append(item)
    overall = [(names[r.id], r.overall_comment) for r in reviews if r.overall_comment and not r.overall_redacted]
    mine = totals[totals["entry"] == submission.public_code]["T"] if len(totals) else []
    field_totals = totals.groupby("entry")["T"].mean() if len(totals) else None
    judged = 0 if field_totals is None else len(field_totals)
    quartiles = _quartiles(field_totals)
    if quartiles is None:  # too few entries: no criterion's field figures either
        for item in criteria:
            item.field_q1 = item.field_median = item.field_q3 = None
    return {"submission": submission, "phase": phase, "criteria": criteria, "overall": overall,
            "reviews": len(mine), "total": round(float(mine.mean()), 2) if len(mine) else None,
            "judged_entries": judged, "min_field": MIN_FIELD,
            "field": None if quartiles is None else {
                "entries": judged, "q1": quartiles[0], "median": quartiles[1], "q3": quartiles[2]}}


def pdf(submission: Submission) -> bytes:
    data = for_vendor(submission)
    html = render_template("judging/print/feedback.html", **data, challenge=submission.phase.challenge)
    buffer = io.BytesIO()
    from .report import url_fetcher

    # Tagged, with the title and language; the fetcher loads nothing a comment could point at.
    HTML(string=html, url_fetcher=url_fetcher).write_pdf(buffer, pdf_variant="pdf/ua-1")
    return buffer.getvalue()

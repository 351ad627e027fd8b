"""Judging: panels, conflicts, bids, assignment runs, assignments, reviews and scores."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, event
from sqlalchemy import inspect as inspect_state
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..extensions import db
from ..timezones import UTCDateTime, utcnow

CONFLICT_TYPES = ("financial", "employment", "organisational", "personal", "advisory", "other")
CONFLICT_SOURCES = ("declared", "pinned", "suspected")
BID_VALUES = ("yes", "maybe", "no")


class PanelStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DECLINED = "declined"
    REMOVED = "removed"


class PanelMember(db.Model):
    """A judge on one phase's panel. `user_id` is empty until an invited newcomer accepts."""

    __tablename__ = "panel_members"
    __table_args__ = (UniqueConstraint("phase_id", "email"),)
    __audit_type__ = "panel_member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20), default=PanelStatus.INVITED.value)
    agency: Mapped[str] = mapped_column(String(200), default="")
    expertise: Mapped[list[str]] = mapped_column(JSON, default=list)
    affiliations: Mapped[list[str]] = mapped_column(JSON, default=list)  # declared by the judge
    max_load: Mapped[int] = mapped_column(Integer, default=10)
    min_load: Mapped[int] = mapped_column(Integer, default=0)
    is_chair: Mapped[bool] = mapped_column(Boolean, default=False)
    attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attestation_version: Mapped[str | None] = mapped_column(String(64))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    phase = relationship("Phase")
    user = relationship("User", foreign_keys=[user_id])

    @property
    def display_name(self) -> str:
        return self.user.display_name if self.user else self.email

    @property
    def attested(self) -> bool:
        """Signed the attestation text as it reads now: a changed text must be signed again."""
        from .services import ATTESTATION_VERSION

        return self.attested_at is not None and self.attestation_version == ATTESTATION_VERSION


class Conflict(db.Model):
    """A judge's conflict with an organisation or one entry. Suspected ones block until dismissed."""

    __tablename__ = "conflicts"
    __audit_type__ = "conflict"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    panel_member_id: Mapped[int] = mapped_column(ForeignKey("panel_members.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20), default="other")
    source: Mapped[str] = mapped_column(String(20))  # declared | pinned | suspected
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | suspected | dismissed | lifted
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")  # why it was suspected
    decision_note: Mapped[str] = mapped_column(Text, default="", server_default="")  # staff's confirm/dismiss/lift
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    panel_member: Mapped[PanelMember] = relationship()
    organization = relationship("Organization")
    submission = relationship("Submission")

    @property
    def blocks(self) -> bool:
        return self.status in ("active", "suspected")


class Bid(db.Model):
    __tablename__ = "bids"
    __table_args__ = (UniqueConstraint("panel_member_id", "submission_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    panel_member_id: Mapped[int] = mapped_column(ForeignKey("panel_members.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    value: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AssignmentRun(db.Model):
    """A proposal from the solver; judges see nothing until staff approve it."""

    __tablename__ = "assignment_runs"
    __audit_type__ = "assignment_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(20))  # assign | ensure | rebalance
    status: Mapped[str] = mapped_column(String(20), default="proposed")  # proposed | approved | discarded | stale
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    inputs_hash: Mapped[str] = mapped_column(String(64))
    objective: Mapped[int] = mapped_column(Integer, default=0)
    total_affinity: Mapped[float] = mapped_column(Float, default=0.0)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # pairs, removed, loads, min_affinity
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Assignment(db.Model):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("panel_member_id", "submission_id"),)
    __audit_type__ = "assignment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    panel_member_id: Mapped[int] = mapped_column(ForeignKey("panel_members.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="assigned")  # assigned | recused | removed
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual | auto | import
    run_id: Mapped[int | None] = mapped_column(ForeignKey("assignment_runs.id"))
    reason: Mapped[str] = mapped_column(Text, default="")  # why recused or removed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    panel_member: Mapped[PanelMember] = relationship()
    submission = relationship("Submission")
    review: Mapped[Review | None] = relationship(back_populates="assignment", uselist=False)


class Review(db.Model):
    __tablename__ = "reviews"
    __audit_type__ = "review"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), unique=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubrics.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | submitted
    overall_comment: Mapped[str] = mapped_column(Text, default="")
    overall_redacted: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    assignment: Mapped[Assignment] = relationship(back_populates="review")
    rubric = relationship("Rubric")
    scores: Mapped[list[Score]] = relationship(back_populates="review", cascade="all, delete-orphan",
                                               lazy="selectin")

    def values(self) -> dict[str, float | None]:
        return {s.criterion.key: s.value for s in self.scores}

    def comments(self) -> dict[str, str]:
        return {s.criterion.key: s.comment for s in self.scores}


class Score(db.Model):
    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("review_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    criterion_id: Mapped[int] = mapped_column(ForeignKey("criteria.id"))
    value: Mapped[float | None] = mapped_column(Float)  # the raw value on the criterion's scale
    comment: Mapped[str] = mapped_column(Text, default="")
    comment_redacted: Mapped[bool] = mapped_column(Boolean, default=False)  # hidden from the vendor's feedback

    review: Mapped[Review] = relationship(back_populates="scores")
    criterion = relationship("Criterion", lazy="joined")


SCORE_INPUTS = ("value", "comment", "criterion_id", "review_id")  # what results are computed from


@event.listens_for(Session, "before_flush")
def _touch_reviews_of_changed_scores(session: Session, flush_context: Any, instances: Any) -> None:
    """A review's row is rewritten (updated_at) whenever one of its scores is added, changed or removed,
    so one look at the reviews of a phase tells whether any score moved (results.data_version)."""
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(obj, Score):
            continue
        state = inspect_state(obj)
        if obj in session.dirty and not any(state.attrs[name].history.has_changes() for name in SCORE_INPUTS):
            continue
        with session.no_autoflush:
            review = obj.review if obj.review is not None or obj.review_id is None else \
                session.get(Review, obj.review_id)
        if review is not None and review not in session.deleted:
            review.updated_at = utcnow()


class ReviewRevision(db.Model):
    """A change to a submitted review: who, why, and the review before and after."""

    __tablename__ = "review_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"), index=True)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Award(db.Model):
    """A place and prize given to an entry; a second staff member approves it before results go out."""

    __tablename__ = "awards"
    __audit_type__ = "award"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    place: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger, default=0)  # whole US dollars
    justification: Mapped[str] = mapped_column(Text)
    override_reason: Mapped[str] = mapped_column(Text, default="")  # why a flagged entry is awarded anyway
    flags_at_award: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="proposed")  # proposed | approved | withdrawn
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    submission = relationship("Submission")
    phase = relationship("Phase")

"""Challenge definitions: the challenge, its phases, each phase's form and rubric.

Rubric and Criterion live here rather than in judging/: they are authored with the challenge
and checked when it is published, and judging depends on core, never the reverse.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .timezones import UTCDateTime, utcnow


class ChallengeStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    CLOSED = "closed"
    JUDGING = "judging"
    RESULTS_PUBLISHED = "results_published"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


PUBLIC_STATUSES = (
    ChallengeStatus.PUBLISHED,
    ChallengeStatus.CLOSED,
    ChallengeStatus.JUDGING,
    ChallengeStatus.RESULTS_PUBLISHED,
    ChallengeStatus.ARCHIVED,
)

FIELD_TYPES = ("text", "textarea", "number", "select", "multiselect", "checkbox", "url", "file")
PRIMARY_METHODS = ("mean", "median", "trimmed", "zscore", "calibrated", "borda")
SCORE_VISIBILITY = ("never", "after_own", "always")
# What the public sees once results are published: the winners only, or the whole ranking.
PUBLIC_RESULTS = ("winners", "leaderboard")


class Challenge(db.Model):
    __tablename__ = "challenges"
    __audit_type__ = "challenge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(200), default="", index=True)
    summary: Mapped[str] = mapped_column(String(600), default="")
    description_md: Mapped[str] = mapped_column(Text, default="")
    prize_total: Mapped[int] = mapped_column(Integer, default=0)  # whole US dollars
    awards_md: Mapped[str] = mapped_column(Text, default="")
    eligibility_md: Mapped[str] = mapped_column(Text, default="")
    rules_md: Mapped[str] = mapped_column(Text, default="")
    rules_version: Mapped[str] = mapped_column(String(64), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    status: Mapped[str] = mapped_column(String(20), default=ChallengeStatus.DRAFT.value, index=True)
    review_note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Everyone who changed the content before approval: none of them may approve it (two-person rule).
    editor_ids: Mapped[list[int]] = mapped_column(JSON, default=list, server_default="[]")
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    phases: Mapped[list[Phase]] = relationship(
        back_populates="challenge",
        cascade="all, delete-orphan",
        order_by="Phase.order",
        lazy="selectin",
    )
    created_by = relationship("User", foreign_keys=[created_by_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])

    @property
    def status_enum(self) -> ChallengeStatus:
        return ChallengeStatus(self.status)

    @property
    def is_public(self) -> bool:
        return self.status in {s.value for s in PUBLIC_STATUSES}

    def phase_by_key(self, key: str) -> Phase | None:
        return next((p for p in self.phases if p.key == key), None)


class Phase(db.Model):
    __tablename__ = "phases"
    __audit_type__ = "phase"
    __table_args__ = (UniqueConstraint("challenge_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description_md: Mapped[str] = mapped_column(Text, default="")
    order: Mapped[int] = mapped_column(Integer, default=0)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    grace_seconds: Mapped[int] = mapped_column(Integer, default=0)
    max_submissions_per_org: Mapped[int] = mapped_column(Integer, default=1)
    form_version: Mapped[int] = mapped_column(Integer, default=1)
    # Judging settings
    judges_per_entry: Mapped[int] = mapped_column(Integer, default=3)
    quorum: Mapped[int] = mapped_column(Integer, default=2)
    primary_method: Mapped[str] = mapped_column(String(20), default="mean")
    blind: Mapped[bool] = mapped_column(Boolean, default=False)
    others_scores_visible: Mapped[str] = mapped_column(String(20), default="never")
    bids_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    public_results: Mapped[str] = mapped_column(String(20), default="winners", server_default="winners")
    reviews_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # shown to judges; overdue after it
    judging_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set by staff; reviews freeze
    invitation_only: Mapped[bool] = mapped_column(Boolean, default=False)  # later rounds: advanced entries only
    feedback_released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # vendors see their feedback

    challenge: Mapped[Challenge] = relationship(back_populates="phases")
    fields: Mapped[list[FormField]] = relationship(
        back_populates="phase", cascade="all, delete-orphan", order_by="FormField.order", lazy="selectin"
    )
    rubrics: Mapped[list[Rubric]] = relationship(
        back_populates="phase", cascade="all, delete-orphan", order_by="Rubric.version", lazy="selectin"
    )

    @property
    def rubric(self) -> Rubric | None:
        """The current (highest) rubric version."""
        return self.rubrics[-1] if self.rubrics else None

    @property
    def hard_close(self) -> datetime:
        return self.closes_at + timedelta(seconds=self.grace_seconds or 0)

    def state(self, now: datetime) -> str:
        """upcoming, open or closed — by the clock, no button needed. The grace window after the close
        is not 'open': it only lets applications already under way finish arriving, so the public sees
        the published deadline."""
        if now < self.opens_at:
            return "upcoming"
        if now <= self.closes_at:
            return "open"
        return "closed"


class FormField(db.Model):
    __tablename__ = "form_fields"
    __table_args__ = (UniqueConstraint("phase_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    help_text: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(20))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    max_length: Mapped[int | None] = mapped_column(Integer)
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    accept: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_bytes: Mapped[int | None] = mapped_column(BigInteger)
    identifying: Mapped[bool] = mapped_column(Boolean, default=False)
    order: Mapped[int] = mapped_column(Integer, default=0)

    phase: Mapped[Phase] = relationship(back_populates="fields")


class Rubric(db.Model):
    __tablename__ = "rubrics"
    __table_args__ = (UniqueConstraint("phase_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    phase: Mapped[Phase] = relationship(back_populates="rubrics")
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="rubric", cascade="all, delete-orphan", order_by="Criterion.order", lazy="selectin"
    )


class Criterion(db.Model):
    __tablename__ = "criteria"
    __table_args__ = (UniqueConstraint("rubric_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rubric_id: Mapped[int] = mapped_column(ForeignKey("rubrics.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    scale_min: Mapped[float] = mapped_column(Float, default=1.0)
    scale_max: Mapped[float] = mapped_column(Float, default=5.0)
    step: Mapped[float] = mapped_column(Float, default=1.0)
    anchors: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    independent: Mapped[bool] = mapped_column(Boolean, default=False)
    comment_rule: Mapped[str] = mapped_column(String(30), default="never")
    min_comment_chars: Mapped[int] = mapped_column(Integer, default=0)
    order: Mapped[int] = mapped_column(Integer, default=0)

    rubric: Mapped[Rubric] = relationship(back_populates="criteria")



class RulesVersion(db.Model):
    """Every text of a challenge's official rules, by the SHA-256 vendors accept: the exact text an
    applicant agreed to can be shown after the rules change (in a protest, or to the applicant)."""

    __tablename__ = "rules_versions"
    __table_args__ = (UniqueConstraint("challenge_id", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

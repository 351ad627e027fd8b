"""Organisations, applications (submissions), their files, receipts and screening."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timezones import UTCDateTime, utcnow

SAM_STATUSES = {"registered": "Active SAM.gov registration", "pending": "Registration in progress",
                "not_registered": "Not registered"}
BUSINESS_SIZES = {"small": "Small business", "other_than_small": "Other than small", "nonprofit": "Non-profit",
                  "academic": "College or university", "other": "Other"}
CATEGORIES = {"8a": "8(a)", "hubzone": "HUBZone", "sdvosb": "Service-disabled veteran-owned",
              "vosb": "Veteran-owned", "wosb": "Women-owned", "edwosb": "Economically disadvantaged women-owned",
              "minority": "Minority-owned", "tribal": "Tribally owned"}


class SubmissionStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"
    DISQUALIFIED = "disqualified"
    ADVANCED = "advanced"
    WINNER = "winner"


class Organization(db.Model):
    __tablename__ = "organizations"
    __audit_type__ = "organization"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(300))
    uei: Mapped[str | None] = mapped_column(String(12), unique=True)
    sam_status: Mapped[str] = mapped_column(String(20), default="not_registered")
    business_size: Mapped[str] = mapped_column(String(30), default="other")
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    website: Mapped[str] = mapped_column(String(500), default="")
    email_domain: Mapped[str] = mapped_column(String(253), default="", index=True)
    poc_name: Mapped[str] = mapped_column(String(200), default="")
    poc_email: Mapped[str] = mapped_column(String(254), default="")
    poc_phone: Mapped[str] = mapped_column(String(40), default="")
    is_placeholder: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organization", cascade="all, delete-orphan", lazy="selectin")


class Membership(db.Model):
    __tablename__ = "org_memberships"
    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="contributor")  # owner | contributor
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="memberships")
    user = relationship("User")


class Invitation(db.Model):
    __tablename__ = "org_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(20), default="contributor")
    invited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization] = relationship()


class Submission(db.Model):
    __tablename__ = "submissions"
    __audit_type__ = "submission"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    public_code: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=SubmissionStatus.DRAFT.value, index=True)
    # `answers` and the files marked "stored" are what was submitted (what staff, judges and exports
    # read); a submitted application's later edits wait in `draft_answers` and "draft" files until the
    # vendor submits again, so nobody ever judges a version that was not submitted.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    draft_answers: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    form_version: Mapped[int] = mapped_column(Integer, default=1)
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_version: Mapped[int | None] = mapped_column(Integer)
    rules_version_accepted: Mapped[str | None] = mapped_column(String(64))
    rules_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    phase = relationship("Phase")
    organization: Mapped[Organization] = relationship()
    files: Mapped[list[SubmissionFile]] = relationship(
        back_populates="submission", cascade="all, delete-orphan", order_by="SubmissionFile.id", lazy="selectin")

    @property
    def title(self) -> str:
        return self.title_from(self.answers, self.organization.legal_name if self.organization else None)

    @staticmethod
    def title_from(answers: dict[str, Any] | None, legal_name: str | None) -> str:
        """The answer to a `title` question, else the organisation's name (one rule for objects and rows)."""
        value = (answers or {}).get("title")
        return str(value) if value else (legal_name or "Untitled")

    def current_files(self) -> dict[str, SubmissionFile]:
        """The stored file of each file field (earlier versions stay, marked replaced)."""
        return {f.field_key: f for f in self.files if f.status == "stored"}

    def working_answers(self) -> dict[str, Any]:
        """What the vendor sees and edits: unsubmitted changes over the submitted answers."""
        return dict(self.answers or {}) if self.draft_answers is None else dict(self.draft_answers)

    def working_files(self) -> dict[str, SubmissionFile]:
        """What the vendor sees: a file uploaded since the last submission over the submitted one."""
        return {**self.current_files(), **{f.field_key: f for f in self.files if f.status == "draft"}}

    @property
    def has_unsubmitted_changes(self) -> bool:
        return self.draft_answers is not None or any(f.status == "draft" for f in self.files)


class SubmissionFile(db.Model):
    __tablename__ = "submission_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    field_key: Mapped[str] = mapped_column(String(40))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(120))
    declared_type: Mapped[str] = mapped_column(String(120), default="")
    # pending | checking | stored | draft (uploaded since the last submission) | replaced | discarded | rejected
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    submission: Mapped[Submission] = relationship(back_populates="files")


class Receipt(db.Model):
    """One per submitted version: what was received, when, with checksums. Makes submit idempotent."""

    __tablename__ = "submission_receipts"
    __table_args__ = (UniqueConstraint("submission_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Screening(db.Model):
    __tablename__ = "screenings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), unique=True)
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decision: Mapped[str] = mapped_column(String(20), default="pending")  # pending|eligible|ineligible
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Advancement(db.Model):
    """An entry advanced to a later phase: its organisation is invited to apply there by `accept_by`."""

    __tablename__ = "advancements"
    __table_args__ = (UniqueConstraint("from_submission_id", "to_phase_id"),)
    __audit_type__ = "advancement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    to_phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    accept_by: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="invited")  # invited | accepted | declined | revoked
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    from_submission: Mapped[Submission] = relationship(foreign_keys=[from_submission_id])
    to_phase = relationship("Phase")
    organization: Mapped[Organization] = relationship()

    def state(self, now: datetime) -> str:
        """invited | accepted | declined | expired (an unanswered invitation after its deadline)."""
        return "expired" if self.status == "invited" and now > self.accept_by else self.status

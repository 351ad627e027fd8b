"""Community tables. Times are aware UTC; an event keeps its own IANA zone for display and .ics."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..extensions import db
from ..timezones import UTCDateTime, utcnow


class RoleCategory(StrEnum):
    AI_PRACTITIONER = "ai_practitioner"
    DATA_SCIENTIST = "data_scientist"
    IT_EXECUTIVE = "it_executive"
    PROGRAM_MANAGER = "program_manager"
    POLICY_MAKER = "policy_maker"
    CYBERSECURITY = "cybersecurity"
    DEVELOPER = "developer"
    SME = "subject_matter_expert"

    @property
    def label(self) -> str:
        return {
            "ai_practitioner": "AI practitioner",
            "data_scientist": "Data scientist",
            "it_executive": "IT executive",
            "program_manager": "Program manager",
            "policy_maker": "Policy maker",
            "cybersecurity": "Cybersecurity professional",
            "developer": "Developer",
            "subject_matter_expert": "Subject matter expert",
        }[self.value]


class MemberProfile(db.Model):
    __tablename__ = "member_profiles"
    __audit_type__ = "member_profile"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    organization: Mapped[str] = mapped_column(String(200), default="")
    job_title: Mapped[str] = mapped_column(String(200), default="")
    role_category: Mapped[str] = mapped_column(String(40), default="")
    interests: Mapped[str] = mapped_column(Text, default="")
    # What the member directory shows of this person (name is always shown when listed at all).
    listed: Mapped[bool] = mapped_column(Boolean, default=True)
    show_email: Mapped[bool] = mapped_column(Boolean, default=False)
    show_organization: Mapped[bool] = mapped_column(Boolean, default=True)
    show_title: Mapped[bool] = mapped_column(Boolean, default=True)
    show_interests: Mapped[bool] = mapped_column(Boolean, default=True)
    judge_volunteer: Mapped[bool] = mapped_column(Boolean, default=False)
    judge_expertise: Mapped[list[str]] = mapped_column(JSON, default=list)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def role_category_label(self) -> str:
        try:
            return RoleCategory(self.role_category).label
        except ValueError:
            return ""


class DomainException(db.Model):
    """Staff let one address outside .gov/.mil/.edu join, with a written reason (also audited)."""

    __tablename__ = "member_domain_exceptions"
    __audit_type__ = "domain_exception"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    granted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    granted_by: Mapped[User] = relationship()


class Subscription(db.Model):
    """A mailing-list address; counts only once confirmed (double opt-in) and not unsubscribed."""

    __tablename__ = "subscriptions"
    __audit_type__ = "subscription"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(40), default="form")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None

    @property
    def state(self) -> str:
        if self.unsubscribed_at is not None:
            return "unsubscribed"
        return "subscribed" if self.confirmed_at is not None else "awaiting confirmation"


class Audience(StrEnum):
    SUBSCRIBERS = "subscribers"
    MEMBERS = "members"
    GROUP = "group"


class Newsletter(db.Model):
    __tablename__ = "newsletters"
    __audit_type__ = "newsletter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text, default="")
    audience: Mapped[str] = mapped_column(String(20), default=Audience.SUBSCRIBERS.value)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("working_groups.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft | sending | sent
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    job_id: Mapped[str | None] = mapped_column(String(36))
    recipient_count: Mapped[int] = mapped_column(Integer, default=0)

    group: Mapped[WorkingGroup | None] = relationship()
    created_by: Mapped[User] = relationship()


class WorkingGroup(db.Model):
    __tablename__ = "working_groups"
    __audit_type__ = "working_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    description_md: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list[GroupMembership]] = relationship(
        back_populates="group", cascade="all, delete-orphan", order_by="GroupMembership.joined_at"
    )


class GroupMembership(db.Model):
    __tablename__ = "group_memberships"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("working_groups.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    group: Mapped[WorkingGroup] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(lazy="joined")


class Announcement(db.Model):
    __tablename__ = "group_announcements"
    __audit_type__ = "announcement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("working_groups.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()


class Event(db.Model):
    __tablename__ = "events"
    __audit_type__ = "event"
    # One row per occurrence of a series: generating the series twice finds the row, not a copy.
    __table_args__ = (UniqueConstraint("series", "occurrence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(80), unique=True)  # stable iCalendar UID
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500), default="")
    agenda_md: Mapped[str] = mapped_column(Text, default="")
    speakers: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    location: Mapped[str] = mapped_column(String(300), default="Online")
    join_url: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int | None] = mapped_column(Integer)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    series: Mapped[str | None] = mapped_column(String(80))
    occurrence: Mapped[str | None] = mapped_column(String(20))
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # bumped on change (.ics)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    registrations: Mapped[list[Registration]] = relationship(back_populates="event", cascade="all, delete-orphan",
                                                             lazy="selectin")

    @property
    def registered_count(self) -> int:
        return sum(1 for r in self.registrations if r.status == RegistrationStatus.REGISTERED)

    @property
    def waitlist_count(self) -> int:
        return sum(1 for r in self.registrations if r.status == RegistrationStatus.WAITLISTED)

    @property
    def seats_left(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - self.registered_count)


class RegistrationStatus(StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Registration(db.Model):
    __tablename__ = "event_registrations"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=RegistrationStatus.REGISTERED.value)
    # Waitlist order: the moment the person (re)joined; earliest moves up first.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship(back_populates="registrations")
    user: Mapped[User] = relationship(lazy="joined")


class Resource(db.Model):
    __tablename__ = "resources"
    __audit_type__ = "resource"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default="document")  # presentation | recording | document | link
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    url: Mapped[str] = mapped_column(String(500), default="")
    storage_key: Mapped[str | None] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(100), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    members_only: Mapped[bool] = mapped_column(Boolean, default=False)
    published_on: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    event: Mapped[Event | None] = relationship()


class Page(db.Model):
    """A staff-edited block of public text; the About page is the sections mission, vision, goals."""

    __tablename__ = "pages"
    __audit_type__ = "page"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class SteeringMember(db.Model):
    __tablename__ = "steering_members"
    __audit_type__ = "steering_member"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    organization: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)


class ContactMessage(db.Model):
    """Kept as well as emailed, so a message survives a mail outage."""

    __tablename__ = "contact_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

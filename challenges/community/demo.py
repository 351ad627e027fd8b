"""Community demo data for `make run`: a year of meetings, two working groups, resources, About text.

Idempotent: what exists (by slug, title or occurrence) is left alone.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from ..accounts.models import User
from ..extensions import db
from ..timezones import local_to_utc
from . import services
from .models import Event, MemberProfile, Resource, SteeringMember, WorkingGroup

GROUPS = [
    ("responsible-ai", "Responsible AI", "Risk management, evaluation and assurance for AI in agencies.",
     "## What we do\n\nWe share evaluation plans, red-teaming results and AI use-case inventories, and we draft "
     "plain-language guidance on the OMB AI memoranda.\n\n- Monthly call after the community meeting\n"
     "- A shared library of test plans"),
    ("acquisition", "AI Acquisition", "Buying AI well: market research, challenges, pilots and contracts.",
     "## What we do\n\nContracting officers and program managers compare notes on challenge-based acquisition, "
     "commercial solutions openings and pilot-to-production paths."),
]
ABOUT = {
    "mission": ("Mission", "Help federal agencies find, test and acquire promising AI technology by connecting the "
                "people who do the work across government, industry and academia."),
    "vision": ("Vision", "Every agency can adopt AI that works, responsibly and quickly, because it learned from "
               "the others."),
    "goals": ("Goals", "- Run Applied AI Challenges with agency partners every year\n- Publish what worked and what "
              "did not\n- Grow a pool of trained agency judges\n- Keep the monthly meeting useful and open"),
}
STEERING = [("Dana Whitfield", "Chief AI Officer", "General Services Administration"),
            ("Marcus Oyelaran", "Director of Data Science", "Department of Veterans Affairs"),
            ("Priya Raman", "Associate Dean for Research", "Georgia Institute of Technology")]
DEMO_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


def load(*, actor: User, today: date) -> int:
    """Returns how many things were created."""
    created = 0
    made, _ = services.schedule_meetings(actor=actor, months=12, today=today)
    created += len(made)
    for slug, name, summary, description in GROUPS:
        if db.session.execute(select(WorkingGroup.id).where(WorkingGroup.slug == slug)).first() is None:
            services.save_group(actor=actor, name=name, slug=slug, summary=summary, description_md=description)
            created += 1
    member = db.session.execute(select(User).where(User.email == "member@example.edu")).scalar_one_or_none()
    if member is not None and services.profile_of(member) is None:
        db.session.add(MemberProfile(user_id=member.id, organization="State University", job_title="Research dean",
                                     role_category="policy_maker", interests="evaluation, procurement",
                                     judge_volunteer=True, judge_expertise=["evaluation", "document ai"]))
        group = services.get_group("responsible-ai")
        membership = services.join_group(actor=member, group=group)
        membership.is_lead = True
        created += 1
    for email in ("member@example.edu", "judge@example.gov"):
        person = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if person is not None and services.subscription_of(email) is None:
            services.subscribe_member(user=person)
            created += 1
    past = db.session.execute(select(Event).where(Event.series == "demo-past")).scalar_one_or_none()
    if past is None:
        day = today - timedelta(days=30)
        past = Event(uid="demo-past@challenges.example.gov", series="demo-past", occurrence=day.isoformat(),
                     title="Kick-off: Lessons from the first Applied AI Challenge",
                     summary="Judges and winners on what made the first challenge work.",
                     starts_at=local_to_utc(datetime.combine(day, time(13)), "America/New_York"),
                     ends_at=local_to_utc(datetime.combine(day, time(14)), "America/New_York"),
                     timezone="America/New_York", created_by_id=actor.id)
        db.session.add(past)
        db.session.flush()
        created += 1
    if db.session.execute(select(Resource.id)).first() is None:
        services.add_resource(actor=actor, title="Lessons from the first Applied AI Challenge (slides)",
                              description="Slides from the kick-off meeting.", kind="presentation",
                              topics="challenges, judging", upload=io.BytesIO(DEMO_PDF), filename="kickoff-slides.pdf",
                              event_id=past.id)
        services.add_resource(actor=actor, title="Kick-off recording", description="The full meeting recording.",
                              kind="recording", topics="challenges", url="https://www.youtube.com/@gsa",
                              event_id=past.id, members_only=True)
        services.add_resource(actor=actor, title="AI use-case inventory guidance",
                              description="How agencies report their AI use cases.", kind="link",
                              topics="responsible ai, policy", url="https://ai.gov/")
        created += 3
    for slug, (title, body) in ABOUT.items():
        if services.page(slug) is None:
            services.save_page(actor=actor, slug=slug, title=title, body_md=body)
            created += 1
    if not services.steering_committee():
        for position, (name, title, organization) in enumerate(STEERING, 1):
            db.session.add(SteeringMember(name=name, title=title, organization=organization, position=position))
            created += 1
    db.session.flush()
    return created

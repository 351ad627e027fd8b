"""Small factories: each builds one valid thing and commits.

    make_user(email=None, roles=("vendor",), password=PASSWORD, verified=True, name="", active=True)
    make_definition(**overrides)   a complete, publishable JSON definition (a plain dict)
    make_challenge(author=None, publish=False, **definition_overrides)
                                   built by challenges.definition.build_from_definition; with
                                   publish, submitted by the author and approved by a second staff
                                   member, exactly as people do it
    make_submission(vendor, phase, organization_name=..., submit=False)
                                   an organisation, a draft application with one stored PDF

Overrides replace top-level keys of the definition (deep-copied), e.g.
``make_challenge(slug="other", phases=[...])``.
"""

from __future__ import annotations

import copy
import itertools
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from challenges import jobs
from challenges.accounts.models import User, UserRole
from challenges.accounts.services import hash_password
from challenges.extensions import db
from challenges.models import Challenge
from challenges.timezones import utcnow

PASSWORD = "correct horse battery staple"
ZONE = "America/New_York"
_EMAIL_NUMBERS = itertools.count(1)
_HASHES: dict[str, str] = {}


def _hash(password: str) -> str:
    # Argon2 is slow on purpose; tests reuse one hash per password.
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


def make_user(
    email: str | None = None,
    roles: tuple[str, ...] = ("vendor",),
    password: str = PASSWORD,
    verified: bool = True,
    name: str = "",
    active: bool = True,
) -> User:
    """A user with these roles (no audit events: this is test set-up, not a registration)."""
    if email is None:
        email = f"user{next(_EMAIL_NUMBERS)}@example.gov"
    user = User(email=email.lower(), name=name, password_hash=_hash(password),
                verified_at=utcnow() if verified else None, active=active)
    db.session.add(user)
    db.session.flush()
    for role in roles:
        db.session.add(UserRole(user_id=user.id, role=str(role)))
    db.session.commit()
    return user


def make_definition(**overrides: Any) -> dict[str, Any]:
    """A complete, publishable definition: one phase opening yesterday 09:00 and closing in 30 days
    at 17:00, New York time, with two fields, a two-criterion rubric, rules and prizes."""
    today = datetime.now(ZoneInfo(ZONE)).date()
    opens = today - timedelta(days=1)
    closes = today + timedelta(days=30)
    definition: dict[str, Any] = {
        "slug": "test-challenge",
        "title": "Test Challenge",
        "agency": "GSA",
        "summary": "A challenge used in tests.",
        "description": "## About\n\nTesting.",
        "prize_total": 100000,
        "awards": "- First: $100,000",
        "eligibility": "Anyone in tests.",
        "rules": "1. Be a test.",
        "timezone": ZONE,
        "phases": [{
            "key": "phase-1",
            "name": "Concept papers",
            "opens_at": f"{opens}T09:00",
            "closes_at": f"{closes}T17:00",
            "fields": [
                {"key": "summary", "label": "Summary", "type": "textarea", "required": True, "max_length": 2000},
                {"key": "deck", "label": "Pitch deck", "type": "file", "required": True,
                 "accept": ["application/pdf"], "max_bytes": 26214400},
            ],
            "rubric": {"criteria": [
                {"key": "quality", "name": "Quality", "weight": 3, "min": 1, "max": 5, "step": 1},
                {"key": "impact", "name": "Impact", "weight": 2, "min": 1, "max": 5, "step": 1},
            ]},
            "judging": {"judges_per_entry": 3, "quorum": 2, "primary_method": "mean", "blind": False},
        }],
    }
    definition.update(copy.deepcopy(overrides))
    return definition


def _staff(email: str) -> User:
    existing = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    return existing or make_user(email=email, roles=("staff",))


def make_challenge(author: User | None = None, publish: bool = False, **overrides: Any) -> Challenge:
    """A draft (or, with publish, an approved and published) challenge."""
    from challenges import services
    from challenges.definition import build_from_definition

    author = author or _staff("factory-author@example.gov")
    challenge = build_from_definition(actor=author, data=make_definition(**overrides))
    if publish:
        services.submit_for_review(actor=author, challenge=challenge)
        services.approve_and_publish(actor=_staff("factory-approver@example.gov"), challenge=challenge)
    db.session.commit()
    jobs.dispatch_committed()
    return challenge


PDF_BYTES = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def make_submission(vendor: User, phase, *, organization_name: str = "Acme AI, Inc.", accept_rules: bool = False,
                    submit: bool = False):
    """An organisation owned by `vendor` with a draft application and one stored PDF;
    `accept_rules` makes it ready to submit, `submit` submits it."""
    import io

    from challenges.submissions import services as subs

    organization = next((o for o in subs.organizations_of(vendor) if o.legal_name == organization_name), None)
    if organization is None:
        organization = subs.save_organization(actor=vendor, legal_name=organization_name)
    submission = subs.start_application(actor=vendor, phase=phase, organization=organization)
    subs.save_answers(actor=vendor, submission=submission, answers={"summary": "Our solution."})
    stored = subs.upload_file(actor=vendor, submission=submission, field_key="deck", filename="deck.pdf",
                              stream=io.BytesIO(PDF_BYTES))
    if accept_rules or submit:
        subs.accept_rules(actor=vendor, submission=submission, rules_version=phase.challenge.rules_version)
    if submit:
        subs.submit(actor=vendor, submission=submission)
    db.session.commit()
    jobs.dispatch_committed()
    return submission, stored


def close_submissions(phase) -> None:
    """Move the phase's close into the past, so judging can start (entries stay as they are)."""
    from challenges.timezones import utcnow

    phase.closes_at = utcnow() - timedelta(hours=1)
    phase.opens_at = min(phase.opens_at, phase.closes_at - timedelta(days=1))
    db.session.commit()


def make_judge(phase, email: str | None = None, *, attested: bool = True, max_load: int = 10, min_load: int = 0,
               agency: str = "", expertise: tuple[str, ...] = (), user: User | None = None):
    """A judge who accepted the invitation (and, unless told otherwise, signed the attestation)."""
    from challenges.judging import services as judging
    from challenges.judging.models import PanelMember

    user = user or make_user(email=email, roles=("judge",))
    member = PanelMember(phase_id=phase.id, user_id=user.id, email=user.email, status="active", max_load=max_load,
                         min_load=min_load, agency=agency or user.email.rsplit("@", 1)[-1],
                         expertise=list(expertise))
    if attested:
        member.attested_at, member.attestation_version = datetime.now(ZoneInfo("UTC")), judging.ATTESTATION_VERSION
    db.session.add(member)
    db.session.commit()
    return member


def make_assignment(member, submission):
    from challenges.judging import services as judging

    assignment = judging.assign(actor=_staff("factory-author@example.gov"), member=member, submission=submission,
                                notify=False)
    db.session.commit()
    return assignment

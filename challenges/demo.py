"""Demo data for `make run`: accounts for every role, two open Applied AI Challenges and one in judging.

Idempotent: existing accounts and challenges (by email and slug) are left as they are.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from . import services
from .accounts.models import Role, User, UserRole
from .accounts.services import get_system_user, hash_password
from .definition import build_from_definition
from .extensions import db
from .models import Challenge
from .timezones import utcnow

DEMO_USERS = [
    ("admin@example.gov", "Avery Admin", (Role.ADMIN, Role.STAFF)),
    ("staff@example.gov", "Sam Staff", (Role.STAFF,)),
    ("reviewer@example.gov", "Riley Reviewer", (Role.STAFF,)),
    ("judge@example.gov", "Jordan Judge", (Role.JUDGE, Role.MEMBER)),
    ("vendor@example.com", "Vic Vendor", (Role.VENDOR,)),
    ("member@example.edu", "Morgan Member", (Role.MEMBER,)),
]

RUBRIC = [
    {"key": "technical", "name": "Technical merit", "weight": 3, "min": 1, "max": 5, "step": 1,
     "description": "Soundness of the approach, evaluation and evidence.",
     "anchors": {"1": "Poor", "3": "Adequate", "5": "Excellent"}, "comment_rule": "extremes"},
    {"key": "impact", "name": "Mission impact", "weight": 2, "min": 1, "max": 5, "step": 1,
     "description": "Benefit to the agency mission and the public.",
     "anchors": {"1": "Minimal", "5": "Transformative"}},
    {"key": "feasibility", "name": "Feasibility", "weight": 1, "min": 0, "max": 10, "step": 1,
     "description": "Can it be piloted in a federal environment within 12 months?", "required": False},
    {"key": "responsible_ai", "name": "Responsible AI (reported separately)", "weight": 0, "min": 1, "max": 5,
     "step": 1, "independent": True, "description": "Privacy, fairness, transparency and security practices."},
]


def _fields(topic: str) -> list[dict[str, Any]]:
    return [
        {"key": "title", "label": "Solution title", "type": "text", "required": True, "max_length": 150},
        {"key": "summary", "label": "Summary", "type": "textarea", "required": True, "max_length": 2000,
         "help": f"Describe your {topic} solution in plain language."},
        {"key": "trl", "label": "Technology readiness level", "type": "select", "required": True,
         "options": [f"TRL {n}" for n in range(1, 10)]},
        {"key": "data_types", "label": "Data your solution uses", "type": "multiselect",
         "options": ["Text", "Images", "Tabular", "Audio", "Video"]},
        {"key": "team_url", "label": "Company website", "type": "url", "identifying": True, "max_length": 500},
        {"key": "deck", "label": "Concept paper (PDF, 25 MB at most)", "type": "file", "required": True,
         "accept": ["application/pdf"], "max_bytes": 25 * 1024 * 1024},
        {"key": "attest", "label": "The solution can run in a FedRAMP-authorised environment", "type": "checkbox"},
    ]


def _iso(day: date, hour: int) -> str:
    return datetime(day.year, day.month, day.day, hour, 0).isoformat(timespec="minutes")


def definitions(today: date) -> list[dict[str, Any]]:
    """Two challenges open today, each with a concept phase and a later demonstration phase."""
    start = today - timedelta(days=14)
    close = today + timedelta(days=30)
    final_open, final_close = close + timedelta(days=21), close + timedelta(days=60)
    common_rules = (
        "1. Submissions must be received before the deadline shown, "
        "in the challenge's time zone.\n2. Federal employees acting in their official capacity "
        "may not compete.\n3. Winners must be registered in SAM.gov before payment.\n"
    )
    eligibility = (
        "Open to U.S. organisations of any size with an active **SAM.gov** registration "
        "and a Unique Entity ID (UEI). Teams may include universities."
    )
    out = []
    for slug, title, agency, topic, summary, prize in (
        ("ai-health-2026", "Applied AI Challenge: Healthcare Operations", "Department of Health and Human Services",
         "healthcare", "AI that shortens wait times, reduces paperwork and improves patient safety in "
         "federal health programs.", 750_000),
        ("llm-2026", "Applied AI Challenge: Large Language Models for Government", "General Services Administration",
         "large language model", "Trustworthy large language model tools that help agencies answer the public "
         "and draft documents, with evaluation and safeguards.", 1_000_000),
    ):
        out.append({
            "slug": slug, "title": title, "agency": agency, "summary": summary,
            "description": f"The federal AI community of practice invites {topic} solutions "
                           "ready to be tested in a real agency setting.\n\n*Phase 1* asks for a concept paper; "
                           "finalists demonstrate a working prototype in *Phase 2*.",
            "prize_total": prize,
            "awards": f"- First place: ${prize // 2:,}\n- Second place: ${prize * 3 // 10:,}\n"
                      f"- Third place: ${prize // 5:,}",
            "eligibility": eligibility, "rules": common_rules, "timezone": "America/New_York",
            "phases": [
                {"key": "concept", "name": "Concept papers", "opens_at": _iso(start, 9),
                 "closes_at": _iso(close, 17), "grace_seconds": 300, "fields": _fields(topic),
                 "rubric": {"criteria": RUBRIC},
                 "judging": {"judges_per_entry": 3, "quorum": 2, "primary_method": "mean", "blind": True,
                             "others_scores_visible": "after_own"}},
                {"key": "demo-day", "name": "Prototype demonstrations", "opens_at": _iso(final_open, 9),
                 "closes_at": _iso(final_close, 17),
                 "fields": [{"key": "video", "label": "Demonstration video link", "type": "url", "required": True},
                            {"key": "report", "label": "Test report (PDF)", "type": "file", "required": True,
                             "accept": ["application/pdf"], "max_bytes": 50 * 1024 * 1024}],
                 "rubric": {"criteria": RUBRIC[:3]},
                 "judging": {"judges_per_entry": 3, "quorum": 3, "primary_method": "calibrated"}},
            ],
        })
    return out


def _ensure_user(email: str, name: str, roles: tuple[Role, ...], password: str) -> bool:
    user = db.session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    if user is not None:
        return False
    user = User(email=email, name=name, password_hash=hash_password(password), verified_at=utcnow())
    db.session.add(user)
    db.session.flush()
    for role in roles:
        db.session.add(UserRole(user_id=user.id, role=role.value))
    db.session.flush()
    return True


def load(today: date | None = None) -> str:
    password = current_app.config["DEMO_PASSWORD"]
    get_system_user()
    created_users = sum(_ensure_user(email, name, roles, password) for email, name, roles in DEMO_USERS)
    author = db.session.execute(select(User).where(User.email == "staff@example.gov")).scalar_one()
    approver = db.session.execute(select(User).where(User.email == "reviewer@example.gov")).scalar_one()
    created_challenges = 0
    for data in definitions(today or date.today()):
        if db.session.execute(select(Challenge.id).where(Challenge.slug == data["slug"])).first():
            continue
        challenge = build_from_definition(actor=author, data=data)
        services.submit_for_review(actor=author, challenge=challenge, note="Demo challenge.")
        services.approve_and_publish(actor=approver, challenge=challenge)
        created_challenges += 1
    if not db.session.execute(select(Challenge.id).where(Challenge.slug == JUDGING_SLUG)).first():
        _judging_demo(today or date.today(), author, approver, password)
        created_challenges += 1
    from .community.demo import load as load_community

    created_community = load_community(actor=author, today=today or date.today())
    lines = [
        f"Demo data: {created_users} account(s), {created_challenges} challenge(s) and {created_community} "
        "community item(s) created (existing ones left unchanged).",
        "Demo sign-ins (password for all: " + password + "):",
    ]
    lines += [f"  {email:24} {', '.join(r.value for r in roles)}" for email, _, roles in DEMO_USERS]
    return "\n".join(lines)


JUDGING_SLUG = "doc-ai-2026"
DEMO_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" \
           b"trailer<</Root 1 0 R>>\n%%EOF\n"


def _judging_demo(today: date, author: User, approver: User, password: str) -> None:
    """A third challenge whose concept phase has closed and is being judged: six entries, a panel of four
    (the demo judge has accepted but not yet signed the attestation) and an approved assignment."""
    import io

    from .judging import services as judging
    from .judging.models import PanelMember
    from .submissions import services as applications

    data = definitions(today)[0]
    data.update(slug=JUDGING_SLUG, title="Applied AI Challenge: Document Understanding",
                agency="Department of Veterans Affairs", prize_total=500_000,
                summary="AI that reads forms, letters and scanned records so benefits decisions come sooner.")
    challenge = build_from_definition(actor=author, data=data)
    services.submit_for_review(actor=author, challenge=challenge, note="Demo challenge in judging.")
    services.approve_and_publish(actor=approver, challenge=challenge)
    phase = challenge.phases[0]
    for n, (company, title) in enumerate([
            ("Clearform Labs", "Form extraction for VA claims"), ("Docuvera", "Handwriting-aware intake"),
            ("Lexigraph AI", "Letter triage with citations"), ("Northbeam Analytics", "Records summarisation"),
            ("Paperless Civic", "Scanned record search"), ("Quillstone", "Benefit eligibility pre-check")]):
        owner = User(email=f"founder@{company.split()[0].lower()}.example.com", name=f"{company} founder",
                     password_hash=hash_password(password), verified_at=utcnow())
        db.session.add(owner)
        db.session.flush()
        org = applications.save_organization(actor=owner, legal_name=f"{company}, Inc.")
        entry = applications.start_application(actor=owner, phase=phase, organization=org)
        applications.save_answers(actor=owner, submission=entry, answers={
            "title": title, "summary": f"{title}: a demonstration entry.", "trl": f"TRL {4 + n % 4}",
            "data_types": ["Text", "Images"][: 1 + n % 2], "team_url": f"https://{company.split()[0].lower()}.example.com"})
        applications.upload_file(actor=owner, submission=entry, field_key="deck", filename="concept-paper.pdf",
                                 stream=io.BytesIO(DEMO_PDF))
        applications.accept_rules(actor=owner, submission=entry, rules_version=challenge.rules_version)
        applications.submit(actor=owner, submission=entry)
    phase.closes_at = utcnow() - timedelta(days=2)  # the call closed two days ago
    services.transition(actor=author, challenge=challenge, to="closed")
    services.transition(actor=author, challenge=challenge, to="judging")
    for email, name in (("judge@example.gov", None), ("judge.two@example.gov", "Jamie Second"),
                        ("judge.three@example.gov", "Jess Third"), ("judge.four@example.gov", "Jo Fourth")):
        if name:
            _ensure_user(email, name, (Role.JUDGE,), password)
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        db.session.add(PanelMember(
            phase_id=phase.id, user_id=user.id, email=email, status="active", agency="va.gov", max_load=6,
            expertise=["text", "images"][: 1 + len(email) % 2], invited_by_id=author.id, accepted_at=utcnow(),
            attested_at=None if name is None else utcnow(),
            attestation_version=None if name is None else judging.ATTESTATION_VERSION))
    db.session.flush()
    judging.approve_run(actor=author, run=judging.propose(actor=author, phase=phase, k=3, seed=2026))
    # The three other judges have finished, so the leaderboard and statistics have something to show;
    # judge.three is lenient, which the calibrated method corrects.
    for member_email, lean in (("judge.two@example.gov", 0), ("judge.three@example.gov", 1),
                               ("judge.four@example.gov", -1)):
        for number, (_, assignments) in enumerate(
                judging.queue(db.session.execute(select(User).where(User.email == member_email)).scalar_one())):
            for a in assignments:
                quality = 1 + (a.submission_id * 7 + number) % 5
                values = {"technical": min(max(quality + lean, 1), 5), "impact": min(max(6 - quality + lean, 1), 5),
                          "feasibility": 3 + a.submission_id % 6, "responsible_ai": 3}
                comments = {"technical": "Scored in the demo." if values["technical"] in (1, 5) else ""}
                judging.save_review(actor=a.panel_member.user, assignment=a, values=values, comments=comments,
                                    overall_comment="Demo review.", submit=True)

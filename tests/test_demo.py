"""`flask demo load`: demo accounts and two open challenges, idempotent."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from challenges.accounts.models import Role, User
from challenges.accounts.services import authenticate
from challenges.audit import AuditEvent, verify
from challenges.extensions import db as _db
from challenges.models import Challenge
from challenges.services import completeness_problems, public_state


def _row_counts() -> dict[str, int]:
    return {t.name: _db.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in _db.metadata.sorted_tables}


def test_demo_load_twice_changes_nothing_the_second_time(app, db, run_cli):
    first = run_cli("demo", "load")
    after_first = _row_counts()
    audit_first = db.session.execute(select(func.count(AuditEvent.id))).scalar_one()

    second = run_cli("demo", "load")

    assert first.exit_code == 0, first.output
    assert "6 account(s), 3 challenge(s) and " in first.output
    assert second.exit_code == 0, second.output
    assert "0 account(s), 0 challenge(s) and 0 community item(s) created (existing ones left unchanged)." \
        in second.output
    assert _row_counts() == after_first
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar_one() == audit_first > 0
    # six demo people, the system user, six demo founders and three more judges
    assert after_first["challenges"] == 3 and after_first["users"] == 16
    assert verify().ok
    # a year of monthly meetings, two working groups and a few resources (issue 6)
    assert after_first["working_groups"] == 2 and after_first["resources"] >= 3
    assert 12 <= after_first["events"] <= 13
    assert "Demo sign-ins (password for all: demo-password-2026):" in first.output
    for email in ("admin@example.gov", "staff@example.gov", "reviewer@example.gov", "judge@example.gov",
                  "vendor@example.com", "member@example.edu"):
        assert email in first.output


def test_demo_load_challenges_open_now_and_accounts_sign_in(app, db, run_cli):
    run_cli("demo", "load")
    now = datetime.now(UTC)

    challenges = db.session.execute(select(Challenge).where(Challenge.slug != "doc-ai-2026")
                                    .order_by(Challenge.slug)).scalars().all()

    assert [c.slug for c in challenges] == ["ai-health-2026", "llm-2026"]
    for challenge in challenges:
        assert challenge.status == "published" and challenge.published_at is not None
        assert challenge.created_by.email == "staff@example.gov"
        assert challenge.approved_by.email == "reviewer@example.gov"  # a second person approved
        assert public_state(challenge, now) == "open"
        concept, demo_day = challenge.phases
        assert concept.state(now) == "open" and demo_day.state(now) == "upcoming"
        assert len(concept.fields) == 7 and len(concept.rubric.criteria) == 4
        assert completeness_problems(challenge) == []

    admin = authenticate(email="admin@example.gov", password="demo-password-2026")
    judge = authenticate(email="judge@example.gov", password="demo-password-2026")

    assert admin.roles == {Role.ADMIN, Role.STAFF} and admin.is_verified
    assert judge.roles == {Role.JUDGE, Role.MEMBER}
    system = db.session.execute(select(User).where(User.is_system.is_(True))).scalar_one()
    assert system.email == "system@challenges.invalid"
    assert authenticate(email="system@challenges.invalid", password="demo-password-2026") is None


def test_demo_challenge_in_judging_gives_the_demo_judge_a_queue(app, db, run_cli):
    from challenges.judging import services as judging

    run_cli("demo", "load")
    challenge = db.session.execute(select(Challenge).where(Challenge.slug == "doc-ai-2026")).scalar_one()
    phase = challenge.phases[0]
    assert challenge.status == "judging" and judging.judging_open(phase)
    assert len(judging.entries(phase)) == 6
    judges, per_entry = judging.progress(phase)
    assert {e.assigned for e in per_entry} == {3} and len(judges) == 4
    judge = db.session.execute(select(User).where(User.email == "judge@example.gov")).scalar_one()
    member, assignments = judging.queue(judge)[0]
    assert member.attested_at is None and assignments  # signs the attestation first, then scores
    from challenges.judging.results import phase_leaderboard

    _, rows = phase_leaderboard(phase, bootstrap=50)
    assert len(rows) == 6 and all(r["n_reviews"] >= 2 for r in rows)  # the other judges have finished

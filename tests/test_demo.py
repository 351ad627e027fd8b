from datetime import UTC, datetime

from sqlalchemy import func, select

from challenges.extensions import db as _db
from challenges.models import Challenge


def _counts() -> dict[str, int]:
    return {t.name: _db.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in _db.metadata.sorted_tables}


def test_demo_load_is_idempotent(app, db, run_cli):
    first = run_cli("demo", "load")
    assert first.exit_code == 0, first.output
    assert "staff@example.gov" in first.output and "demo-password-2026" in first.output
    after_first = _counts()
    second = run_cli("demo", "load")
    assert second.exit_code == 0
    assert "0 account(s) and 0 challenge(s) created" in second.output
    assert _counts() == after_first


def test_demo_challenges_are_open_now(app, db, run_cli):
    run_cli("demo", "load")
    now = datetime.now(UTC)
    challenges = db.session.execute(select(Challenge).order_by(Challenge.slug)).scalars().all()
    assert [c.slug for c in challenges] == ["ai-health-2026", "llm-2026"]
    for challenge in challenges:
        assert challenge.status == "published"
        assert challenge.approved_by.email == "reviewer@example.gov"
        assert challenge.phases[0].state(now) == "open"
        assert challenge.phases[0].rubric.criteria and challenge.phases[0].fields

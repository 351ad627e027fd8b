from itertools import pairwise

from sqlalchemy import select, text

from challenges.audit import AuditEvent, record, verify
from tests.factories import make_user


def _chain(db, n=4):
    actor = make_user(email="auditor@example.gov", roles=("staff",))
    for i in range(n):
        record(actor=actor, action=f"test.step{i}", object_type="thing", object_id=i, details={"i": i})
    db.session.commit()
    return actor


def test_events_link_by_hash(app, db):
    _chain(db)
    events = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    assert [e.seq for e in events] == [1, 2, 3, 4]
    for earlier, later in pairwise(events):
        assert later.prev_hash == earlier.hash
    assert verify().ok


def test_altered_event_is_detected(app, db, run_cli):
    _chain(db)
    db.session.execute(text("UPDATE audit_events SET details = :d WHERE seq = 2"), {"d": '{"i": 99}'})
    db.session.commit()
    result = verify()
    assert not result.ok
    assert any("seq 2: content does not match" in p for p in result.problems)
    cli = run_cli("audit", "verify")
    assert cli.exit_code == 1
    assert "BROKEN" in cli.output and "seq 2" in cli.output


def test_deleted_middle_event_is_detected(app, db):
    _chain(db)
    db.session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    db.session.commit()
    problems = verify().problems
    assert any("seq 2 is missing" in p for p in problems)
    assert any("previous-hash link broken" in p for p in problems)


def test_deleted_last_event_is_detected(app, db):
    _chain(db)
    db.session.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    db.session.commit()
    assert any("events removed from the end" in p for p in verify().problems)


def test_cli_verify_passes_on_intact_chain(app, db, run_cli):
    _chain(db)
    result = run_cli("audit", "verify")
    assert result.exit_code == 0
    assert "4 events verified" in result.output
    as_json = run_cli("audit", "verify", "--json")
    assert '"ok": true' in as_json.output


def test_rolled_back_event_leaves_no_gap(app, db):
    _chain(db, n=2)
    record(actor=None, action="test.discarded", object_type="thing", object_id=9)
    db.session.rollback()
    record(actor=None, action="test.kept", object_type="thing", object_id=10)
    db.session.commit()
    assert verify().ok
    assert db.session.execute(select(AuditEvent.seq).where(AuditEvent.action == "test.kept")).scalar_one() == 3

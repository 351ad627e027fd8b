"""challenges/audit.py: an append-only, hash-chained log whose tampering verify() detects."""

import hashlib
import json
from itertools import pairwise

from sqlalchemy import select, text

from challenges.audit import GENESIS, AuditEvent, AuditHead, record, verify
from tests.factories import make_user


def _chain(db, n=4):
    actor = make_user(email="auditor@example.gov", roles=("staff",))
    for i in range(n):
        record(actor=actor, action=f"test.step{i}", object_type="thing", object_id=i, details={"i": i})
    db.session.commit()
    db.session.expire_all()
    return actor


def _events(db) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def test_record_chains_hashes(app, db):
    actor = _chain(db)

    events = _events(db)

    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == GENESIS
    for earlier, later in pairwise(events):
        assert later.prev_hash == earlier.hash
    assert len({e.hash for e in events}) == 4
    assert all(e.actor_id == actor.id and e.actor_email == "auditor@example.gov" for e in events)
    assert events[2].action == "test.step2" and events[2].details == {"i": 2} and events[2].object_id == "2"
    head = db.session.get(AuditHead, 1)
    assert (head.seq, head.last_hash) == (4, events[-1].hash)


def test_record_hash_is_sha256_of_canonical_json(app, db):
    _chain(db, n=1)

    event = _events(db)[0]

    body = {"seq": 1, "at": event.at.isoformat(timespec="microseconds"), "actor_id": event.actor_id,
            "actor_email": "auditor@example.gov", "action": "test.step0", "object_type": "thing",
            "object_id": "0", "details": {"i": 0}, "ip": None, "prev_hash": GENESIS}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    assert event.hash == hashlib.sha256(canonical).hexdigest()


def test_record_takes_type_and_id_from_object(app, db):
    user = make_user(email="someone@example.gov")

    event = record(actor=None, action="user.poked", obj=user, details={"when": "now"})
    db.session.commit()

    assert (event.object_type, event.object_id) == ("user", str(user.id))
    assert event.actor_id is None and event.actor_email is None


def test_verify_ok_on_intact_chain(app, db):
    _chain(db)

    result = verify()

    assert result.ok and result.checked == 4 and result.problems == []


def test_verify_ok_on_empty_log(app, db):
    result = verify()

    assert result.ok and result.checked == 0


def test_verify_detects_altered_event(app, db):
    _chain(db)
    db.session.execute(text("UPDATE audit_events SET details = :d WHERE seq = 2"), {"d": '{"i": 99}'})
    db.session.commit()

    result = verify()

    assert not result.ok
    assert result.problems == ["event seq 2: content does not match its hash"]


def test_verify_detects_altered_actor(app, db):
    _chain(db)
    db.session.execute(text("UPDATE audit_events SET actor_email = 'someone-else@example.gov' WHERE seq = 1"))
    db.session.commit()

    assert verify().problems == ["event seq 1: content does not match its hash"]


def test_verify_detects_deleted_middle_event(app, db):
    _chain(db)
    db.session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    db.session.commit()

    result = verify()

    assert not result.ok and result.checked == 3
    assert "event seq 2 is missing (next found: 3)" in result.problems
    assert "event seq 3: previous-hash link broken" in result.problems


def test_verify_detects_deleted_last_event(app, db):
    _chain(db)
    db.session.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    db.session.commit()

    result = verify()

    assert not result.ok and len(result.problems) == 1
    assert "chain head says 4 events" in result.problems[0]
    assert "events removed from the end?" in result.problems[0]


def test_verify_detects_recomputed_forgery(app, db):
    """Rewriting an event and its own hash still breaks the next event's link."""
    _chain(db)
    forged = _events(db)[1]
    forged.details = {"i": 1000}
    forged.hash = hashlib.sha256(forged.canonical()).hexdigest()
    db.session.commit()

    assert verify().problems == ["event seq 3: previous-hash link broken"]


def test_record_rolled_back_event_leaves_no_gap(app, db):
    _chain(db, n=2)
    record(actor=None, action="test.discarded", object_type="thing", object_id=9)
    db.session.rollback()

    record(actor=None, action="test.kept", object_type="thing", object_id=10)
    db.session.commit()

    assert verify().ok
    assert [e.action for e in _events(db)] == ["test.step0", "test.step1", "test.kept"]
    assert _events(db)[-1].seq == 3


def test_cli_audit_verify_exits_0_when_intact(app, db, run_cli):
    _chain(db)

    result = run_cli("audit", "verify")
    as_json = run_cli("audit", "verify", "--json")

    assert result.exit_code == 0
    assert result.output.strip() == "Audit log intact: 4 events verified."
    assert as_json.exit_code == 0
    assert json.loads(as_json.output) == {"ok": True, "checked": 4, "problems": []}


def test_cli_audit_verify_exits_1_when_altered_and_prints_problem(app, db, run_cli):
    _chain(db)
    db.session.execute(text("UPDATE audit_events SET action = 'test.rewritten' WHERE seq = 3"))
    db.session.commit()

    result = run_cli("audit", "verify")
    as_json = run_cli("audit", "verify", "--json")

    assert result.exit_code == 1
    assert "Audit log BROKEN: 1 problem(s) in 4 events" in result.output
    assert "- event seq 3: content does not match its hash" in result.output
    assert as_json.exit_code == 1
    assert json.loads(as_json.output)["problems"] == ["event seq 3: content does not match its hash"]

"""Staff delete a mistaken draft (a copy or import) by typing its slug; what was published, applied to
or judged cannot be deleted, and the audit log keeps the definition so it can be imported again."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from challenges import services
from challenges.audit import AuditEvent
from challenges.definition import build_from_definition
from challenges.extensions import db as _db
from challenges.models import Challenge, Criterion, FormField, Phase
from tests.factories import make_challenge, make_judge, make_user


@pytest.fixture
def staff(db, login_as):
    user = make_user(email="tidy@example.gov", roles=("staff",))
    login_as(user)
    return user


def _count(model) -> int:
    _db.session.expire_all()
    return _db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_draft_is_deleted_after_typing_its_slug_and_can_be_imported_again(client, staff, db):
    challenge = make_challenge(author=staff, slug="mistaken-copy")
    keep = make_challenge(author=staff, slug="keep-me")
    db.session.commit()
    challenge_id = challenge.id
    assert "Delete this draft" in client.get("/staff/challenges/mistaken-copy").text

    wrong = client.post("/staff/challenges/mistaken-copy/delete", data={"confirm": "mistaken"})
    assert wrong.status_code == 400 and "Type mistaken-copy exactly to delete this draft." in wrong.text
    assert 'value="mistaken"' in wrong.text
    assert _count(Challenge) == 2

    done = client.post("/staff/challenges/mistaken-copy/delete", data={"confirm": "mistaken-copy"},
                       follow_redirects=True)
    assert done.status_code == 200 and "Deleted the draft" in done.text
    assert client.get("/staff/challenges/mistaken-copy").status_code == 404
    assert _count(Challenge) == 1 and _count(Phase) == len(keep.phases)
    assert _count(FormField) == len(keep.phases[0].fields)
    assert _count(Criterion) == len(keep.phases[0].rubric.criteria)

    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "challenge.deleted")).scalar_one()
    assert event.details["slug"] == "mistaken-copy" and event.object_id == str(challenge_id)
    restored = build_from_definition(actor=staff, data=event.details["definition"])
    assert restored.slug == "mistaken-copy" and len(restored.phases) == 1


def test_published_or_judged_challenges_cannot_be_deleted(client, staff, db):
    published = make_challenge(author=staff, slug="out-there", publish=True)
    with pytest.raises(Exception, match="Only a draft that was never published"):
        services.delete_draft(actor=staff, challenge=published, confirm="out-there")
    _db.session.rollback()
    assert "Delete this draft" not in client.get("/staff/challenges/out-there").text
    refused = client.post("/staff/challenges/out-there/delete", data={"confirm": "out-there"})
    assert refused.status_code == 409 and "Only a draft that was never published" in refused.text

    draft = make_challenge(author=staff, slug="has-judges")
    make_judge(draft.phases[0], "invited@agency.gov")
    db.session.commit()
    refused = client.post("/staff/challenges/has-judges/delete", data={"confirm": "has-judges"})
    assert refused.status_code == 409 and "applications or judges" in refused.text
    assert _count(Challenge) == 2

"""The two-person rule: nobody approves a challenge whose content they wrote or changed, whichever
section or path they changed it through (a reviewer who edits, or withdraws, edits and approves, is an
author too)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from challenges import services
from challenges.errors import PermissionDenied
from challenges.extensions import db as _db
from challenges.mail import OutboxMessage
from challenges.models import Challenge
from tests.factories import make_challenge, make_user


@pytest.fixture
def people(db):
    return (make_user(email="author@example.gov", roles=("staff",)),
            make_user(email="editor@example.gov", roles=("staff",)),
            make_user(email="approver@example.gov", roles=("staff",)))


def _status(challenge_id: int) -> str:
    _db.session.expire_all()
    return _db.session.get(Challenge, challenge_id).status


EDITS = {
    "prizes": lambda actor, c: services.update_prizes(actor=actor, challenge=c, prize_total=2_000_000_000,
                                                      awards_md="All of it to one entry."),
    "rules": lambda actor, c: services.update_rules(actor=actor, challenge=c, eligibility_md="Anyone",
                                                    rules_md="New rules"),
    "criterion": lambda actor, c: services.save_criterion(
        actor=actor, phase=c.phases[0], criterion=c.phases[0].rubric.criteria[0], key="quality", name="Quality",
        weight=9, scale_min=1, scale_max=5),
}


@pytest.mark.parametrize("section", sorted(EDITS))
def test_an_editor_cannot_approve_what_they_changed(db, people, section):
    author, editor, approver = people
    challenge = make_challenge(author=author)
    EDITS[section](editor, challenge)
    services.submit_for_review(actor=editor, challenge=challenge)
    db.session.commit()
    assert editor.id in challenge.editor_ids and author.id in challenge.editor_ids

    with pytest.raises(PermissionDenied, match="You wrote or changed this challenge"):
        services.approve_and_publish(actor=editor, challenge=challenge)
    db.session.rollback()
    assert _status(challenge.id) == "in_review"
    # The approval request went to the one staff member who wrote none of it.
    asked = {m.to_addr for m in db.session.execute(select(OutboxMessage)).scalars()}
    assert asked == {"approver@example.gov"}

    services.approve_and_publish(actor=approver, challenge=challenge)
    db.session.commit()
    assert _status(challenge.id) == "published"


def test_withdraw_edit_and_approve_is_refused_and_the_review_page_says_why(client, db, people, login_as):
    author, editor, approver = people
    challenge = make_challenge(author=author)
    services.submit_for_review(actor=author, challenge=challenge)
    db.session.commit()
    login_as(editor)
    # Someone else's pending challenge: withdraw it, change the prizes, send it, try to approve it.
    assert client.post(f"/staff/challenges/{challenge.slug}/withdraw").status_code in (302, 303)
    saved = client.post(f"/staff/challenges/{challenge.slug}/prizes",
                        data={"prize_total": "2000000000", "awards_md": "Everything to one entry."})
    assert saved.status_code == 302, saved.text[:500]
    assert client.post(f"/staff/challenges/{challenge.slug}/submit", data={"note": ""}).status_code == 302
    page = client.get(f"/staff/challenges/{challenge.slug}/review").text
    assert "You wrote or changed this challenge" in page and "Approve and publish" not in page
    assert "written by author@example.gov, editor@example.gov." in page
    refused = client.post(f"/staff/challenges/{challenge.slug}/approve")
    assert refused.status_code == 403
    assert _status(challenge.id) == "in_review"

    login_as(approver)
    page = client.get(f"/staff/challenges/{challenge.slug}/review").text
    assert "Approve and publish" in page
    assert client.post(f"/staff/challenges/{challenge.slug}/approve").status_code == 302
    assert _status(challenge.id) == "published"


def test_a_refused_edit_does_not_make_an_editor(client, db, people, login_as):
    author, editor, _ = people
    challenge = make_challenge(author=author)
    db.session.commit()
    login_as(editor)
    refused = client.post(f"/staff/challenges/{challenge.slug}/prizes", data={"prize_total": "-5", "awards_md": ""})
    assert refused.status_code == 400
    _db.session.expire_all()
    assert _db.session.get(Challenge, challenge.id).editor_ids == [author.id]


def test_edits_after_approval_do_not_make_editors(db, people):
    """After publication there is no approval left to protect: later edits (allowed sections) leave the
    list as it was at approval."""
    author, editor, _ = people
    challenge = make_challenge(author=author, publish=True)
    before = list(challenge.editor_ids)
    assert services.can_edit(challenge, "prizes")
    services.update_prizes(actor=editor, challenge=challenge, prize_total=5, awards_md="x")
    db.session.commit()
    assert challenge.editor_ids == before and editor.id not in challenge.editor_ids

"""Refused status changes and deletes in the challenge editor say why on the page they came from, with
what was typed kept, instead of a bare error page whose only link goes home."""

from __future__ import annotations

import pytest

from challenges import services
from challenges.extensions import db as _db
from challenges.models import Challenge, Criterion, Phase
from tests.factories import make_challenge, make_definition, make_user


@pytest.fixture
def staff(db, login_as):
    user = make_user(email="refusals@example.gov", roles=("staff",))
    login_as(user)
    return user


def test_sending_an_incomplete_draft_lists_what_is_missing_on_the_overview(client, staff, db):
    challenge = make_challenge(author=staff, rules="")
    page = client.post(f"/staff/challenges/{challenge.slug}/submit", data={"note": "Please look at it today."})
    assert page.status_code == 400
    assert "There is a problem" in page.text and "This challenge is not complete yet." in page.text
    assert "Please look at it today.</textarea>" in page.text  # the note is kept
    assert "<h2>Completeness</h2>" in page.text  # the overview itself
    _db.session.expire_all()
    assert _db.session.get(Challenge, challenge.id).status == "draft"


def test_moving_back_without_a_reason_marks_the_reason_and_keeps_the_choice(client, staff, db):
    challenge = make_challenge(author=staff, publish=True)
    services.transition(actor=staff, challenge=challenge, to="closed")
    db.session.commit()
    page = client.post(f"/staff/challenges/{challenge.slug}/status", data={"to": "published", "reason": ""})
    assert page.status_code == 400
    assert '<a href="#reason">Reason: Say why the challenge moves back.</a>' in page.text
    assert '<option selected value="published">' in page.text or 'value="published" selected' in page.text
    _db.session.expire_all()
    assert _db.session.get(Challenge, challenge.id).status == "closed"


def test_deleting_the_last_phase_or_the_last_weighted_criterion_says_why_on_the_list(client, staff, db):
    challenge = make_challenge(author=staff)
    phase = challenge.phases[0]
    done = client.post(f"/staff/challenges/{challenge.slug}/phases/{phase.id}/delete", follow_redirects=True)
    assert done.status_code == 200 and "A challenge needs at least one phase" in done.text
    assert "Timeline" in done.text
    _db.session.expire_all()
    assert _db.session.get(Phase, phase.id) is not None

    weighted, other = phase.rubric.criteria
    other.weight = 0  # the only weighted criterion left is `weighted`
    db.session.commit()
    last = client.post(f"/staff/challenges/{challenge.slug}/phases/{phase.id}/rubric/{weighted.id}/delete",
                       follow_redirects=True)
    assert last.status_code == 200
    assert "usa-alert--error" in last.text and "A rubric needs at least one criterion with a weight" in last.text
    assert "Rubric" in last.text  # back on the rubric builder
    _db.session.expire_all()
    assert _db.session.get(Criterion, weighted.id) is not None


def test_who_may_do_it_is_still_a_403(client, db, login_as):
    author = make_user(email="writer@example.gov", roles=("staff",))
    challenge = make_challenge(author=author, **{k: v for k, v in make_definition().items() if k != "slug"})
    services.submit_for_review(actor=author, challenge=challenge)
    db.session.commit()
    login_as(author)
    assert client.post(f"/staff/challenges/{challenge.slug}/approve").status_code == 403

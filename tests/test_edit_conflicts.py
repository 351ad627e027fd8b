"""Two staff editing the same section: the later save started from an older version is refused with
the person's text kept (409), and saving again on purpose keeps it. Nothing is silently overwritten."""

from __future__ import annotations

import re

import pytest

from challenges.extensions import db as _db
from challenges.models import Challenge, Criterion, Phase
from tests.factories import make_challenge, make_user


def _version(page: str) -> str:
    found = re.search(r'id="version" name="version" type="hidden" value="([0-9a-f]+)"', page)
    assert found, "the edit form carries the version it started from"
    return found.group(1)


def _token(page: str) -> str:
    return re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.fixture
def two_editors(app, db):
    first = make_user(email="first@example.gov", roles=("staff",))
    second = make_user(email="second@example.gov", roles=("staff",))
    challenge = make_challenge(author=first)
    db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = True  # the forms as a browser posts them
    clients = []
    for user in (first, second):
        c = app.test_client()
        with c.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        clients.append(c)
    yield challenge, clients
    app.config["WTF_CSRF_ENABLED"] = False


def _general(challenge: Challenge, description: str, title: str) -> dict[str, str]:
    return {"title": title, "slug": challenge.slug, "agency": challenge.agency, "summary": challenge.summary,
            "description_md": description, "timezone": challenge.timezone}


def test_second_save_of_general_from_an_older_version_is_refused_and_kept(two_editors, db):
    challenge, (first, second) = two_editors
    url = f"/staff/challenges/{challenge.slug}/general"
    page_a, page_b = first.get(url).text, second.get(url).text
    assert _version(page_a) == _version(page_b)

    saved = second.post(url, data={**_general(challenge, "A paragraph the reviewer added.", challenge.title),
                                   "version": _version(page_b), "csrf_token": _token(page_b)})
    assert saved.status_code == 302
    late = first.post(url, data={**_general(challenge, challenge.description_md, "A better title"),
                                 "version": _version(page_a), "csrf_token": _token(page_a)})
    assert late.status_code == 409
    assert "Someone else saved this while you were editing" in late.text
    assert 'value="A better title"' in late.text  # what this person typed is still in the form
    _db.session.expire_all()
    stored = _db.session.get(Challenge, challenge.id)
    assert stored.description_md == "A paragraph the reviewer added." and stored.title != "A better title"

    # Saving again from the refused page (it now carries the current version) keeps this person's text.
    again = first.post(url, data={**_general(stored, stored.description_md, "A better title"),
                                  "version": _version(late.text), "csrf_token": _token(late.text)})
    assert again.status_code == 302
    _db.session.expire_all()
    stored = _db.session.get(Challenge, challenge.id)
    assert stored.title == "A better title" and stored.description_md == "A paragraph the reviewer added."


def test_the_same_rule_guards_phases_and_criteria(two_editors, db):
    challenge, (first, second) = two_editors
    phase = challenge.phases[0]
    criterion = phase.rubric.criteria[0]
    crit_url = f"/staff/challenges/{challenge.slug}/phases/{phase.id}/rubric/{criterion.id}"
    page_a, page_b = first.get(crit_url).text, second.get(crit_url).text

    def criterion_form(page: str, name: str) -> dict[str, str]:
        return {"key": criterion.key, "name": name, "weight": str(criterion.weight),
                "scale_min": str(criterion.scale_min), "scale_max": str(criterion.scale_max),
                "step": str(criterion.step), "required": "y", "higher_is_better": "y", "comment_rule": "never",
                "min_comment_chars": "0", "version": _version(page), "csrf_token": _token(page)}

    assert second.post(crit_url, data=criterion_form(page_b, "Technical quality")).status_code == 302
    late = first.post(crit_url, data=criterion_form(page_a, "Quality of the approach"))
    assert late.status_code == 409 and 'value="Quality of the approach"' in late.text
    _db.session.expire_all()
    assert _db.session.get(Criterion, criterion.id).name == "Technical quality"

    phase_url = f"/staff/challenges/{challenge.slug}/phases/{phase.id}"
    page_a, page_b = first.get(phase_url).text, second.get(phase_url).text
    opens, closes = (re.search(rf'id="{name}" name="{name}" required type="datetime-local" value="([^"]+)"',
                               page_a).group(1) for name in ("opens_at", "closes_at"))

    def phase_form(page: str, name: str) -> dict[str, str]:
        return {"key": phase.key, "name": name, "description_md": "", "opens_at": opens, "closes_at": closes,
                "grace_seconds": "0", "max_submissions_per_org": "1", "version": _version(page),
                "csrf_token": _token(page)}

    assert second.post(phase_url, data=phase_form(page_b, "Written concepts")).status_code == 302
    late = first.post(phase_url, data=phase_form(page_a, "Round one"))
    assert late.status_code == 409 and 'value="Round one"' in late.text
    _db.session.expire_all()
    assert _db.session.get(Phase, phase.id).name == "Written concepts"


def test_unchanged_rows_save_normally_and_an_old_version_alone_is_no_conflict(two_editors, db):
    """Only a change by someone else refuses: two saves in a row by the same person from fresh pages work."""
    challenge, (first, _) = two_editors
    url = f"/staff/challenges/{challenge.slug}/prizes"
    for total in ("1000", "2000"):
        page = first.get(url).text
        done = first.post(url, data={"prize_total": total, "awards_md": "One prize", "version": _version(page),
                                     "csrf_token": _token(page)})
        assert done.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Challenge, challenge.id).prize_total == 2000

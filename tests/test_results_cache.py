"""The staff leaderboard is computed once per method and data version (results.cache), and any change
to what it is computed from shows on the next view."""

from __future__ import annotations

import re

import pytest

from challenges.extensions import db as _db
from challenges.judging import results
from challenges.judging import services as judging
from tests.factories import close_submissions, make_assignment, make_challenge, make_judge, make_submission, make_user


@pytest.fixture(autouse=True)
def empty_cache():
    results.cache.clear()
    yield
    results.cache.clear()


def postgres_only() -> None:
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("data_version reads PostgreSQL row versions; on SQLite nothing is cached")


@pytest.fixture
def board(db):
    """Two entries, two judges, every review submitted: E0 gets 5/5 from both, E1 gets 4/4 from both."""
    phase = make_challenge(publish=True, slug="cached-board").phases[0]
    entries = []
    for n in range(2):
        vendor = make_user(email=f"cache{n}@v{n}.com", roles=("vendor",))
        entry, _ = make_submission(vendor, phase, organization_name=f"Cache Co {n}", submit=True)
        entries.append(entry)
    close_submissions(phase)
    judges = [make_judge(phase, f"cache-judge{j}@agency.gov") for j in range(2)]
    assignments = {}
    for n, entry in enumerate(entries):
        for judge in judges:
            a = make_assignment(judge, entry)
            value = str(5 - n)
            judging.save_review(actor=judge.user, assignment=a, values={"quality": value, "impact": value},
                                comments={}, submit=True)
            assignments[(n, judge.id)] = a
    _db.session.commit()
    staff = make_user(email="cache-staff@example.gov", roles=("staff",))
    url = f"/staff/challenges/cached-board/phases/{phase.id}/leaderboard"
    return {"phase": phase, "entries": entries, "judges": judges, "assignments": assignments, "staff": staff,
            "url": url}


def _first_entry(page_text: str, board) -> str:
    codes = [e.public_code for e in board["entries"]]
    return min(codes, key=page_text.index)


def test_a_changed_score_changes_the_page(client, login_as, board):
    login_as(board["staff"])
    before = client.get(board["url"])
    assert before.status_code == 200 and "100.00" in before.text  # E0: every criterion at the top of the scale
    assert _first_entry(before.text, board) == board["entries"][0].public_code
    assert client.get(board["url"]).text.count("100.00") == before.text.count("100.00")  # a second view agrees
    # One judge lowers E0 to 1/1: E0's mean falls from 100 to 50, below E1's 75.
    e0 = board["entries"][0]
    for judge in board["judges"][:1]:
        a = board["assignments"][(0, judge.id)]
        judging.save_review(actor=judge.user, assignment=a, values={"quality": "1", "impact": "1"}, comments={},
                            submit=True, reason="second look")
    _db.session.commit()
    after = client.get(board["url"])
    assert "50.00" in after.text and "75.00" in after.text
    assert _first_entry(after.text, board) == board["entries"][1].public_code
    assert results.fingerprint(board["phase"])["fingerprint"] in after.text
    assert e0.public_code in after.text


def _without_tokens(page: str) -> str:
    return re.sub(r'(name="csrf_token" value="|name="csrf-token" content=")[^"]*"', r'\1"', page)


def test_repeated_views_are_served_from_the_cache(client, login_as, board, monkeypatch):
    postgres_only()
    calls = []
    real = results.phase_leaderboard
    monkeypatch.setattr(results, "phase_leaderboard", lambda *a, **k: calls.append(k.get("method")) or real(*a, **k))
    login_as(board["staff"])
    first = client.get(board["url"]).text
    second = client.get(board["url"]).text
    # The form tokens carry a timestamp, so two renders a second apart differ there and only there.
    assert len(calls) == 1 and _without_tokens(first) == _without_tokens(second)
    client.get(board["url"] + "?method=median")
    assert calls == ["mean", "median"]  # each method is its own entry
    # A comment is an input too (the fingerprint covers it): changing it alone recomputes.
    judge = board["judges"][1]
    judging.save_review(actor=judge.user, assignment=board["assignments"][(1, judge.id)],
                        values={"quality": "4", "impact": "4"}, comments={"quality": "on reflection"}, submit=True,
                        reason="comment")
    _db.session.commit()
    third = client.get(board["url"]).text
    assert calls == ["mean", "median", "mean"] and results.fingerprint(board["phase"])["fingerprint"] in third


def test_data_version_moves_with_every_input(board):
    postgres_only()
    phase = board["phase"]
    seen = {results.data_version(phase)}

    def moved(change) -> None:
        change()
        _db.session.commit()
        version = results.data_version(phase)
        assert version not in seen, change.__doc__
        seen.add(version)

    a = board["assignments"][(1, board["judges"][0].id)]
    entry = board["entries"][1]

    def score():
        """a score's value"""
        a.review.scores[0].value = 2.0

    def comment():
        """a score's comment"""
        a.review.scores[1].comment = "clearer now"

    def assignment():
        """an assignment withdrawn"""
        a.status = "removed"

    def status():
        """an entry disqualified"""
        entry.status = "disqualified"

    def name():
        """the organisation's name (a title)"""
        entry.organization.legal_name = "Renamed Co"

    def weight():
        """a criterion's weight"""
        phase.rubric.criteria[0].weight = 7

    def settings():
        """the phase's quorum"""
        phase.quorum = 1

    def email():
        """a judge's email"""
        board["judges"][1].email = "renamed-judge@agency.gov"

    for change in (score, comment, assignment, status, name, weight, settings, email):
        moved(change)
    # Nothing changed, nothing moves (so the cache is used at all).
    assert results.data_version(phase) in seen and results.data_version(phase) == results.data_version(phase)


def test_an_unchanged_score_does_not_touch_its_review(board):
    """The review's row is rewritten only when a score's inputs change (redacting a comment is not one)."""
    a = board["assignments"][(0, board["judges"][0].id)]
    stamp = a.review.updated_at
    a.review.scores[0].comment_redacted = True
    a.review.scores[1].value = a.review.scores[1].value
    _db.session.commit()
    assert a.review.updated_at == stamp
    a.review.scores[1].value = 3.0
    _db.session.commit()
    assert a.review.updated_at > stamp

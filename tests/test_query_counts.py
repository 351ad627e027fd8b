"""Pages do not issue more SQL as the number of entries grows (no N+1 queries)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from challenges.extensions import db as _db
from challenges.judging import services as judging
from tests.factories import close_submissions, make_assignment, make_challenge, make_judge, make_submission, make_user


@contextmanager
def counting(app):
    statements: list[str] = []
    with app.app_context():
        engine = _db.engine

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def world(size: int):
    phase = make_challenge(publish=True, slug=f"queries-{size}").phases[0]
    entries = []
    for n in range(size):
        vendor = make_user(email=f"q{size}-{n}@v{n}.com", roles=("vendor",))
        entry, _ = make_submission(vendor, phase, organization_name=f"Q{size} Co {n}", submit=True)
        entries.append(entry)
    close_submissions(phase)
    judges = [make_judge(phase, f"q{size}-judge{j}@agency.gov", max_load=size) for j in range(2)]
    assignments = [make_assignment(judge, entry) for entry in entries for judge in judges]
    for a in assignments[: len(assignments) // 2]:
        judging.save_review(actor=a.panel_member.user, assignment=a, values={"quality": "4", "impact": "3"},
                            comments={}, submit=True)
    _db.session.commit()
    return phase, judges[0], assignments[0]


@pytest.mark.parametrize("page", ["queue", "entry", "leaderboard", "statistics", "progress", "assignments"])
def test_queries_do_not_grow_with_entries(app, db, client, login_as, page):
    counts = []
    for size in (3, 12):
        phase, judge, assignment = world(size)
        staff = make_user(email=f"qstaff{size}@example.gov", roles=("staff",))
        base = f"/staff/challenges/{phase.challenge.slug}/phases/{phase.id}"
        url, who = {"queue": ("/judging/", judge.user), "entry": (f"/judging/entries/{assignment.id}", judge.user),
                    "leaderboard": (f"{base}/leaderboard", staff), "statistics": (f"{base}/statistics", staff),
                    "progress": (f"{base}/progress", staff), "assignments": (f"{base}/assignments", staff)}[page]
        login_as(who)
        client.get(url)  # warm caches (the zone list and the like)
        with counting(app) as statements:
            assert client.get(url).status_code == 200
        counts.append(len(statements))
    assert counts[1] == counts[0], f"{page}: {counts[0]} queries with 3 entries, {counts[1]} with 12"


def test_award_report_appendix_reads_reviews_in_one_query_per_chunk(app, db):
    """The appendix's score sheets: one query for all reviews of a chunk, however many entries it holds."""
    from challenges.judging import report

    counts = []
    for size in (3, 12):
        phase, _, _ = world(size)
        db.session.expire_all()
        entries = judging.entries(phase)
        report.appendix_sheets(phase, {}, entries[:1])  # warm the identity map (rubric, criteria)
        with counting(app) as statements:
            sheets = report.appendix_sheets(phase, {}, entries)
        counts.append(len(statements))
        assert len(sheets) == size
        assert sum(len(s["reviews"]) for s in sheets) == size  # half of 2 x size reviews are submitted
        assert all(r["judge"] == "Judge ?" and r["values"] for s in sheets for r in s["reviews"])
    assert counts[0] == counts[1], counts

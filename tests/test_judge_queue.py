"""The judge's queue page reads columns (services.queue_lines) and one judge's conflicts
(services.conflicted_entries); both must say exactly what the object-loading rules say."""

from __future__ import annotations

from datetime import timedelta

import pytest

from challenges.extensions import db as _db
from challenges.judging import services as judging
from challenges.judging.models import Bid, Conflict
from tests.factories import close_submissions, make_assignment, make_challenge, make_judge, make_submission, make_user


@pytest.fixture(params=[False, True], ids=["open", "blind"])
def panel(db, request):
    phase = make_challenge(publish=True, slug="queue-blind" if request.param else "queue-open").phases[0]
    phase.blind = request.param
    entries = []
    for n in range(5):
        vendor = make_user(email=f"queue{n}@v{n}.com", roles=("vendor",))
        entry, _ = make_submission(vendor, phase, organization_name=f"Queue Co {n}", submit=True)
        entries.append(entry)
    entries[0].answers = {**entries[0].answers, "title": "A titled entry"}
    close_submissions(phase)
    judges = [make_judge(phase, f"queue-judge{j}@agency.gov") for j in range(3)]
    assignments = {(j, n): make_assignment(judge, entry) for j, judge in enumerate(judges)
                   for n, entry in enumerate(entries)}
    judging.save_review(actor=judges[0].user, assignment=assignments[(0, 1)], values={"quality": "4", "impact": "3"},
                        comments={}, submit=True)
    judging.save_review(actor=judges[0].user, assignment=assignments[(0, 2)], values={"quality": "4"}, comments={})
    # Conflicts written as rows, so that every kind the rule knows is present at once (the services would
    # withdraw the assignments, which hides what the page filters).
    rows = [Conflict(phase_id=phase.id, panel_member_id=judges[1].id, source="declared", status="active",
                     submission_id=entries[3].id),
            Conflict(phase_id=phase.id, panel_member_id=judges[1].id, source="suspected", status="suspected",
                     organization_id=entries[4].organization_id),
            Conflict(phase_id=phase.id, panel_member_id=judges[2].id, source="declared", status="dismissed",
                     submission_id=entries[0].id),
            Bid(panel_member_id=judges[2].id, submission_id=entries[2].id, value="no"),
            Bid(panel_member_id=judges[2].id, submission_id=entries[1].id, value="maybe")]
    _db.session.add_all(rows)
    _db.session.commit()
    return phase, judges


def test_conflicted_entries_is_conflicted_pairs_for_one_judge(panel):
    phase, judges = panel
    pairs = judging.conflicted_pairs(phase)
    for judge in judges:
        assert judging.conflicted_entries(judge) == {s for m, s in pairs if m == judge.id}
    assert [len(judging.conflicted_entries(j)) for j in judges] == [0, 2, 1]


def test_queue_lines_are_the_queue(panel):
    phase, judges = panel
    for judge in judges:
        (member, assignments), = judging.queue(judge.user)
        (line_member, lines), = judging.queue_lines(judge.user)
        assert line_member is member
        assert [(a.id, a.submission.public_code, judging.entry_title(a.submission),
                 a.review.status if a.review else None) for a in assignments] == \
            [(e.assignment_id, e.public_code, e.title, e.review_status) for e in lines]
    titles = {e.title for e in judging.queue_lines(judges[0].user)[0][1]}
    if phase.blind:
        assert "A titled entry" in titles and not any("Queue Co" in t for t in titles)
    else:
        assert "A titled entry" in titles and "Queue Co 1" in titles


def test_queue_page_lists_lines(client, login_as, panel):
    _, judges = panel
    login_as(judges[0].user)
    page = client.get("/judging/")
    assert page.status_code == 200 and "1 of 5 reviews submitted." in page.text
    assert page.text.count("Not started") == 3 and ">Draft<" in page.text and ">Submitted<" in page.text


def test_open_panels_with_work_left_come_first(db):
    """A judge on several panels sees first the one where scoring is open and entries wait."""
    user = make_user(email="busy@agency.gov", roles=("judge",))
    phases = [make_challenge(publish=True, slug=f"queue-order-{n}").phases[0] for n in range(2)]
    waiting = phases[0]  # opened for scoring, with an entry to score
    phases[1].closes_at = waiting.closes_at + timedelta(days=30)  # newest phase: listed first by date alone
    vendor = make_user(email="q-order@v.com", roles=("vendor",))
    entry, _ = make_submission(vendor, waiting, organization_name="Order Co", submit=True)
    close_submissions(waiting)
    member = make_judge(waiting, user=user)
    make_assignment(member, entry)
    make_judge(phases[1], user=user)  # still taking applications: nothing to score yet
    order = [m.phase_id for m, _ in judging.queue_lines(user)]
    assert order == [waiting.id, phases[1].id]

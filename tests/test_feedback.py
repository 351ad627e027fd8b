"""Feedback: redact, release, the vendor's page and PDF with anonymised judges; nothing before release."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from challenges.errors import Conflict, NotFound
from challenges.judging import feedback
from challenges.judging import services as judging
from challenges.judging.models import Score
from challenges.mail import OutboxMessage
from tests.factories import close_submissions, make_assignment, make_challenge, make_judge, make_submission, make_user


@pytest.fixture
def reviewed(db):
    phase = make_challenge(publish=True, slug="fed-back").phases[0]
    vendor = make_user(email="owner@applicant.com", roles=("vendor",))
    mine, _ = make_submission(vendor, phase, organization_name="Applicant Co", submit=True)
    other_vendor = make_user(email="rival@rival.com", roles=("vendor",))
    theirs, _ = make_submission(other_vendor, phase, organization_name="Rival Co", submit=True)
    close_submissions(phase)
    for n, (q_mine, q_theirs) in enumerate([(5, 2), (4, 3)]):
        judge = make_judge(phase, f"secret.judge{n}@agency.gov")
        for entry, quality in ((mine, q_mine), (theirs, q_theirs)):
            a = make_assignment(judge, entry)
            judging.save_review(actor=judge.user, assignment=a, values={"quality": str(quality), "impact": "3"},
                                comments={"quality": f"Comment {n} on {entry.public_code}"},
                                overall_comment=f"Overall {n}", submit=True)
    staff = make_user(email="fb.staff@example.gov", roles=("staff",))
    db.session.commit()
    return phase, mine, theirs, vendor, staff


def test_nothing_before_release_then_anonymised_feedback(client, login_as, db, reviewed):
    phase, mine, theirs, vendor, staff = reviewed
    with pytest.raises(NotFound):
        feedback.for_vendor(mine)
    login_as(vendor)
    assert client.get(f"/vendor/applications/{mine.id}/feedback").status_code == 404

    hidden = db.session.execute(select(Score).where(Score.comment == f"Comment 1 on {mine.public_code}")).scalar_one()
    feedback.set_redaction(actor=staff, target=hidden, redacted=True)
    with pytest.raises(Conflict, match="Close judging"):
        feedback.release(actor=staff, phase=phase)  # judges could still change what vendors read
    assert phase.feedback_released_at is None
    judging.close_judging(actor=staff, phase=phase)
    sent = feedback.release(actor=staff, phase=phase)
    db.session.commit()
    assert sent == 2
    with pytest.raises(Conflict, match="reopening judging would change what applicants have read"):
        judging.close_judging(actor=staff, phase=phase, reopen=True)
    with pytest.raises(Conflict):
        feedback.release(actor=staff, phase=phase)
    assert db.session.execute(select(OutboxMessage).where(OutboxMessage.template == "feedback_released",
                                                          OutboxMessage.to_addr == "owner@applicant.com")).scalar_one()

    login_as(vendor)
    dashboard = client.get("/vendor/").text
    assert f'href="/vendor/applications/{mine.id}/feedback">Read your feedback' in dashboard
    data = feedback.for_vendor(mine)
    quality = next(c for c in data["criteria"] if c.key == "quality")
    # Two judged entries: the field's figures would give the rival's scores away, so none are shown.
    assert quality.yours == 4.5 and (quality.field_q1, quality.field_median, quality.field_q3) == (None, None, None)
    assert data["field"] is None and data["judged_entries"] == 2
    assert quality.comments == [("Judge A", f"Comment 0 on {mine.public_code}")]  # the hidden one is gone
    page = client.get(f"/vendor/applications/{mine.id}/feedback")
    assert page.status_code == 200 and "Judge A" in page.text and "Overall 1" in page.text
    assert "secret.judge" not in page.text and f"Comment 1 on {mine.public_code}" not in page.text
    assert theirs.public_code not in page.text  # another entry's comments never appear
    assert "Only 2 entries had counted reviews, so no figures for the field are shown" in page.text
    # The rival's quality mean (2.5) and review total (42.5) appear nowhere.
    assert not re.search(r"(?<![\d.])(2\.5|42\.5)(?!\d)", page.text) and "Field median" not in page.text
    pdf = client.get(f"/vendor/applications/{mine.id}/feedback.pdf")
    reader = PdfReader(io.BytesIO(pdf.data))
    text = "".join(p.extract_text() for p in reader.pages)
    assert mine.public_code in text and "Judge A" in text and "secret.judge" not in text
    assert "no figures for the field are shown" in text.replace("\n", " ")
    assert not re.search(r"(?<![\d.])(2\.5|42\.5)(?!\d)", text)
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/Lang"] == "en"
    login_as(make_user(email="stranger@elsewhere.com", roles=("vendor",)))
    assert client.get(f"/vendor/applications/{mine.id}/feedback").status_code == 404


def test_staff_feedback_page_hides_and_releases(client, login_as, db, reviewed):
    phase, mine, _, _, staff = reviewed
    url = f"/staff/challenges/fed-back/phases/{phase.id}/feedback"
    login_as(staff)
    page = client.get(url)
    assert page.status_code == 200 and f"Comment 0 on {mine.public_code}" in page.text
    score = db.session.execute(select(Score).where(Score.comment == f"Comment 0 on {mine.public_code}")).scalar_one()
    assert f'value="hide-score-{score.id}">Hide' in page.text
    hidden = client.post(url, data={"action": f"hide-score-{score.id}"}, follow_redirects=True)
    assert "Comment hidden from the applicant." in hidden.text and f'value="show-score-{score.id}">Show' in hidden.text
    # The same request again (a double click, a resent form) leaves it hidden and records nothing more.
    again = client.post(url, data={"action": f"hide-score-{score.id}"}, follow_redirects=True)
    assert "That comment was already hidden." in again.text
    db.session.expire_all()
    assert db.session.get(Score, score.id).comment_redacted
    assert len(_audit(db, "feedback.redacted")) == 1
    shown = client.post(url, data={"action": f"show-score-{score.id}"}, follow_redirects=True)
    assert "Comment shown again." in shown.text
    assert "That comment was already shown." in client.post(url, data={"action": f"show-score-{score.id}"},
                                                             follow_redirects=True).text
    db.session.expire_all()
    assert not db.session.get(Score, score.id).comment_redacted and len(_audit(db, "feedback.unredacted")) == 1
    review = score.review
    assert client.post(url, data={"action": f"hide-review-{review.id}"}).status_code == 302
    assert client.post(url, data={"action": f"hide-review-{review.id}"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(type(review), review.id).overall_redacted and len(_audit(db, "feedback.redacted")) == 2
    assert client.post(url, data={"action": "hide-score-999999"}).status_code == 404
    for bad in (f"score-{score.id}", f"toggle-score-{score.id}", "hide-judge-1", "hide-score-", "hide-score-x",
                "hide-score-99999999999999999999"):
        assert client.post(url, data={"action": bad}).status_code == 400, bad
    db.session.expire_all()
    assert db.session.get(Score, score.id).comment_redacted is False
    assert "Close judging</a> before releasing feedback" in client.get(url).text
    assert "Release feedback</button>" not in client.get(url).text
    refused = client.post(url, data={"action": "release"}, follow_redirects=True)  # refused, nothing released
    assert refused.status_code == 200 and "Close judging for this phase first" in refused.text
    db.session.expire_all()
    assert db.session.get(type(phase), phase.id).feedback_released_at is None
    judging.close_judging(actor=staff, phase=phase)
    db.session.commit()
    assert "Release feedback</button>" in client.get(url).text
    assert client.post(url, data={"action": "release"}).status_code == 302
    assert "Released" in client.get(url).text


def _audit(db, action: str) -> list:
    from challenges.audit import AuditEvent

    return db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


def test_set_redaction_is_idempotent(db, reviewed):
    _phase, mine, _, _, staff = reviewed
    score = db.session.execute(select(Score).where(Score.comment == f"Comment 0 on {mine.public_code}")).scalar_one()
    assert feedback.set_redaction(actor=staff, target=score, redacted=True) is True
    assert feedback.set_redaction(actor=staff, target=score, redacted=True) is False
    assert score.comment_redacted and len(_audit(db, "feedback.redacted")) == 1
    assert feedback.set_redaction(actor=staff, target=score, redacted=False) is True
    assert feedback.set_redaction(actor=staff, target=score, redacted=False) is False
    assert not score.comment_redacted and len(_audit(db, "feedback.unredacted")) == 1


@pytest.fixture
def field_of_five(db):
    """Five entries with two judges each. Quality means 1.5, 2.5, 3.0 (mine), 4.0 and 4.5; impact always 3.
    Review totals are 15 * (quality - 1) + 20: entry means 27.5, 42.5, 50, 65 and 72.5."""
    phase = make_challenge(publish=True, slug="field-five").phases[0]
    quality = [(1, 2), (2, 3), (3, 3), (4, 4), (4, 5)]
    entries = []
    for n in range(5):
        vendor = make_user(email=f"owner{n}@field{n}.com", roles=("vendor",))
        entries.append(make_submission(vendor, phase, organization_name=f"Field Co {n}", submit=True)[0])
    close_submissions(phase)
    for j in range(2):
        judge = make_judge(phase, f"field.judge{j}@agency.gov")
        for entry, scores in zip(entries, quality, strict=True):
            judging.save_review(actor=judge.user, assignment=make_assignment(judge, entry),
                                values={"quality": str(scores[j]), "impact": "3"}, comments={}, submit=True)
    staff = make_user(email="field.staff@example.gov", roles=("staff",))
    judging.close_judging(actor=staff, phase=phase)
    feedback.release(actor=staff, phase=phase)
    db.session.commit()
    return phase, entries


def test_the_field_is_shown_by_its_quartiles_never_its_extremes(client, login_as, db, field_of_five):
    _phase, entries = field_of_five
    mine = entries[2]
    data = feedback.for_vendor(mine)
    quality = next(c for c in data["criteria"] if c.key == "quality")
    assert (quality.yours, quality.field_q1, quality.field_median, quality.field_q3) == (3.0, 2.5, 3.0, 4.0)
    impact = next(c for c in data["criteria"] if c.key == "impact")
    assert (impact.field_q1, impact.field_median, impact.field_q3) == (3.0, 3.0, 3.0)
    assert data["field"] == {"entries": 5, "q1": 42.5, "median": 50.0, "q3": 65.0} and data["total"] == 50.0
    assert not hasattr(quality, "field_min") and "min" not in data["field"] and "max" not in data["field"]
    login_as(mine.organization.memberships[0].user)
    page = client.get(f"/vendor/applications/{mine.id}/feedback").text
    assert "Field 25th percentile" in page and "Field 75th percentile" in page and "Field lowest" not in page
    assert ("the middle half of the totals lay between 42.50 (25th percentile) and 65.00 (75th percentile), "
            "with a median of 50.00") in page
    pdf = client.get(f"/vendor/applications/{mine.id}/feedback.pdf")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).replace("\n", " ")
    assert "42.50 (25th percentile) and 65.00 (75th percentile)" in text and "Field 25th" in text
    for extreme in ("1.5", "4.5", "27.5", "72.5"):  # the lowest and highest entries' figures
        pattern = rf"(?<![\d.]){re.escape(extreme)}(?!\d)"
        assert not re.search(pattern, page) and not re.search(pattern, text), extreme


def test_statistics_page_names_criteria_and_shows_the_whole_scale(client, login_as, db, reviewed):
    """Criteria by name with their scale; a histogram bar for every point of a 1-5 scale, given or not."""
    phase, _, _, _, staff = reviewed
    login_as(staff)
    page = client.get(f"/staff/challenges/fed-back/phases/{phase.id}/statistics").text
    assert '<th scope="row">Impact</th><td>1–5</td>' in page and "<h3>Impact (1–5)</h3>" in page
    impact = page.split("<h3>Impact (1–5)</h3>")[1].split("</figure>")[0]
    assert [f">score {n}<" in impact for n in range(1, 6)] == [True] * 5  # only 3 was ever given
    judges = page.split("<h2>Judges</h2>")[1].split("<h2>Criteria</h2>")[0]
    assert judges.count("few reviews</span>") == 2  # two judges with two reviews each: flagged as thin

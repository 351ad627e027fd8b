"""Feedback: redact, release, the vendor's page and PDF with anonymised judges; nothing before release."""

from __future__ import annotations

import io

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
    assert quality.yours == 4.5 and (quality.field_min, quality.field_max) == (2.5, 4.5)
    assert quality.comments == [("Judge A", f"Comment 0 on {mine.public_code}")]  # the hidden one is gone
    page = client.get(f"/vendor/applications/{mine.id}/feedback")
    assert page.status_code == 200 and "Judge A" in page.text and "Overall 1" in page.text
    assert "secret.judge" not in page.text and f"Comment 1 on {mine.public_code}" not in page.text
    assert theirs.public_code not in page.text  # another entry's comments never appear
    pdf = client.get(f"/vendor/applications/{mine.id}/feedback.pdf")
    reader = PdfReader(io.BytesIO(pdf.data))
    text = "".join(p.extract_text() for p in reader.pages)
    assert mine.public_code in text and "Judge A" in text and "secret.judge" not in text
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
    assert client.post(url, data={"action": f"score-{score.id}"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Score, score.id).comment_redacted
    assert client.post(url, data={"action": "score-999999"}).status_code == 404
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

"""The award report PDF: entry codes in rank order, the fingerprint on every page, the method, tagged;
cached by fingerprint; the renderer cannot fetch anything but its own assets."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from challenges.jobs import Job
from challenges.judging import report, results
from challenges.models import Challenge
from tests.test_results_cli import panel_p  # noqa: F401 - the fixture


def _phase(db):
    return db.session.execute(select(Challenge).where(Challenge.slug == "panel-p")).scalar_one().phases[0]


def test_report_pdf_contents_and_tags(db, panel_p, run_cli, tmp_path):  # noqa: F811
    out = tmp_path / "report.pdf"
    result = run_cli("reports", "award", "panel-p", "--phase", "phase-1", "-o", str(out))
    assert result.exit_code == 0, result.output
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    phase = _phase(db)
    print_ = results.fingerprint(phase)["fingerprint"]
    assert print_ in result.output
    leaderboard_part = text.split("6. Leaderboard")[1].split("7. Charts")[0]
    positions = [leaderboard_part.index(panel_p[e]) for e in ("E1", "E3", "E2", "E4")]
    assert positions == sorted(positions)  # rank order (mean)
    assert "ranking method: mean" in text and "Krippendorff" in text and "Appendix: score sheets" in text
    for number, page in enumerate(reader.pages, start=1):
        footer = page.extract_text().replace("\n", " ")
        assert print_ in footer.replace(" ", "") or print_ in page.extract_text().replace("\n", "")
        assert f"Page {number}" in footer  # numbered straight through, appendix included
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/Lang"] == "en"
    assert reader.metadata.title.startswith("Award report")


def test_report_job_is_cached_by_fingerprint(client, login_as, db, panel_p):  # noqa: F811
    phase = _phase(db)
    login_as("staff")
    url = f"/staff/challenges/panel-p/phases/{phase.id}/award-report"
    first = client.post(url, data={"method": "mean"})
    again = client.post(url, data={"method": "mean"})
    assert first.status_code == 302 and first.headers["Location"] == again.headers["Location"]
    other = client.post(url, data={"method": "median"})
    assert other.headers["Location"] != first.headers["Location"]  # other settings, other fingerprint
    jobs = db.session.execute(select(Job).where(Job.name == "reports.award")).scalars().all()
    assert len(jobs) == 2 and all(j.status == "done" for j in jobs)
    pdf = client.get(first.headers["Location"].replace("/staff/jobs/", "/staff/jobs/", 1) + "/download")
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data", "file:///etc/passwd",
                                 "report-asset:///../../config.py", "report-asset:///nope.css"])
def test_url_fetcher_reads_only_report_assets(url):
    with pytest.raises(ValueError):
        report.url_fetcher(url)
    assert report.url_fetcher("report-asset:///report.css")["mime_type"] == "text/css"


def test_a_comment_cannot_make_the_renderer_fetch(db, panel_p):  # noqa: F811
    """Markup in a judge's comment is printed as text in a vendor's feedback PDF, never loaded."""
    from challenges.accounts.services import get_system_user
    from challenges.judging import feedback
    from challenges.judging.models import Score

    score = db.session.execute(select(Score)).scalars().first()
    score.comment = '<img src="http://169.254.169.254/x">'
    feedback.release(actor=get_system_user(), phase=_phase(db))
    db.session.commit()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(feedback.pdf(
        score.review.assignment.submission))).pages)
    assert '<img src="http://169.254.169.254/x">' in text

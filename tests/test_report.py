"""The award report PDF: entry codes in rank order, the fingerprint on every page, the method, tagged;
cached by fingerprint; the renderer cannot fetch anything but its own assets."""

from __future__ import annotations

import io
import re

import pikepdf
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
    page = client.get(first.headers["Location"]).text
    assert "<h1>Award report (PDF)</h1>" in page and "data fingerprint" in page and "manifest.csv" not in page
    assert f'href="/staff/challenges/panel-p/phases/{phase.id}/leaderboard">Back to the leaderboard' in page
    pdf = client.get(first.headers["Location"] + "/download")
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"


def _report_text(client, location: str) -> str:
    pdf = client.get(location + "/download")
    assert pdf.status_code == 200
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)


def test_report_is_built_again_when_anything_it_prints_changes(client, login_as, db, panel_p):  # noqa: F811
    """Awards, entry statuses, the panel and the challenge's status are printed but not in the scores
    fingerprint: each change gives a new report; an unchanged state keeps reusing the cached one."""
    from challenges import services as core
    from challenges.judging import awards
    from challenges.judging.models import PanelMember
    from challenges.submissions.models import Submission
    from challenges.timezones import format_human
    from tests.factories import make_user

    phase = _phase(db)
    author = make_user(email="ada@example.gov", roles=("staff",), name="Ada Author")
    approver = make_user(email="abe@example.gov", roles=("staff",), name="Abe Approver")
    login_as("staff")
    url = f"/staff/challenges/panel-p/phases/{phase.id}/award-report"

    def location() -> str:
        response = client.post(url, data={"method": "mean"})
        assert response.status_code == 302
        return response.headers["Location"]

    seen = [location()]
    assert location() == seen[0]  # nothing changed: the cached report
    print_ = results.fingerprint(phase)["fingerprint"]
    award = awards.record_award(actor=author, phase=phase, submission=db.session.execute(select(Submission).where(
        Submission.public_code == panel_p["E1"])).scalar_one(), place=1, title="Grand prize", amount=500,
        justification="Best overall.", override_reason="The panel agreed.")
    db.session.commit()
    seen.append(location())
    awards.approve_award(actor=approver, award=award)
    db.session.commit()
    seen.append(location())
    assert location() == seen[-1]
    text = _report_text(client, seen[-1])
    assert "Grand prize" in text and "Recorded by Ada Author" in text and "Approved by Abe Approver" in text
    assert format_human(award.approved_at, phase.challenge.timezone) in text.replace("\n", " ")
    assert "Rank now 1" in text and "Flags now none" in text and "Flags when recorded none" in text
    assert "Panel's note: The panel agreed." in text  # given although the entry was not flagged
    assert "No award has been approved" in _report_text(client, seen[0])  # the old file was not overwritten
    member = db.session.execute(select(PanelMember).order_by(PanelMember.id)).scalars().first()
    member.agency = "Department of Examples"  # printed in the panel table
    db.session.commit()
    seen.append(location())
    core.submit_for_review(actor=author, challenge=phase.challenge)  # draft -> in review
    db.session.commit()
    seen.append(location())
    assert results.fingerprint(phase)["fingerprint"] == print_  # none of this moved the scores fingerprint
    assert len(set(seen)) == len(seen) == 5
    jobs = db.session.execute(select(Job).where(Job.name == "reports.award")).scalars().all()
    assert len(jobs) == 5 and all(j.status == "done" for j in jobs)


def test_report_with_an_unknown_method_is_refused(client, login_as, db, panel_p):  # noqa: F811
    phase = _phase(db)
    login_as("staff")
    response = client.post(f"/staff/challenges/panel-p/phases/{phase.id}/award-report", data={"method": "vibes"})
    assert response.status_code == 400
    assert "Choose a ranking method for the report: mean, median, trimmed, zscore, calibrated, borda." in response.text
    assert not db.session.execute(select(Job).where(Job.name == "reports.award")).scalars().all()


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
    from challenges.judging import services as judging

    judging.close_judging(actor=get_system_user(), phase=_phase(db))
    feedback.release(actor=get_system_user(), phase=_phase(db))
    db.session.commit()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(feedback.pdf(
        score.review.assignment.submission))).pages)
    assert '<img src="http://169.254.169.254/x">' in text


def _outline(pdf: pikepdf.Pdf) -> list[tuple[int, str, int, float | None]]:
    def walk(items, depth=0):
        found = []
        for item in items:
            destination = item.destination
            top = round(float(destination[3]), 1) if len(destination) > 3 else None
            found.append((depth, str(item.title), pdf.pages.index(pikepdf.Page(destination[0])), top))
            found += walk(item.children, depth + 1)
        return found

    with pdf.open_outline() as outline:
        return walk(outline.root)


def _structure(pdf: pikepdf.Pdf) -> dict[str, int]:
    """Structure elements by type; asserts along the way that every page's marked content resolves."""
    counts: dict[str, int] = {}

    def walk(elem):
        if isinstance(elem, pikepdf.Dictionary) and elem.get("/Type") == "/StructElem":
            counts[str(elem.S)] = counts.get(str(elem.S), 0) + 1
            kids = elem.get("/K")
            for kid in kids if isinstance(kids, pikepdf.Array) else [kids] if kids is not None else []:
                walk(kid)

    root = pdf.Root.StructTreeRoot
    for kid in root.K:
        walk(kid)
    nums = root.ParentTree.Nums
    keys = [int(nums[n]) for n in range(0, len(nums), 2)]
    tree = dict(zip(keys, [nums[n + 1] for n in range(0, len(nums), 2)], strict=True))
    assert len(set(keys)) == len(keys), "parent-tree keys are unique"
    for page in pdf.pages:
        marked = {int(m) for m in re.findall(rb"/MCID (\d+)", page.obj.Contents.read_bytes())}
        assert marked, "every page has tagged content"
        elements = tree[int(page.obj.StructParents)]
        assert max(marked) < len(elements)
        assert all(elements[m].get("/Type") == "/StructElem" for m in marked)
    return counts


def test_parallel_report_is_the_same_document(db, panel_p, monkeypatch, app):  # noqa: F811
    """Parts rendered in other processes and joined: the same pages, text, page numbers, outline and
    structure tree as the report rendered in one pass (PDF/UA: every page tagged)."""
    monkeypatch.setattr(report, "APPENDIX_CHUNK", 1)  # four entries: four appendix parts
    phase = _phase(db)
    with app.test_request_context():
        one = pikepdf.open(io.BytesIO(report.render(phase)))
        two_bytes = report.render(phase, workers=2)
    two = pikepdf.open(io.BytesIO(two_bytes))
    assert len(one.pages) == len(two.pages) >= 4
    reader_two = PdfReader(io.BytesIO(two_bytes))
    for number, page in enumerate(reader_two.pages, start=1):
        assert f"Page {number}" in page.extract_text()  # numbered straight through across the parts
    appendix = "".join(p.extract_text() for p in reader_two.pages).split("Appendix: score sheets")[-1]
    positions = [appendix.index(panel_p[e]) for e in ("E1", "E3", "E2", "E4")]
    assert positions == sorted(positions)  # the parts in rank order
    assert _outline(two) == _outline(one)
    assert [title for _, title, _, _ in _outline(two)].count("Appendix: score sheets") == 1
    assert _structure(two) == _structure(one)
    assert str(two.Root.Lang) == "en" and two.Root.MarkInfo.Marked
    assert str(two.open_metadata().get("dc:title")).startswith("Award report")


def test_merge_keeps_links_tagged():
    """Link annotations of appended parts keep pointing at their own structure elements."""
    from weasyprint import HTML

    from challenges.judging import pdfmerge

    def part(n: int) -> bytes:
        return HTML(string=f'<html lang="en"><title>Part {n}</title><body><h1>Part {n}</h1>'
                           f'<p>See <a href="https://example.gov/{n}">source {n}</a>.</p></body></html>'
                    ).write_pdf(pdf_variant="pdf/ua-1")

    merged = pikepdf.open(io.BytesIO(pdfmerge.merge_tagged(part(0), [part(1), part(2)])))
    nums = merged.Root.StructTreeRoot.ParentTree.Nums
    tree = {int(nums[n]): nums[n + 1] for n in range(0, len(nums), 2)}
    links = [a for page in merged.pages for a in page.obj.get("/Annots", [])]
    assert [str(a.A.URI) for a in links] == [f"https://example.gov/{n}" for n in range(3)]
    keys = [int(a.StructParent) for a in links] + [int(p.obj.StructParents) for p in merged.pages]
    assert len(set(keys)) == len(keys) == 6
    for annotation in links:
        element = tree[int(annotation.StructParent)]
        assert element.S == "/Link" and element.K[0].Obj.objgen == annotation.objgen
    assert int(merged.Root.StructTreeRoot.ParentTreeNextKey) == max(keys) + 1
    assert [str(i.title) for i in merged.open_outline().root] == ["Part 0", "Part 1", "Part 2"]

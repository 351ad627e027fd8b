"""Award report benchmark (not a test): prints figures as ratios to baselines measured in the same run.

500 entries x 3 judges x 4 criteria (BENCH_ENTRIES to change).
1. The whole report (figures, HTML, PDF) as a ratio to WeasyPrint rendering that final HTML alone
   (goal <= 1.2).
2. The report with the main part and the appendix chunks rendered in parallel on both cores and joined
   into one tagged, continuously numbered document (challenges.judging.pdfmerge, on qpdf through
   pikepdf; the issue names pypdf, whose merge alone took 14 s here) as a ratio to one process
   (goal <= 0.65). The two files are checked to have the same pages and page numbers.
Uses DATABASE_URL when set, else SQLite.

Run: .venv/bin/python bench/report.py
"""

from __future__ import annotations

import gc
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENTRIES = int(os.environ.get("BENCH_ENTRIES", "500"))


def build() -> int:
    import numpy as np
    from sqlalchemy import insert, select

    from challenges.extensions import db
    from challenges.judging.models import Assignment, PanelMember, Review, Score
    from challenges.models import Criterion
    from challenges.submissions.models import Organization, Submission
    from challenges.timezones import utcnow
    from tests.factories import make_challenge, make_definition, make_user

    definition = make_definition()
    definition["phases"][0]["rubric"] = {"criteria": [
        {"key": f"c{n}", "name": f"Criterion {n}", "weight": 1 + n, "min": 1, "max": 5, "step": 1}
        for n in range(4)]}
    phase = make_challenge(slug="bench-report", **{k: v for k, v in definition.items() if k != "slug"}).phases[0]
    staff = make_user(email="bench-report@example.gov", roles=("staff",))
    now = utcnow()
    db.session.execute(insert(Organization), [{"legal_name": f"Report Co {n}", "created_by_id": staff.id,
                                               "categories": [], "created_at": now, "updated_at": now}
                                              for n in range(ENTRIES)])
    orgs = db.session.execute(select(Organization.id).order_by(Organization.id)).scalars().all()[-ENTRIES:]
    db.session.execute(insert(Submission), [
        {"phase_id": phase.id, "organization_id": o, "status": "submitted", "answers": {"title": f"Solution {n}"},
         "public_code": f"R-{n:05d}", "form_version": 1, "version": 1, "created_at": now, "updated_at": now}
        for n, o in enumerate(orgs)])
    subs = db.session.execute(select(Submission.id).where(Submission.phase_id == phase.id)).scalars().all()
    judges = [make_user(email=f"report-judge{j}@agency.gov", roles=("judge",)) for j in range(3)]
    db.session.execute(insert(PanelMember), [
        {"phase_id": phase.id, "user_id": u.id, "email": u.email, "status": "active", "agency": "a.gov",
         "expertise": [], "affiliations": [], "max_load": ENTRIES, "min_load": 0, "is_chair": False,
         "invited_at": now} for u in judges])
    members = db.session.execute(select(PanelMember.id).where(PanelMember.phase_id == phase.id)).scalars().all()
    db.session.execute(insert(Assignment), [
        {"phase_id": phase.id, "panel_member_id": m, "submission_id": s, "status": "assigned", "source": "auto",
         "reason": "", "created_at": now, "updated_at": now} for s in subs for m in members])
    assignments = db.session.execute(select(Assignment.id).where(Assignment.phase_id == phase.id)).scalars().all()
    db.session.execute(insert(Review), [
        {"assignment_id": a, "rubric_id": phase.rubric.id, "status": "submitted", "overall_comment": "",
         "overall_redacted": False, "submitted_at": now, "created_at": now, "updated_at": now} for a in assignments])
    reviews = db.session.execute(select(Review.id)).scalars().all()
    criteria = db.session.execute(select(Criterion.id).where(Criterion.rubric_id == phase.rubric.id)
                                  .order_by(Criterion.order)).scalars().all()
    rng = np.random.default_rng(3)
    db.session.execute(insert(Score), [
        {"review_id": r, "criterion_id": c, "value": float(rng.integers(1, 6)), "comment": "",
         "comment_redacted": False} for r in reviews for c in criteria])
    db.session.commit()
    return phase.id


def main() -> None:
    from weasyprint import HTML

    from bench.common import bench_app
    from challenges.extensions import db
    from challenges.judging import report
    from challenges.models import Phase

    with bench_app() as app:
        phase = db.session.get(Phase, build())
        with app.test_request_context():
            gc.collect()
            started = time.perf_counter()
            one = report.render(phase)
            whole = time.perf_counter() - started

            main_html, chunks = report.html_parts(phase)
            final_html = main_html.replace("</body></html>", "".join(
                c.split("<body>", 1)[1].split("</body>", 1)[0] for c in chunks) + "</body></html>")
            gc.collect()
            started = time.perf_counter()
            HTML(string=final_html, url_fetcher=report.url_fetcher, base_url=report.ASSET_SCHEME + "/").write_pdf(
                io.BytesIO(), pdf_variant="pdf/ua-1")
            bare = time.perf_counter() - started

            gc.collect()
            started = time.perf_counter()
            two = report.render(phase, workers=2)
            parallel = time.perf_counter() - started

        from pypdf import PdfReader

        pages_one, pages_two = len(PdfReader(io.BytesIO(one)).pages), len(PdfReader(io.BytesIO(two)).pages)
        print(f"award report, {ENTRIES} entries: {pages_one} pages ({len(one) / 1e6:.1f} MB)")
        print(f"  whole report, one process: {whole:.2f} s; WeasyPrint on the final HTML alone: {bare:.2f} s")
        print(f"  whole / WeasyPrint alone = {whole / bare:.2f}  (goal <= 1.2)")
        assert pages_one == pages_two
        print(f"  parts on 2 processes, joined (tagged, numbered, one outline): {parallel:.2f} s ({pages_two} pages)")
        print(f"  parallel / one process = {parallel / whole:.2f}  (goal <= 0.65; {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()

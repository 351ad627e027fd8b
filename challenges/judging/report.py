"""The award report (PDF): everything needed to defend an award, reproducible from the scores export.

Rendered by WeasyPrint from templates/reports/ with print CSS. The url_fetcher reads only the
report's own assets (so a judge's comment can never make the renderer fetch a URL). The data
fingerprint is printed in every page footer. Built in a background job with progress and cached by
the fingerprint together with `report_state` (everything else it prints: awards, entry statuses,
the panel, the challenge's status and timeline): the same state gives the very same file without
rendering again, and any change of it gives a new report.
"""

from __future__ import annotations

import hashlib
import io
import json
import mimetypes
import multiprocessing
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager
from weasyprint import HTML

from .. import charts, jobs
from ..accounts.models import User
from ..errors import ValidationFailed
from ..extensions import db
from ..models import Criterion, Phase, Rubric
from ..storage import get_storage, new_key, track_new_object
from ..submissions.models import Organization, Screening, Submission
from ..timezones import utcnow
from . import awards as award_service
from . import pdfmerge, results, services
from .models import Assignment, Award, Conflict, PanelMember, Review
from .statistics import METHODS

ASSET_SCHEME = "report-asset:"
ASSETS = Path(__file__).resolve().parent.parent.parent / "templates" / "reports" / "assets"
APPENDIX_CHUNK = 25


def url_fetcher(url: str, timeout: int = 10, ssl_context: Any = None) -> dict[str, Any]:
    """Only files under templates/reports/assets, by the report-asset: scheme; anything else is refused."""
    if not url.startswith(ASSET_SCHEME):
        raise ValueError(f"the report may not load {url[:80]!r}")
    name = url[len(ASSET_SCHEME):].lstrip("/")
    path = (ASSETS / name).resolve()
    if ASSETS not in path.parents or not path.is_file():
        raise ValueError(f"no report asset {name!r}")
    return {"string": path.read_bytes(), "mime_type": mimetypes.guess_type(path.name)[0] or "application/octet-stream"}


def context(phase: Phase, *, method: str | None = None, seed: int = 0) -> dict[str, Any]:
    """Every figure the report prints, computed once."""
    method = method or phase.primary_method
    board, rows = results.phase_leaderboard(phase, method=method, seed=seed)
    statistics = results.phase_statistics(phase)
    print_ = results.fingerprint(phase, method, seed)
    entries = db.session.execute(select(Submission).where(Submission.phase_id == phase.id)).scalars().all()
    by_status: dict[str, int] = {}
    for entry in entries:
        by_status[entry.status] = by_status.get(entry.status, 0) + 1
    eligible = db.session.execute(select(func.count(Screening.id)).join(Submission).where(
        Submission.phase_id == phase.id, Screening.decision == "eligible")).scalar_one()
    recusals = db.session.execute(select(func.count(Assignment.id)).where(
        Assignment.phase_id == phase.id, Assignment.status == "recused")).scalar_one()
    panel = [m for m in services.panel(phase) if m.status == "active"]
    judges, _ = services.progress(phase)
    totals = results.review_totals(results.score_rows(phase))
    per_entry = totals.groupby("entry")["T"].apply(list).to_dict() if len(totals) else {}
    figures = {
        "intervals": charts.interval_chart(
            [(r["entry"], r["rank"], r["rank_low"] or r["rank"], r["rank_high"] or r["rank"]) for r in rows[:40]],
            title="Rank intervals", desc="Rank (dot) and 95 % bootstrap rank interval (line) per entry.",
            highest=max(len(rows), 2)),
        "totals": charts.strip_chart([(r["entry"], per_entry.get(r["entry"], [])) for r in rows[:40]],
                                     title="Review totals per entry", desc="One dot per judge's review total."),
        "leniency": charts.bar_chart([(f"Judge {n}", j["calibration_offset"] or 0)
                                      for n, j in enumerate(statistics["judges"], 1)], diverging=True,
                                     title="Judge leniency", desc="Calibration offset per judge, in points."),
    }
    return {
        "challenge": phase.challenge, "phase": phase, "method": method, "seed": seed, "rows": rows, "board": board,
        "stats": statistics, "fingerprint": print_, "generated_at": utcnow(), "by_status": by_status,
        "applications": len(entries), "eligible": eligible, "recusals": recusals, "panel": panel,
        "reviews": int(sum(j.submitted for j in judges)), "rubric": phase.rubric,
        "awards": award_service.award_rows(phase, [a for a in award_service.awards_of(phase)
                                                   if a.status == "approved"], rows=rows),
        "proposed_awards": [a for a in award_service.awards_of(phase) if a.status == "proposed"],
        "figures": figures, "judge_codes": {j["judge"]: f"Judge {n}" for n, j in enumerate(statistics["judges"], 1)},
    }


def appendix_sheets(phase: Phase, codes: dict[str, str], entries: list[Submission]) -> list[dict[str, Any]]:
    """One score sheet per entry: each counted review's scores per criterion, judges by code.

    One query for all the entries' reviews (scores come with them), not one per entry."""
    by_entry: dict[int, list[Review]] = defaultdict(list)
    reviews = db.session.execute(
        select(Review).join(Review.assignment).join(Assignment.panel_member)
        .options(contains_eager(Review.assignment).contains_eager(Assignment.panel_member))
        .where(Assignment.submission_id.in_([e.id for e in entries]), Assignment.status == "assigned",
               Review.status == "submitted")
        .order_by(Review.id)).unique().scalars().all()
    for review in reviews:
        by_entry[review.assignment.submission_id].append(review)
    return [{"entry": entry, "reviews": [
        {"judge": codes.get(r.assignment.panel_member.email, "Judge ?"), "values": r.values(),
         "total": services.total_of(r).total} for r in by_entry[entry.id]]} for entry in entries]


def html_parts(phase: Phase, *, method: str | None = None, seed: int = 0) -> tuple[str, list[str]]:
    """The final HTML: the main report and the appendix in chunks of APPENDIX_CHUNK entries."""
    main, chunks = _parts(phase, services.entries(phase), method=method, seed=seed)
    return main, list(chunks)


def _parts(phase: Phase, entries: list[Submission], *, method: str | None, seed: int) -> tuple[str, Iterator[str]]:
    """The main report's HTML and the appendix chunks, made one at a time so that parts can render
    while the next ones are being written."""
    data = context(phase, method=method, seed=seed)
    order = {r["entry"]: n for n, r in enumerate(data["rows"])}
    entries = sorted(entries, key=lambda e: (order.get(e.public_code, len(order)), e.public_code or ""))
    chunks = (render_template("reports/appendix.html", **data, first=start == 0,
                              sheets=appendix_sheets(phase, data["judge_codes"], entries[start:start + APPENDIX_CHUNK]))
              for start in range(0, len(entries), APPENDIX_CHUNK))
    return render_template("reports/award.html", **data), chunks


def _layout(html: str) -> Any:
    """Lay out one HTML document of the report: its own assets only, tagged (PDF/UA)."""
    return HTML(string=html, url_fetcher=url_fetcher, base_url=ASSET_SCHEME + "/").render(pdf_variant="pdf/ua-1")


def pdf_of(html: str) -> bytes:
    """One HTML document to tagged PDF bytes (a plain function, so worker processes can run it)."""
    return _layout(html).write_pdf(pdf_variant="pdf/ua-1")


def _unnumbered_part(html: str) -> tuple[bytes, int]:
    """A part rendered in a worker without page numbers (it cannot know where it starts): its PDF
    and its page count."""
    document = _layout(html.replace("<body>", "<body><style>@page { @bottom-right { content: none } }</style>", 1))
    return document.write_pdf(pdf_variant="pdf/ua-1"), len(document.pages)


def _process_context() -> multiprocessing.context.BaseContext:
    """Workers fork from a clean server process that has WeasyPrint loaded, never from this one, which
    may be a threaded web worker (forking a process with threads can copy a held lock)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def page_number_layer(count: int) -> bytes:
    """`count` pages carrying only the report's page numbers, in its own @page rules and font."""
    blank = '<div class="page-number-layer"></div>'
    return pdf_of('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Page numbers</title>'
                  '<link rel="stylesheet" href="report-asset:///report.css"><style>'
                  "@page { @bottom-left { content: none } @top-right { content: none } }"
                  ".page-number-layer + .page-number-layer { page-break-before: always }"
                  f"</style></head><body>{blank * count}</body></html>")


def render(phase: Phase, *, method: str | None = None, seed: int = 0, job: jobs.Job | None = None,
           workers: int = 1) -> bytes:
    """The report as PDF bytes. With one worker the pages of every part go into one tagged document;
    with more (and more than one appendix part), the main part and the appendix parts render in
    parallel processes and are joined into the same document: one structure tree, one outline,
    numbered straight through (pdfmerge)."""
    entries = services.entries(phase)
    if workers > 1 and len(entries) > APPENDIX_CHUNK:
        return _render_parallel(phase, entries, method=method, seed=seed, job=job, workers=workers)
    main_html, chunks = _parts(phase, entries, method=method, seed=seed)
    chunks = list(chunks)
    jobs.set_progress(job, 10, "figures computed")
    main = _layout(main_html)
    jobs.set_progress(job, 30, "main report rendered")
    documents = [main]
    next_page = len(main.pages) + 1
    for n, html in enumerate(chunks, start=1):
        # Each part is its own document: start its page counter where the previous part ended.
        html = html.replace("<body>", f'<body><style>@page :first {{ counter-reset: page {next_page} }}</style>', 1)
        documents.append(_layout(html))
        next_page += len(documents[-1].pages)
        jobs.set_progress(job, 30 + 65 * n // max(len(chunks), 1), f"appendix: part {n} of {len(chunks)}")
    pages = [page for document in documents for page in document.pages]
    buffer = io.BytesIO()
    main.copy(pages).write_pdf(buffer, pdf_variant="pdf/ua-1")
    return buffer.getvalue()


def _render_parallel(phase: Phase, entries: list[Submission], *, method: str | None, seed: int,
                     job: jobs.Job | None, workers: int) -> bytes:
    n_chunks = -(-len(entries) // APPENDIX_CHUNK)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_process_context()) as pool:
        for _ in range(workers):  # start the workers while the figures are computed
            pool.submit(int)
        main_html, chunks = _parts(phase, entries, method=method, seed=seed)
        jobs.set_progress(job, 10, "figures computed")
        main_future = pool.submit(_unnumbered_part, main_html)
        futures = [pool.submit(_unnumbered_part, chunk) for chunk in chunks]
        parts = []
        for n, future in enumerate(futures, 1):
            parts.append(future.result())
            jobs.set_progress(job, 10 + 80 * n // n_chunks, f"appendix: part {n} of {n_chunks}")
        main_pdf, main_pages = main_future.result()
        # The page numbers render while the parts are joined.
        numbers = pool.submit(page_number_layer, main_pages + sum(pages for _, pages in parts))
        jobs.set_progress(job, 92, "joining the parts")
        # The appendix's h2 sits under the report's h1; later parts continue it with h3 sheets.
        return pdfmerge.merge_tagged(main_pdf, [pdf for pdf, _ in parts],
                                     bookmark_depths=[1] + [2] * (len(parts) - 1),
                                     page_numbers=lambda _: numbers.result())


def report_state(phase: Phase) -> str:
    """SHA-256 of everything the report prints that the scores fingerprint does not cover: the awards (ids,
    status, people, times, place, amount, title, texts), every entry's status, title and organisation, the
    panel, screening, recusals, conflicts and review states, the rubric, and the challenge's status and
    timeline. A change to any of them gives a new report instead of the stale cached one."""
    challenge = phase.challenge

    def rows(query: Any) -> list[list[Any]]:
        return [list(r) for r in db.session.execute(query).all()]

    awarded_by = select(Award.created_by_id).where(Award.phase_id == phase.id).union(
        select(Award.approved_by_id).where(Award.phase_id == phase.id))
    state = {
        "challenge": [challenge.id, challenge.status, challenge.title, challenge.agency, challenge.timezone],
        "phases": [[p.id, p.name, p.opens_at, p.closes_at, p.reviews_due_at, p.judging_closed_at, p.primary_method]
                   for p in challenge.phases],
        "awards": rows(select(Award.id, Award.status, Award.approved_at, Award.place, Award.amount, Award.title,
                              Award.justification, Award.override_reason, Award.flags_at_award, Award.submission_id,
                              Award.created_at, Award.created_by_id, Award.approved_by_id)
                       .where(Award.phase_id == phase.id).order_by(Award.id)),
        "people": rows(select(User.id, User.name, User.email).where(User.id.in_(awarded_by)).order_by(User.id)),
        "entries": rows(select(Submission.id, Submission.public_code, Submission.status, Submission.answers,
                               Organization.legal_name)
                        .join(Organization, Organization.id == Submission.organization_id)
                        .where(Submission.phase_id == phase.id).order_by(Submission.id)),
        "screening": rows(select(Screening.submission_id, Screening.decision)
                          .join(Submission, Submission.id == Screening.submission_id)
                          .where(Submission.phase_id == phase.id).order_by(Screening.submission_id)),
        "panel": rows(select(PanelMember.id, PanelMember.email, PanelMember.status, PanelMember.agency,
                             PanelMember.expertise, PanelMember.is_chair, User.name)
                      .outerjoin(User, User.id == PanelMember.user_id)
                      .where(PanelMember.phase_id == phase.id).order_by(PanelMember.id)),
        "assignments": rows(select(Assignment.id, Assignment.status, Review.status)
                            .outerjoin(Review, Review.assignment_id == Assignment.id)
                            .where(Assignment.phase_id == phase.id).order_by(Assignment.id, Review.id)),
        "conflicts": rows(select(Conflict.id, Conflict.status).where(Conflict.phase_id == phase.id)
                          .order_by(Conflict.id)),
        "rubric": rows(select(Rubric.id, Rubric.version, Criterion.id, Criterion.key, Criterion.name,
                              Criterion.weight, Criterion.scale_min, Criterion.scale_max, Criterion.step,
                              Criterion.independent, Criterion.required, Criterion.higher_is_better)
                       .join(Criterion, Criterion.rubric_id == Rubric.id)
                       .where(Rubric.phase_id == phase.id).order_by(Rubric.id, Criterion.id)),
    }
    encoded = json.dumps(state, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def request_report(*, actor: Any, phase: Phase, method: str | None = None, seed: int = 0) -> jobs.Job:
    """Enqueue (or find) the report for the current data and state: nothing unchanged is rendered twice,
    and nothing changed is served from an older file."""
    if method is not None and method not in METHODS:
        raise ValidationFailed(f"Choose a ranking method for the report: {', '.join(METHODS)}.",
                               {"method": f"There is no ranking method {method[:40]!r}."})
    print_ = results.fingerprint(phase, method, seed)
    return jobs.enqueue("reports.award", actor=actor,
                        dedupe_key=f"award-report:{phase.id}:{print_['fingerprint']}:{report_state(phase)}",
                        phase_id=phase.id, method=method or phase.primary_method, seed=seed)


@jobs.task("reports.award")
def build_report(job: jobs.Job | None = None, *, phase_id: int, method: str, seed: int = 0) -> dict[str, Any]:
    phase = db.session.get(Phase, phase_id)
    pdf = render(phase, method=method, seed=seed, job=job, workers=current_app.config["REPORT_WORKERS"])
    key = new_key(f"exports/phase-{phase.id}")
    size, digest = get_storage().save_stream(key, io.BytesIO(pdf), max_bytes=len(pdf), content_type="application/pdf")
    track_new_object(db.session, key)
    current_app.logger.info("award report for phase %s: %s bytes", phase.id, size)
    return {"storage_key": key, "filename": f"{phase.challenge.slug}-{phase.key}-award-report.pdf",
            "content_type": "application/pdf", "size": size, "sha256": digest,
            "fingerprint": results.fingerprint(phase, method, seed)["fingerprint"]}

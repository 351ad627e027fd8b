"""Blank score sheets (PDF) for offline judging, built in a background job with progress.

Each entry gets a page with its code, the title a judge may see (blind rules apply), and every
criterion with its scale, anchors and boxes for the score and comment. The criterion keys printed
on the sheet are the ones `judging import-scores` expects, so sheets come back as a CSV.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from flask import render_template
from weasyprint import HTML

from .. import jobs
from ..extensions import db
from ..models import Phase
from ..storage import get_storage, new_key, track_new_object
from . import services

CHUNK = 20  # entries rendered per step; progress moves after each


SHEET_VERSION = 2  # bump when the sheet's layout or wording changes, so cached sheets are rebuilt


def request_sheets(*, actor: Any, phase: Phase) -> jobs.Job:
    """Enqueue (or find) the sheets job for the current entries and rubric."""
    rubric = phase.rubric
    entries = services.entries(phase)
    # The submitted version: what a sheet prints (edits not yet submitted again do not reach judges).
    fingerprint = hashlib.sha256(repr(([(e.id, e.submitted_version) for e in entries], phase.blind,
                                       SHEET_VERSION,
                                       [(c.key, c.name, c.weight, c.scale_min, c.scale_max, c.step, c.anchors,
                                         c.required, c.independent)
                                        for c in (rubric.criteria if rubric else [])])).encode()).hexdigest()[:32]
    return jobs.enqueue("judging.score_sheets", actor=actor, dedupe_key=f"sheets:{phase.id}:{fingerprint}",
                        phase_id=phase.id)


@jobs.task("judging.score_sheets")
def build_sheets(job: jobs.Job | None = None, *, phase_id: int) -> dict[str, Any]:
    phase = db.session.get(Phase, phase_id)
    entries = services.entries(phase)
    documents = []
    for start in range(0, max(len(entries), 1), CHUNK):
        chunk = entries[start:start + CHUNK]
        html = render_template("judging/print/score_sheets.html", phase=phase, challenge=phase.challenge,
                               entries=chunk, rubric=phase.rubric, title_of=services.entry_title,
                               must_score=services.must_score)
        documents.append(HTML(string=html).render())
        done = min(start + CHUNK, len(entries))
        jobs.set_progress(job, 90 * done // max(len(entries), 1), f"{done} of {len(entries)} sheets")
    pages = [page for document in documents for page in document.pages]
    pdf = documents[0].copy(pages).write_pdf()
    key = new_key(f"exports/phase-{phase.id}")
    size, digest = get_storage().save_stream(key, io.BytesIO(pdf), max_bytes=len(pdf), content_type="application/pdf")
    track_new_object(db.session, key)
    return {"storage_key": key, "filename": f"{phase.challenge.slug}-{phase.key}-score-sheets.pdf",
            "content_type": "application/pdf", "size": size, "sha256": digest, "entries": len(entries)}

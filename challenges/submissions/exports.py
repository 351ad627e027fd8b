"""Applications out of the system: a table (CSV/XLSX) and every file of a phase as one ZIP.

The ZIP is built by a job (inline or on RQ) that reports progress and is idempotent: the same
set of files gives the same dedupe key, so asking twice returns the finished archive.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
import zipfile
from typing import Any

import pandas as pd
from sqlalchemy import select

from .. import exports as safe_exports
from .. import jobs
from ..extensions import db
from ..models import Phase
from ..storage import get_storage, new_key, track_new_object
from ..timezones import format_local_iso
from ..uploads import check_name
from . import services
from .models import Submission, SubmissionStatus

ZIP_STATUSES = (SubmissionStatus.SUBMITTED.value, SubmissionStatus.ADVANCED.value, SubmissionStatus.WINNER.value)


def applications_frame(phase: Phase, *, status: str = "", query: str = "") -> pd.DataFrame:
    """One row per application with profile, status, times in the challenge's zone, answers and files:
    the applications the staff list shows for the same status and search (services.list_applications),
    in its order."""
    zone = phase.challenge.timezone
    rows: list[dict[str, Any]] = []
    for s in services.list_applications(phase=phase, status=status, query=query):
        org = s.organization
        row: dict[str, Any] = {
            "entry": s.public_code or "", "status": s.status, "organisation": org.legal_name, "uei": org.uei or "",
            "sam_status": org.sam_status, "business_size": org.business_size,
            "categories": ", ".join(org.categories or []),
            f"submitted_at ({zone})": format_local_iso(s.submitted_at, zone) if s.submitted_at else "",
            "version": s.submitted_version or "",
        }
        files = s.current_files()
        for field in phase.fields:
            column = answer_column(field)
            if field.type == "file":
                stored = files.get(field.key)
                row[f"{column} file"] = stored.display_name if stored else ""
                row[f"{column} sha256"] = stored.sha256 if stored else ""
            else:
                value = (s.answers or {}).get(field.key)
                row[column] = ", ".join(value) if isinstance(value, list) else value
        rows.append(row)
    return pd.DataFrame(rows)


def answer_column(field: Any) -> str:
    """'Budget [budget]': the label people know with the question's key, which is unique in a form, so
    two questions with the same label, or one labelled like a core column ('status'), never overwrite
    each other."""
    return f"{field.label} [{field.key}]"


def frame_to_csv(frame: pd.DataFrame) -> bytes:
    """Vendors' answers are text they chose: cells a spreadsheet would run are neutralised (see exports)."""
    return safe_exports.frame_to_csv(frame)


def frame_to_xlsx(frame: pd.DataFrame, sheet_name: str = "Applications") -> bytes:
    return safe_exports.frame_to_xlsx(frame, sheet_name)


def _zip_files(phase: Phase) -> list[tuple[Submission, Any]]:
    submissions = db.session.execute(select(Submission).where(Submission.phase_id == phase.id,
                                                              Submission.status.in_(ZIP_STATUSES))
                                     .order_by(Submission.public_code)).scalars()
    return [(s, f) for s in submissions for f in s.current_files().values()]


def request_zip(*, actor: Any, phase: Phase) -> jobs.Job:
    """Enqueue (or find) the archive job for the current set of files."""
    files = _zip_files(phase)
    fingerprint = hashlib.sha256("|".join(f"{f.id}:{f.sha256}" for _, f in files).encode()).hexdigest()[:32]
    return jobs.enqueue("applications.zip", actor=actor, dedupe_key=f"zip:{phase.id}:{fingerprint}",
                        phase_id=phase.id)


@jobs.task("applications.zip")
def build_zip(job: jobs.Job | None = None, *, phase_id: int) -> dict[str, Any]:
    phase = db.session.get(Phase, phase_id)
    files = _zip_files(phase)
    storage = get_storage()
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(["entry", "field", "name", "path_in_zip", "size", "sha256"])
    with tempfile.TemporaryFile() as scratch:
        with zipfile.ZipFile(scratch, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for index, (submission, record) in enumerate(files, start=1):
                safe = check_name(record.display_name)
                path = f"{submission.public_code}/{record.field_key}-{safe}"
                with storage.open(record.storage_key) as source, archive.open(path, "w", force_zip64=True) as target:
                    while chunk := source.read(1024 * 1024):
                        target.write(chunk)
                writer.writerow([submission.public_code, record.field_key, safe_exports.cell_safe(record.display_name),
                                 path, record.size,
                                 record.sha256])
                jobs.set_progress(job, 100 * index // max(len(files), 1), f"{index} of {len(files)} files")
            archive.writestr("manifest.csv", manifest.getvalue())
        size = scratch.tell()
        scratch.seek(0)
        key = new_key(f"exports/phase-{phase.id}")
        stored, digest = storage.save_stream(key, scratch, max_bytes=size, content_type="application/zip")
        track_new_object(db.session, key)
    filename = f"{phase.challenge.slug}-{phase.key}-files.zip"
    return {"storage_key": key, "filename": filename, "size": stored, "sha256": digest, "files": len(files)}

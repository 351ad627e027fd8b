"""Leaderboard benchmark (not a test): prints figures as ratios to a baseline measured in the same run.

N entries x 5 judges x 8 criteria (every judge scores every entry), at 1,000 and 10,000 entries
(BENCH_SIZES to change). Times the leaderboard plus all statistics (bootstrap of 1,000 included),
i.e. `results.phase_leaderboard` + `results.phase_statistics`, against a raw fetch of the same
score rows (the same SQL, rows only). Goal: ratio <= 2.0. The leaderboard is timed once per primary
method in BENCH_METHODS (default mean and calibrated: the bootstrap refits the model-based methods
on every resample, so they cost more). Uses DATABASE_URL when set (the issue asks for PostgreSQL),
else SQLite.

Run: DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/leaderboard.py
"""

from __future__ import annotations

import gc
import os
import sys
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "1000,10000").split(",")]
# The primary method decides what the bootstrap refits: mean (the default) and the model-based ones.
METHODS = os.environ.get("BENCH_METHODS", "mean,calibrated").split(",")
JUDGES, CRITERIA = 5, 8


def build(entries: int) -> int:
    """A phase with `entries` submitted entries, 5 judges, an 8-criterion rubric and every review in."""
    from sqlalchemy import insert, select

    from challenges.extensions import db
    from challenges.judging.models import Assignment, PanelMember, Review, Score
    from challenges.models import Criterion
    from challenges.submissions.models import Organization, Submission
    from challenges.timezones import utcnow
    from tests.factories import make_challenge, make_definition, make_user

    tag = uuid.uuid4().hex[:6]
    definition = make_definition()
    definition["phases"][0]["rubric"] = {"criteria": [
        {"key": f"c{n}", "name": f"Criterion {n}", "weight": 1 + n % 3, "min": 1, "max": 5, "step": 1}
        for n in range(CRITERIA)]}
    phase = make_challenge(slug=f"bench-board-{tag}", **{k: v for k, v in definition.items()
                                                        if k != "slug"}).phases[0]
    staff = make_user(email=f"bench-board-{tag}@example.gov", roles=("staff",))
    now = utcnow()
    db.session.execute(insert(Organization), [{"legal_name": f"Board {tag} {n}", "created_by_id": staff.id,
                                               "categories": [], "created_at": now, "updated_at": now}
                                              for n in range(entries)])
    orgs = db.session.execute(select(Organization.id).where(Organization.legal_name.like(f"Board {tag} %"))
                              .order_by(Organization.id)).scalars().all()
    db.session.execute(insert(Submission), [
        {"phase_id": phase.id, "organization_id": o, "status": "submitted", "answers": {"title": f"E{n}"},
         "public_code": f"B{tag}-{n:05d}", "form_version": 1, "version": 1, "created_at": now, "updated_at": now}
        for n, o in enumerate(orgs)])
    subs = db.session.execute(select(Submission.id).where(Submission.phase_id == phase.id)
                              .order_by(Submission.id)).scalars().all()
    judges = [make_user(email=f"board-judge{j}-{tag}@agency.gov", roles=("judge",)) for j in range(JUDGES)]
    db.session.execute(insert(PanelMember), [
        {"phase_id": phase.id, "user_id": u.id, "email": u.email, "status": "active", "agency": "a.gov",
         "expertise": [], "affiliations": [], "max_load": entries, "min_load": 0, "is_chair": False,
         "invited_at": now} for u in judges])
    members = db.session.execute(select(PanelMember.id).where(PanelMember.phase_id == phase.id)
                                 .order_by(PanelMember.id)).scalars().all()
    db.session.execute(insert(Assignment), [
        {"phase_id": phase.id, "panel_member_id": m, "submission_id": s, "status": "assigned", "source": "auto",
         "reason": "", "created_at": now, "updated_at": now} for s in subs for m in members])
    assignments = db.session.execute(select(Assignment.id).where(Assignment.phase_id == phase.id)
                                     .order_by(Assignment.id)).scalars().all()
    rubric_id = phase.rubric.id
    db.session.execute(insert(Review), [
        {"assignment_id": a, "rubric_id": rubric_id, "status": "submitted", "overall_comment": "",
         "overall_redacted": False, "submitted_at": now, "created_at": now, "updated_at": now} for a in assignments])
    reviews = db.session.execute(select(Review.id).join(Assignment).where(Assignment.phase_id == phase.id)
                                 .order_by(Review.id)).scalars().all()
    criteria = db.session.execute(select(Criterion.id).where(Criterion.rubric_id == rubric_id)
                                  .order_by(Criterion.order)).scalars().all()
    rng = np.random.default_rng(7)
    quality = rng.integers(1, 6, size=len(subs))
    values = np.clip(np.repeat(quality, JUDGES * CRITERIA) + rng.integers(-1, 2, size=len(reviews) * CRITERIA), 1, 5)
    rows = [{"review_id": r, "criterion_id": c, "value": float(values[n * CRITERIA + k]), "comment": "",
             "comment_redacted": False} for n, r in enumerate(reviews) for k, c in enumerate(criteria)]
    for start in range(0, len(rows), 50_000):
        db.session.execute(insert(Score), rows[start:start + 50_000])
    db.session.commit()
    return phase.id


def main() -> None:
    from bench.common import bench_app
    from challenges.extensions import db
    from challenges.judging import results
    from challenges.models import Phase

    with bench_app() as app:
        engine = app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]
        for size in SIZES:
            phase_id = build(size)
            db.session.expire_all()
            phase = db.session.get(Phase, phase_id)
            query = results.score_query(phase)
            gc.collect()
            started = time.perf_counter()
            raw = db.session.execute(query).all()
            raw_seconds = time.perf_counter() - started
            gc.collect()
            started = time.perf_counter()
            scores = results.score_rows(phase)  # the fetch every result shares
            fetch_seconds = time.perf_counter() - started
            started = time.perf_counter()
            stats = results.phase_statistics(phase, scores=scores)
            stats_seconds = time.perf_counter() - started
            print(f"{size} entries x {JUDGES} judges x {CRITERIA} criteria = {len(raw)} score rows on {engine}")
            print(f"  raw fetch of the score rows: {raw_seconds:.3f} s")
            print(f"  fetch into a frame: {fetch_seconds:.3f} s")
            print(f"  statistics (judges, criteria, alpha, ICC): {stats_seconds:.3f} s")
            for method in METHODS:
                gc.collect()
                started = time.perf_counter()
                _, rows = results.phase_leaderboard(phase, method=method, bootstrap=1000, scores=scores)
                board_seconds = time.perf_counter() - started
                total = fetch_seconds + board_seconds + stats_seconds
                print(f"  primary {method}: leaderboard (all methods, bootstrap 1000 of {method}, "
                      f"leave-one-judge-out, Kemeny) {board_seconds:.3f} s; (leaderboard + statistics) / raw fetch = "
                      f"{total / raw_seconds:.2f}  (goal <= 2.0); {len(rows)} entries ranked")
            print(f"  alpha {stats['reliability']['krippendorff_alpha_interval']}")


if __name__ == "__main__":
    main()

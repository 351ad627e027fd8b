"""From the database to the statistics: the canonical scores frame, counted review totals, the
leaderboard rows and the statistics object that the CLI, pages and reports all use."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text

from ..exports import safe_frame
from ..extensions import db
from ..models import Criterion, Phase, Rubric
from ..submissions.models import Organization, Submission
from . import statistics as stats
from .models import Assignment, PanelMember, Review, Score

SCORE_COLUMNS = ["entry", "judge", "criterion", "value", "rubric_version", "weight", "scale_min", "scale_max",
                 "higher_is_better", "independent", "comment"]


def score_query(phase: Phase):
    """The one query behind every result: scores of submitted reviews on live assignments."""
    return (
        select(Submission.public_code.label("entry"), PanelMember.email.label("judge"),
               Criterion.key.label("criterion"), Score.value, Rubric.version.label("rubric_version"),
               Criterion.weight, Criterion.scale_min, Criterion.scale_max, Criterion.higher_is_better,
               Criterion.independent, Score.comment, Criterion.order.label("criterion_order"))
        .select_from(Score).join(Review, Score.review_id == Review.id)
        .join(Assignment, Review.assignment_id == Assignment.id)
        .join(PanelMember, Assignment.panel_member_id == PanelMember.id)
        .join(Submission, Assignment.submission_id == Submission.id)
        .join(Criterion, Score.criterion_id == Criterion.id).join(Rubric, Review.rubric_id == Rubric.id)
        .where(Assignment.phase_id == phase.id, Assignment.status == "assigned", Review.status == "submitted",
               Submission.status == "submitted")
    )


def score_rows(phase: Phase) -> pd.DataFrame:
    """One row per score of every counted review: submitted, on a live assignment (recused and
    conflict-withdrawn reviews never count). One query; sorted so the frame is canonical."""
    rows = db.session.execute(score_query(phase)).tuples().all()
    frame = pd.DataFrame.from_records(rows, columns=[*SCORE_COLUMNS, "criterion_order"])
    if frame.empty:
        return frame.drop(columns="criterion_order")
    frame = frame.sort_values(["entry", "judge", "criterion_order", "criterion"], kind="mergesort")
    return frame.drop(columns="criterion_order").reset_index(drop=True)


def review_totals(scores: pd.DataFrame, min_coverage: float = 1.0) -> pd.DataFrame:
    """T per (entry, judge) as in SCORING.md section 2, vectorised; only reviews with enough coverage."""
    if scores.empty:
        return pd.DataFrame(columns=["entry", "judge", "T", "coverage"])
    weighted = scores[~scores["independent"].astype(bool)].copy()
    for column in ("value", "weight", "scale_min", "scale_max"):
        weighted[column] = pd.to_numeric(weighted[column], errors="coerce").astype(float)  # None -> NaN
    span = (weighted["scale_max"] - weighted["scale_min"]).replace(0, np.nan)
    n = (weighted["value"] - weighted["scale_min"]) / span
    weighted["n"] = np.where(weighted["higher_is_better"].astype(bool), n, 1 - n)
    weighted["scored_w"] = np.where(weighted["value"].notna(), weighted["weight"], 0.0)
    weighted["wn"] = (weighted["scored_w"] * weighted["n"]).fillna(0.0)
    grouped = weighted.groupby(["entry", "judge"], sort=True)
    totals = pd.DataFrame({"wn": grouped["wn"].sum(), "scored": grouped["scored_w"].sum(),
                           "all": grouped["weight"].sum()}).reset_index()
    totals = totals[totals["scored"] > 0]
    totals["T"] = 100 * totals["wn"] / totals["scored"]
    totals["coverage"] = totals["scored"] / totals["all"]
    counted = totals[totals["coverage"] >= min_coverage - 1e-9]
    return counted.loc[:, ["entry", "judge", "T", "coverage"]].reset_index(drop=True)


def _tiebreak(scores: pd.DataFrame) -> pd.Series | None:
    """Mean value of the highest-weighted criterion per entry (section 4, step 3)."""
    if scores.empty:
        return None
    top = scores.loc[~scores["independent"].astype(bool)].sort_values("weight", ascending=False, kind="mergesort")
    if top.empty:
        return None
    key = top.iloc[0]["criterion"]
    return scores[scores["criterion"] == key].groupby("entry")["value"].mean()


def _assigned(phase: Phase) -> pd.Series:
    rows = db.session.execute(
        select(Submission.public_code, func.count(Assignment.id)).join(Assignment, Assignment.submission_id ==
                                                                      Submission.id)
        .where(Assignment.phase_id == phase.id, Assignment.status == "assigned").group_by(Submission.public_code))
    return pd.Series(dict(rows.all()), dtype=int)


def quorum(phase: Phase) -> int:
    return max(phase.quorum or phase.judges_per_entry or 2, 1)


def phase_leaderboard(phase: Phase, *, method: str | None = None, bootstrap: int = 1000, seed: int = 0,
                      award_places: int = 3, scores: pd.DataFrame | None = None,
                      ) -> tuple[stats.Leaderboard, list[dict[str, Any]]]:
    """The leaderboard and its rows as plain dicts (the CLI contract's keys, plus more). Pass `scores`
    (from score_rows) when the caller needs several results of the same data."""
    method = method or phase.primary_method
    scores = score_rows(phase) if scores is None else scores
    totals = review_totals(scores)
    board = stats.leaderboard(totals, method=method, quorum=quorum(phase), award_places=award_places,
                              tiebreak=_tiebreak(scores), assigned=_assigned(phase), bootstrap=bootstrap, seed=seed)
    titles = {code: Submission.title_from(answers, legal_name) for code, answers, legal_name in
              db.session.execute(select(Submission.public_code, Submission.answers, Organization.legal_name)
                                 .join(Organization, Organization.id == Submission.organization_id)
                                 .where(Submission.phase_id == phase.id, Submission.public_code.is_not(None)))}
    per_criterion = (scores.groupby(["entry", "criterion"])["value"].mean().unstack().to_dict("index")
                     if not scores.empty else {})
    numbers = ("mean", "median", "trimmed_mean", "zscore", "calibrated", "shift", "borda", "sd", "range",
               "percentile", "rank_low", "rank_high")
    table = board.rows
    columns = {k: table[k].tolist() for k in ("rank", "n_reviews", "assigned", "loo_max_rank_change", "loo_judge",
                                              "flags", *numbers)} if len(table) else {}
    rows = []
    for n, entry in enumerate(table.index):
        rows.append({
            "rank": int(columns["rank"][n]), "entry": entry, "title": titles.get(entry, ""),
            "n_reviews": int(columns["n_reviews"][n]), "assigned": int(columns["assigned"][n]),
            **{k: _num(columns[k][n]) for k in numbers},
            "loo_max_rank_change": int(columns["loo_max_rank_change"][n]), "loo_judge": columns["loo_judge"][n],
            "criteria": {k: _num(v) for k, v in per_criterion.get(entry, {}).items()},
            "flags": list(columns["flags"][n]),
        })
    return board, rows


def _num(value: Any) -> float | int | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number):
        return None
    return int(number) if number.is_integer() else round(number, 6)


def phase_statistics(phase: Phase, *, scores: pd.DataFrame | None = None) -> dict[str, Any]:
    """The statistics object of the `judging stats` contract, on review totals T."""
    scores = score_rows(phase) if scores is None else scores
    totals = review_totals(scores)
    # The contract names "judges" twice (a count, then the per-judge list); a JSON object keeps
    # the last, so "judges" is the list and the count is also given as "judge_count".
    out: dict[str, Any] = {"entries": int(totals["entry"].nunique()) if len(totals) else 0,
                           "judges": int(totals["judge"].nunique()) if len(totals) else 0,
                           "judge_count": int(totals["judge"].nunique()) if len(totals) else 0,
                           "reviews": len(totals)}
    if totals.empty:
        out.update(reliability={"krippendorff_alpha_interval": None, "icc": stats.icc(pd.DataFrame())},
                   judges=[], criteria=[], reading=stats.reading(None, {}))
        return out
    wide = totals.pivot(index="entry", columns="judge", values="T")
    alpha = stats.krippendorff_alpha_interval(wide.T)
    icc = stats.icc(wide)
    out["reliability"] = {"krippendorff_alpha_interval": _num(alpha), "icc": {k: _num(v) for k, v in icc.items()}}
    table = stats.judge_table(totals)
    out["judges"] = [{"judge": judge, "n": int(r["n"]), "mean": _num(r["mean"]), "sd": _num(r["sd"]),
                      "loo_offset": _num(r["loo_offset"]), "calibration_offset": _num(r["calibration_offset"]),
                      "toughness": _num(r["toughness"]), "flagged": bool(r["lenient_or_harsh"])}
                     for judge, r in table.iterrows()]
    counted = scores.merge(totals[["entry", "judge"]], on=["entry", "judge"])
    counted = counted.assign(value=pd.to_numeric(counted["value"], errors="coerce").astype(float))
    order = list(pd.unique(counted["criterion"]))
    grouped = counted.groupby("criterion", sort=False)["value"]
    described = pd.DataFrame({"n": grouped.count(), "mean": grouped.mean(), "sd": grouped.std(ddof=1),
                              "median": grouped.median(), "min": grouped.min(), "max": grouped.max()})
    alphas = stats.alpha_interval_by(counted, unit="entry", group="criterion", value="value")
    histograms: dict[Any, dict] = {key: {} for key in order}
    for (key, value), count in counted.dropna(subset=["value"]).groupby(["criterion", "value"]).size().items():
        histograms[key][_num(value)] = int(count)
    criteria = []
    for key in order:
        row = described.loc[key]
        n = int(row["n"])
        criteria.append({"criterion": key, "n": n,
                         **{k: (_num(row[k]) if n and (k != "sd" or n > 1) else None)
                            for k in ("mean", "sd", "median", "min", "max")},
                         "alpha_interval": _num(alphas.get(key)), "histogram": histograms[key]})
    out["criteria"] = criteria
    out["reading"] = stats.reading(alpha, icc)
    return out


# --- exports and the data fingerprint -------------------------------------------------------------

EXPORT_COLUMNS = ["entry", "judge", "criterion", "value", "rubric_version", "weight", "comment"]


def scores_export(phase: Phase, *, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long format, one row per score of a counted review, in a fixed order: the canonical data."""
    scores = score_rows(phase) if scores is None else scores
    if scores.empty:
        return pd.DataFrame(columns=EXPORT_COLUMNS)
    counted = review_totals(scores)[["entry", "judge"]]
    return scores.merge(counted, on=["entry", "judge"]).loc[:, EXPORT_COLUMNS]


def canonical_csv(frame: pd.DataFrame) -> bytes:
    """Bytes that depend only on the data: fixed columns and order, '\n' line ends, repr-exact floats.
    Text a spreadsheet would run as a formula (a comment starting with =, say) carries a leading quote
    here, so the file staff download is exactly the input of the fingerprint (see `exports`)."""
    return safe_frame(frame).to_csv(index=False, lineterminator="\n", float_format="%.10g").encode("utf-8")


def method_settings(phase: Phase, method: str | None = None, seed: int = 0) -> dict[str, Any]:
    return {"method": method or phase.primary_method, "quorum": quorum(phase), "min_coverage": 1.0,
            "bootstrap": 1000, "seed": seed, "trim": 0.2, "calibration_lambda": 1.0,
            "disagreement": {"sd": stats.DISAGREEMENT_SD, "range": stats.DISAGREEMENT_RANGE}}


def fingerprint(phase: Phase, method: str | None = None, seed: int = 0, *,
                scores: pd.DataFrame | None = None) -> dict[str, Any]:
    """SHA-256 of the canonical scores CSV (as exported) and of the method settings: anyone holding the
    export and the settings can recompute every number and check this value. It reads every score, so
    it is what a reader checks, not how pages notice a change: that is `data_version`."""
    data = canonical_csv(scores_export(phase, scores=scores))
    settings = method_settings(phase, method, seed)
    settings_bytes = json.dumps(settings, sort_keys=True, separators=(",", ":")).encode()
    return {"scores_sha256": hashlib.sha256(data).hexdigest(), "settings": settings,
            "fingerprint": hashlib.sha256(hashlib.sha256(data).digest() + settings_bytes).hexdigest()}


# --- noticing a change cheaply, and the per-process cache that relies on it --------------------------

# Every input of the results of a phase lives in these rows: the phase's settings, its assignments, their
# reviews (a review's row is rewritten whenever one of its scores changes: see models.py), the entries and
# their organisations (codes, statuses, titles), the panel (judges' emails) and the rubrics' criteria.
# PostgreSQL gives every row version the id of the transaction that wrote it (xmin), so per table
# "how many rows, and the sum of their xmin" changes with any insert, update or delete, by any writer,
# and only moves on: a key once left is never seen again. Order of commits does not matter (unlike a
# max(updated_at)). Five index scans of the phase's rows (about 3 ms for 300 entries x 5 judges), where
# the scores themselves are 8 times as many rows and `fingerprint` reads and hashes them all.
_DATA_VERSION = text("""
SELECT (SELECT xmin::text FROM phases WHERE id = :phase),
  (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM assignments WHERE phase_id = :phase),
  (SELECT count(*) || ':' || coalesce(sum(r.xmin::text::bigint), 0) FROM reviews r
     JOIN assignments a ON a.id = r.assignment_id WHERE a.phase_id = :phase),
  (SELECT count(*) || ':' || coalesce(sum(s.xmin::text::bigint), 0) || ':' || coalesce(sum(o.xmin::text::bigint), 0)
     FROM submissions s LEFT JOIN organizations o ON o.id = s.organization_id WHERE s.phase_id = :phase),
  (SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM panel_members WHERE phase_id = :phase),
  (SELECT count(*) || ':' || coalesce(sum(c.xmin::text::bigint), 0) || ':' || coalesce(sum(rb.xmin::text::bigint), 0)
     FROM rubrics rb LEFT JOIN criteria c ON c.rubric_id = rb.id WHERE rb.phase_id = :phase)
""")


def data_version(phase: Phase) -> tuple | None:
    """A cheap key that changes whenever anything the phase's results are computed from changes (one
    query, no score read), or None where the database cannot tell (SQLite: then nothing is cached)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return None
    return tuple(db.session.execute(_DATA_VERSION, {"phase": phase.id}).one())


T = TypeVar("T")


class ResultsCache:
    """Values computed from a phase's results (leaderboards, rendered tables), kept per process and keyed
    by `data_version`, which is read from the database on every use: correct however many workers
    there are, since a worker never trusts what it computed without checking the data has not moved."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, phase: Phase, key: Hashable, compute: Callable[[], T]) -> T:
        # The version is read before computing: under READ COMMITTED the computation may see a later
        # commit than the version, which only stores newer data under a key nobody reads again; the
        # other order could store older data under the current key.
        version = data_version(phase)
        if version is None:
            return compute()
        full_key = (phase.id, version, key)
        with self._lock:
            if full_key in self._values:
                self._values.move_to_end(full_key)
                return self._values[full_key]
        value = compute()
        with self._lock:
            self._values[full_key] = value
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


cache = ResultsCache()


def cached_leaderboard(phase: Phase, method: str | None = None) -> tuple[stats.Leaderboard, list[dict[str, Any]]]:
    """`phase_leaderboard` with its defaults, shared by every page that only reads it (awards, rounds,
    the public ranking); callers must not change the rows."""
    method = method or phase.primary_method
    return cache.get(phase, ("leaderboard", method), lambda: phase_leaderboard(phase, method=method))


def leaderboard_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns = ["rank", "entry", "title", "n_reviews", "assigned", "mean", "median", "trimmed_mean", "zscore",
               "calibrated", "shift", "borda", "sd", "range", "percentile", "rank_low", "rank_high",
               "loo_max_rank_change", "loo_judge"]
    frame = pd.DataFrame([{**{c: r.get(c) for c in columns}, "flags": " ".join(r["flags"])} for r in rows],
                         columns=[*columns, "flags"])
    return frame


def progress_frame(phase: Phase) -> pd.DataFrame:
    from . import services

    judges, _ = services.progress(phase)
    return pd.DataFrame([{"judge": j.member.email, "status": j.member.status, "assigned": j.assigned,
                          "submitted": j.submitted, "drafts": j.drafts, "recused": j.recused,
                          "outstanding": j.outstanding} for j in judges],
                        columns=["judge", "status", "assigned", "submitted", "drafts", "recused", "outstanding"])

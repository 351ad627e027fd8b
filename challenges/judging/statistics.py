"""Combining reviews, ranks, ties and reliability (SCORING.md sections 3-6). Pure pandas/numpy.

Input is a long frame of *counted* reviews: one row per (entry, judge) with the review total `T`
(0..100, section 2). Every function is deterministic given its inputs (and seed), and none
depends on row order, so every figure in a report can be reproduced from the scores export.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

METHODS = ("mean", "median", "trimmed", "zscore", "calibrated", "borda")
DISAGREEMENT_SD = 20.0
DISAGREEMENT_RANGE = 40.0


def _frame(reviews: pd.DataFrame) -> pd.DataFrame:
    """A canonical copy: columns entry, judge, T; sorted so no result depends on the input order."""
    frame = reviews.loc[:, ["entry", "judge", "T"]].astype({"T": float})
    return frame.sort_values(["entry", "judge"], kind="mergesort").reset_index(drop=True)


def trim_mean(values: Iterable[float], proportion: float = 0.2) -> float:
    """scipy.stats.trim_mean: cut int(proportion * n) values from each end, then average."""
    ordered = np.sort(np.asarray(list(values), dtype=float))
    cut = int(proportion * len(ordered))
    kept = ordered[cut:len(ordered) - cut] if cut else ordered
    return float(kept.mean()) if len(kept) else math.nan


def zscores(reviews: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per-judge standardisation: z_ij = (T_ij - m_j) / s_j, pooled m/s for a judge with fewer than 3
    reviews or sd 0; the entry's z is the mean of its z_ij, displayed as m_G + s_G * z."""
    frame = _frame(reviews)
    pooled_mean, pooled_sd = frame["T"].mean(), frame["T"].std(ddof=1)
    stats = frame.groupby("judge")["T"].agg(["mean", "std", "count"])
    use_pooled = (stats["count"] < 3) | stats["std"].isna() | (stats["std"] == 0)
    stats.loc[use_pooled, ["mean", "std"]] = [pooled_mean, pooled_sd]
    m = frame["judge"].map(stats["mean"])
    s = frame["judge"].map(stats["std"])
    z = (frame["T"] - m) / s if pooled_sd and not math.isnan(pooled_sd) else frame["T"] * 0.0
    entry_z = z.groupby(frame["entry"]).mean()
    scale = pooled_sd if pooled_sd and not math.isnan(pooled_sd) else 0.0
    return (pooled_mean + scale * entry_z).rename("zscore"), entry_z.rename("z")


def calibrate(reviews: pd.DataFrame, lam: float = 1.0) -> tuple[pd.Series, pd.Series]:
    """Judge-offset model y_ij = f_i + b_j + noise with a ridge λ on b, solved exactly from the normal
    equations  n_i f_i + Σ_j c_ij b_j = S_i ;  Σ_i c_ij f_i + (n_j + λ) b_j = Y_j  (c_ij reviews of i by j).

    The entry block is diagonal, so f is eliminated first (f_i = (S_i - Σ_j c_ij b_j) / n_i) and
    numpy.linalg.solve handles only the judges' system: the same solution, at any number of entries.
    Returns (f per entry, b per judge)."""
    frame = _frame(reviews)
    entries = sorted(frame["entry"].unique(), key=str)
    judges = sorted(frame["judge"].unique(), key=str)
    e_code = pd.Categorical(frame["entry"], categories=entries).codes
    j_code = pd.Categorical(frame["judge"], categories=judges).codes
    c = np.zeros((len(entries), len(judges)))
    np.add.at(c, (e_code, j_code), 1.0)
    totals = frame["T"].to_numpy(dtype=float)
    sums = np.bincount(e_code, weights=totals, minlength=len(entries))
    judge_sums = np.bincount(j_code, weights=totals, minlength=len(judges))
    n_entry, n_judge = c.sum(axis=1), c.sum(axis=0)
    schur = np.diag(n_judge + lam) - c.T @ (c / n_entry[:, None])
    b = np.linalg.solve(schur, judge_sums - c.T @ (sums / n_entry))
    f = (sums - c @ b) / n_entry
    return pd.Series(f, index=entries, name="calibrated"), pd.Series(b, index=judges, name="offset")


def borda(reviews: pd.DataFrame) -> pd.Series:
    """Each judge ranks their own entries (ties averaged); β = (n_j - r)/(n_j - 1), 0.5 when n_j = 1."""
    frame = _frame(reviews)
    rank = frame.groupby("judge")["T"].rank(ascending=False, method="average")
    n = frame.groupby("judge")["T"].transform("count")
    beta = np.where(n > 1, (n - rank) / (n - 1).where(n > 1, 1), 0.5)
    return pd.Series(beta, index=frame.index).groupby(frame["entry"]).mean().rename("borda")


def kemeny(reviews: pd.DataFrame, entries: list) -> tuple[list, int]:
    """The order of at most 8 entries that disagrees least with the judges' pairwise preferences
    (pairs one judge scored both of, that judge's ties skipped). Ties between orders: the first in
    the given entry order wins, so the result is deterministic."""
    if len(entries) > 8:
        raise ValueError("Kemeny order is computed for at most 8 entries.")
    frame = _frame(reviews)
    frame = frame[frame["entry"].isin(entries)]
    index = {e: n for n, e in enumerate(entries)}
    prefer = np.zeros((len(entries), len(entries)))  # prefer[x, y]: judges who scored x above y
    for _, group in frame.groupby("judge"):
        scores = dict(zip(group["entry"], group["T"], strict=True))
        for x, y in itertools.permutations(scores, 2):
            if scores[x] > scores[y]:
                prefer[index[x], index[y]] += 1
    if len(entries) < 2:
        return list(entries), 0
    orders = np.array(list(itertools.permutations(range(len(entries)))))
    position = np.argsort(orders, axis=1)  # position[p, e]: where entry e stands in order p
    # An order disagrees with a preference x over y whenever it puts y before x.
    later = position[:, :, None] > position[:, None, :]  # [p, x, y]: x after y
    distance = (later * prefer[None, :, :]).sum(axis=(1, 2))
    best = int(np.argmin(distance))  # the first minimum: deterministic given the entry order
    return [entries[i] for i in orders[best]], round(distance[best])


def percentile(rank: float, n: int) -> int:
    """Lower is better: clamp(ceil(100 (R - 0.5) / N), 1, 99)."""
    return int(min(max(math.ceil(100 * (rank - 0.5) / n - 1e-9), 1), 99))


def _grouped_reduce(frame: pd.DataFrame, method: str) -> pd.Series:
    """The method's reduction of each entry's totals, entries with the same number of reviews at once."""
    out = {}
    counts = frame.groupby("entry")["T"].transform("count")
    for m, group in frame.groupby(counts, sort=True):
        group = group.sort_values(["entry", "judge"], kind="mergesort")
        matrix = group["T"].to_numpy().reshape(-1, m)
        out.update(zip(group["entry"].to_numpy()[::m], _reduce(matrix, method), strict=True))
    return pd.Series(out, dtype=float)


def combine(reviews: pd.DataFrame) -> pd.DataFrame:
    """Every method per entry, side by side, with n, sd and range."""
    frame = _frame(reviews)
    grouped = frame.groupby("entry")["T"]
    out = pd.DataFrame({
        "n_reviews": grouped.count(),
        "mean": grouped.mean(),
        "median": grouped.median(),
        "trimmed_mean": _grouped_reduce(frame, "trimmed"),
        "sd": grouped.std(ddof=1),
        "range": grouped.max() - grouped.min(),
    })
    display, _ = zscores(frame)
    out["zscore"] = display
    calibrated, _ = calibrate(frame)
    out["calibrated"] = calibrated
    out["shift"] = out["calibrated"] - out["mean"]
    out["borda"] = borda(frame)
    return out


PRIMARY_COLUMN = {"mean": "mean", "median": "median", "trimmed": "trimmed_mean", "zscore": "zscore",
                  "calibrated": "calibrated", "borda": "borda"}


@dataclass
class Leaderboard:
    rows: pd.DataFrame  # one row per entry, in rank order
    method: str
    seed: int
    kemeny: list = field(default_factory=list)
    kemeny_distance: int = 0


def rank_entries(table: pd.DataFrame, method: str, *, tiebreak: pd.Series | None = None) -> pd.DataFrame:
    """Order by SCORING.md section 4: primary (4 decimals), secondary (median for mean, else mean),
    the tie-break criterion's mean, more reviews, lower sd; whatever is still equal needs the panel."""
    column = PRIMARY_COLUMN[method]
    secondary = "median" if method == "mean" else "mean"
    keys = pd.DataFrame({
        "primary": table[column].round(4),
        "secondary": table[secondary].round(4),
        "criterion": (tiebreak.reindex(table.index) if tiebreak is not None else pd.Series(0.0, index=table.index))
        .round(4).fillna(-math.inf),
        "n": table["n_reviews"],
        "neg_sd": -table["sd"].fillna(0).round(4),
    }, index=table.index)
    ordered = keys.sort_values(["primary", "secondary", "criterion", "n", "neg_sd"], ascending=False,
                               kind="mergesort")
    ranked = table.loc[ordered.index].copy()
    ranked["tie"] = ranked[column].round(4).duplicated(keep=False)
    ranked["requires_panel_decision"] = ordered.duplicated(keep=False).to_numpy()
    # Entries that cannot be told apart share the rank of the first of them.
    position = np.arange(1, len(ordered) + 1)
    group_start = ~ordered.duplicated(keep="first").to_numpy() | ~ordered.duplicated(keep=False).to_numpy()
    ranks = np.maximum.accumulate(np.where(group_start, position, 0))
    ranked["rank"] = ranks
    return ranked


def leaderboard(reviews: pd.DataFrame, *, method: str = "mean", quorum: int = 2, award_places: int = 3,
                tiebreak: pd.Series | None = None, assigned: pd.Series | None = None, bootstrap: int = 1000,
                seed: int = 0, disagreement_sd: float = DISAGREEMENT_SD,
                disagreement_range: float = DISAGREEMENT_RANGE) -> Leaderboard:
    """The whole leaderboard: methods, rank with tie-breaks, flags, percentiles, rank intervals and
    leave-one-judge-out sensitivity, plus the Kemeny order of the top entries (at most 8)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    frame = _frame(reviews)
    if frame.empty:
        return Leaderboard(rows=pd.DataFrame(), method=method, seed=seed)
    table = combine(frame)
    ranked = rank_entries(table, method, tiebreak=tiebreak)
    ranked["assigned"] = assigned.reindex(ranked.index).fillna(0).astype(int) if assigned is not None \
        else ranked["n_reviews"]
    ranked["provisional"] = ranked["n_reviews"] < quorum
    ranked["disagreement"] = (ranked["sd"].fillna(0) > disagreement_sd) | (ranked["range"] >= disagreement_range)
    counted = ranked[~ranked["provisional"]]
    if len(counted):
        average_rank = counted[PRIMARY_COLUMN[method]].rank(ascending=False, method="average")
        ranked["percentile"] = average_rank.map(lambda r: percentile(r, len(counted)))
    else:
        ranked["percentile"] = np.nan
    low, high = rank_intervals(frame, method, samples=bootstrap, seed=seed)
    ranked["rank_low"], ranked["rank_high"] = low.reindex(ranked.index), high.reindex(ranked.index)
    ranked["statistical_tie"] = (ranked["rank_low"] <= award_places) & (ranked["rank_high"] > award_places)
    change, culprit = leave_one_judge_out(frame, method)
    ranked["loo_max_rank_change"] = change.reindex(ranked.index).fillna(0).astype(int)
    ranked["loo_judge"] = culprit.reindex(ranked.index)
    ranked["flags"] = ranked.apply(_flags, axis=1)
    finalists = list(ranked.index[:min(8, len(ranked))])
    order, distance = kemeny(frame, finalists) if len(finalists) > 1 else (finalists, 0)
    return Leaderboard(rows=ranked, method=method, seed=seed, kemeny=order, kemeny_distance=distance)


def _flags(row: pd.Series) -> list[str]:
    return [name for name in ("provisional", "disagreement", "tie", "statistical_tie", "requires_panel_decision")
            if bool(row.get(name))]


def _ranks(frame: pd.DataFrame, method: str) -> pd.Series:
    table = combine(frame) if method in ("zscore", "calibrated", "borda") else None
    if table is None:
        grouped = frame.groupby("entry")["T"]
        values = {"mean": grouped.mean, "median": grouped.median,
                  "trimmed": lambda: grouped.apply(trim_mean)}[method]()
    else:
        values = table[PRIMARY_COLUMN[method]]
    return values.round(4).rank(ascending=False, method="min")


def _reduce(matrix: np.ndarray, method: str) -> np.ndarray:
    """Reduce the last axis (one entry's review values) the way the method combines them."""
    if method == "median":
        return np.median(matrix, axis=-1)
    if method == "trimmed":
        m = matrix.shape[-1]
        cut = int(0.2 * m)
        ordered = np.sort(matrix, axis=-1)
        return ordered[..., cut:m - cut].mean(axis=-1) if cut else ordered.mean(axis=-1)
    return matrix.mean(axis=-1)


def _per_review_values(frame: pd.DataFrame, method: str) -> pd.Series:
    """Each review's contribution to its entry's value: the entry's value is exactly the mean (or the
    median or trimmed mean) of these. z-scores and Borda points per review; for the calibrated model
    T_ij - b_j, since f_i = mean_j (T_ij - b_j) solves the model's normal equations."""
    if method == "zscore":
        pooled_mean, pooled_sd = frame["T"].mean(), frame["T"].std(ddof=1)
        stats_ = frame.groupby("judge")["T"].agg(["mean", "std", "count"])
        use_pooled = (stats_["count"] < 3) | stats_["std"].isna() | (stats_["std"] == 0)
        stats_.loc[use_pooled, ["mean", "std"]] = [pooled_mean, pooled_sd]
        if not pooled_sd or math.isnan(pooled_sd):
            return frame["T"] * 0.0 + pooled_mean
        z = (frame["T"] - frame["judge"].map(stats_["mean"])) / frame["judge"].map(stats_["std"])
        return pooled_mean + pooled_sd * z
    if method == "calibrated":
        _, offsets = calibrate(frame)
        return frame["T"] - frame["judge"].map(offsets)
    if method == "borda":
        rank = frame.groupby("judge")["T"].rank(ascending=False, method="average")
        n = frame.groupby("judge")["T"].transform("count")
        return pd.Series(np.where(n > 1, (n - rank) / (n - 1).where(n > 1, 1), 0.5), index=frame.index)
    return frame["T"]


def _min_ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 = highest, ties share the best rank ('min'), row by row, values rounded to 4 decimals."""
    rounded = -np.round(values, 4)
    ordered = np.sort(rounded, axis=1)
    return np.vstack([np.searchsorted(row_sorted, row, side="left") + 1
                      for row_sorted, row in zip(ordered, rounded, strict=True)])


def rank_intervals(reviews: pd.DataFrame, method: str, *, samples: int = 1000,
                   seed: int = 0) -> tuple[pd.Series, pd.Series]:
    """Bootstrap: resample each entry's reviews with replacement B times, recombine them with the
    method, re-rank, and report the 2.5-97.5 % rank interval. For the model-based methods each review
    keeps its judge adjustment (the judges' offsets are estimated once, on all the data), so every
    resample is a vector operation and 10,000 entries take seconds. Seeded: same data, same interval."""
    frame = _frame(reviews)
    entries = sorted(frame["entry"].unique(), key=str)
    if samples <= 0 or not entries:
        ranks = _ranks(frame, method)
        return ranks, ranks
    rng = np.random.default_rng(seed)
    frame = frame.assign(x=_per_review_values(frame, method).to_numpy())
    position = {e: n for n, e in enumerate(entries)}
    values = np.zeros((samples, len(entries)))
    counts = frame.groupby("entry")["x"].transform("count")
    for m, group in frame.groupby(counts, sort=True):  # entries with m reviews, resampled together
        group = group.sort_values(["entry", "judge"], kind="mergesort")
        names = group["entry"].to_numpy()[::m]
        matrix = group["x"].to_numpy().reshape(-1, m)
        columns = [position[e] for e in names]
        for start in range(0, samples, 100):
            chunk = min(100, samples - start)
            picks = rng.integers(0, m, size=(chunk, len(names), m))
            values[start:start + chunk, columns] = _reduce(np.take_along_axis(
                np.broadcast_to(matrix, (chunk, *matrix.shape)), picks, axis=2), method)
    ranks = _min_ranks(values)
    low = np.floor(np.percentile(ranks, 2.5, axis=0))
    high = np.ceil(np.percentile(ranks, 97.5, axis=0))
    return pd.Series(low.astype(int), index=entries), pd.Series(high.astype(int), index=entries)


def leave_one_judge_out(reviews: pd.DataFrame, method: str) -> tuple[pd.Series, pd.Series]:
    """Drop each judge in turn and re-rank: the largest rank change per entry and the judge causing it."""
    frame = _frame(reviews)
    base = _ranks(frame, method)
    change = pd.Series(0, index=base.index, dtype=int)
    culprit = pd.Series(None, index=base.index, dtype=object)
    for judge in sorted(frame["judge"].unique(), key=str):
        rest = frame[frame["judge"] != judge]
        if rest.empty:
            continue
        moved = (_ranks(rest, method) - base.reindex(_ranks(rest, method).index)).abs()
        for entry, delta in moved.items():
            if delta > change[entry]:
                change[entry], culprit[entry] = int(delta), judge
    return change, culprit


# --- statistics shown to staff (section 6) ----------------------------------------------------------


def describe(values: Iterable[float]) -> dict[str, float | int | None]:
    series = pd.Series(list(values), dtype=float).dropna()
    if series.empty:
        return {"n": 0, "mean": None, "sd": None, "median": None, "min": None, "max": None}
    return {"n": int(series.count()), "mean": float(series.mean()),
            "sd": float(series.std(ddof=1)) if len(series) > 1 else None, "median": float(series.median()),
            "min": float(series.min()), "max": float(series.max())}


def judge_table(reviews: pd.DataFrame, lam: float = 1.0) -> pd.DataFrame:
    """Per judge: n, mean, sd, leave-one-out offset, calibration offset, toughness, and a leniency flag."""
    frame = _frame(reviews)
    grouped = frame.groupby("judge")["T"]
    out = pd.DataFrame({"n": grouped.count(), "mean": grouped.mean(), "sd": grouped.std(ddof=1)})
    wide = frame.pivot_table(index="entry", columns="judge", values="T", aggfunc="mean")
    values = wide.to_numpy(dtype=float)
    present = ~np.isnan(values)
    offsets, tough = {}, {}
    for j, judge in enumerate(wide.columns):
        mine = present[:, j]
        others = np.delete(values, j, axis=1)
        others_present = np.delete(present, j, axis=1)
        shared = mine & others_present.any(axis=1)  # entries with >= 2 reviews including this judge's
        with np.errstate(invalid="ignore"):
            other_mean = np.nanmean(np.where(others_present, others, np.nan)[shared], axis=1) if shared.any() \
                else np.array([])
        diffs = values[shared, j] - other_mean
        offsets[judge] = float(diffs.mean()) if len(diffs) else math.nan
        both = mine[:, None] & others_present
        mine_col = np.broadcast_to(values[:, j][:, None], others.shape)
        comparisons = both.sum()
        lower = (both & (mine_col < others)).sum()
        ties = (both & (mine_col == others)).sum()
        tough[judge] = float((lower + ties / 2) / comparisons) if comparisons else math.nan
    out["loo_offset"] = pd.Series(offsets)
    _, b = calibrate(frame, lam)
    out["calibration_offset"] = b
    out["toughness"] = pd.Series(tough)
    pooled_sd = frame["T"].std(ddof=1)
    out["lenient_or_harsh"] = out["calibration_offset"].abs() > 0.5 * pooled_sd if pooled_sd == pooled_sd else False
    return out


def krippendorff_alpha_interval(wide: pd.DataFrame) -> float | None:
    """Krippendorff's alpha, interval metric: rows are judges, columns entries (units), NaN = not
    reviewed. Units with fewer than two values are not pairable and are left out. Sums of squared
    differences use Σ_{a≠b} (x_a - x_b)^2 = 2 m Σx^2 - 2 (Σx)^2, so memory stays linear."""
    long = wide.stack().rename("v").reset_index()
    unit = long.columns[1]
    m = long.groupby(unit)["v"].transform("count")
    long = long[m >= 2]
    if len(long) < 2:
        return None
    long = long.assign(v2=long["v"] ** 2)
    grouped = long.groupby(unit)
    size, total, squares = grouped["v"].count(), grouped["v"].sum(), grouped["v2"].sum()
    n = float(size.sum())
    observed = float(((2 * size * squares - 2 * total ** 2) / (size - 1)).sum()) / n
    all_sum, all_squares = float(long["v"].sum()), float((long["v"] ** 2).sum())
    expected = (2 * n * all_squares - 2 * all_sum ** 2) / (n * (n - 1))
    if expected <= 1e-12:
        return None
    return float(1 - observed / expected)


def icc(wide: pd.DataFrame) -> dict[str, float | None]:
    """ICC forms (McGraw & Wong). Two-way forms need a complete block (every judge scored every entry
    kept); otherwise they are None and ICC(1) uses the unbalanced n0. `wide`: entries x judges."""
    complete = wide.dropna(axis=0, how="any")
    out: dict[str, float | None] = dict.fromkeys(("ICC1", "ICC1k", "ICCA1", "ICCAk", "ICCC1", "ICCCk"))
    if complete.shape[0] >= 2 and complete.shape[1] >= 2 and len(complete) == len(wide.dropna(how="all")):
        y = complete.to_numpy(dtype=float)
        n, k = y.shape
        grand = y.mean()
        ss_total = ((y - grand) ** 2).sum()
        ss_rows = k * ((y.mean(axis=1) - grand) ** 2).sum()
        ss_cols = n * ((y.mean(axis=0) - grand) ** 2).sum()
        ss_error = ss_total - ss_rows - ss_cols
        bms, jms = ss_rows / (n - 1), ss_cols / (k - 1)
        ems = ss_error / ((n - 1) * (k - 1))
        wms = (ss_total - ss_rows) / (n * (k - 1))
        out["ICC1"] = _ratio(bms - wms, bms + (k - 1) * wms)
        out["ICC1k"] = _ratio(bms - wms, bms)
        out["ICCA1"] = _ratio(bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n)
        out["ICCAk"] = _ratio(bms - ems, bms + (jms - ems) / n)
        out["ICCC1"] = _ratio(bms - ems, bms + (k - 1) * ems)
        out["ICCCk"] = _ratio(bms - ems, bms)
        return out
    # Unbalanced one-way: entries as groups of different sizes.
    groups = [row.dropna().to_numpy(dtype=float) for _, row in wide.iterrows()]
    groups = [g for g in groups if len(g)]
    a, total = len(groups), sum(len(g) for g in groups)
    if a < 2 or total - a < 1:
        return out
    grand = np.concatenate(groups).mean()
    bms = sum(len(g) * (g.mean() - grand) ** 2 for g in groups) / (a - 1)
    wms = sum(((g - g.mean()) ** 2).sum() for g in groups) / (total - a)
    n0 = (total - sum(len(g) ** 2 for g in groups) / total) / (a - 1)
    out["ICC1"] = _ratio(bms - wms, bms + (n0 - 1) * wms)
    out["ICC1k"] = _ratio(bms - wms, bms)
    return out


def _ratio(numerator: float, denominator: float) -> float | None:
    """None where the figure is undefined (every total identical, say), never NaN."""
    return float(numerator / denominator) if abs(denominator) > 1e-12 else None


def reading(alpha: float | None, icc_values: dict[str, float | None]) -> str:
    """A plain-language reading of the reliability figures, for pages and reports."""
    if alpha is None:
        return "Too few entries have two or more reviews to say how much the judges agree."
    level = ("reliable" if alpha >= 0.8 else "tentative: use with care" if alpha >= 0.667
             else "low: the judges often disagree on the scores themselves")
    text = f"Agreement between judges (Krippendorff's alpha {alpha:.3f}) is {level}."
    consistency, agreement = icc_values.get("ICCC1"), icc_values.get("ICCA1")
    if consistency is not None and agreement is not None and consistency - agreement > 0.2:
        text += (f" The judges agree much more on the order of entries (consistency {consistency:.2f}) than on "
                 f"the level of their scores (absolute agreement {agreement:.2f}): some judges are more lenient "
                 "than others, which the calibrated method corrects.")
    return text

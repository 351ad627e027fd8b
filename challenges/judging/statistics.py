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
METHOD_NAMES = {"mean": "mean", "median": "median", "trimmed": "trimmed mean", "zscore": "z-score",
                "calibrated": "calibrated score", "borda": "Borda count"}
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
    ranked["flags"] = _flags(ranked)
    finalists = list(ranked.index[:min(8, len(ranked))])
    order, distance = kemeny(frame, finalists) if len(finalists) > 1 else (finalists, 0)
    return Leaderboard(rows=ranked, method=method, seed=seed, kemeny=order, kemeny_distance=distance)


FLAGS = ("provisional", "disagreement", "tie", "statistical_tie", "requires_panel_decision")


def _flags(ranked: pd.DataFrame) -> list[list[str]]:
    """Each entry's flag names, in FLAGS order."""
    columns = [ranked[name].fillna(False).astype(bool).to_numpy() if name in ranked else
               np.zeros(len(ranked), dtype=bool) for name in FLAGS]
    return [[name for name, on in zip(FLAGS, row, strict=True) if on] for row in zip(*columns, strict=True)]


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


def _min_ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 = highest, ties share the best rank ('min'), row by row, values rounded to 4 decimals."""
    rounded = -np.round(values, 4)
    order = np.argsort(rounded, axis=1)  # equal values get the same rank in any order
    ordered = np.take_along_axis(rounded, order, axis=1)
    starts = np.empty(ordered.shape, dtype=bool)
    starts[:, 0] = True  # every row starts a run, so one pass over the flattened array stays in its row
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first = np.arange(ordered.size, dtype=np.int64).reshape(ordered.shape)
    first[~starts] = 0
    np.maximum.accumulate(first.ravel(), out=first.ravel())  # where each run of equals begins
    first -= (np.arange(ordered.shape[0], dtype=np.int64) * ordered.shape[1] - 1)[:, None]
    ranks = np.empty(values.shape, dtype=np.int64)
    np.put_along_axis(ranks, order, first, axis=1)
    return ranks


MODEL_METHODS = ("zscore", "calibrated", "borda")
DENSE_JUDGES = 16  # up to this many judges, per-judge sums of resamples are a matrix product


@dataclass
class _Layout:
    """Counted reviews laid out for resampling: grouped by their entry's review count m (ascending),
    entry by entry, judges sorted within an entry, so a group's slice reshapes to (entries, m)."""
    entries: list  # entry names, sorted
    groups: list  # (m, entry positions, slice of the review axis)
    totals: np.ndarray  # T per review, in layout order
    judge: np.ndarray  # judge code per review
    m: np.ndarray  # review count per entry position
    n_judges: int
    _indicator: np.ndarray | None = None

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Layout:
        entries = sorted(frame["entry"].unique(), key=str)
        judges = sorted(frame["judge"].unique(), key=str)
        position = {e: n for n, e in enumerate(entries)}
        counts = frame.groupby("entry")["T"].transform("count")
        parts, groups, offset = [], [], 0
        m_of = np.zeros(len(entries))
        for m, group in frame.groupby(counts, sort=True):
            group = group.sort_values(["entry", "judge"], kind="mergesort")
            positions = np.array([position[e] for e in group["entry"].to_numpy()[::m]], dtype=np.intp)
            groups.append((int(m), positions, slice(offset, offset + len(group))))
            m_of[positions] = m
            parts.append(group)
            offset += len(group)
        ordered = pd.concat(parts)
        judge = pd.Categorical(ordered["judge"], categories=judges).codes.astype(np.intp)
        return cls(entries=entries, groups=groups, totals=ordered["T"].to_numpy(dtype=float), judge=judge,
                   m=m_of, n_judges=len(judges))

    def per_judge(self, values: np.ndarray, where: slice = slice(None)) -> np.ndarray:
        """Sum (samples, reviews[where]) per judge: (samples, judges). A small panel multiplies by a
        reviews x judges indicator (BLAS); a large one uses one bincount over all samples, whose cost
        follows the number of reviews whatever the size of the panel."""
        samples, k = values.shape[0], self.n_judges
        if k <= DENSE_JUDGES:
            if self._indicator is None:
                self._indicator = np.zeros((len(self.judge), k))
                self._indicator[np.arange(len(self.judge)), self.judge] = 1.0
            return values @ self._indicator[where]
        cells = (np.arange(samples)[:, None] * k + self.judge[where][None, :]).ravel()
        return np.bincount(cells, weights=values.ravel(), minlength=samples * k).reshape(samples, k)

    def draw(self, rng: np.random.Generator, samples: int) -> np.ndarray:
        """(samples, reviews): how often each review is drawn when every entry's m reviews are
        resampled m times with replacement."""
        out = np.zeros((samples, len(self.totals)))
        for m, positions, where in self.groups:
            picks = rng.integers(0, m, size=(samples, len(positions), m))
            slots = picks + (np.arange(samples * len(positions)) * m).reshape(samples, -1, 1)
            out[:, where] = np.bincount(slots.ravel(), minlength=slots.size).reshape(samples, -1)
        return out

    def per_entry(self, values: np.ndarray) -> np.ndarray:
        """Sum (samples, reviews) per entry: (samples, entries), entries in sorted order."""
        out = np.zeros((values.shape[0], len(self.entries)))
        for m, positions, where in self.groups:
            out[:, positions] = values[:, where].reshape(values.shape[0], -1, m).sum(axis=2)
        return out


def _tiny(values: np.ndarray) -> np.ndarray:
    """A spread this small is rounding noise between equal scores (pandas reports those as 0)."""
    return values < 1e-9


def _resampled_zscore(layout: _Layout, w: np.ndarray) -> np.ndarray:
    """`zscores` of every resample at once (w[b, r] copies of review r in resample b): each
    judge's mean and sd, and the pooled ones, are recomputed from what was drawn."""
    t, judge = layout.totals, layout.judge
    n = w.sum(axis=1, keepdims=True)
    pooled_mean = (w @ t)[:, None] / n
    pooled_sd = np.sqrt((w * (t - pooled_mean) ** 2).sum(axis=1, keepdims=True) / np.maximum(n - 1, 1))
    count = layout.per_judge(w)
    mean = layout.per_judge(w * t) / np.maximum(count, 1)
    sd = np.sqrt(layout.per_judge(w * (t - mean[:, judge]) ** 2) / np.maximum(count - 1, 1))
    pooled = (count < 3) | _tiny(sd)
    mean, sd = np.where(pooled, pooled_mean, mean), np.where(pooled, pooled_sd, sd)
    flat = _tiny(pooled_sd) | (n < 2)  # one value, or all equal: every z is 0
    z = np.where(flat, 0.0, (t - mean[:, judge]) / np.where(_tiny(sd), 1.0, sd)[:, judge])
    return pooled_mean + np.where(flat, 0.0, pooled_sd) * layout.per_entry(w * z) / layout.m


def _resampled_calibrated(layout: _Layout, w: np.ndarray, lam: float = 1.0) -> np.ndarray:
    """`calibrate` refitted on every resample at once through the same judges' normal equations.
    Every entry keeps its m reviews (n_i = m), and c_ij is how often j's review of i was drawn, so
    the Schur complement is diag(n_j + λ) - Σ_i c_i c_iᵀ / m_i, summed one entry size at a time."""
    samples, k = w.shape[0], layout.n_judges
    sums = layout.per_entry(w * layout.totals)  # S_i
    schur = np.zeros(samples * k * k)
    rhs = layout.per_judge(w * layout.totals)  # Y_j, less Σ_i c_ij S_i / m_i below
    base = (np.arange(samples) * k * k)[:, None]
    for m, positions, where in layout.groups:
        drawn = w[:, where].reshape(samples, -1, m)
        judges = layout.judge[where].reshape(-1, m)
        cell = (judges[:, :, None] * k + judges[:, None, :]).reshape(1, -1)
        outer = drawn[:, :, :, None] * drawn[:, :, None, :] / m
        schur -= np.bincount((base + cell).ravel(), weights=outer.ravel(), minlength=samples * k * k)
        share = drawn * (sums[:, positions] / m)[:, :, None]
        rhs -= layout.per_judge(share.reshape(samples, -1), where)
    schur = schur.reshape(samples, k, k)
    diagonal = np.arange(k)
    schur[:, diagonal, diagonal] += layout.per_judge(w) + lam
    offsets = np.linalg.solve(schur, rhs[:, :, None])[:, :, 0]
    return (sums - layout.per_entry(w * offsets[:, layout.judge])) / layout.m


def _resampled_borda(layout: _Layout, w: np.ndarray) -> np.ndarray:
    """`borda` of every resample at once: each judge ranks the copies drawn of their reviews (equal
    totals share the average rank), β = (n_j - r) / (n_j - 1), 0.5 when a judge has one copy."""
    t, judge = layout.totals, layout.judge
    order = np.lexsort((-t, judge))  # by judge, best total first
    sorted_judge, sorted_t = judge[order], t[order]
    new_block = np.r_[True, (sorted_judge[1:] != sorted_judge[:-1]) | (sorted_t[1:] != sorted_t[:-1])]
    starts = np.flatnonzero(new_block)
    block_of = np.cumsum(new_block) - 1  # block of each sorted review
    block_judge = sorted_judge[starts]
    first_block = np.r_[0, np.flatnonzero(block_judge[1:] != block_judge[:-1]) + 1]
    first_of = first_block[np.cumsum(np.r_[True, block_judge[1:] != block_judge[:-1]]) - 1]
    equal = np.add.reduceat(w[:, order], starts, axis=1)  # copies per (judge, total)
    before = np.cumsum(equal, axis=1) - equal
    greater = before - before[:, first_of]
    n = layout.per_judge(w)[:, block_judge]
    rank = greater + (equal + 1) / 2
    beta = np.where(n > 1, (n - rank) / np.where(n > 1, n - 1, 1), 0.5)
    per_review = np.empty_like(w)
    per_review[:, order] = beta[:, block_of]
    return layout.per_entry(w * per_review) / layout.m


_RESAMPLED = {"zscore": _resampled_zscore, "calibrated": _resampled_calibrated, "borda": _resampled_borda}


def rank_intervals(reviews: pd.DataFrame, method: str, *, samples: int = 1000,
                   seed: int = 0) -> tuple[pd.Series, pd.Series]:
    """Bootstrap: resample each entry's reviews with replacement B times, recompute the method on
    each resample, re-rank, and report the 2.5-97.5 % rank interval. The model-based methods are
    refitted on every resample (the judges' means, sds, offsets or rankings come from what was
    drawn), so their intervals include the uncertainty of those adjustments. Seeded: same data, same
    interval."""
    frame = _frame(reviews)
    entries = sorted(frame["entry"].unique(), key=str)
    if samples <= 0 or not entries:
        ranks = _ranks(frame, method)
        return ranks, ranks
    rng = np.random.default_rng(seed)
    values = np.zeros((samples, len(entries)))
    if method in MODEL_METHODS:
        layout = _Layout.of(frame)
        # Batches sized so the per-batch arrays stay near 4 million numbers whatever the design.
        width = (sum(len(positions) * m * m for m, positions, _ in layout.groups) + 4 * len(frame)
                 + layout.n_judges ** 2 + len(entries))
        batch = int(np.clip(4_000_000 // max(width, 1), 1, 100))
        for start in range(0, samples, batch):
            chunk = min(batch, samples - start)
            values[start:start + chunk] = _RESAMPLED[method](layout, layout.draw(rng, chunk))
    else:
        position = {e: n for n, e in enumerate(entries)}
        counts = frame.groupby("entry")["T"].transform("count")
        for m, group in frame.groupby(counts, sort=True):  # entries with m reviews, resampled together
            group = group.sort_values(["entry", "judge"], kind="mergesort")
            names = group["entry"].to_numpy()[::m]
            matrix = group["T"].to_numpy().reshape(-1, m)
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
    """Drop each judge in turn and re-rank: the largest rank change per entry and the judge causing it
    (the first judge in name order when several cause the same change)."""
    frame = _frame(reviews)
    base = _ranks(frame, method)
    change = np.zeros(len(base), dtype=int)
    culprit = np.full(len(base), None, dtype=object)
    for judge in sorted(frame["judge"].unique(), key=str):
        rest = frame[frame["judge"] != judge]
        if rest.empty:
            continue
        ranks = _ranks(rest, method)
        moved = (ranks - base.reindex(ranks.index)).abs().reindex(base.index).fillna(0).to_numpy(dtype=int)
        larger = moved > change
        change[larger], culprit[larger] = moved[larger], judge
    return pd.Series(change, index=base.index), pd.Series(culprit, index=base.index, dtype=object)


# --- statistics shown to staff (section 6) ----------------------------------------------------------


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
    reviewed."""
    long = wide.stack().rename("v").reset_index()
    alphas = alpha_interval_by(long.assign(group=0), unit=long.columns[1])
    return alphas.get(0)


def alpha_interval_by(long: pd.DataFrame, *, unit: str, group: str = "group", value: str = "v",
                      ) -> dict[object, float | None]:
    """Krippendorff's alpha (interval) of every group of a long frame at once (one value per coder
    and unit; NaN values dropped). Units with fewer than two values are not pairable and are left
    out. Sums of squared differences use Σ_{a≠b} (x_a - x_b)^2 = 2 m Σx^2 - 2 (Σx)^2, so memory
    stays linear."""
    long = long.loc[long[value].notna(), [group, unit, value]]
    groups = list(pd.unique(long[group]))
    long = long.assign(v2=long[value] ** 2)
    per_unit = long.groupby([group, unit], sort=False).agg(m=(value, "count"), x=(value, "sum"), x2=("v2", "sum"))
    per_unit = per_unit[per_unit["m"] >= 2]
    per_unit = per_unit.assign(d=(2 * per_unit["m"] * per_unit["x2"] - 2 * per_unit["x"] ** 2) / (per_unit["m"] - 1))
    sums = per_unit.groupby(level=0, sort=False).agg(n=("m", "sum"), d=("d", "sum"), x=("x", "sum"),
                                                      x2=("x2", "sum"))
    out: dict[object, float | None] = dict.fromkeys(groups)
    for key, row in sums.iterrows():
        n = float(row["n"])
        if n < 2:
            continue
        expected = (2 * n * row["x2"] - 2 * row["x"] ** 2) / (n * (n - 1))
        if expected > 1e-12:
            out[key] = float(1 - (row["d"] / n) / expected)
    return out


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

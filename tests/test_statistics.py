"""SCORING.md sections 3-6: every worked example to 4 decimals, plus properties (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from challenges.judging import statistics as stats

P = {"J1": {"E1": 90, "E2": 80, "E3": 85, "E4": 70},
     "J2": {"E1": 60, "E2": 50, "E3": 65, "E4": 40},
     "J3": {"E1": 75, "E2": 70, "E3": 60, "E4": 55}}
S = {"J1": {"E1": 90, "E2": 80, "E4": 70, "E5": 88},
     "J2": {"E1": 60, "E2": 50, "E3": 65, "E6": 62},
     "J3": {"E1": 75, "E3": 60, "E4": 55}}


def long(panel: dict) -> pd.DataFrame:
    return pd.DataFrame([{"entry": e, "judge": j, "T": float(t)} for j, row in panel.items() for e, t in row.items()])


def r4(value) -> float:
    return round(float(value), 4)


def test_mean_median_on_p():
    table = stats.combine(long(P))
    assert [r4(v) for v in table["mean"]] == [75.0, 66.6667, 70.0, 55.0]
    assert [r4(v) for v in table["median"]] == [75.0, 70.0, 65.0, 55.0]


def test_trimmed_means():
    assert stats.trim_mean([60, 70, 75, 80, 100], 0.2) == 75.0
    assert stats.trim_mean([60, 70, 75, 100], 0.2) == 76.25


def test_zscores_on_p():
    display, z = stats.zscores(long(P))
    assert [r4(v) for v in z] == [0.8946, 0.0210, 0.3021, -1.2177]
    assert [r4(v) for v in display] == [79.7891, 66.9752, 71.0972, 48.8053]
    judges = long(P).groupby("judge")["T"].agg(["mean", lambda s: s.std(ddof=1)])
    assert [r4(v) for v in judges["mean"]] == [81.25, 53.75, 65.0]
    assert [r4(v) for v in judges.iloc[:, 1]] == [8.5391, 11.0868, 9.1287]


def test_calibration_on_sparse_example_s():
    f, b = stats.calibrate(long(S))
    assert {k: r4(v) for k, v in f.items()} == {"E1": 75.0, "E2": 63.5714, "E3": 67.8571, "E4": 58.5714,
                                                "E5": 77.2857, "E6": 69.8571}
    assert {k: r4(v) for k, v in b.items()} == {"J1": 10.7143, "J2": -7.8571, "J3": -2.8571}
    table = stats.combine(long(S))
    assert r4(table.loc["E5", "shift"]) == r4(77.2857 - 88)  # scored only by the lenient judge: falls


def test_borda_on_p():
    assert [r4(v) for v in stats.borda(long(P))] == [0.8889, 0.4444, 0.6667, 0.0]
    single = pd.DataFrame([{"entry": "E1", "judge": "J9", "T": 50.0}])
    assert stats.borda(single).tolist() == [0.5]


def test_kemeny_on_p():
    order, distance = stats.kemeny(long(P), ["E1", "E2", "E3", "E4"])
    assert order == ["E1", "E3", "E2", "E4"] and distance == 2


@pytest.mark.parametrize(("rank", "expected"), [(1, 3), (2.5, 10), (10, 48), (20, 98)])
def test_percentiles_n20(rank, expected):
    assert stats.percentile(rank, 20) == expected


def test_percentile_clamped():
    assert stats.percentile(1, 1) == 50 and stats.percentile(1, 200) == 1 and stats.percentile(200, 200) == 99


def test_tie_break_median_decides():
    frame = long({"J1": {"X": 80, "Y": 90}, "J2": {"X": 70, "Y": 65}, "J3": {"X": 60, "Y": 55}})
    board = stats.leaderboard(frame, method="mean", bootstrap=0)
    assert list(board.rows.index) == ["X", "Y"]  # both mean 70; medians 70 vs 65
    assert board.rows["tie"].all() and not board.rows["requires_panel_decision"].any()
    assert board.rows["rank"].tolist() == [1, 2]


def test_identical_entries_need_the_panel():
    frame = long({"J1": {"A": 80, "B": 80, "C": 50}, "J2": {"A": 70, "B": 70, "C": 40}})
    rows = stats.leaderboard(frame, method="mean", quorum=2, bootstrap=0).rows
    assert rows.loc["A", "requires_panel_decision"] and rows.loc["B", "requires_panel_decision"]
    assert rows.loc["A", "rank"] == rows.loc["B", "rank"] == 1 and rows.loc["C", "rank"] == 3
    assert "requires_panel_decision" in rows.loc["A", "flags"]


def test_disagreement_flag():
    frame = long({"J1": {"D": 90}, "J2": {"D": 40}, "J3": {"D": 85}})
    rows = stats.leaderboard(frame, bootstrap=0).rows
    assert r4(rows.loc["D", "sd"]) == 27.5379 and rows.loc["D", "range"] == 50
    assert rows.loc["D", "disagreement"]
    assert not stats.leaderboard(long(P), bootstrap=0).rows["disagreement"].any()


def test_provisional_entries_are_left_out_of_percentiles():
    frame = long({"J1": {"A": 80, "B": 60, "C": 99}, "J2": {"A": 70, "B": 50}})
    rows = stats.leaderboard(frame, quorum=2, bootstrap=0).rows
    assert rows.loc["C", "provisional"] and math.isnan(rows.loc["C", "percentile"])
    assert rows.loc["A", "percentile"] == 25 and rows.loc["B", "percentile"] == 75


def test_bootstrap_is_seeded_and_brackets_the_rank():
    board = stats.leaderboard(long(P), method="mean", bootstrap=500, seed=7)
    again = stats.leaderboard(long(P), method="mean", bootstrap=500, seed=7)
    pd.testing.assert_frame_equal(board.rows, again.rows)
    for _, row in board.rows.iterrows():
        assert row["rank_low"] <= row["rank"] <= row["rank_high"]


def test_leave_one_judge_out_names_the_judge():
    change, culprit = stats.leave_one_judge_out(long(P), "mean")
    # Without J2, E2 (80, 70 -> 75) passes E3 (85, 60 -> 72.5): they swap. Without J1 nothing moves.
    assert change["E2"] == 1 and culprit["E2"] == "J2"
    assert change["E3"] == 1 and change["E1"] == 0 and change["E4"] == 0


def test_judge_statistics_on_p():
    table = stats.judge_table(long(P))
    assert [r4(v) for v in table["loo_offset"]] == [21.875, -19.375, -2.5]
    assert [r4(v) for v in table["toughness"]] == [0.0, 0.875, 0.625]
    assert table.loc["J1", "calibration_offset"] > 0 > table.loc["J2", "calibration_offset"]
    assert table.loc["J1", "lenient_or_harsh"] and table.loc["J2", "lenient_or_harsh"]


def test_reliability_on_p():
    wide = long(P).pivot(index="entry", columns="judge", values="T")
    assert r4(stats.krippendorff_alpha_interval(wide.T)) == 0.0026
    values = stats.icc(wide)
    assert r4(values["ICC1"]) == 0.0032 and r4(values["ICCA1"]) == 0.2236
    assert r4(values["ICCC1"]) == 0.6642 and r4(values["ICCCk"]) == 0.8558
    text = stats.reading(stats.krippendorff_alpha_interval(wide.T), values)
    assert "order of entries" in text and "lenient" in text


def test_icc_incomplete_design_uses_unbalanced_one_way():
    wide = long(S).pivot(index="entry", columns="judge", values="T")
    values = stats.icc(wide)
    assert values["ICCA1"] is None and values["ICCC1"] is None and values["ICCCk"] is None
    groups = [row.dropna().to_numpy() for _, row in wide.iterrows()]
    n = sum(len(g) for g in groups)
    n0 = (n - sum(len(g) ** 2 for g in groups) / n) / (len(groups) - 1)
    grand = np.concatenate(groups).mean()
    bms = sum(len(g) * (g.mean() - grand) ** 2 for g in groups) / (len(groups) - 1)
    wms = sum(((g - g.mean()) ** 2).sum() for g in groups) / (n - len(groups))
    assert r4(values["ICC1"]) == r4((bms - wms) / (bms + (n0 - 1) * wms))


# --- properties ---------------------------------------------------------------------------------

panels = st.dictionaries(
    st.sampled_from([f"J{n}" for n in range(1, 6)]),
    st.dictionaries(st.sampled_from([f"E{n}" for n in range(1, 8)]),
                    st.integers(0, 100).map(float), min_size=1, max_size=7),
    min_size=1, max_size=5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panels, st.randoms(use_true_random=False), st.sampled_from(stats.METHODS))
def test_row_order_does_not_matter_and_nothing_raises(panel, random, method):
    frame = long(panel)
    shuffled = frame.sample(frac=1, random_state=random.randint(0, 10_000)).reset_index(drop=True)
    first = stats.leaderboard(frame, method=method, bootstrap=20, seed=1).rows
    second = stats.leaderboard(shuffled, method=method, bootstrap=20, seed=1).rows
    pd.testing.assert_frame_equal(first, second)
    stats.judge_table(frame)
    stats.icc(frame.pivot(index="entry", columns="judge", values="T"))
    stats.krippendorff_alpha_interval(frame.pivot(index="entry", columns="judge", values="T").T)


@settings(max_examples=60, deadline=None)
@given(panels, st.floats(-30, 30))
def test_a_constant_per_judge_leaves_calibrated_order_and_zscores(panel, shift):
    frame = long(panel)
    judge = sorted(frame["judge"].unique())[0]
    moved = frame.assign(T=np.where(frame["judge"] == judge, frame["T"] + shift, frame["T"]))
    counts = frame.groupby("judge")["T"].agg(["count", "std"])
    if counts.loc[judge, "count"] >= 3 and counts.loc[judge, "std"] > 0:
        # z-scores standardise within the judge (pooled judges move the pooled figures, so only this case)
        _, z_before = stats.zscores(frame)
        _, z_after = stats.zscores(moved)
        if (counts["count"] >= 3).all() and (counts["std"] > 0).all():
            np.testing.assert_allclose(z_before.to_numpy(), z_after.to_numpy(), atol=1e-9)
    # With the ridge term vanishing, the judge offsets absorb the constant wherever judges and entries form
    # one connected design: every entry moves by the same amount (c / number of judges), so the calibrated
    # order is unchanged.
    if _connected(frame):
        f_before, _ = stats.calibrate(frame, lam=1e-7)
        f_after, _ = stats.calibrate(moved, lam=1e-7)
        moved_by = (f_after - f_before).to_numpy()
        assert np.ptp(moved_by) < 1e-3
        np.testing.assert_allclose(moved_by, shift / frame["judge"].nunique(), atol=1e-3)


def _connected(frame: pd.DataFrame) -> bool:
    """Judges and entries linked through reviews form a single component."""
    seen, todo = set(), [("j", frame["judge"].iloc[0])]
    while todo:
        kind, name = todo.pop()
        if (kind, name) in seen:
            continue
        seen.add((kind, name))
        column, other = ("judge", "entry") if kind == "j" else ("entry", "judge")
        todo += [("e" if kind == "j" else "j", x) for x in frame.loc[frame[column] == name, other]]
    return len(seen) == frame["judge"].nunique() + frame["entry"].nunique()


@settings(max_examples=60, deadline=None)
@given(panels, st.data())
def test_raising_a_score_never_lowers_that_entrys_mean_rank(panel, data):
    frame = long(panel)
    row = data.draw(st.integers(0, len(frame) - 1))
    raised = frame.copy()
    raised.loc[row, "T"] = min(100.0, raised.loc[row, "T"] + data.draw(st.floats(0, 50)))
    entry = frame.loc[row, "entry"]
    before = stats.leaderboard(frame, method="mean", bootstrap=0).rows.loc[entry, "rank"]
    after = stats.leaderboard(raised, method="mean", bootstrap=0).rows.loc[entry, "rank"]
    assert after <= before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_rubrics_and_sparse_designs_never_raise(data):
    """Review totals from random rubrics (any weights, scales, directions, skipped optional criteria),
    then every result, with a single review, a judge with one review or entries nobody scored."""
    from challenges.judging.results import review_totals

    n_criteria = data.draw(st.integers(1, 4))
    criteria = []
    for k in range(n_criteria):
        low = data.draw(st.integers(-5, 5))
        criteria.append({"criterion": f"c{k}", "weight": data.draw(st.sampled_from([0, 0.5, 1, 3])),
                         "scale_min": low, "scale_max": low + data.draw(st.integers(1, 10)),
                         "higher_is_better": data.draw(st.booleans()), "independent": data.draw(st.booleans())})
    rows = []
    for entry in range(data.draw(st.integers(1, 5))):
        for judge in data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=4, unique=True)):
            for c in criteria:
                value = data.draw(st.one_of(st.none(), st.integers(c["scale_min"], c["scale_max"])))
                rows.append({"entry": f"E{entry}", "judge": f"J{judge}", "value": value, "rubric_version": 1,
                             "comment": "", **c})
    scores = pd.DataFrame(rows, columns=["entry", "judge", "criterion", "value", "rubric_version", "weight",
                                         "scale_min", "scale_max", "higher_is_better", "independent", "comment"])
    totals = review_totals(scores, min_coverage=0.0)
    assert totals.empty or totals["T"].between(0, 100).all()
    if not totals.empty:
        for method in stats.METHODS:
            stats.leaderboard(totals, method=method, bootstrap=10)
        stats.judge_table(totals)
        wide = totals.pivot(index="entry", columns="judge", values="T")
        stats.icc(wide)
        stats.krippendorff_alpha_interval(wide.T)


REFERENCE = {"zscore": lambda f: stats.zscores(f)[0], "calibrated": lambda f: stats.calibrate(f)[0],
             "borda": stats.borda}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panels, st.sampled_from(stats.MODEL_METHODS), st.integers(0, 2**32 - 1), st.booleans())
def test_resampled_model_methods_are_the_method_refitted_on_each_resample(panel, method, seed, large_panel_path):
    """The vectorised bootstrap must give, for every resample, exactly what the method's own
    function gives on that resample written out as rows (a review drawn twice is two rows), both
    with the small-panel (matrix product) and the large-panel (bincount) per-judge sums."""
    if large_panel_path:
        import unittest.mock

        with unittest.mock.patch.object(stats, "DENSE_JUDGES", 0):
            return _check_resampled(panel, method, seed)
    _check_resampled(panel, method, seed)


def _check_resampled(panel, method, seed):
    frame = long(panel)
    layout = stats._Layout.of(stats._frame(frame))
    drawn = layout.draw(np.random.default_rng(seed), 6)
    batch = stats._RESAMPLED[method](layout, drawn)
    entry_of = np.empty(len(layout.totals), dtype=object)
    for m, positions, where in layout.groups:
        entry_of[where] = np.repeat(np.array(layout.entries, dtype=object)[positions], m)
    judges = sorted(frame["judge"].unique())
    for sample in range(drawn.shape[0]):
        assert drawn[sample].sum() == len(frame)  # every entry keeps its number of reviews
        copies = pd.DataFrame({"entry": np.repeat(entry_of, drawn[sample].astype(int)),
                               "judge": np.repeat([judges[j] for j in layout.judge], drawn[sample].astype(int)),
                               "T": np.repeat(layout.totals, drawn[sample].astype(int))})
        expected = REFERENCE[method](copies).reindex(layout.entries).to_numpy()
        np.testing.assert_allclose(batch[sample], expected, atol=1e-7)


def test_model_based_intervals_are_seeded_and_bracket_the_rank():
    for method in stats.MODEL_METHODS:
        board = stats.leaderboard(long(S), method=method, bootstrap=400, seed=3)
        again = stats.leaderboard(long(S), method=method, bootstrap=400, seed=3)
        pd.testing.assert_frame_equal(board.rows, again.rows)
        for _, row in board.rows.iterrows():
            assert row["rank_low"] <= row["rank"] <= row["rank_high"]


def test_refitting_widens_an_interval_the_fixed_offsets_hid():
    """With offsets held fixed, a resample only reshuffles adjusted reviews; refitted, the offsets move
    with what was drawn too. On this two-judge panel that makes every calibrated interval at least as
    wide as the fixed-offset one (same seed), and at least one strictly wider."""
    panel = {"J1": {"A": 80, "B": 60, "C": 75, "D": 70}, "J2": {"A": 70, "B": 65, "C": 66, "D": 61}}
    refitted = stats.rank_intervals(long(panel), "calibrated", samples=600, seed=11)
    frame = stats._frame(long(panel))
    _, offsets = stats.calibrate(frame)
    adjusted = frame.assign(T=frame["T"] - frame["judge"].map(offsets))
    fixed = stats.rank_intervals(adjusted, "mean", samples=600, seed=11)
    width_refitted = refitted[1] - refitted[0]
    width_fixed = fixed[1] - fixed[0]
    assert (width_refitted >= width_fixed).all() and (width_refitted > width_fixed).any()


def _alpha_by_definition(values_by_unit: list[list[float]]) -> float | None:
    """Krippendorff's interval alpha straight from its definition, pair by pair."""
    units = [u for u in values_by_unit if len(u) >= 2]
    pooled = [v for u in units for v in u]
    n = len(pooled)
    if n < 2:
        return None
    observed = sum(sum((a - b) ** 2 for i, a in enumerate(u) for k, b in enumerate(u) if i != k) / (len(u) - 1)
                   for u in units) / n
    expected = sum((a - b) ** 2 for i, a in enumerate(pooled) for k, b in enumerate(pooled) if i != k) / (n * (n - 1))
    return None if expected <= 1e-12 else 1 - observed / expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from([f"E{n}" for n in range(6)]),
                          st.sampled_from([f"J{n}" for n in range(4)]),
                          st.one_of(st.none(), st.integers(0, 10).map(float))), max_size=60))
def test_alpha_of_every_group_at_once_is_the_definition(rows):
    """The vectorised alpha per criterion equals the pairwise definition computed one criterion at a time."""
    frame = pd.DataFrame(rows, columns=["group", "entry", "judge", "v"]).drop_duplicates(["group", "entry", "judge"])
    alphas = stats.alpha_interval_by(frame, unit="entry")
    for key, part in frame.groupby("group"):
        kept = part.dropna(subset=["v"])
        expected = _alpha_by_definition([list(u["v"]) for _, u in kept.groupby("entry")])
        got = alphas.get(key)
        assert (got is None) == (expected is None)
        if expected is not None:
            assert got == pytest.approx(expected, abs=1e-9)

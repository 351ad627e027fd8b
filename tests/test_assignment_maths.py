"""SCORING.md section 7: the assignment test vector and every constraint, on the pure solver."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from challenges.judging.assignment import Entry, Infeasible, Judge, Problem, check, solve

AFFINITY = np.array([  # rows J1..J4, columns E1..E4 (x 100); J1-E1 is a conflict
    [0, 90, 20, 50],
    [80, 70, 10, 40],
    [30, 60, 90, 20],
    [50, 10, 40, 80],
]) / 100


def vector(agency_cap=None, seed=0, **changes) -> Problem:
    judges = [Judge(1, 2, agency="A"), Judge(2, 2, agency="A"), Judge(3, 2, agency="B"), Judge(4, 2, agency="C")]
    forbidden = np.zeros((4, 4), dtype=bool)
    forbidden[0, 0] = True
    problem = Problem(judges=judges, entries=[Entry(i, 2) for i in range(1, 5)], affinity=AFFINITY,
                      forbidden=forbidden, agency_cap=agency_cap, seed=seed)
    for key, value in changes.items():
        setattr(problem, key, value)
    return problem


def by_entry(pairs) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for judge, entry in pairs:
        out.setdefault(entry, set()).add(judge)
    return out


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_unique_optimum_without_agency_cap(seed):
    solution = solve(vector(seed=seed))
    assert round(solution.total_affinity * 100) == 530
    assert by_entry(solution.pairs) == {1: {2, 3}, 2: {1, 2}, 3: {3, 4}, 4: {1, 4}}
    assert solution.loads == {1: 2, 2: 2, 3: 2, 4: 2}
    assert solution.min_affinity == {1: 0.3, 2: 0.7, 3: 0.4, 4: 0.5}


def brute_force_best(problem: Problem) -> float:
    """Every way of giving each entry 2 judges, for the tiny vector: the true optimum."""
    best = -1.0
    options = [list(itertools.combinations(range(4), 2)) for _ in range(4)]
    for choice in itertools.product(*options):
        loads = np.zeros(4, dtype=int)
        total, ok = 0.0, True
        for ei, judges in enumerate(choice):
            if problem.agency_cap is not None and len({problem.judges[j].agency for j in judges}) < 2:
                ok = False
            for j in judges:
                if problem.forbidden[j, ei]:
                    ok = False
                loads[j] += 1
                total += problem.affinity[j, ei]
        if ok and (loads <= 2).all():
            best = max(best, total)
    return best


@pytest.mark.parametrize("seed", [0, 3, 99])
def test_agency_cap_optimum_is_510(seed):
    problem = vector(agency_cap=1, seed=seed)
    solution = solve(problem)
    assert round(solution.total_affinity * 100) == 510 == round(brute_force_best(problem) * 100)
    assert check(problem, solution) == []
    for judges in by_entry(solution.pairs).values():
        assert not {1, 2} <= judges  # J1 and J2 are both agency A
    assert round(brute_force_best(vector()) * 100) == 530


def test_conflict_is_a_missing_arc_even_when_it_would_pay():
    affinity = AFFINITY.copy()
    affinity[0, 0] = 1.0  # the conflicted pair would be the best one
    solution = solve(vector(affinity=affinity))
    assert (1, 1) not in solution.pairs


def test_infeasible_names_the_entries():
    forbidden = np.zeros((4, 4), dtype=bool)
    forbidden[:3, 2] = True  # only J4 may judge E3, and k = 2
    with pytest.raises(Infeasible) as err:
        solve(vector(forbidden=forbidden))
    assert err.value.entries == [3]
    assert "entry 3 needs 2 more judge(s) but only 1 eligible" in err.value.reasons[0]


def test_k_greater_than_panel_and_capacity_short():
    problem = vector(entries=[Entry(i, 5) for i in range(1, 5)])
    with pytest.raises(Infeasible) as err:
        solve(problem)
    assert "free review slots" in err.value.reasons[0] and err.value.entries == [1, 2, 3, 4]


def test_ensure_mode_keeps_locked_pairs_and_tops_up():
    locked = {(2, 1), (1, 2), (2, 2), (3, 3), (4, 3), (1, 4)}  # E1 and E4 each lost one judge
    solution = solve(vector(locked=locked))
    assert not set(solution.pairs) & locked
    assert by_entry(list(locked) + solution.pairs)[1] == {2, 3}
    assert by_entry(list(locked) + solution.pairs)[4] == {1, 4}
    assert len(solution.pairs) == 2


def test_minimum_loads_are_met():
    judges = [Judge(1, 4), Judge(2, 4), Judge(3, 4, min_load=3)]
    affinity = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    problem = Problem(judges=judges, entries=[Entry(i, 1) for i in range(1, 4)], affinity=affinity,
                      forbidden=np.zeros((3, 3), dtype=bool))
    solution = solve(problem)
    assert solution.loads[3] == 3  # the unpopular judge still gets their minimum
    assert check(problem, solution) == []


def test_loads_are_balanced_by_rising_slot_costs():
    judges = [Judge(n, 10) for n in range(1, 5)]
    problem = Problem(judges=judges, entries=[Entry(i, 1) for i in range(1, 9)], affinity=np.full((4, 8), 0.5),
                      forbidden=np.zeros((4, 8), dtype=bool))
    assert sorted(solve(problem).loads.values()) == [2, 2, 2, 2]


def test_same_seed_same_answer_other_seed_may_differ():
    problem = Problem(judges=[Judge(n, 5) for n in range(1, 6)], entries=[Entry(i, 2) for i in range(1, 11)],
                      affinity=np.full((5, 10), 0.5), forbidden=np.zeros((5, 10), dtype=bool), seed=1)
    first = solve(problem).pairs
    assert solve(problem).pairs == first
    answers = set()
    for seed in range(2, 8):
        problem.seed = seed
        answers.add(tuple(solve(problem).pairs))
    assert len(answers) > 1


def test_forbidden_matrix_marks_only_pairs_of_listed_people():
    from types import SimpleNamespace as NS

    from challenges.judging.services import forbidden_matrix

    members, subs = [NS(id=7), NS(id=3)], [NS(id=40), NS(id=12), NS(id=5)]
    pairs = {(7, 12), (3, 5), (3, 40), (99, 12), (7, 1000), (4, 5)}  # the last three name nobody listed
    assert forbidden_matrix(members, subs, pairs).tolist() == [[False, True, False], [True, False, True]]
    assert not forbidden_matrix(members, subs, set()).any()

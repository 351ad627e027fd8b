"""Automatic judge assignment by min-cost flow (SCORING.md section 7). Pure: no database here.

The graph, with integer costs:
  source -> judge slot (one arc per free slot l, capacity 1, cost 5 * (locked_j + l): rising cost
  balances loads); judge -> entry (capacity 1, cost -round(1000 * affinity) + seeded noise 0..2) and
  no arc at all for a conflicted, ineligible or already locked pair; with an agency cap c, judge ->
  (entry, agency) -> entry with capacity c minus the pairs already locked for that agency;
  entry -> sink (capacity k_i - locked_i).

Conflicts are missing arcs, never costs, so no weighting can ever trade one for a better score.
Minimum loads run in two passes: first every judge only up to L_j, then, with those pairs locked,
up to U_j. After solving every constraint is checked again and a violation is an error, not a log.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from ortools.graph.python import min_cost_flow

SLOT_COST = 5
AFFINITY_SCALE = 1000


@dataclass(frozen=True)
class Judge:
    id: int
    max_load: int
    min_load: int = 0
    agency: str = ""


@dataclass(frozen=True)
class Entry:
    id: int
    k: int


@dataclass
class Problem:
    judges: list[Judge]
    entries: list[Entry]
    affinity: np.ndarray  # len(judges) x len(entries), values in [0, 1]
    forbidden: np.ndarray  # bool, same shape: conflicted or ineligible pairs
    locked: set[tuple[int, int]] = field(default_factory=set)  # (judge id, entry id) kept as they are
    agency_cap: int | None = None
    seed: int = 0


@dataclass
class Solution:
    pairs: list[tuple[int, int]]  # new (judge id, entry id) pairs, locked ones not repeated
    loads: dict[int, int]  # judge id -> total load including locked pairs
    objective: int  # the flow's cost (lower is better); integers, so runs compare exactly
    total_affinity: float  # sum of affinity over new and locked pairs
    min_affinity: dict[int, float]  # entry id -> lowest affinity among its judges


class Infeasible(Exception):
    """The assignment cannot be made; `reasons` names the entries (and judges) and says why."""

    def __init__(self, reasons: list[str], entries: list[int] | None = None) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.entries = entries or []


def noise_matrix(seed: int, judge_ids: np.ndarray, entry_ids: np.ndarray) -> np.ndarray:
    """Tie-break costs 0..2 per pair from a seeded integer hash: same seed, same answer; another seed,
    another order among equals. Vectorised because it is computed for every pair."""
    j = judge_ids.astype(np.uint64)[:, None]
    e = entry_ids.astype(np.uint64)[None, :]
    with np.errstate(over="ignore"):
        x = (j * np.uint64(0x9E3779B97F4A7C15)) ^ (e * np.uint64(0xC2B2AE3D27D4EB4F)) ^ np.uint64(seed & (2**64 - 1))
        x ^= x >> np.uint64(33)
        x *= np.uint64(0xFF51AFD7ED558CCD)
        x ^= x >> np.uint64(33)
    return (x % np.uint64(3)).astype(np.int64)


def _locked_counts(problem: Problem) -> tuple[Counter, Counter, Counter]:
    agency = {j.id: j.agency for j in problem.judges}
    per_judge: Counter = Counter()
    per_entry: Counter = Counter()
    per_entry_agency: Counter = Counter()
    for judge_id, entry_id in problem.locked:
        per_judge[judge_id] += 1
        per_entry[entry_id] += 1
        per_entry_agency[(entry_id, agency.get(judge_id, ""))] += 1
    return per_judge, per_entry, per_entry_agency


def feasibility_problems(problem: Problem) -> tuple[list[str], list[int]]:
    """Checks before solving: total capacity, and enough eligible judges for every entry."""
    locked_j, locked_e, locked_ea = _locked_counts(problem)
    reasons: list[str] = []
    bad_entries: list[int] = []
    free = np.array([max(j.max_load - locked_j[j.id], 0) for j in problem.judges], dtype=np.int64)
    need = np.array([max(e.k - locked_e[e.id], 0) for e in problem.entries], dtype=np.int64)
    if need.sum() > free.sum():
        reasons.append(f"the panel has {int(free.sum())} free review slots but the entries need {int(need.sum())}; "
                       "raise the maximum loads, add judges or lower k")
    open_arcs = ~problem.forbidden & ~_locked_mask(problem) & (free[:, None] > 0)
    eligible_counts = open_arcs.sum(axis=0)
    # Without an agency cap only entries with fewer eligible judges than they need are looked at.
    suspects = range(len(problem.entries)) if problem.agency_cap is not None else np.flatnonzero(eligible_counts < need)
    for ei in suspects:
        entry = problem.entries[ei]
        if need[ei] == 0:
            continue
        eligible = np.flatnonzero(open_arcs[:, ei])
        available = len(eligible)
        if problem.agency_cap is not None:
            by_agency = Counter(problem.judges[ji].agency for ji in eligible)
            available = sum(min(count, max(problem.agency_cap - locked_ea[(entry.id, agency)], 0))
                            for agency, count in by_agency.items())
        if available < need[ei]:
            bad_entries.append(entry.id)
            cap_note = f" under the cap of {problem.agency_cap} per agency" if problem.agency_cap is not None else ""
            reasons.append(f"entry {entry.id} needs {int(need[ei])} more judge(s) but only {available} eligible "
                           f"judge(s) without a conflict and with free load are available{cap_note}")
    return reasons, bad_entries


def _locked_mask(problem: Problem) -> np.ndarray:
    """True where a pair is already locked (it gets no new arc)."""
    mask = np.zeros(problem.forbidden.shape, dtype=bool)
    jindex = {j.id: n for n, j in enumerate(problem.judges)}
    eindex = {e.id: n for n, e in enumerate(problem.entries)}
    for judge_id, entry_id in problem.locked:
        if judge_id in jindex and entry_id in eindex:
            mask[jindex[judge_id], eindex[entry_id]] = True
    return mask


def build_graph(problem: Problem, caps: np.ndarray) -> tuple[min_cost_flow.SimpleMinCostFlow, dict]:
    """The flow network for per-judge slot caps `caps` (pass 1 uses the minimum loads)."""
    locked_j, locked_e, locked_ea = _locked_counts(problem)
    n_j, n_e = len(problem.judges), len(problem.entries)
    judge_ids = np.array([j.id for j in problem.judges], dtype=np.int64)
    entry_ids = np.array([e.id for e in problem.entries], dtype=np.int64)
    source, sink = 0, 1
    judge_node = 2 + np.arange(n_j)
    entry_node = 2 + n_j + np.arange(n_e)
    tails, heads, capacities, costs = [], [], [], []

    # source -> judge slots: parallel arcs of capacity 1 with rising cost
    for ji, judge in enumerate(problem.judges):
        start = locked_j[judge.id]
        slots = int(caps[ji]) - start
        if slots > 0:
            ls = np.arange(slots)
            tails.append(np.full(slots, source))
            heads.append(np.full(slots, judge_node[ji]))
            capacities.append(np.ones(slots, dtype=np.int64))
            costs.append(SLOT_COST * (start + ls))

    # judge -> entry arcs where allowed
    allowed = ~problem.forbidden & ~_locked_mask(problem)
    n_slot_arcs = sum(len(t) for t in tails)
    ji_arr, ei_arr = np.nonzero(allowed)
    pair_cost = (-np.rint(AFFINITY_SCALE * problem.affinity).astype(np.int64)
                 + noise_matrix(problem.seed, judge_ids, entry_ids))
    arc_cost = pair_cost[ji_arr, ei_arr]
    meta: dict = {"pair_arcs": (ji_arr, ei_arr), "judge_ids": judge_ids, "entry_ids": entry_ids}
    if problem.agency_cap is None:
        tails.append(judge_node[ji_arr])
        heads.append(entry_node[ei_arr])
        capacities.append(np.ones(len(ji_arr), dtype=np.int64))
        costs.append(arc_cost)
    else:
        agencies = sorted({j.agency for j in problem.judges})
        agency_of = np.array([agencies.index(j.agency) for j in problem.judges], dtype=np.int64)
        first_mid = 2 + n_j + n_e
        mid = first_mid + ei_arr * len(agencies) + agency_of[ji_arr]
        tails.append(judge_node[ji_arr])
        heads.append(mid)
        capacities.append(np.ones(len(ji_arr), dtype=np.int64))
        costs.append(arc_cost)
        used = sorted(set(mid.tolist()))
        for node in used:
            ei, ai = divmod(node - first_mid, len(agencies))
            cap = problem.agency_cap - locked_ea[(int(entry_ids[ei]), agencies[ai])]
            if cap > 0:
                tails.append(np.array([node]))
                heads.append(np.array([entry_node[ei]]))
                capacities.append(np.array([cap], dtype=np.int64))
                costs.append(np.zeros(1, dtype=np.int64))

    # entry -> sink
    need = np.array([max(e.k - locked_e[e.id], 0) for e in problem.entries], dtype=np.int64)
    tails.append(entry_node)
    heads.append(np.full(n_e, sink))
    capacities.append(need)
    costs.append(np.zeros(n_e, dtype=np.int64))

    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        np.concatenate(tails).astype(np.int32), np.concatenate(heads).astype(np.int32),
        np.concatenate(capacities).astype(np.int64), np.concatenate(costs).astype(np.int64))
    meta["first_pair_arc"] = n_slot_arcs
    meta["demand"] = int(need.sum())
    solver.set_node_supply(source, meta["demand"])
    solver.set_node_supply(sink, -meta["demand"])
    return solver, meta


def _flow_pass(problem: Problem, caps: np.ndarray) -> tuple[list[tuple[int, int]], int, int]:
    """Max flow at min cost; returns the new pairs, the flow cost and the flow value."""
    solver, meta = build_graph(problem, caps)
    status = solver.solve_max_flow_with_min_cost()
    if status != solver.OPTIMAL:
        raise Infeasible([f"the flow solver stopped with status {status}"])
    ji_arr, ei_arr = meta["pair_arcs"]
    first = meta["first_pair_arc"]
    flows = solver.flows(np.arange(first, first + len(ji_arr), dtype=np.int32))
    chosen = np.flatnonzero(flows > 0)
    pairs = [(int(meta["judge_ids"][ji_arr[n]]), int(meta["entry_ids"][ei_arr[n]])) for n in chosen]
    return pairs, int(solver.optimal_cost()), int(solver.maximum_flow())


def solve(problem: Problem) -> Solution:
    """Assign up to k judges per entry; raises Infeasible naming the entries that cannot be covered."""
    reasons, bad = feasibility_problems(problem)
    if reasons:
        raise Infeasible(reasons, bad)
    max_caps = np.array([j.max_load for j in problem.judges], dtype=np.int64)
    min_caps = np.array([min(j.min_load, j.max_load) for j in problem.judges], dtype=np.int64)
    new_pairs: list[tuple[int, int]] = []
    objective = 0
    working = problem
    if min_caps.sum() > 0:
        first, cost, _ = _flow_pass(problem, np.maximum(min_caps, [_locked_counts(problem)[0][j.id]
                                                                    for j in problem.judges]))
        new_pairs.extend(first)
        objective += cost
        working = Problem(judges=problem.judges, entries=problem.entries, affinity=problem.affinity,
                          forbidden=problem.forbidden, locked=set(problem.locked) | set(first),
                          agency_cap=problem.agency_cap, seed=problem.seed)
    second, cost, flow = _flow_pass(working, max_caps)
    _, locked_e, _ = _locked_counts(working)
    demand = sum(max(e.k - locked_e[e.id], 0) for e in problem.entries)
    if flow < demand:
        covered = Counter(entry_id for _, entry_id in second)
        short = [e.id for e in problem.entries if locked_e[e.id] + covered[e.id] < e.k]
        raise Infeasible([f"entry {entry_id} cannot get enough judges within the load limits, conflicts and "
                          "agency cap" for entry_id in short], short)
    new_pairs.extend(second)
    objective += cost
    solution = _summarise(problem, new_pairs, objective)
    violations = check(problem, solution)
    if violations:
        raise Infeasible(violations)
    return solution


def _summarise(problem: Problem, new_pairs: list[tuple[int, int]], objective: int) -> Solution:
    jindex = {j.id: n for n, j in enumerate(problem.judges)}
    eindex = {e.id: n for n, e in enumerate(problem.entries)}
    loads: Counter = Counter()
    min_aff: dict[int, float] = {}
    total = 0.0
    for judge_id, entry_id in list(problem.locked) + new_pairs:
        loads[judge_id] += 1
        if judge_id in jindex and entry_id in eindex:
            a = float(problem.affinity[jindex[judge_id], eindex[entry_id]])
            total += a
            min_aff[entry_id] = min(min_aff.get(entry_id, a), a)
    return Solution(pairs=sorted(new_pairs, key=lambda p: (p[1], p[0])),
                    loads={j.id: loads[j.id] for j in problem.judges}, objective=objective,
                    total_affinity=round(total, 6), min_affinity=min_aff)


def check(problem: Problem, solution: Solution) -> list[str]:
    """Every constraint, checked on the answer itself: nothing is trusted to the solver."""
    problems: list[str] = []
    jindex = {j.id: n for n, j in enumerate(problem.judges)}
    eindex = {e.id: n for n, e in enumerate(problem.entries)}
    agency = {j.id: j.agency for j in problem.judges}
    all_pairs = list(problem.locked) + solution.pairs
    if len(set(all_pairs)) != len(all_pairs):
        problems.append("a judge was assigned to the same entry twice")
    per_entry: dict[int, list[int]] = defaultdict(list)
    for judge_id, entry_id in all_pairs:
        per_entry[entry_id].append(judge_id)
    for judge_id, entry_id in solution.pairs:
        if problem.forbidden[jindex[judge_id], eindex[entry_id]]:
            problems.append(f"judge {judge_id} was assigned to entry {entry_id} despite a conflict")
    _, locked_e, _ = _locked_counts(problem)
    new_e = Counter(entry_id for _, entry_id in solution.pairs)
    for entry in problem.entries:
        # Exactly k, or exactly the locked judges when staff already gave an entry more than k by hand
        # (then nothing is added to it): a top-up never fails on an entry that is already covered.
        if len(per_entry[entry.id]) != max(entry.k, locked_e[entry.id]) or (
                new_e[entry.id] and len(per_entry[entry.id]) != entry.k):
            problems.append(f"entry {entry.id} has {len(per_entry[entry.id])} judges, not {entry.k}")
        if problem.agency_cap is not None:
            counts = Counter(agency.get(j, "") for j in per_entry[entry.id])
            over = [a for a, n in counts.items() if n > problem.agency_cap]
            if over:
                problems.append(f"entry {entry.id} has more than {problem.agency_cap} judge(s) from {', '.join(over)}")
    for judge in problem.judges:
        load = solution.loads.get(judge.id, 0)
        if load > judge.max_load:
            problems.append(f"judge {judge.id} has {load} entries, above the maximum {judge.max_load}")
        if load < judge.min_load:
            problems.append(f"judge {judge.id} has {load} entries, below the minimum {judge.min_load}")
    return problems

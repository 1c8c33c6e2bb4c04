"""Benchmark of ``leaderboard.stats``: bootstrap of every ranking method at Decathlon scale.

    .venv/bin/python -m benchmarks.stats [--tasks 10] [--algorithms 50] [--cases 500]
                                         [--resamples 1000] [--seed 0] [--entrants 500]

Times :func:`leaderboard.stats.bootstrap_table` (full ranking, resamples, re-ranking, Kendall's
tau-b, metric-aggregate intervals) for each method on synthetic Dice values (algorithm skill +
case difficulty + noise, 1 % missing, replaced by 0), against the issue's targets (≤ 2 s for the
aggregate methods and rank-then-aggregate, ≤ 30 s for test-then-rank). Then compares, measured
in the same run, the vectorized parts with their references: the one-sided Wilcoxon tests with
``scipy.stats.wilcoxon`` called per pair and direction on the expanded resamples (a subset of
pairs; the largest p-value difference is printed too), and Kendall's tau-b with
``scipy.stats.kendalltau`` called per resample. Last, the leaderboard's scale (``--entrants``,
default 500, on 20 cases, as benchmarks/pages.py): the full-data Wilcoxon tests of every pair
(the significance map, and four times over in the overall ranking) and Kendall's tau-b of
``--resamples`` resampled rankings, each against the pairwise implementation it replaced
(tests/leaderboard/stats/pairwise_reference.py; the largest difference is printed, 0 when
identical), and the significance map's drawing time and size.
"""

import argparse
import time
import warnings

import numpy as np
from scipy.stats import kendalltau, wilcoxon

from leaderboard.stats import (
    RankingConfig,
    ScoreTable,
    bootstrap_table,
    kendall_tau_b,
    task_matrices,
)
from leaderboard.stats.plots import significance_map
from leaderboard.stats.ties import rank_scores
from leaderboard.stats.wilcoxon import signed_rank_pvalues
from tests.leaderboard.stats import pairwise_reference

TARGETS = {
    "aggregate-mean": 2.0,
    "aggregate-median": 2.0,
    "rank-then-aggregate": 2.0,
    "test-then-rank": 30.0,
}


def synthetic_table(tasks: int, algorithms: int, cases: int, seed: int) -> ScoreTable:
    """Dice-like values in [0, 1] with 1 % missing."""
    rng = np.random.default_rng(seed)
    task, case, algorithm, value = [], [], [], []
    for t in range(tasks):
        skill = rng.normal(0, 0.03, size=(algorithms, 1))
        difficulty = rng.normal(0, 0.08, size=(1, cases))
        dice = np.clip(0.8 + skill + difficulty + rng.normal(0, 0.05, (algorithms, cases)), 0, 1)
        dice[rng.random(dice.shape) < 0.01] = np.nan
        for a in range(algorithms):
            task += [f"Task{t + 1:02d}"] * cases
            case += [f"case_{j:04d}" for j in range(cases)]
            algorithm += [f"team_{a:03d}"] * cases
            value += dice[a].tolist()
    return ScoreTable.from_columns(task=task, case=case, algorithm=algorithm, value=value)


def time_methods(table: ScoreTable, resamples: int, seed: int) -> dict[str, float]:
    timings = {}
    for method, target in TARGETS.items():
        start = time.perf_counter()
        bootstrap_table(table, RankingConfig(method=method, na=0.0), n_boot=resamples, seed=seed)
        timings[method] = elapsed = time.perf_counter() - start
        verdict = "meets" if elapsed <= target else "MISSES"
        print(f"  {method:22s} {elapsed:7.2f} s   (target ≤ {target:g} s: {verdict})")
    return timings


def compare_wilcoxon(values: np.ndarray, counts: np.ndarray) -> None:
    """Our p-values for all ordered pairs of a few algorithms vs scipy per pair and direction."""
    start = time.perf_counter()
    ours = signed_rank_pvalues(values, counts)
    ours_time = time.perf_counter() - start
    draws = [np.repeat(np.arange(counts.shape[1]), c.astype(int)) for c in counts]
    expanded = np.stack([values[:, d] for d in draws], axis=1)  # (K, B, n)
    k = len(values)
    start = time.perf_counter()
    reference = np.full_like(ours, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(k):
            for j in range(k):
                if i != j:
                    reference[:, i, j] = wilcoxon(
                        expanded[i],
                        expanded[j],
                        zero_method="wilcox",
                        correction=True,
                        method="asymptotic",
                        alternative="greater",
                        axis=1,
                    ).pvalue
    scipy_time = time.perf_counter() - start
    off = ~np.eye(k, dtype=bool)
    difference = np.nanmax(np.abs(ours[:, off] - reference[:, off]))
    print(
        f"  Wilcoxon, {k * (k - 1)} ordered pairs × {len(counts)} resamples: ours "
        f"{ours_time:.3f} s, scipy per pair {scipy_time:.3f} s → {scipy_time / ours_time:.1f}× "
        f"(max |Δp| = {difference:.1e})"
    )


def compare_kendall(rankings: np.ndarray, reference: np.ndarray) -> None:
    start = time.perf_counter()
    ours = kendall_tau_b(reference, rankings)
    ours_time = time.perf_counter() - start
    start = time.perf_counter()
    expected = np.array([kendalltau(reference, r).statistic for r in rankings])
    scipy_time = time.perf_counter() - start
    difference = np.nanmax(np.abs(ours - expected))
    print(
        f"  Kendall's tau-b, {len(rankings)} resamples × {rankings.shape[1]} algorithms: ours "
        f"{ours_time:.4f} s, scipy per resample {scipy_time:.3f} s → "
        f"{scipy_time / ours_time:.0f}× (max |Δτ| = {difference:.1e})"
    )


def against_pairwise(name: str, what: str, ours, previous, *args) -> np.ndarray:
    """Run a fast path and the pairwise implementation it replaced; print both times and the
    largest difference (0 when identical). Returns the fast path's result."""
    start = time.perf_counter()
    result = ours(*args)
    ours_time = time.perf_counter() - start
    start = time.perf_counter()
    reference = previous(*args)
    previous_time = time.perf_counter() - start
    difference = np.nanmax(np.abs(result - reference))
    print(f"  {name} {what}: {ours_time:.3f} s, pairwise {previous_time:.3f} s → "
          f"{previous_time / ours_time:.0f}× (max difference {difference:.1e})")
    return result


def leaderboard_scale(entrants: int, resamples: int, seed: int) -> None:
    """The pieces of a snapshot refresh that grew with the square of the entrants."""
    rng = np.random.default_rng(seed)
    skill = np.sort(rng.uniform(0.5, 0.9, entrants))[::-1]
    values = np.clip(skill[:, None] + rng.normal(0, 0.1, (entrants, 20)), 0, 1).round(3)
    pairs = entrants * (entrants - 1) // 2
    pvalues = against_pairwise(
        "Wilcoxon", f"on the full data, {pairs} pairs × 20 cases",
        signed_rank_pvalues, pairwise_reference.signed_rank_pvalues, values,
    )
    full = rank_scores(skill, larger_better=True)
    rankings = rank_scores(skill + rng.normal(0, 0.03, (resamples, entrants)), larger_better=True)
    against_pairwise(
        "Kendall's", f"tau-b, {resamples} rankings × {entrants}",
        kendall_tau_b, pairwise_reference.kendall_tau_b, full, rankings,
    )
    start = time.perf_counter()
    drawn = significance_map([f"team {a:04d}" for a in range(entrants)], pvalues[0] <= 0.05)
    print(f"  significance map, {entrants} × {entrants}: {time.perf_counter() - start:.3f} s, "
          f"{len(drawn.encode()) / 1024:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--algorithms", type=int, default=50)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--entrants", type=int, default=500)
    args = parser.parse_args()
    table = synthetic_table(args.tasks, args.algorithms, args.cases, args.seed)
    print(
        f"bootstrap_table: {args.resamples} resamples × {args.algorithms} algorithms × "
        f"{args.cases} cases × {args.tasks} tasks"
    )
    time_methods(table, args.resamples, args.seed)
    print("references (same run):")
    task = task_matrices(table)["Task01"]
    single = ScoreTable.from_columns(
        **{
            name: getattr(table, name)[table.task == "Task01"].tolist()
            for name in ("task", "case", "algorithm", "value")
        }
    )
    config = RankingConfig(method="aggregate-mean", na=0.0)
    (first,) = bootstrap_table(single, config, n_boot=args.resamples, seed=args.seed)
    values = np.nan_to_num(task.values[:6], nan=0.0)
    compare_wilcoxon(values, first.resamples.counts[:200])
    compare_kendall(first.ranks, first.full.rank)
    print(f"leaderboard scale ({args.entrants} entrants):")
    leaderboard_scale(args.entrants, args.resamples, args.seed)


if __name__ == "__main__":
    main()

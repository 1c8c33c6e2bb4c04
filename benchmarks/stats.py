"""Benchmark of ``leaderboard.stats``: bootstrap of every ranking method at Decathlon scale.

    .venv/bin/python benchmarks/stats.py [--tasks 10] [--algorithms 50] [--cases 500]
                                         [--resamples 1000] [--seed 0]

Times :func:`leaderboard.stats.bootstrap_table` (full ranking, resamples, re-ranking, Kendall's
tau-b, metric-aggregate intervals) for each method on synthetic Dice values (algorithm skill +
case difficulty + noise, 1 % missing, replaced by 0), against the issue's targets (≤ 2 s for the
aggregate methods and rank-then-aggregate, ≤ 30 s for test-then-rank). Then compares, measured
in the same run, the vectorized parts with their references: the one-sided Wilcoxon tests with
``scipy.stats.wilcoxon`` called per pair and direction on the expanded resamples (a subset of
pairs; the largest p-value difference is printed too), and Kendall's tau-b with
``scipy.stats.kendalltau`` called per resample.
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
from leaderboard.stats.wilcoxon import signed_rank_pvalues

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--algorithms", type=int, default=50)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
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


if __name__ == "__main__":
    main()

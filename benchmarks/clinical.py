"""Benchmark of the clinical bootstrap: AUROC and C-index over 1,000 resamples, 50 algorithms ×
500 cases, against the reference libraries called once per resample and algorithm.

    .venv/bin/python -m benchmarks.clinical [--algorithms 50] [--cases 500] [--resamples 1000]
                                            [--repeats 3] [--subset 20] [--seed 0]

Times :func:`leaderboard.stats.clinical.clinical_bootstrap` (full-data metric, the (B, n)
multiplicities drawn once, every algorithm's metric on all resamples through ``weights=``,
re-ranking, Kendall's tau-b) for AUROC on binary labels (40 % positive, probabilities on a
0.01 grid, so tied), and for Harrell's C-index and Uno's C (τ at the 80th percentile of the
times) on survival data (integer days, about 60 % censored); the median of ``--repeats`` runs
against the issue's target (≤ 2 s each for AUROC and the C-index). The references run on the
same resamples, each expanded into its drawn cases: ``sklearn.metrics.roc_auc_score``,
``lifelines.utils.concordance_index`` (with −risk), ``sksurv.metrics.
concordance_index_censored`` and ``concordance_index_ipcw``. A full loop would take minutes, so
each reference runs on the first ``--subset`` resamples of every algorithm and its time is
extrapolated to all of them (printed as such); the largest difference from our values on those
resamples is printed too.
"""

import argparse
import statistics
import time
import warnings

import numpy as np
from lifelines.utils import concordance_index
from sklearn.metrics import roc_auc_score
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw
from sksurv.util import Surv

from leaderboard.stats.clinical import clinical_bootstrap

TARGET_S = 2.0


def classification_data(algorithms: int, cases: int, seed: int):
    rng = np.random.default_rng(seed)
    label = (rng.random(cases) < 0.4).astype(np.int64)
    skill = rng.uniform(0.2, 1.5, algorithms)
    predictions = {
        f"team_{a:03d}": {"probability": np.round(
            1 / (1 + np.exp(-(skill[a] * (2 * label - 1) + rng.normal(size=cases)))), 2)}
        for a in range(algorithms)
    }
    return predictions, {"label": label}


def survival_data(algorithms: int, cases: int, seed: int):
    rng = np.random.default_rng(seed + 1)
    hazard = rng.normal(size=cases)
    event_time = rng.exponential(365 * np.exp(-hazard))
    censor_time = rng.exponential(300, cases)
    time_ = np.ceil(np.minimum(event_time, censor_time))
    event = (event_time <= censor_time).astype(np.int64)
    predictions = {
        f"team_{a:03d}": {"risk": np.round(hazard * rng.uniform(0.2, 1.0)
                                           + rng.normal(size=cases), 2)}
        for a in range(algorithms)
    }
    return predictions, {"time": time_, "event": event}


def ours(predictions, truth, metric, config, *, resamples, seed, repeats):
    times, boot = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        boot = clinical_bootstrap(predictions, truth, metric=metric, config=config,
                                  n_boot=resamples, seed=seed, ties="min")
        times.append(time.perf_counter() - start)
    return statistics.median(times), boot


def reference(name, call, boot, predictions, truth, subset):
    """Seconds for ``call`` on the first ``subset`` resamples of every algorithm, extrapolated to
    all; the largest difference from the bootstrap's values there."""
    draws = boot.resamples.draws
    worst, start = 0.0, time.perf_counter()
    for k, algorithm in enumerate(boot.algorithms):
        for b in range(subset):
            index = draws[b]
            value = call({key: v[index] for key, v in predictions[algorithm].items()},
                         {key: v[index] for key, v in truth.items()})
            worst = max(worst, abs(value - boot.scores[b, k]))
    elapsed = (time.perf_counter() - start) * len(draws) / subset
    return name, elapsed, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algorithms", type=int, default=50)
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--subset", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"{args.algorithms} algorithms × {args.cases} cases × {args.resamples} resamples; "
          f"references timed on {args.subset} resamples per algorithm and extrapolated "
          f"(× {args.resamples / args.subset:g})")
    classification = classification_data(args.algorithms, args.cases, args.seed)
    survival = survival_data(args.algorithms, args.cases, args.seed)
    tau = float(np.quantile(survival[1]["time"], 0.8))
    rows = []
    for metric, data, config, references in (
        ("auroc", classification, {}, [
            ("scikit-learn roc_auc_score",
             lambda p, t: roc_auc_score(t["label"], p["probability"])),
        ]),
        ("c_index", survival, {}, [
            ("lifelines concordance_index",
             lambda p, t: concordance_index(t["time"], -p["risk"], t["event"])),
            ("scikit-survival concordance_index_censored",
             lambda p, t: concordance_index_censored(t["event"].astype(bool), t["time"],
                                                     p["risk"])[0]),
        ]),
        ("uno_c", survival, {"tau": tau}, [
            ("scikit-survival concordance_index_ipcw",
             lambda p, t: concordance_index_ipcw(
                 Surv.from_arrays(t["event"].astype(bool), t["time"]),
                 Surv.from_arrays(t["event"].astype(bool), t["time"]), p["risk"], tau)[0]),
        ]),
    ):
        seconds, boot = ours(*data, metric, config, resamples=args.resamples, seed=args.seed,
                             repeats=args.repeats)
        target = f"target ≤ {TARGET_S:g} s: {'met' if seconds <= TARGET_S else 'MISSED'}" if (
            metric != "uno_c") else "no target"
        print(f"\n{metric}: Podium clinical_bootstrap {seconds:.3f} s (median of "
              f"{args.repeats}; {target})")
        for name, elapsed, worst in (reference(name, call, boot, *data, args.subset)
                                     for name, call in references):
            print(f"  {name}: {elapsed:.1f} s extrapolated, {elapsed / seconds:.0f}× slower; "
                  f"largest |Δ| {worst:.1e}")
            rows.append((metric, seconds, name, elapsed))
    print("\n| metric | Podium | reference (looped, extrapolated) | ratio |\n|---|---|---|---|")
    for metric, seconds, name, elapsed in rows:
        print(f"| {metric} | {seconds:.2f} s | {name}: {elapsed:.0f} s | "
              f"{elapsed / seconds:.0f}× |")


if __name__ == "__main__":
    main()

"""``podium-rank`` (or ``python -m leaderboard.stats``) ``rank|bootstrap|consensus`` —
reproduce a leaderboard offline.

The options and CSV columns are a contract (issue 4; docs/ranking.md):

- ``rank --input data.csv [more.csv …] (--method M | --config phase.json) [--smaller-better]
  [--na VALUE|worst|drop] [--ties min|average] [--adjust none|holm|bonferroni] [--alpha 0.05]
  --out ranking.csv`` → ``task, algorithm, score, rank``. The input files are read as one
  table. ``--config`` (a phase's exported configuration) sets the method and every option as
  the phase's leaderboard uses them, its bootstrap's resamples and seed included; an option
  given as well overrides it.
- ``bootstrap`` with the same options plus ``[--samples FILE | --n 1000 --seed S]
  [--compat challengeR] --out-dir DIR`` → ``ranks.csv`` (``task, boot, algorithm, score,
  rank``), ``summary.csv`` (``task, algorithm, full_rank, mean_rank, median_rank, q025, q975,
  p_rank1 … p_rankK``), ``kendall.csv`` (``task, boot, tau``); also ``samples.csv`` (the
  resamples used, ``task, boot, draw, case``) and ``aggregates.csv`` (``task, algorithm,
  aggregate, value, q025, q975``).
- ``consensus --input ranking.csv --out consensus.csv`` → ``algorithm, consensus_score, rank``.

Input problems end the command with exit status 2 and a one-line message on stderr.
"""

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from leaderboard.stats.bootstrap import RankSummary, TaskBootstrap, bootstrap_table
from leaderboard.stats.consensus import mean_rank_consensus
from leaderboard.stats.csvio import (
    read_rankings,
    read_resample_table,
    read_score_table,
    write_columns,
    write_rows,
)
from leaderboard.stats.errors import StatsInputError
from leaderboard.stats.methods import ADJUSTMENTS, RankingConfig, rank_table
from leaderboard.stats.registry import method_names
from leaderboard.stats.table import ScoreTable
from leaderboard.stats.ties import rank_order
from scorers.cli_config import load_phase_config


def _na_rule(text: str) -> float | str:
    if text in ("worst", "drop"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number, 'worst' or 'drop', got {text!r}"
        ) from None


# What an option left out means when no --config gives it either.
_DEFAULTS = {"na": "worst", "ties": "min", "adjust": "none", "alpha": 0.05, "n": 1000, "seed": 0}


def _ranking_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", type=Path, nargs="+", required=True,
        help="CSV: task, case, algorithm, value (several files are read as one table)",
    )
    parser.add_argument("--config", type=Path,
                        help="a phase's config.json: its ranking method and options")
    parser.add_argument("--method", choices=method_names(), help="required without --config")
    parser.add_argument("--smaller-better", action="store_true", help="smaller values are better")
    parser.add_argument(
        "--na",
        type=_na_rule,
        help="missing values: a number, 'worst' (default) or 'drop'",
    )
    parser.add_argument("--ties", choices=("min", "average"), help="default min")
    parser.add_argument("--adjust", choices=ADJUSTMENTS, help="default none")
    parser.add_argument("--alpha", type=float, help="default 0.05")


def _prog() -> str:
    """The name the command was run by: the installed ``podium-rank``, or the module."""
    name = Path(sys.argv[0]).name
    return "python -m leaderboard.stats" if name in ("__main__.py", "") else name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(), description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rank = commands.add_parser("rank", help="rank every task")
    _ranking_options(rank)
    rank.add_argument("--out", type=Path, required=True)
    boot = commands.add_parser("bootstrap", help="bootstrap the ranking of every task")
    _ranking_options(boot)
    source = boot.add_mutually_exclusive_group()
    source.add_argument("--samples", type=Path, help="CSV: task, boot, draw, case")
    source.add_argument("--n", type=int, help="resamples per task (default 1000)")
    boot.add_argument("--seed", type=int, help="seed of the resamples (default 0)")
    boot.add_argument("--compat", choices=("challengeR",), help="challengeR's duplicate handling")
    boot.add_argument("--out-dir", type=Path, required=True)
    consensus = commands.add_parser("consensus", help="mean-rank consensus across tasks")
    consensus.add_argument(
        "--input", type=Path, required=True, help="CSV: task, algorithm, score, rank"
    )
    consensus.add_argument("--out", type=Path, required=True)
    return parser


def _phase_ranking(path: Path) -> dict:
    """The ``ranking`` block of a phase's exported configuration, with the names of the
    options here: method, larger_better, na, ties, adjust, alpha, n (resamples), seed."""
    where = f"--config {path.name}"
    config = load_phase_config(path, StatsInputError, "podium-rank")
    try:
        kind = config["task"]["kind"]
    except (KeyError, TypeError):
        raise StatsInputError(f"{where}: incomplete or malformed (download it again)") from None
    if kind != "segmentation":
        raise StatsInputError(f"{where}: a {kind} phase ranks one value per submission, not a "
                              "per-case table; podium-rank ranks segmentation phases")
    try:
        ranking = config["ranking"]
        options = {name: ranking[name] for name in ("method", "ties", "adjust", "alpha", "na")}
        options.update(larger_better=bool(ranking["larger_better"]),
                       n=int(ranking["bootstrap_samples"]), seed=int(ranking["seed"]))
    except (KeyError, TypeError, ValueError):
        raise StatsInputError(f"{where}: incomplete or malformed (download it again)") from None
    if options["method"] not in method_names():
        raise StatsInputError(f"{where}: unknown ranking method {options['method']!r}")
    return options


def _resolve(args: argparse.Namespace) -> None:
    """Fill each option left out from --config, else from :data:`_DEFAULTS`."""
    phase = _phase_ranking(args.config) if args.config is not None else {}
    for name, default in _DEFAULTS.items():
        if getattr(args, name, default) is None:
            setattr(args, name, phase.get(name, default))
    if args.method is None:
        if "method" not in phase:
            raise StatsInputError("give --method, or --config with a phase's configuration")
        args.method = phase["method"]
    args.larger_better = not args.smaller_better and phase.get("larger_better", True)
    if getattr(args, "n", None) == 0 and phase.get("n") == 0 and args.samples is None:
        raise StatsInputError(f"--config {args.config.name}: the phase draws no bootstrap "
                              "resamples; use 'rank', or give --n")


def _config(args: argparse.Namespace) -> RankingConfig:
    return RankingConfig(
        method=args.method,
        larger_better=args.larger_better,
        na=args.na,
        ties=args.ties,
        adjust=args.adjust,
        alpha=args.alpha,
    )


def _read_inputs(paths: Sequence[Path]) -> ScoreTable:
    """The score tables of ``paths`` as one table (a pair given twice is refused)."""
    tables = [read_score_table(path) for path in paths]
    if len(tables) == 1:
        return tables[0]
    return ScoreTable.from_columns(**{
        name: np.concatenate([getattr(table, name) for table in tables])
        for name in ("task", "case", "algorithm", "value")
    })


def _rank(args: argparse.Namespace) -> None:
    rankings = rank_table(_read_inputs(args.input), _config(args))
    rows = [row for ranking in rankings for row in ranking.records()]
    write_rows(args.out, ("task", "algorithm", "score", "rank"), rows)


def _bootstrap(args: argparse.Namespace) -> None:
    samples = read_resample_table(args.samples) if args.samples else None
    results = bootstrap_table(
        _read_inputs(args.input),
        _config(args),
        n_boot=args.n,
        seed=args.seed,
        samples=samples,
        compat=args.compat,
    )
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    k_max = max(len(result.algorithms) for result in results)
    summary_columns = ["task", "algorithm", "full_rank", "mean_rank", "median_rank", "q025", "q975"]
    summary_columns += [f"p_rank{r}" for r in range(1, k_max + 1)]
    summaries = [result.summary() for result in results]
    write_columns(
        out / "ranks.csv", ("task", "boot", "algorithm", "score", "rank"), _rank_columns(results)
    )
    write_rows(
        out / "summary.csv",
        summary_columns,
        (row for summary in summaries for row in summary.records()),
    )
    write_rows(
        out / "kendall.csv",
        ("task", "boot", "tau"),
        (row for result in results for row in result.kendall_records()),
    )
    tables = [result.samples for result in results]
    write_columns(
        out / "samples.csv",
        ("task", "boot", "draw", "case"),
        [
            np.concatenate([getattr(t, name) for t in tables])
            for name in ("task", "boot", "draw", "case")
        ],
    )
    write_rows(
        out / "aggregates.csv",
        ("task", "algorithm", "aggregate", "value", "q025", "q975"),
        (row for summary in summaries for row in _aggregate_rows(summary)),
    )


def _rank_columns(results: list[TaskBootstrap]) -> list[np.ndarray]:
    """Columns task, boot, algorithm, score, rank: every resample, algorithms by name."""
    columns: list[list[np.ndarray]] = [[], [], [], [], []]
    for result in results:
        n_boot, k = result.ranks.shape
        columns[0].append(np.full(n_boot * k, result.task))
        columns[1].append(np.repeat(result.boot, k))
        columns[2].append(np.tile(np.asarray(result.algorithms, dtype=str), n_boot))
        columns[3].append(result.scores.reshape(-1))
        columns[4].append(result.ranks.reshape(-1))
    return [np.concatenate(parts) for parts in columns]


def _aggregate_rows(summary: RankSummary) -> list[dict[str, object]]:
    return [
        {
            "task": summary.task,
            "algorithm": summary.algorithms[k],
            "aggregate": summary.aggregate,
            "value": float(summary.aggregate_value[k]),
            "q025": float(summary.aggregate_q025[k]),
            "q975": float(summary.aggregate_q975[k]),
        }
        for k in rank_order(summary.full_rank, summary.algorithms)
    ]


def _consensus(args: argparse.Namespace) -> None:
    consensus = mean_rank_consensus(read_rankings(args.input))
    write_rows(args.out, ("algorithm", "consensus_score", "rank"), consensus.records())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 input problem)."""
    args = _parser().parse_args(argv)
    command = {"rank": _rank, "bootstrap": _bootstrap, "consensus": _consensus}[args.command]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if args.command != "consensus":
                _resolve(args)
            command(args)
        for message in dict.fromkeys(str(warning.message) for warning in caught):
            print(f"warning: {message}", file=sys.stderr)
    except StatsInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.strerror}: {error.filename}", file=sys.stderr)
        return 2
    return 0

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from leaderboard.stats.cli import main
from tests.leaderboard.stats.examples import CASES, VALUES

ROOT = Path(__file__).resolve().parents[3]


def write_csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def read_csv(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def data(tmp_path):
    rows = [
        ("T", case, algorithm, value)
        for algorithm, row in VALUES.items()
        for case, value in zip(CASES, row, strict=True)
    ]
    rows += [
        ("U", case, algorithm, value if case != "c6" or algorithm != "B" else "")
        for _, case, algorithm, value in rows
    ]
    path = tmp_path / "data.csv"
    write_csv(path, ["task", "case", "algorithm", "value"], rows)
    return path


def test_rank_writes_the_contract_columns(data, tmp_path):
    out = tmp_path / "ranking.csv"
    assert (
        main(["rank", "--input", str(data), "--method", "test-then-rank", "--out", str(out)]) == 0
    )
    rows = read_csv(out)
    assert list(rows[0]) == ["task", "algorithm", "score", "rank"]
    assert [(r["task"], r["algorithm"], r["score"], r["rank"]) for r in rows[:3]] == [
        ("T", "A", "0.5", "1"),
        ("T", "B", "0", "2"),
        ("T", "C", "0", "2"),
    ]


def test_rank_options_reach_the_method(data, tmp_path):
    out = tmp_path / "ranking.csv"
    argv = [
        "rank",
        "--input",
        str(data),
        "--method",
        "aggregate-mean",
        "--na",
        "0",
        "--smaller-better",
        "--ties",
        "average",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    u_rows = [r for r in read_csv(out) if r["task"] == "U"]
    assert [(r["algorithm"], r["score"], r["rank"]) for r in u_rows] == [
        ("B", "68.5", "1"),
        ("C", "77.5", "2"),
        ("A", repr(496 / 6), "3"),
    ]


def test_bootstrap_round_trip_with_its_own_samples(data, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--input", str(data), "--method", "rank-then-aggregate", "--na", "worst"]
    assert main(["bootstrap", *common, "--n", "25", "--seed", "4", "--out-dir", str(first)]) == 0
    samples = first / "samples.csv"
    assert main(["bootstrap", *common, "--samples", str(samples), "--out-dir", str(second)]) == 0
    for name in ("ranks.csv", "summary.csv", "kendall.csv", "aggregates.csv"):
        assert (first / name).read_text() == (second / name).read_text(), name
    assert list(read_csv(first / "ranks.csv")[0]) == ["task", "boot", "algorithm", "score", "rank"]
    assert list(read_csv(first / "kendall.csv")[0]) == ["task", "boot", "tau"]
    summary = read_csv(first / "summary.csv")
    assert list(summary[0]) == [
        "task",
        "algorithm",
        "full_rank",
        "mean_rank",
        "median_rank",
        "q025",
        "q975",
        "p_rank1",
        "p_rank2",
        "p_rank3",
    ]
    assert len(summary) == 6 and len(read_csv(first / "ranks.csv")) == 2 * 25 * 3


def test_bootstrap_compat_and_adjust_options(data, tmp_path):
    out = tmp_path / "out"
    argv = [
        "bootstrap",
        "--input",
        str(data),
        "--method",
        "test-then-rank",
        "--adjust",
        "holm",
        "--alpha",
        "0.1",
        "--n",
        "5",
        "--seed",
        "1",
        "--compat",
        "challengeR",
        "--out-dir",
        str(out),
    ]
    assert main(argv) == 0
    assert all(float(r["score"]) in (0.0, 0.5, 1.0) for r in read_csv(out / "ranks.csv"))


def test_consensus_round_trip(data, tmp_path):
    ranking, consensus = tmp_path / "ranking.csv", tmp_path / "consensus.csv"
    assert (
        main(
            ["rank", "--input", str(data), "--method", "rank-then-aggregate", "--out", str(ranking)]
        )
        == 0
    )
    assert main(["consensus", "--input", str(ranking), "--out", str(consensus)]) == 0
    rows = read_csv(consensus)
    assert list(rows[0]) == ["algorithm", "consensus_score", "rank"]
    # T: A 1, B 2, C 2 → 1, 2.5, 2.5; U (B missing on c6): A 1, C 2, B 3
    assert [(r["algorithm"], r["consensus_score"], r["rank"]) for r in rows] == [
        ("A", "1", "1"),
        ("C", "2.25", "2"),
        ("B", "2.75", "3"),
    ]


def test_input_problems_exit_2_with_a_message(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    write_csv(
        bad, ["task", "case", "algorithm", "value"], [["T", "c1", "A", "1"], ["T", "c1", "A", "2"]]
    )
    assert (
        main(
            [
                "rank",
                "--input",
                str(bad),
                "--method",
                "aggregate-mean",
                "--out",
                str(tmp_path / "o.csv"),
            ]
        )
        == 2
    )
    assert "duplicate rows" in capsys.readouterr().err
    write_csv(bad, ["task", "case", "algorithm"], [["T", "c1", "A"]])
    assert (
        main(
            [
                "rank",
                "--input",
                str(bad),
                "--method",
                "aggregate-mean",
                "--out",
                str(tmp_path / "o.csv"),
            ]
        )
        == 2
    )
    assert "missing column(s) value" in capsys.readouterr().err
    assert (
        main(
            [
                "rank",
                "--input",
                str(tmp_path / "absent.csv"),
                "--method",
                "aggregate-mean",
                "--out",
                str(tmp_path / "o.csv"),
            ]
        )
        == 2
    )


def test_dropping_warns_on_stderr(data, tmp_path, capsys):
    assert (
        main(
            [
                "rank",
                "--input",
                str(data),
                "--method",
                "aggregate-mean",
                "--na",
                "drop",
                "--out",
                str(tmp_path / "o.csv"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert err.count("warning: task U: 1 missing values dropped") == 1


def test_python_dash_m_entry_point(data, tmp_path):
    out = tmp_path / "ranking.csv"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "leaderboard.stats",
            "rank",
            "--input",
            str(data),
            "--method",
            "aggregate-median",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert read_csv(out)[0] == {"task": "T", "algorithm": "A", "score": "84", "rank": "1"}

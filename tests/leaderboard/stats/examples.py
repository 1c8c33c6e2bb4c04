"""The worked example of docs/ranking.md: three algorithms, six cases, Dice × 100."""

from leaderboard.stats.table import ScoreTable

CASES = ("c1", "c2", "c3", "c4", "c5", "c6")
VALUES = {
    "A": (91, 82, 86, 74, 95, 68),
    "B": (88, 78, 85, 70, 90, 69),
    "C": (80, 85, 75, 72, 93, 60),
}


def example_table(values=VALUES, task="T") -> ScoreTable:
    rows = [
        {"task": task, "case": case, "algorithm": algorithm, "value": value}
        for algorithm, row in values.items()
        for case, value in zip(CASES, row, strict=True)
    ]
    return ScoreTable.from_records(rows)


def with_missing_b6() -> ScoreTable:
    """The example with B's value on c6 missing."""
    return example_table({**VALUES, "B": (88, 78, 85, 70, 90, None)})

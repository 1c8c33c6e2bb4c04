import xml.etree.ElementTree as ET

import numpy as np
import pytest

from leaderboard.stats.bootstrap import bootstrap_table
from leaderboard.stats.case_plots import case_plot, podium_plot
from leaderboard.stats.methods import RankingConfig, significance
from leaderboard.stats.plots import blob_plot, significance_map
from leaderboard.stats.table import ScoreTable, task_matrices
from tests.leaderboard.stats.examples import VALUES, example_table

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script>'


def hostile_table():
    return example_table(
        {EVIL: VALUES["A"], "B & co": VALUES["B"], "C": (80, 85, 75, None, 93, 60)}
    )


def parse(svg_text):
    root = ET.fromstring(svg_text)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root):
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def assert_escaped(svg_text, root):
    assert "<script" not in svg_text
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    assert any(EVIL[:10] in t for t in texts(root))


def test_blob_plot_draws_one_blob_per_rank_taken():
    result = bootstrap_table(
        hostile_table(), RankingConfig(method="aggregate-mean", na=0), n_boot=60, seed=2
    )[0]
    svg_text = blob_plot(result)
    root = parse(svg_text)
    assert_escaped(svg_text, root)
    blobs = sum(len(np.unique(result.ranks[:, k])) for k in range(3))
    assert len(list(root.iter(f"{SVG}circle"))) == blobs
    assert any("60 resamples" in t for t in texts(root))


def filled_cells(root, k):
    """The cells that the significance map's superior path covers, as a K × K matrix: each
    part of the path is a run ``M{column} {row}h{length}v1h-{length}z`` in cell units."""
    (path,) = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "#e6ab02"]
    cells = np.zeros((k, k), dtype=bool)
    for part in filter(None, path.get("d").split("z")):
        column, rest = part[1:].split(" ")
        row, length = rest.split("h")[:2]
        length = length.split("v")[0]
        assert part == f"M{column} {row}h{length}v1h-{length}"
        row, column, length = int(row), int(column), int(length)
        assert not cells[row, column : column + length].any()  # runs never overlap
        cells[row, column : column + length] = True
    return cells


def test_significance_map_fills_the_superior_cells():
    (matrix,) = task_matrices(example_table()).values()
    superior = significance(matrix, RankingConfig(method="test-then-rank"))[0]
    root = parse(significance_map(list(matrix.algorithms), superior, title="T"))
    assert int(superior.sum()) == 1
    np.testing.assert_array_equal(filled_cells(root, 3), superior)
    with pytest.raises(ValueError, match="3 × 3"):
        significance_map(["A", "B", "C"], np.zeros((2, 2), bool))


def benchmark_superiority(k, seed=0):
    """A significance matrix as a leaderboard of k entrants has it (benchmarks/pages.py's
    skills and noise on 20 cases, 2 labels), rows and columns in rank order."""
    rng = np.random.default_rng(seed)
    skill = np.sort(rng.uniform(0.5, 0.9, k))[::-1]
    values = np.clip(skill[:, None, None] + rng.normal(0, 0.1, (k, 20, 2)), 0, 1).mean(axis=2)
    names = [f"team {a:04d}" for a in range(k)]
    (matrix,) = task_matrices(ScoreTable.from_columns(
        task=["T"] * values.size, case=[f"c{j:02d}" for _ in range(k) for j in range(20)],
        algorithm=[name for name in names for _ in range(20)],
        value=values.reshape(-1).tolist())).values()
    return names, significance(matrix, RankingConfig(method="test-then-rank"))[0]


def test_significance_map_of_500_entrants_stays_small_and_exact():
    names, superior = benchmark_superiority(500)
    svg_text = significance_map(names, superior, title="Significance map: T")
    # a rectangle per cell made 22.7 MB; runs in cell units keep it well under 300 KB
    assert len(svg_text.encode()) < 300_000
    root = parse(svg_text)
    np.testing.assert_array_equal(filled_cells(root, 500), superior)
    assert root.find(f"{SVG}title").text == "Significance map: T"
    description = root.find(f"{SVG}desc").text
    assert "500 algorithms" in description and f"{int(superior.sum())} of the 249500" in description
    labels = texts(root)
    assert labels.count("team 0499") == 2  # a row and a column label for every entrant
    width, height = float(root.get("width")), float(root.get("height"))
    assert width >= 500 * 14 and height >= 500 * 14  # cells at least a label high: it scrolls


def test_significance_map_shows_long_names_cut_with_the_full_name_as_tooltip():
    long = "a team with a very long name indeed"
    svg_text = significance_map([long, EVIL, "C"], np.eye(3, k=1, dtype=bool))
    root = parse(svg_text)
    assert_escaped(svg_text, root)
    tooltips = {t.find(f"{SVG}title").text: "".join(t.itertext())
                for t in root.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None}
    assert set(tooltips) == {long, EVIL}  # "C" is shown whole: no tooltip
    assert tooltips[long] == long + long[:23] + "…"
    assert texts(root).count("C") == 2


def test_case_plot_draws_every_present_value_and_counts_missing_ones():
    (matrix,) = task_matrices(hostile_table()).values()
    svg_text = case_plot(matrix, metric="Dice × 100", order=["C", EVIL, "B & co"])
    root = parse(svg_text)
    assert_escaped(svg_text, root)
    dots = [c for c in root.iter(f"{SVG}circle")]
    assert len(dots) == 17  # 18 values, one missing
    assert "n/a: 1" in texts(root)


def test_podium_plot_joins_the_dots_of_each_case():
    (matrix,) = task_matrices(hostile_table()).values()
    svg_text = podium_plot(matrix, larger_better=True)
    root = parse(svg_text)
    assert_escaped(svg_text, root)
    assert len(list(root.iter(f"{SVG}polyline"))) == 6
    assert len(list(root.iter(f"{SVG}circle"))) == 17


def test_order_must_name_every_algorithm():
    (matrix,) = task_matrices(example_table()).values()
    with pytest.raises(ValueError, match="every algorithm"):
        case_plot(matrix, order=["A", "B"])


def test_the_significance_legend_says_when_no_pair_differs():
    none = parse(significance_map(["A", "B", "C"], np.zeros((3, 3), bool)))
    assert "(no pair differs significantly)" in texts(none)
    assert {"row significantly better than column", "not significantly better"} <= set(
        texts(none))
    some = parse(significance_map(["A", "B", "C"], np.eye(3, k=1, dtype=bool)))
    assert "(no pair differs significantly)" not in texts(some)
    assert "0 of the 6 ordered pairs" in none.find(f"{SVG}desc").text


def test_a_lone_entrants_blob_stays_above_its_name():
    lone = bootstrap_table(example_table({"solo": VALUES["A"]}),
                           RankingConfig(method="aggregate-mean", na=0), n_boot=20, seed=1)[0]
    root = parse(blob_plot(lone))
    (blob,) = list(root.iter(f"{SVG}circle"))
    (name,) = [t for t in root.iter(f"{SVG}text") if "".join(t.itertext()).endswith("solo")]
    # the name hangs from its anchor (rotated −60°, anchored at its end); its glyphs rise
    # about 5 px above it
    assert float(blob.get("cy")) + float(blob.get("r")) < float(name.get("y")) - 5

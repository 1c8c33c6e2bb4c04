import xml.etree.ElementTree as ET

import numpy as np
import pytest

from leaderboard.stats.bootstrap import bootstrap_table
from leaderboard.stats.case_plots import case_plot, podium_plot
from leaderboard.stats.methods import RankingConfig, significance
from leaderboard.stats.plots import blob_plot, significance_map
from leaderboard.stats.table import task_matrices
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


def test_significance_map_fills_the_superior_cells():
    (matrix,) = task_matrices(example_table()).values()
    superior = significance(matrix, RankingConfig(method="test-then-rank"))[0]
    root = parse(significance_map(list(matrix.algorithms), superior, title="T"))
    filled = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == "#e6ab02"]
    assert len(filled) == int(superior.sum()) == 1
    with pytest.raises(ValueError, match="3 × 3"):
        significance_map(["A", "B", "C"], np.zeros((2, 2), bool))


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

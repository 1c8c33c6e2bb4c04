"""Leaderboard statistics: a pure library (numpy and scipy; never Django).

challengeR's pipeline, one step per module: a long table (:mod:`.table`) → a ranking method per
task (:mod:`.methods`; every method is an entry of :mod:`.registry`) → a bootstrap over cases
(:mod:`.bootstrap`, :mod:`.resamples`; :mod:`.detection` for mAP over images, :mod:`.clinical`
for AUROC, the C-index and the other set-level clinical metrics) → summaries →
consensus across tasks (:mod:`.consensus`) → SVG plots (:mod:`.plots`, :mod:`.case_plots`).
docs/ranking.md explains every method; docs/extending.md shows how to add one.
"""

from leaderboard.stats.bootstrap import (
    RankSummary,
    TaskBootstrap,
    bootstrap_table,
    bootstrap_task,
    kendall_tau_b,
)
from leaderboard.stats.case_plots import case_plot, podium_plot
from leaderboard.stats.clinical import (
    clinical_bootstrap,
    delong_test,
    paired_bootstrap_test,
    significance_matrix,
)
from leaderboard.stats.consensus import (
    Consensus,
    Criterion,
    mean_rank_consensus,
    msd_consensus,
    msd_ranking,
)
from leaderboard.stats.detection import detection_bootstrap
from leaderboard.stats.errors import DroppedCasesWarning, StatsInputError
from leaderboard.stats.methods import (
    RankingConfig,
    TaskRanking,
    rank_table,
    rank_task,
    significance,
)
from leaderboard.stats.plots import blob_plot, significance_map
from leaderboard.stats.registry import (
    RankingMethod,
    method_names,
    ranking_method,
    ranking_methods,
    register,
    unregister,
)
from leaderboard.stats.resamples import ResampleTable
from leaderboard.stats.table import ScoreTable, TaskMatrix, task_matrices

__all__ = [
    "Consensus",
    "Criterion",
    "DroppedCasesWarning",
    "RankSummary",
    "RankingConfig",
    "RankingMethod",
    "ResampleTable",
    "ScoreTable",
    "StatsInputError",
    "TaskBootstrap",
    "TaskMatrix",
    "TaskRanking",
    "blob_plot",
    "bootstrap_table",
    "bootstrap_task",
    "case_plot",
    "clinical_bootstrap",
    "delong_test",
    "detection_bootstrap",
    "kendall_tau_b",
    "mean_rank_consensus",
    "method_names",
    "msd_consensus",
    "msd_ranking",
    "paired_bootstrap_test",
    "podium_plot",
    "rank_table",
    "rank_task",
    "ranking_method",
    "ranking_methods",
    "register",
    "significance",
    "significance_map",
    "significance_matrix",
    "task_matrices",
    "unregister",
]

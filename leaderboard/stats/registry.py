"""The registry of ranking methods: the one place a method is named, labelled and explained.

An entry holds what every consumer needs — the scoring function (:mod:`.methods`, the
bootstrap), the metric aggregate shown beside the rank (:mod:`.bootstrap`, the leaderboard),
the direction of the method's score, the label of the phase's choices and the sentence on the
leaderboard page. The built-in methods are registered by :mod:`leaderboard.stats.methods`,
which importing anything from ``leaderboard.stats`` loads first. docs/extending.md shows how
to add one.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from leaderboard.stats.errors import StatsInputError

if TYPE_CHECKING:
    from leaderboard.stats.methods import RankingConfig
    from leaderboard.stats.table import TaskMatrix

ScoreFunction = Callable[["TaskMatrix", "RankingConfig", np.ndarray, bool], np.ndarray]
"""``(matrix, config, counts, compat) → scores``: (K, n) values, (B, n) case multiplicities
→ (B, K) scores; ``compat`` asks for challengeR's handling of duplicated cases."""

Direction = Literal["metric", "larger", "smaller"]
METRIC_AGGREGATES = ("mean", "median")


@dataclass(frozen=True)
class RankingMethod:
    """One ranking method.

    ``aggregate`` names the metric aggregate shown with the ranking; when ``ranks_aggregate``
    the method's score *is* that aggregate (aggregate-then-rank), otherwise it must be one of
    ``METRIC_AGGREGATES``, computed beside the score. ``direction`` says which scores are
    better: ``"metric"`` as the metric's values, else ``"larger"`` or ``"smaller"``.
    ``sentence`` explains the method on pages, or builds that text from the config.
    """

    name: str
    label: str
    score: ScoreFunction
    aggregate: str
    ranks_aggregate: bool
    direction: Direction
    sentence: str | Callable[["RankingConfig"], str]

    def score_larger_better(self, metric_larger_better: bool) -> bool:
        """Whether a larger score of this method is better, given the metric's direction."""
        if self.direction == "metric":
            return metric_larger_better
        return self.direction == "larger"

    def explain(self, config: "RankingConfig") -> str:
        """The sentence explaining the method under ``config``."""
        return self.sentence if isinstance(self.sentence, str) else self.sentence(config)


_METHODS: dict[str, RankingMethod] = {}


def register(
    name: str,
    *,
    label: str,
    aggregate: str,
    direction: Direction,
    sentence: str | Callable[["RankingConfig"], str],
    ranks_aggregate: bool = False,
) -> Callable[[ScoreFunction], ScoreFunction]:
    """Decorator registering its scoring function as the ranking method ``name``."""
    if name in _METHODS:
        raise ValueError(f"ranking method {name!r} is already registered")
    if direction not in ("metric", "larger", "smaller"):
        raise ValueError(f"direction {direction!r}: expected 'metric', 'larger' or 'smaller'")
    if not ranks_aggregate and aggregate not in METRIC_AGGREGATES:
        raise ValueError(f"aggregate {aggregate!r}: expected one of {', '.join(METRIC_AGGREGATES)}")

    def decorate(score: ScoreFunction) -> ScoreFunction:
        _METHODS[name] = RankingMethod(
            name=name,
            label=label,
            score=score,
            aggregate=aggregate,
            ranks_aggregate=ranks_aggregate,
            direction=direction,
            sentence=sentence,
        )
        return score

    return decorate


def unregister(name: str) -> None:
    """Remove a registered method (for tests that register their own)."""
    del _METHODS[name]


def ranking_method(name: str) -> RankingMethod:
    """The registered method ``name``; StatsInputError naming the known ones otherwise."""
    try:
        return _METHODS[name]
    except KeyError:
        raise StatsInputError(
            f"method {name!r}: expected one of {', '.join(_METHODS)}"
        ) from None


def ranking_methods() -> tuple[RankingMethod, ...]:
    """The registered methods in registration order."""
    return tuple(_METHODS.values())


def method_names() -> tuple[str, ...]:
    """The registered methods' names in registration order."""
    return tuple(_METHODS)

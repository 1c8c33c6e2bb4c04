"""Survival curves in a survival predictions file (docs/clinical.md, "Survival curves").

After ``case,risk``, a file may hold one column ``S@<t>`` per time t of the phase's
``survival_times`` (``case,risk,S@365,S@730``): the predicted probability that the case
survives beyond t, in the task's time unit — what the integrated Brier score scores. The
columns are optional, and required where the phase ranks by a curve metric
(``challenges.models.CURVE_METRICS``); their values are probabilities that do not increase
with time (``scorers.clinical_csv.read_predictions``'s ``curve``).

An upload is held to the phase's times as they are (:func:`upload_rule`); scoring, which may
run again after an organizer changed the times, uses the curves only where they are at the
times of the evaluation's configuration and otherwise scores the file without them
(:func:`scoring_rule`): the curve metric is then undefined, and the submission ranks last by it.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from challenges.models import CURVE_METRICS, Phase
from core.errors import InvalidInput
from scorers.clinical_csv import CURVE_PREFIX


@dataclass(frozen=True)
class CurveRule:
    """What a file's curve columns are checked against: the phase's ``times``; ``required``
    (the phase ranks by a curve metric); ``strict`` (refuse columns at other times; False:
    ignore them)."""

    times: tuple[float, ...] = ()
    required: bool = False
    strict: bool = True


def upload_rule(phase: Phase) -> CurveRule:
    """An upload's (or an algorithm's output's) rule: the phase's times, as they are now."""
    return CurveRule(times=tuple(float(t) for t in phase.survival_times or []),
                     required=phase.primary_metric in CURVE_METRICS)


def scoring_rule(config: dict) -> CurveRule:
    """Scoring's rule: the times of the evaluation's configuration, columns at other times
    ignored (the file passed the upload's checks under the phase's times of its day)."""
    return CurveRule(times=tuple(float(t) for t in config.get("times") or []), strict=False)


def column(t: float) -> str:
    """The column of S(t): ``S@365`` for 365.0, ``S@182.5`` for 182.5."""
    return f"{CURVE_PREFIX}{t:g}"


def columns_text(times: Sequence[float]) -> str:
    return ",".join(column(t) for t in times)


def curve_columns(header: list[str], rule: CurveRule, *, where: str,
                  unit: str) -> tuple[list[str], list[str]]:
    """(the file's curve columns, the same in the order of ``rule.times`` when they are
    exactly one per time, else []). ``where`` names the header in messages ("the predictions
    file row 1"), ``unit`` the task's time unit. Raises InvalidInput when the rule refuses
    the file's columns or asks for curves it lacks."""
    given = [name for name in header if name.startswith(CURVE_PREFIX)]
    wanted = columns_text(rule.times)
    if not given:
        if rule.required:
            raise InvalidInput(
                f"{where}: this phase ranks by the integrated Brier score, so the file needs "
                f"after case,risk the predicted probability of surviving beyond each of its "
                f"times ({unit}): {wanted}")
        return [], []
    at_time: dict[str, float] = {}
    for name in given:
        try:
            at_time[name] = float(name[len(CURVE_PREFIX):])
        except ValueError:
            continue
    ordered = [next((name for name, value in at_time.items()
                     if math.isclose(value, t, rel_tol=1e-9, abs_tol=1e-9)), None)
               for t in rule.times]
    if rule.times and None not in ordered and len(given) == len(rule.times):
        return given, ordered
    if not rule.strict:
        return given, []
    if not rule.times:
        raise InvalidInput(f"{where}: this phase sets no survival times, so its files hold no "
                           f"survival curve: drop the columns {','.join(given)[:200]}")
    raise InvalidInput(f"{where}: the survival curve columns must be {wanted} (S(t) at each of "
                       f"the phase's times, in {unit}), got {','.join(given)[:200]}")

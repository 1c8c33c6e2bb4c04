"""A phase's configuration in words, for the challenge's Evaluation page.

Every sentence is built from what scores and ranks the phase's submissions, so the page cannot
drift from it: the metric registry (label, unit, direction, description), the NSD tolerance of
each label by its name, the surface, the ranking method's own sentence and the missing-value
rule the leaderboard states (``leaderboard.kinds``), which submission of an entrant counts, the
bootstrap, and the submission limits.
"""

from dataclasses import dataclass

from challenges.models import Challenge, Phase, Task
from evaluation.kinds import clinical as clinical_kind
from scorers.metrics import DETECTION, Metric, metric, metrics

from .kinds import clinical, detection, segmentation

LIMIT_WINDOWS = {"day": "in any 24 hours", "week": "in any 7 days", "phase": "in the phase"}


@dataclass(frozen=True)
class Section:
    """A heading and its sentences."""

    title: str
    sentences: list[str]


def metric_heading(entry: Metric) -> str:
    """"HD95 (mm), smaller is better"; "Dice, larger is better" for a ratio."""
    return f"{entry.heading}, {entry.direction}"


def describe_phase(phase: Phase) -> list[Section]:
    """The phase's submissions, metrics, ranking, missing values and limits, in words."""
    if phase.task.kind == DETECTION:
        scoring = [_detection_metrics(phase)]
    elif phase.task.kind in Task.CLINICAL_KINDS:
        scoring = [_clinical_metrics(phase)]
    else:
        scoring = [_segmentation_metrics(phase), _tolerances(phase)]
    return [_submissions(phase), *scoring, _ranking(phase), _missing_values(phase),
            _limits(phase)]


def _submissions(phase: Phase) -> Section:
    cases = len(phase.task.cases)
    if phase.task.kind == DETECTION:
        return Section("Submissions", [
            f"Submissions: one file of predicted boxes for the whole test set of {cases} "
            f"image{'s' if cases != 1 else ''} — a CSV with the columns image_id, label, score, "
            "xmin, ymin, xmax, ymax, or COCO results JSON — bare or alone in a zip or tar.",
            "An image without predicted boxes counts its true boxes as missed.",
        ])
    if phase.task.kind in Task.CLINICAL_KINDS:
        return Section("Submissions", _clinical_submissions(phase))
    sentences = [f"Submissions: {phase.get_submission_kind_display().lower()}; the test set has "
                 f"{cases} case{'s' if cases != 1 else ''}."]
    if phase.submission_kind == Phase.ALGORITHM:
        sentences.append(
            f"Each algorithm container runs with {phase.algorithm_memory_mb} MB of memory, "
            f"{phase.algorithm_cpus:g} CPUs and a time limit of {phase.algorithm_time_limit_s} s."
        )
    elif phase.allow_partial:
        sentences.append("An archive may leave cases out; a missing case counts as the worst "
                         "value.")
    else:
        sentences.append("An archive must hold a prediction for every test case.")
    return Section("Submissions", sentences)


def _segmentation_metrics(phase: Phase) -> Section:
    sentences = [f"{metric_heading(entry)}. {entry.description}"
                 for entry in map(metric, phase.scored_metrics())]
    sentences.append("Each metric is computed per case and per label.")
    return Section("Metrics", sentences)


def _tolerances(phase: Phase) -> Section:
    surface = phase.get_surface_display()
    sentences = [f"Surfaces are measured as {surface[0].lower()}{surface[1:]}."]
    if "nsd" in phase.scored_metrics():
        names = phase.task.labels
        sentences += [
            f"NSD with tolerance {phase.tolerance_for(label):g} mm for "
            f"{names.get(str(label), f'label {label}')} (label {label})."
            for label in phase.task.foreground_labels
        ]
    return Section("Surfaces and tolerances", sentences)


def _detection_metrics(phase: Phase) -> Section:
    sentences = [f"{metric_heading(entry)}. {entry.description}" for entry in metrics(DETECTION)]
    sentences += [
        f"A predicted box matches a ground-truth box of its class at IoU ≥ "
        f"{phase.iou_threshold:g}.",
        "VOC AP is 11-point interpolated (VOC2007)." if phase.voc2007
        else "VOC AP is the area under the full precision-recall curve (VOC2010 and later).",
        "Box widths and heights count one pixel more (the VOC devkit's +1 convention)."
        if phase.plus_one else "Box widths and heights are the coordinate differences.",
        f"Classes: {', '.join(phase.task.class_names)}.",
    ]
    return Section("Metrics", sentences)


def _clinical_submissions(phase: Phase) -> list[str]:
    task = phase.task
    cases = len(task.cases)
    where = ("Each algorithm container writes it to /output" if phase.submission_kind ==
             Phase.ALGORITHM else "Upload it bare or alone in a zip or tar archive")
    return [
        f"Submissions: one predictions file for the whole test set of {cases} "
        f"case{'s' if cases != 1 else ''}, every case exactly once — a CSV with the columns "
        f"{clinical_kind.accepted_header(task)}, or the same as JSON. {where}.",
        "Probabilities must lie in [0, 1]." if task.kind == Task.CLASSIFICATION
        else "A larger risk predicts an earlier event.",
    ]


def _clinical_metrics(phase: Phase) -> Section:
    task = phase.task
    sentences = [f"{metric_heading(entry)}. {entry.description}"
                 for entry in map(metric, phase.scored_metrics())]
    sentences.append("Each metric is one value over the whole test set.")
    if task.kind == Task.CLASSIFICATION:
        names = task.clinical.get("classes") or []
        sentences.append(f"Target: {task.clinical.get('target')}; classes: {', '.join(names)}"
                         + (f"; positive class: {task.clinical['positive_class']}."
                            if "positive_class" in task.clinical else "."))
        sentences.append(f"A case is called positive at a probability of at least "
                         f"{phase.classification_threshold:g}.")
    else:
        unit = task.clinical.get("time_unit", "")
        sentences.append(f"Target: {task.clinical.get('target')}; times in {unit}.")
        sentences.append(f"Uno's C is truncated at τ = {phase.survival_tau:g} {unit}."
                         if phase.survival_tau is not None else
                         "Uno's C is not truncated (τ: the largest observed time).")
        if phase.survival_times:
            sentences.append("Time-dependent AUC at "
                             f"{', '.join(f'{t:g}' for t in phase.survival_times)} {unit}.")
    return Section("Metrics", sentences)


def _ranking(phase: Phase) -> Section:
    if phase.task.kind in Task.CLINICAL_KINDS:
        entry = metric(clinical.ranked_metric(phase))
        bootstrapped = phase.bootstrap_samples > 0
        how = clinical.ranking_description(phase, bootstrapped=bootstrapped)
        sentences = [f"The leaderboard ranks by {entry.label}: {how}"]
        resampled = "test cases"
    elif phase.task.kind == DETECTION:
        entry = metric(detection.ranked_metric(phase))
        bootstrapped = entry.name == "mAP" and phase.bootstrap_samples > 0
        how = detection.ranking_description(phase, bootstrapped=bootstrapped)
        sentences = [f"The leaderboard ranks by {entry.label}: {how}"]
        resampled = "test images"
    else:
        entry = metric(phase.primary_metric)
        bootstrapped = phase.bootstrap_samples > 0
        sentences = [
            f"The leaderboard ranks by {entry.label}: "
            f"{segmentation.ranking_config(phase).description()}",
            f"Ranking method: {phase.get_ranking_method_display()}.",
        ]
        resampled = "test cases"
    sentences += [
        _counted(phase, entry),
        f"Rank uncertainty: {phase.bootstrap_samples} bootstrap resamples of the {resampled} "
        f"(seed {phase.ranking_seed})." if bootstrapped else "The ranking is not bootstrapped.",
    ]
    return Section("Ranking", sentences)


def _counted(phase: Phase, entry: Metric) -> str:
    """Which submission of an entrant the leaderboard ranks (evaluation.selection's rule)."""
    whose = "Each entrant (a team, or a participant without one) is ranked by its"
    if phase.leaderboard_selection == Phase.BEST:
        return f"{whose} best submission by {entry.label}."
    if phase.leaderboard_selection == Phase.SELECTED:
        return (f"{whose} chosen submission: any accepted member of a team may choose one of "
                "the team's succeeded submissions until the phase closes, and a new choice "
                "replaces the old one; until a team chooses, its latest successful "
                "submission counts.")
    return f"{whose} latest successful submission."


def _missing_values(phase: Phase) -> Section:
    if phase.task.kind == Task.DETECTION:
        return Section("Missing values", [detection.missing_value_rule(phase)])
    if phase.task.kind in Task.CLINICAL_KINDS:
        return Section("Missing values", [clinical.missing_value_rule(phase)])
    return Section("Missing values", [segmentation.missing_value_rule(phase)])


def _limits(phase: Phase) -> Section:
    if phase.submission_limit is None:
        sentences = ["There is no limit on the number of submissions."]
    else:
        plural = "s" if phase.submission_limit != 1 else ""
        sentences = [
            f"At most {phase.submission_limit} submission{plural} "
            f"{LIMIT_WINDOWS[phase.limit_period]}; a team shares one limit.",
            "Failed and cancelled submissions count against the limit." if phase.count_failed
            else "Failed and cancelled submissions do not count against the limit.",
        ]
    return Section("Limits", sentences)


def describe_challenge(challenge: Challenge) -> list[tuple[Phase, list[Section]]]:
    """Every phase of the challenge (by task, then opening) with its description."""
    phases = Phase.objects.filter(task__challenge=challenge).select_related("task").order_by(
        "task__key", "opens_at", "created")
    return [(phase, describe_phase(phase)) for phase in phases]

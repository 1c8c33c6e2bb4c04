"""Algorithm containers and phase settings of classification and survival tasks: a run's
``/output`` predictions file handed to scoring (a stand-in runner writes it, as a container
would), and the phase's threshold, τ and times validated in the console's form, the organizer
API and the model."""

import pytest
from django.core.exceptions import ValidationError

from challenges.models import Phase
from evaluation.models import State
from evaluation.runners import Outcome, RunResult
from evaluation.services import algorithm, scoring
from evaluation.services.demo_data import write_radiogenomics_tasks
from evaluation.services.importing import import_task
from tests import factories
from tests.console.browser_form import served_values
from tests.factories import api_client as client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def folders(tmp_path):
    return write_radiogenomics_tasks(tmp_path / "tasks", n_cases=12, seed=6, size=16)


class Container:
    """What a runner reports after running an image that writes ``output`` to /output."""

    def __init__(self, files: dict[str, str]):
        self.files = files
        self.inputs: list[str] = []

    def has_image(self, image_id):
        return True

    def remove_image(self, image_id):
        pass

    def stop(self, run_id):
        pass

    def run(self, request):
        self.inputs = sorted(p.name for p in request.input_dir.iterdir())
        for name, text in self.files.items():
            (request.output_dir / name).write_text(text)
        return RunResult(outcome=Outcome.SUCCEEDED, limits=request.limits, exit_code=0,
                         outputs=tuple(self.files))


def algorithm_evaluation(phase):
    phase.submission_kind = Phase.ALGORITHM
    phase.full_clean()
    phase.save()
    submission, evaluation = factories.submission(phase, factories.participant(phase))
    submission.image_id = "sha256:" + "1" * 64
    submission.save()
    return evaluation


def test_an_algorithm_writes_one_predictions_file_that_is_scored(folders, monkeypatch):
    _, survival, latent = folders
    phase = import_task(survival, challenge_slug="rg").phase
    evaluation = algorithm_evaluation(phase)
    container = Container({"predictions.csv": "case,risk\n" + "".join(
        f"{case},{value}\n" for case, value in latent.items())})
    monkeypatch.setattr(algorithm, "runner", lambda: container)
    algorithm.run(evaluation.id, worker="gpu0")
    evaluation.refresh_from_db()
    assert evaluation.state == State.SCORING, evaluation.participant_message
    # The run saw the test images, never the labels.
    assert container.inputs == sorted(f"{case}.nii.gz" for case in latent)
    scoring.score(evaluation.id, worker="t")  # the outputs, as the scoring queue would
    evaluation.refresh_from_db()
    assert evaluation.state == State.SUCCEEDED, evaluation.participant_message
    assert 0.0 <= evaluation.aggregate["c_index"] <= 1.0


def test_bad_algorithm_outputs_fail_with_a_message_that_echoes_nothing_written(folders,
                                                                              monkeypatch):
    egfr, _, _ = folders
    phase = import_task(egfr, challenge_slug="rg").phase
    evaluation = algorithm_evaluation(phase)
    secret = "leaked-pixel-value-1234"
    monkeypatch.setattr(algorithm, "runner", lambda: Container(
        {"predictions.csv": f"case,probability\n{secret},0.5\n"}))
    algorithm.run(evaluation.id, worker="gpu0")
    evaluation.refresh_from_db()
    assert evaluation.state == State.FAILED
    assert evaluation.participant_message == (
        "The algorithm's outputs are not valid: /output must hold one predictions file (.csv or "
        ".json) with a row for every test case and the columns case,probability (or "
        "case,egfr_probability), finite numbers, probabilities in [0, 1]")
    assert secret not in evaluation.participant_message
    assert secret in evaluation.organizer_log


def test_phase_settings_are_validated_by_the_model(folders):
    _, survival, _ = folders
    phase = import_task(survival, challenge_slug="rg").phase
    for times, message in (([300, 200], "the times must increase"),
                           ([0, 100], "positive, finite times"), (["a"], "positive, finite")):
        phase.survival_times = times
        with pytest.raises(ValidationError, match=message):
            phase.full_clean()
    phase.survival_times = []
    phase.primary_metric = "td_auc"
    with pytest.raises(ValidationError, match="td_auc needs survival times"):
        phase.full_clean()
    phase.primary_metric = "integrated_brier"  # curves at two times at least
    with pytest.raises(ValidationError, match="integrated_brier needs survival times"):
        phase.full_clean()
    phase.survival_times = [365]
    with pytest.raises(ValidationError, match=r"integrated_brier needs at least two survival "
                                              r"times \(the submitted curves give S\(t\) at "
                                              r"each\)"):
        phase.full_clean()
    phase.survival_times = [365, 730]
    phase.full_clean()
    phase.survival_times = []
    phase.primary_metric = "auroc"
    with pytest.raises(ValidationError, match="auroc is a classification metric, not a "
                                              "survival one: choose one of c_index"):
        phase.full_clean()


def organizer_client(phase):
    organizer = factories.user("organizer", staff=False)
    organizer.is_staff = True
    organizer.save()
    phase.task.challenge.organizers.add(organizer)
    return client_for(organizer)


def test_the_organizer_api_offers_and_checks_the_kinds_settings(folders):
    egfr, survival, _ = folders
    classification = import_task(egfr, challenge_slug="rg").phase
    client = organizer_client(classification)
    url = f"/api/v1/organizer/phases/{classification.id}/configuration/"
    body = client.get(url).json()
    assert body["classification_threshold"] == 0.5 and "survival_times" not in body
    assert client.patch(url, {"classification_threshold": 1.5}, format="json").status_code == 400
    changed = client.patch(url, {"classification_threshold": 0.3, "primary_metric":
                                 "balanced_accuracy"}, format="json")
    assert changed.status_code == 200, changed.json()
    classification.refresh_from_db()
    assert classification.metric_config()["threshold"] == 0.3
    for other in ("c_index", "macro_auroc"):  # another kind's; one for more classes
        wrong = client.patch(url, {"primary_metric": other}, format="json")
        assert wrong.status_code == 400 and "primary_metric" in str(wrong.json())

    survival_phase = import_task(survival, challenge_slug="rg").phase
    url = f"/api/v1/organizer/phases/{survival_phase.id}/configuration/"
    body = client.get(url).json()
    assert body["survival_times"] == [] and body["survival_tau"] is None
    assert "classification_threshold" not in body
    curves = client.patch(url, {"primary_metric": "integrated_brier"}, format="json")
    assert curves.status_code == 400  # needs times
    assert curves.json()["detail"] == "primary_metric: integrated_brier needs survival times"
    bad = client.patch(url, {"survival_times": [400, 100]}, format="json")
    assert bad.status_code == 400 and "the times must increase" in str(bad.json())
    good = client.patch(url, {"survival_times": [100, 400], "survival_tau": 800,
                              "primary_metric": "td_auc"}, format="json")
    assert good.status_code == 200, good.json()
    survival_phase.refresh_from_db()
    assert survival_phase.metric_config()["times"] == [100.0, 400.0]
    assert survival_phase.scored_metrics() == ["c_index", "uno_c", "td_auc", "integrated_brier"]
    survival_phase.survival_times = [100]  # one time: no integrated Brier score
    assert survival_phase.scored_metrics() == ["c_index", "uno_c", "td_auc"]


def test_the_console_form_takes_times_as_text(folders):
    _, survival, _ = folders
    phase = import_task(survival, challenge_slug="rg").phase
    client = organizer_client(phase)
    client.force_login(phase.task.challenge.organizers.get())
    page = client.get(f"/admin/challenges/phase/{phase.id}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'name="survival_times"' in text and 'name="survival_tau"' in text
    assert 'name="nsd_tolerance' not in text and 'name="iou_threshold"' not in text


def multi_class_task(folder):
    """The EGFR folder turned into a three-class histology target."""
    import json

    classes = ["adenocarcinoma", "squamous", "other"]
    dataset = json.loads((folder / "dataset.json").read_text())
    dataset["clinical"] = {"kind": "classification", "target": "histology", "classes": classes}
    (folder / "dataset.json").write_text(json.dumps(dataset))
    cases = [entry.split("/")[-1].removesuffix(".nii.gz") for entry in dataset["test"]]
    (folder / "labelsTs" / "labels.csv").write_text("case,histology\n" + "".join(
        f"{case},{classes[i % 3]}\n" for i, case in enumerate(cases)))
    return import_task(folder, challenge_slug="rg-mc").phase


def test_a_new_phase_of_a_multi_class_task_ranks_by_macro_auroc(folders):
    egfr, survival, _ = folders
    multi = multi_class_task(egfr)
    binary = import_task(survival, challenge_slug="rg-mc").phase
    assert multi.primary_metric == "macro_auroc"  # the import's first phase
    assert multi.primary_metric_choices() == ["macro_auroc"]
    client = organizer_client(multi)
    client.force_login(multi.task.challenge.organizers.get())
    for task, expected in ((multi.task, "macro_auroc"), (binary.task, "c_index")):
        added = client.post("/admin/challenges/phase/add/", {
            "task": [str(task.id)], "name": ["Final"], "submission_kind": ["predictions"],
            "opens_at_0": [""], "opens_at_1": [""], "closes_at_0": [""], "closes_at_1": [""]})
        assert added.status_code == 302, added.content.decode()[:2000]
        phase = Phase.objects.get(task=task, name="Final")
        assert phase.primary_metric == expected
        assert phase.default_primary_metric() == expected
        phase.full_clean()


def test_a_metric_the_task_cannot_compute_is_refused_saying_why(folders):
    egfr, _, _ = folders
    multi = multi_class_task(egfr)
    multi.primary_metric = "auroc"
    with pytest.raises(ValidationError, match=r"auroc needs a target of two classes; histology "
                                              r"has 3 \(adenocarcinoma, squamous, other\): "
                                              r"choose one of macro_auroc"):
        multi.full_clean()
    client = organizer_client(multi)
    url = f"/api/v1/organizer/phases/{multi.id}/configuration/"
    assert client.get(url).json()["primary_metric"] == "macro_auroc"
    refused = client.patch(url, {"primary_metric": "auroc"}, format="json")
    assert refused.status_code == 400, refused.json()
    assert refused.json()["detail"] == (
        "primary_metric: auroc needs a target of two classes; histology has 3 (adenocarcinoma, "
        "squamous, other): choose one of macro_auroc (macro_auroc: the mean of the one-vs-rest "
        "AUROCs)")
    unknown = client.patch(url, {"primary_metric": "dice"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["detail"] == (
        "primary_metric: dice is a segmentation metric, not a classification one: choose one "
        "of macro_auroc")
    nonsense = client.patch(url, {"primary_metric": "nonsense"}, format="json")
    assert nonsense.status_code == 400 and "nonsense is not one of" in str(nonsense.json())
    # The console's form says the same.
    client.force_login(multi.task.challenge.organizers.get())
    page = client.get(f"/admin/challenges/phase/{multi.id}/change/").content.decode()
    assert '<option value="macro_auroc"' in page and '<option value="auroc"' not in page

    survival = import_task(egfr.parent / "Task05_DemoRadiogenomicsSurvival",
                           challenge_slug="rg-mc").phase
    url = f"/api/v1/organizer/phases/{survival.id}/configuration/"
    wrong = client.patch(url, {"primary_metric": "auroc"}, format="json")
    assert wrong.status_code == 400 and wrong.json()["detail"] == (
        "primary_metric: auroc is a classification metric, not a survival one: choose one of "
        "c_index, uno_c, td_auc, integrated_brier")
    curves = client.patch(url, {"primary_metric": "integrated_brier", "survival_times": [365]},
                          format="json")
    assert curves.status_code == 400
    assert curves.json()["detail"].startswith(
        "primary_metric: integrated_brier needs at least two survival times")


def test_times_beyond_the_follow_up_are_refused_before_every_evaluation_fails(folders):
    _, survival, _ = folders
    phase = import_task(survival, challenge_slug="rg-fu").phase
    rows = (survival / "labelsTs" / "labels.csv").read_text().splitlines()[1:]
    times = [float(row.split(",")[2]) for row in rows]
    first, last = min(times), max(times)
    client = organizer_client(phase)
    url = f"/api/v1/organizer/phases/{phase.id}/configuration/"
    refused = client.patch(url, {"survival_times": [first + 1, last]}, format="json")
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "survival_times: every time must lie within the follow-up of the test labels (ground "
        f"truth v1): at least {first:g} and less than {last:g} days; {last:g} is not")
    accepted = client.patch(url, {"survival_times": [first, last - 1]}, format="json")
    assert accepted.status_code == 200, accepted.json()


def test_the_console_form_of_a_clinical_phase_speaks_of_its_kind(folders):
    """The primary metric's help, the "Show case results" help and warning fit the kind (a
    survival phase's per-case export holds the entrants' risks, never a label), and another
    kind's metric is refused naming its kind."""
    _, survival, _ = folders
    phase = import_task(survival, challenge_slug="rg-console").phase
    client = organizer_client(phase)
    client.force_login(phase.task.challenge.organizers.get())
    url = f"/admin/challenges/phase/{phase.id}/change/"
    page = client.get(url).content.decode()
    assert "segmentation" not in page.lower() and "Dice" not in page
    assert "computed from the submitted risks" in page
    assert "own predictions case by case (risks and survival curves), never a label" in page

    data = served_values(page)
    data["primary_metric"] = ["auroc"]
    refused = client.post(url, data).content.decode()
    assert ("auroc is a classification metric, not a survival one: choose one of c_index, "
            "uno_c, td_auc, integrated_brier") in refused
    assert "Select a valid choice" not in refused

    data["primary_metric"] = ["c_index"]
    data["show_case_results"] = ["on"]
    saved = client.post(url, data, follow=True).content.decode()
    assert ("own predictions case by case (the submitted risks and survival curves), never a "
            "hidden label") in saved
    assert "Dice" not in saved and "oracle" not in saved
    phase.refresh_from_db()
    assert phase.show_case_results

    conf = f"/api/v1/organizer/phases/{phase.id}/configuration/"
    assert client.patch(conf, {"show_case_results": False}, format="json").status_code == 200
    warned = client.patch(conf, {"show_case_results": True}, format="json").json()
    assert "the submitted risks and survival curves" in warned["warnings"][0]

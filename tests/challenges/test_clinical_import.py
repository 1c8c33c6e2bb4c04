"""Importing classification and survival tasks (docs/clinical.md) from real folders: the
importer, ``import_msd_task``, and the console's upload run by the import worker's code."""

import csv
import json
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from challenges.models import Challenge, GroundTruth, Task
from core.errors import InvalidInput
from core.storage import private_storage
from evaluation.models import ImportJob
from evaluation.services import import_jobs
from evaluation.services.demo_data import write_radiogenomics_tasks
from evaluation.services.importing import import_task
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def folders(tmp_path):
    return write_radiogenomics_tasks(tmp_path / "tasks", n_cases=10, seed=3, size=16)


def labels_of(folder: Path) -> list[dict]:
    with open(folder / "labelsTs" / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def stored_labels(ground_truth: GroundTruth) -> str:
    entry = next(iter(ground_truth.files.values()))
    with private_storage().open(entry["path"], "rb") as fh:
        return fh.read().decode()


def test_a_classification_task_is_imported_with_its_definition_and_hidden_labels(folders):
    egfr, _, latent = folders
    result = import_task(egfr, challenge_slug="radiogenomics")
    task = result.task
    assert task.kind == Task.CLASSIFICATION
    assert task.clinical == {"target": "egfr", "classes": ["wildtype", "mutant"],
                             "positive_class": "mutant", "label_column": "egfr"}
    assert task.labels == {"0": "wildtype", "1": "mutant"}
    assert task.case_names == list(latent)
    assert task.cases[0]["geometry"]["shape"] == [16, 16, 8]
    assert set(task.images) == set(latent)
    # One normalised labels file, the test cases' labels only, behind every case's entry.
    ground_truth = result.ground_truth
    assert set(ground_truth.files) == set(latent)
    assert len({entry["path"] for entry in ground_truth.files.values()}) == 1
    expected = "case,label\r\n" + "".join(f"{row['case']},{row['egfr']}\r\n"
                                          for row in labels_of(egfr))
    assert stored_labels(ground_truth) == expected
    assert result.phase.primary_metric == "auroc"
    assert result.phase.scored_metrics() == [
        "auroc", "average_precision", "balanced_accuracy", "sensitivity", "specificity",
        "log_loss", "brier"]


def test_a_survival_task_keeps_times_and_events_and_its_time_unit(folders):
    _, survival, _ = folders
    result = import_task(survival, challenge_slug="radiogenomics")
    task = result.task
    assert task.kind == Task.SURVIVAL
    assert task.clinical["time_unit"] == "days" and task.labels == {}
    lines = stored_labels(result.ground_truth).splitlines()
    assert lines[0] == "case,time,event"
    source = {row["case"]: (row["time"], row["event"]) for row in labels_of(survival)}
    assert all(tuple(line.split(",")[1:]) == source[line.split(",")[0]] for line in lines[1:])
    assert result.phase.primary_metric == "c_index"
    assert "td_auc" not in result.phase.scored_metrics()  # no times set yet


def test_importing_again_changes_nothing_and_a_changed_label_is_a_new_version(folders):
    egfr, _, _ = folders
    first = import_task(egfr, challenge_slug="radiogenomics")
    again = import_task(egfr, challenge_slug="radiogenomics")
    assert not again.task_created and not again.ground_truth_created
    assert again.ground_truth.id == first.ground_truth.id
    # Rows of other subjects (training cases) are not part of the version.
    path = egfr / "labelsTs" / "labels.csv"
    path.write_text(path.read_text() + "train_999,mutant,10,1\n")
    assert not import_task(egfr, challenge_slug="radiogenomics").ground_truth_created
    rows = path.read_text().splitlines()
    case, label, *rest = rows[1].split(",")
    flipped = "wildtype" if label == "mutant" else "mutant"
    rows[1] = ",".join([case, flipped, *rest])
    path.write_text("\n".join(rows) + "\n")
    changed = import_task(egfr, challenge_slug="radiogenomics")
    assert changed.ground_truth_created and changed.ground_truth.version == 2
    assert changed.ground_truth.content_sha256 != first.ground_truth.content_sha256


def _edit_dataset(folder: Path, **clinical) -> None:
    dataset = json.loads((folder / "dataset.json").read_text())
    dataset["clinical"].update(clinical)
    for key, value in clinical.items():
        if value is None:
            del dataset["clinical"][key]
    (folder / "dataset.json").write_text(json.dumps(dataset))


@pytest.mark.parametrize(("change", "message"), [
    ({"target": "egfr status"}, '"clinical.target" must be a name'),
    ({"classes": ["mutant"]}, '"clinical.classes" must list at least two'),
    ({"positive_class": "positive"}, '"clinical.positive_class" must be one of'),
    ({"label_column": "kras"}, "labels.csv: the header has no column kras"),
    ({"labels": "labelsTs/missing.csv"}, "the clinical labels file missing.csv is missing"),
])
def test_a_bad_classification_definition_is_refused_with_its_reason(folders, change, message):
    egfr, _, _ = folders
    _edit_dataset(egfr, **change)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        import_task(egfr, challenge_slug="radiogenomics")
    assert not Task.objects.exists()


@pytest.mark.parametrize(("row", "message"), [
    ("{case},unknown,10,1", "labels.csv row 2, column label: expected one of the classes "
                           "wildtype, mutant, got 'unknown'"),
    ("{case},mutant,-3,1", "labels.csv row 2, column time: a time must not be negative"),
    ("{case},mutant,30,2", r"labels.csv row 2, column event: expected 0 \(censored\) or 1"),
])
def test_bad_label_values_name_the_row_and_column(folders, row, message):
    egfr, survival, latent = folders
    first = next(iter(latent))
    for folder in (egfr, survival):
        path = folder / "labelsTs" / "labels.csv"
        rows = path.read_text().splitlines()
        rows[1] = row.format(case=first)
        path.write_text("\n".join(rows) + "\n")
    folder = survival if "column label" not in message else egfr
    with pytest.raises(InvalidInput, match=message):
        import_task(folder, challenge_slug="radiogenomics")


def test_a_test_case_without_labels_is_named(folders):
    _, survival, latent = folders
    path = survival / "labelsTs" / "labels.csv"
    rows = path.read_text().splitlines()
    path.write_text("\n".join(rows[:-1]) + "\n")
    last = list(latent)[-1]
    with pytest.raises(InvalidInput, match=f"labels.csv has no row for 1 test case.*{last}"):
        import_task(survival, challenge_slug="radiogenomics")


def test_import_msd_task_imports_both_kinds(folders, capsys):
    egfr, survival, _ = folders
    call_command("import_msd_task", str(survival), "--challenge", "rg")
    call_command("import_msd_task", str(egfr), "--challenge", "rg", "--kind", "classification")
    output = capsys.readouterr().out
    assert "task Task05_DemoRadiogenomicsSurvival (10 test cases): created" in output
    assert {t.key: t.kind for t in Task.objects.all()} == {
        "Task04_DemoRadiogenomicsEGFR": Task.CLASSIFICATION,
        "Task05_DemoRadiogenomicsSurvival": Task.SURVIVAL}
    _edit_dataset(survival, time_unit=None, kind=None)
    with pytest.raises(CommandError, match="time_unit"):
        call_command("import_msd_task", str(survival), "--challenge", "rg2", "--kind", "survival")


def test_the_console_import_runs_the_same_importer_on_an_uploaded_archive(folders, tmp_path):
    egfr, _, _ = folders
    archive = tmp_path / "egfr.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(egfr, arcname=egfr.name)
    challenge = Challenge.objects.create(slug="console-rg", title="Console")
    organizer = factories.user("importer")
    organizer.is_staff = True
    organizer.save()
    challenge.organizers.add(organizer)
    client = Client()
    client.force_login(organizer)
    with open(archive, "rb") as fh:
        response = client.post("/admin/evaluation/importjob/add/",
                               {"challenge": str(challenge.id), "file": fh})
    assert response.status_code == 302
    job = ImportJob.objects.get(challenge=challenge)
    import_jobs.run(str(job.id), worker="test")  # what the import worker runs
    job.refresh_from_db()
    assert job.state == ImportJob.SUCCEEDED, job.log
    task = Task.objects.get(challenge=challenge)
    assert task.kind == Task.CLASSIFICATION and len(task.cases) == 10


def test_one_labels_csv_of_several_targets_makes_a_task_per_target(folders):
    """docs/clinical.md, "Several targets": one CSV holding EGFR, KRAS and survival columns,
    one folder per target (the same images and CSV), one import each; a folder whose block
    lists the three targets is refused saying how to split it."""
    import shutil

    egfr, survival, _ = folders
    rows = labels_of(egfr)
    text = "case,egfr,kras,time,event\n" + "".join(
        f"{r['case']},{r['egfr']},{'G12C' if i % 3 == 0 else 'wildtype'},{r['time']},"
        f"{r['event']}\n" for i, r in enumerate(rows))
    for folder in (egfr, survival):
        (folder / "labelsTs" / "labels.csv").write_text(text)
    kras = egfr.parent / "Task06_DemoRadiogenomicsKRAS"
    shutil.copytree(egfr, kras)
    blocks = {
        "egfr": json.loads((egfr / "dataset.json").read_text())["clinical"],
        "kras": {"kind": "classification", "target": "kras", "classes": ["wildtype", "G12C"],
                 "positive_class": "G12C"},
        "overall_survival": json.loads((survival / "dataset.json").read_text())["clinical"],
    }
    dataset = json.loads((kras / "dataset.json").read_text())
    (kras / "dataset.json").write_text(json.dumps({**dataset, "clinical": blocks["kras"]}))
    together = egfr.parent / "Task07_AllTargets"
    shutil.copytree(egfr, together)
    (together / "dataset.json").write_text(json.dumps({**dataset,
                                                       "clinical": list(blocks.values())}))
    with pytest.raises(InvalidInput, match=r'"clinical" lists 3 targets \(egfr, kras, '
                                           r"overall_survival\), but a task predicts one: make "
                                           r"a task folder per target"):
        import_task(together, challenge_slug="multi")
    with pytest.raises(InvalidInput, match="lists 2 targets"):  # forced kind: the same refusal
        (together / "dataset.json").write_text(json.dumps(
            {**dataset, "clinical": {"targets": list(blocks.values())[:2]}}))
        import_task(together, challenge_slug="multi", kind=Task.CLASSIFICATION)
    assert not Task.objects.exists()

    phases = {folder.name: import_task(folder, challenge_slug="multi").phase
              for folder in (egfr, kras, survival)}
    assert {key: (p.task.kind, p.task.clinical["target"], p.primary_metric)
            for key, p in phases.items()} == {
        "Task04_DemoRadiogenomicsEGFR": (Task.CLASSIFICATION, "egfr", "auroc"),
        "Task06_DemoRadiogenomicsKRAS": (Task.CLASSIFICATION, "kras", "auroc"),
        "Task05_DemoRadiogenomicsSurvival": (Task.SURVIVAL, "overall_survival", "c_index")}
    stored = stored_labels(phases["Task06_DemoRadiogenomicsKRAS"].task.ground_truths.get())
    assert stored.splitlines()[:2] == ["case,label", f"{rows[0]['case']},G12C"]

"""import_msd_task: MSD folders and tars, hidden labels in private storage, idempotence,
ground-truth versions, and a precise error for every broken task."""

import json
import tarfile

import nibabel as nib
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from challenges.models import GroundTruth, Phase, Task
from core.storage import private_storage
from evaluation.services.demo_data import write_detection_task, write_nifti
from tests import factories

pytestmark = pytest.mark.django_db


def run_import(path, *args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_msd_task", str(path), "--challenge", "msd", *args, stdout=out)
    return out.getvalue()


def test_the_import_prints_the_source_the_dataset_names(tmp_path):
    """As import_dicom_collection prints it (one function prints both commands' results)."""
    folder = factories.write_cube_task(tmp_path)
    dataset = json.loads((folder / "dataset.json").read_text())
    dataset["provenance"] = {"collection": "Cubes", "version": "2", "sha256": "ab" * 32}
    (folder / "dataset.json").write_text(json.dumps(dataset))
    output = run_import(folder)
    assert "task Task09_Cubes (2 test cases): created; ground truth v1 " in output
    assert "source: Cubes version 2, source content abababababab\n" in output
    assert "source:" not in run_import(factories.write_cube_task(tmp_path / "plain",
                                                                 key="Task10_Plain"))


def test_folder_import_creates_task_ground_truth_and_open_phase(tmp_path):
    folder = factories.write_cube_task(tmp_path)
    output = run_import(folder)
    assert "created" in output
    task = Task.objects.get(key="Task09_Cubes")
    assert task.challenge.slug == "msd" and task.kind == Task.SEGMENTATION
    assert task.case_names == ["cube_000", "cube_001"]
    assert task.labels == {"0": "background", "1": "big", "2": "small"}
    assert task.cases[0]["geometry"]["shape"] == [20, 20, 10]
    gt = GroundTruth.objects.get(task=task)
    assert gt.version == 1
    stored = private_storage().path(gt.files["cube_000"]["path"])
    assert (folder / "labelsTs" / "cube_000.nii.gz").read_bytes() == open(stored, "rb").read()
    phase = Phase.objects.get(task=task)
    assert phase.active_ground_truth == gt and phase.is_open()
    assert phase.show_scores and not phase.show_case_results  # the label-size oracle


def test_importing_twice_changes_nothing(tmp_path):
    folder = factories.write_cube_task(tmp_path)
    run_import(folder)
    before = (Task.objects.count(), GroundTruth.objects.count(), Phase.objects.count())
    output = run_import(folder)
    assert "unchanged" in output
    assert (Task.objects.count(), GroundTruth.objects.count(), Phase.objects.count()) == before


def test_tar_import_matches_folder_import(tmp_path):
    folder = factories.write_cube_task(tmp_path / "src")
    archive = tmp_path / "Task09_Cubes.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(folder, arcname="Task09_Cubes")
    run_import(archive)
    task = Task.objects.get(key="Task09_Cubes")
    assert GroundTruth.objects.get(task=task).files.keys() == {"cube_000", "cube_001"}


def test_an_archive_without_a_folder_is_named_by_its_file(tmp_path):
    folder = factories.write_cube_task(tmp_path / "src")
    archive = tmp_path / "Task07_Flat.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for child in folder.iterdir():  # dataset.json, imagesTs/, labelsTs/ at the root
            tar.add(child, arcname=child.name)
    run_import(archive)
    assert Task.objects.get().key == "Task07_Flat"


def test_changed_labels_make_a_new_version_activated_on_request(tmp_path):
    folder = factories.write_cube_task(tmp_path)
    run_import(folder)
    label = folder / "labelsTs" / "cube_001.nii.gz"
    data = np.asarray(nib.load(label).dataobj).copy()
    data[0, 0, 0] = 1
    write_nifti(label, data, (1.0, 1.0, 2.0))
    output = run_import(folder)
    assert "v2" in output and "not active" in output
    phase = Phase.objects.get()
    assert phase.active_ground_truth.version == 1
    run_import(folder, "--activate")
    assert Phase.objects.get().active_ground_truth.version == 2
    assert GroundTruth.objects.count() == 2


def test_missing_label_is_reported_by_name(tmp_path):
    folder = factories.write_cube_task(tmp_path)
    (folder / "labelsTs" / "cube_001.nii.gz").unlink()
    with pytest.raises(CommandError, match=r"no label for 1 test image\(s\): cube_001.nii.gz"):
        run_import(folder)
    assert not Task.objects.exists()


def test_label_geometry_must_match_the_image(tmp_path):
    folder = factories.write_cube_task(tmp_path)
    ref, _, _ = factories.cube_labels()
    write_nifti(folder / "labelsTs" / "cube_000.nii.gz", ref, (1.0, 1.0, 3.0))
    with pytest.raises(CommandError, match="cube_000"):
        run_import(folder)


def test_label_values_outside_dataset_json_are_rejected(tmp_path):
    folder = factories.write_cube_task(tmp_path)
    ref, _, spacing = factories.cube_labels()
    ref[0, 0, 0] = 7
    write_nifti(folder / "labelsTs" / "cube_000.nii.gz", ref, spacing)
    with pytest.raises(CommandError, match="7"):
        run_import(folder)


@pytest.mark.parametrize("change,message", [
    (lambda d: d.pop("labels"), '"labels"'),
    (lambda d: d.update(labels={"1": "x"}), '"0"'),
    (lambda d: d.update(test=[]), '"test"'),
    (lambda d: d.update(test=["./imagesTs/nope.nii.gz"]), "nope.nii.gz"),
    (lambda d: d.update(test=["../../etc/passwd.nii.gz"]), "outside the task folder"),
])
def test_broken_dataset_json(tmp_path, change, message):
    folder = factories.write_cube_task(tmp_path)
    dataset = json.loads((folder / "dataset.json").read_text())
    change(dataset)
    (folder / "dataset.json").write_text(json.dumps(dataset))
    with pytest.raises(CommandError, match=message):
        run_import(folder)


def test_detection_import_reads_voc_folder(tmp_path):
    folder, boxes = write_detection_task(tmp_path, key="Task10_Dx", n_images=4, seed=5)
    run_import(folder)
    task = Task.objects.get(key="Task10_Dx")
    assert task.kind == Task.DETECTION
    assert sorted(task.case_names) == sorted(boxes)
    assert task.class_names == ["A", "B", "E", "G"]
    assert task.cases[0]["geometry"] == {"width": 512, "height": 512}
    assert Phase.objects.get(task=task).primary_metric == "mAP"


def test_detection_import_keeps_the_test_images_participants_download(tmp_path):
    folder, boxes = write_detection_task(tmp_path, key="Task10_Dx", n_images=3, seed=5)
    run_import(folder)
    task = Task.objects.get(key="Task10_Dx")
    assert set(task.images) == set(boxes)
    for case in task.cases:
        assert case["image"] == f"imagesTs/{case['name']}.nii.gz"
        stored = private_storage().open(task.images[case["name"]]).read()
        assert stored == (folder / case["image"]).read_bytes()


@pytest.mark.parametrize("damage, message", [
    ("extra", "images without annotations: 1.2.3"),
    ("missing", r"no image for 1 annotated image\(s\)"),
    ("other", "notes.txt: not an image file of a test case"),
])
def test_detection_images_must_match_the_annotations(tmp_path, damage, message):
    folder, _ = write_detection_task(tmp_path, key="Task10_Dx", n_images=3, seed=5)
    images = folder / "imagesTs"
    if damage == "extra":
        (images / "1.2.3.png").write_bytes(b"\x89PNG")
    elif damage == "missing":
        next(images.iterdir()).unlink()
    else:
        (images / "notes.txt").write_text("hello")
    with pytest.raises(CommandError, match=message):
        run_import(folder)

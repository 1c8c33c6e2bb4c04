"""Detection on DICOM (docs/dicom.md, "Detection on DICOM"): Lung-PET-CT-Dx-style VOC files
named after SOP Instance UIDs are placed on their series' slices at import, the slices are the
test images, predictions name them by UID, and the scores equal those of a plain detection
task built from the same slices."""

import json

import numpy as np
import pydicom
import pytest
from django.core.management import CommandError, call_command

from challenges import deid_gate
from challenges.models import Task
from core.errors import InvalidInput
from core.storage import private_storage
from evaluation.models import CaseResult, State
from evaluation.services import scoring
from evaluation.services.demo_data import VOC_OBJECT, VOC_TEMPLATE, write_nifti
from evaluation.services.importing import import_task
from imaging.series import read_series
from tests import factories
from tests.dicom_factories import ct_series

from .helpers import submit_file

pytestmark = pytest.mark.django_db

SHAPE = (64, 64, 8)  # rows, columns, slices
CLASSES = ("A", "B", "E", "G")


def _voc(boxes, *, width=64, height=64) -> str:
    objects = "".join(VOC_OBJECT.format(label=label, difficult=difficult, xmin=x0, ymin=y0,
                                        xmax=x1, ymax=y1)
                      for label, x0, y0, x1, y1, difficult in boxes)
    return VOC_TEMPLATE.format(width=width, height=height, objects=objects)


def _boxes(rng) -> list[tuple]:
    found = []
    for _ in range(int(rng.integers(1, 4))):
        w, h = (int(v) for v in rng.integers(4, 20, size=2))
        x, y = int(rng.integers(0, SHAPE[1] - w)), int(rng.integers(0, SHAPE[0] - h))
        found.append((str(rng.choice(CLASSES)), x, y, x + w, y + h, int(rng.random() < 0.15)))
    return found


def write_dicom_task(root, *, key="Task20_DxDicom", seed=3, descending=(False, True)):
    """Two subjects' CT series under imagesTs/<subject>/…, VOC files on 3 + 2 of their slices;
    returns the folder, the series and the boxes by UID."""
    rng = np.random.default_rng(seed)
    folder = root / key
    (folder / "labelsTs").mkdir(parents=True)
    series, boxes = {}, {}
    for subject, count, desc in zip(("Lung_Dx-A0001", "Lung_Dx-G0002"), (3, 2), descending,
                                    strict=True):
        series[subject] = ct_series(folder / "imagesTs" / subject / "1.0-CT" / "2.0-Chest",
                                    shape=SHAPE, descending=desc, patient_id=subject)
        for k in rng.choice(SHAPE[2], size=count, replace=False):
            uid = series[subject].datasets[int(k)].SOPInstanceUID
            boxes[uid] = _boxes(rng)
            (folder / "labelsTs" / f"{uid}.xml").write_text(_voc(boxes[uid]))
    dataset = {"name": "Lung-PET-CT-Dx style", "task_type": "detection", "tensorImageSize": "2D",
               "labels": {str(i): c for i, c in enumerate(CLASSES)}}
    (folder / "dataset.json").write_text(json.dumps(dataset))
    return folder, series, boxes


def write_plain_task(root, dicom_folder, series, *, key="Task21_DxPlain"):
    """The same slices as a plain detection task: imagesTs/<UID>.nii.gz (x along axis 0, as the
    demo detection task stores its images) and the same VOC files."""
    folder = root / key
    (folder / "imagesTs").mkdir(parents=True)
    (folder / "labelsTs").mkdir()
    (folder / "dataset.json").write_text((dicom_folder / "dataset.json").read_text())
    files = {ds.SOPInstanceUID: path for s in series.values()
             for ds, path in zip(s.datasets, s.files, strict=True)}
    for xml in (dicom_folder / "labelsTs").glob("*.xml"):
        (folder / "labelsTs" / xml.name).write_text(xml.read_text())
        pixels = pydicom.dcmread(files[xml.stem]).pixel_array.astype(np.int16)
        write_nifti(folder / "imagesTs" / f"{xml.stem}.nii.gz", pixels.T[:, :, None].copy(),
                    (0.7, 0.7, 1.0))
    return folder


def write_predictions(boxes, path, *, seed=11):
    """Jittered true boxes (some dropped, classes sometimes wrong) plus false ones, by UID."""
    rng = np.random.default_rng(seed)
    rows = ["image_id,label,score,xmin,ymin,xmax,ymax"]
    for uid, image_boxes in boxes.items():
        for label, x0, y0, x1, y1, _ in image_boxes:
            if rng.random() < 0.2:
                continue
            if rng.random() < 0.15:
                label = str(rng.choice(CLASSES))
            a, b, c, d = np.clip(np.array([x0, y0, x1, y1]) + rng.normal(0, 1.5, 4), 0, 63)
            if c > a + 1 and d > b + 1:
                rows.append(f"{uid},{label},{rng.uniform(0.3, 1):.4f},{a:.2f},{b:.2f},{c:.2f},"
                            f"{d:.2f}")
        for _ in range(int(rng.integers(0, 3))):
            x, y = (float(v) for v in rng.integers(0, 48, size=2))
            rows.append(f"{uid},{rng.choice(CLASSES)},{rng.uniform(0.05, 0.8):.4f},{x},{y},"
                        f"{x + 12},{y + 10}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_each_annotated_slice_becomes_a_case_named_by_its_uid(tmp_path):
    folder, series, boxes = write_dicom_task(tmp_path)
    task = import_task(folder, challenge_slug="dx").task
    assert task.kind == Task.DETECTION and task.class_names == list(CLASSES)
    assert sorted(task.case_names) == sorted(boxes)
    volumes = {subject: read_series(s.files) for subject, s in series.items()}
    for case in task.cases:
        uid, record = case["name"], case["dicom_slice"]
        subject = record["subject"]
        k = [ds.SOPInstanceUID for ds in series[subject].datasets].index(uid)
        assert case["image"] == f"imagesTs/{uid}.dcm"
        assert case["geometry"] == {"width": 64, "height": 64}
        assert record["series_instance_uid"] == series[subject].series_uid
        assert record["sop_instance_uid"] == uid
        assert record["slice_index"] == volumes[subject].slice_index[uid]
        assert record["slices"] == 8 and record["slice_axis"] == 2
        # Ascending series count from file order, the descending one backwards.
        assert record["slice_index"] == (k if subject == "Lung_Dx-A0001" else 7 - k)
        assert record["file"].startswith(f"imagesTs/{subject}/1.0-CT/2.0-Chest/slice_")
        stored = private_storage().open(task.images[uid]).read()
        assert stored == series[subject].files[k].read_bytes()  # the slice itself is served
        assert task.images[uid].endswith(".dcm")


def test_the_slices_pass_the_dicom_deidentification_check(tmp_path):
    folder, _, _ = write_dicom_task(tmp_path)
    task = import_task(folder, challenge_slug="dx").task
    review = deid_gate.current_review(task)
    rules = {finding["rule"] for finding in review.findings}
    assert "format not checked (look at it yourself)" not in rules
    assert any(finding["attribute"].startswith("PatientID") for finding in review.findings)


def test_a_deidentifying_import_stores_clean_copies_of_the_slices(tmp_path):
    import pydicom

    folder, _, _ = write_dicom_task(tmp_path)
    task = import_task(folder, challenge_slug="dx-clean", deidentify=True).task
    review = deid_gate.current_review(task)
    assert review.findings == [] and not review.holds_images
    uid = task.case_names[0]
    stored = pydicom.dcmread(private_storage().open(task.images[uid]))
    assert stored.SOPInstanceUID == uid  # UIDs kept: boxes and predictions still match
    assert stored.PatientIdentityRemoved == "YES" and not stored.get("PatientID")
    record = task.cases[0]["dicom_slice"]
    original = pydicom.dcmread(folder / record["file"])
    assert (stored.pixel_array == original.pixel_array).all()


def test_the_command_imports_a_tar_of_it(tmp_path):
    import tarfile

    folder, _, boxes = write_dicom_task(tmp_path)
    archive = tmp_path / "task.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    call_command("import_msd_task", str(archive), "--challenge", "dx")
    assert sorted(Task.objects.get(key=folder.name).case_names) == sorted(boxes)


def test_scores_equal_those_of_the_plain_task_on_the_same_slices(tmp_path):
    folder, series, boxes = write_dicom_task(tmp_path)
    plain_folder = write_plain_task(tmp_path, folder, series)
    dicom_phase = import_task(folder, challenge_slug="dx").phase
    plain_phase = import_task(plain_folder, challenge_slug="dx").phase
    organizer = factories.user("organizer")
    deid_gate.accept(deid_gate.current_review(dicom_phase.task), organizer,
                     "synthetic test series")
    predictions = write_predictions(boxes, tmp_path / "boxes.csv")
    results = []
    for phase in (dicom_phase, plain_phase):
        user = factories.participant(phase)
        evaluation = submit_file(phase, user, predictions).evaluations.get()
        scoring.score(evaluation.id, worker="test")
        evaluation.refresh_from_db()
        assert evaluation.state == State.SUCCEEDED, evaluation.participant_message
        rows = sorted(CaseResult.objects.filter(evaluation=evaluation).values_list(
            "case", "label", "matches"))
        results.append((evaluation.aggregate, rows))
    (dicom_aggregate, dicom_rows), (plain_aggregate, plain_rows) = results
    assert dicom_aggregate == plain_aggregate  # mAP, per-class AP and COCO AP, exactly
    assert dicom_rows == plain_rows
    assert 0 < dicom_aggregate["mAP"] < 1


def test_predictions_must_name_the_slices_by_uid(tmp_path):
    folder, _, boxes = write_dicom_task(tmp_path)
    phase = import_task(folder, challenge_slug="dx").phase
    deid_gate.accept(deid_gate.current_review(phase.task), factories.user("org"), "test data")
    uid = sorted(boxes)[0]
    path = tmp_path / "p.csv"
    path.write_text(f"image_id,label,score,xmin,ymin,xmax,ymax\n{uid}.dcm,A,0.5,1,1,5,5\n")
    submission = submit_file(phase, factories.participant(phase), path)
    evaluation = submission.evaluations.get()
    assert evaluation.state == State.FAILED
    assert f"{uid}.dcm" in evaluation.participant_message


@pytest.mark.parametrize("damage, message", [
    ("unknown", r"labelsTs/1\.2\.826\.0\.1\.99\.xml: SOP Instance UID 1\.2\.826\.0\.1\.99 is in "
                r"no series of imagesTs/ \(2 series, 16 DICOM files\)"),
    ("outside", r"labelsTs/.*\.xml: object 1: box \(40, 50, 70, 60\) lies outside slice .* "
                r"64 columns × 64 rows"),
    ("size", r"<size> is 512×512 \(width×height\), but slice .* is 64×64 \(Columns×Rows\)"),
    ("loose_file", r"imagesTs/readme\.dcm: expected one folder per subject"),
    ("tilted", r"gantry tilt"),
])
def test_bad_dicom_detection_tasks_are_refused(tmp_path, damage, message):
    folder, series, boxes = write_dicom_task(tmp_path)
    uid = sorted(boxes)[0]
    if damage == "unknown":
        (folder / "labelsTs" / "1.2.826.0.1.99.xml").write_text(_voc([("A", 1, 1, 9, 9, 0)]))
    elif damage == "outside":
        (folder / "labelsTs" / f"{uid}.xml").write_text(
            _voc([("A", 40, 50, 70, 60, 0)], width=512, height=512))
    elif damage == "size":
        (folder / "labelsTs" / f"{uid}.xml").write_text(
            _voc([("A", 4, 5, 7, 6, 0)], width=512, height=512))
    elif damage == "loose_file":
        (folder / "imagesTs" / "readme.dcm").write_text("loose")
    else:
        subject = next(iter(series))
        for path in series[subject].files:
            path.unlink()
        tilted = ct_series(folder / "imagesTs" / subject / "tilted", shape=SHAPE, tilt_mm=1.0)
        uid = tilted.datasets[0].SOPInstanceUID
        (folder / "labelsTs" / f"{uid}.xml").write_text(_voc([("A", 1, 1, 9, 9, 0)]))
        for stale in [p for p in (folder / "labelsTs").iterdir()
                      if p.stem in {ds.SOPInstanceUID for ds in series[subject].datasets}]:
            stale.unlink()
    with pytest.raises(InvalidInput, match=message):
        import_task(folder, challenge_slug="dx")
    assert not Task.objects.filter(key=folder.name).exists()
    with pytest.raises(CommandError, match=message):
        call_command("import_msd_task", str(folder), "--challenge", "dx")

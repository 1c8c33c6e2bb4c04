"""Management commands: api_token and make_demo."""

import json
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import ApiToken, hash_key
from challenges.models import Challenge, Participation, Task
from evaluation.models import Submission
from evaluation.services.demo import PARTICIPANT, RIVALS
from scorers.boxes import read_box_csv
from scorers.detection import evaluate_voc
from scorers.nifti import read_label_map
from scorers.segmentation import score_case
from scorers.voc import read_voc_xml

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_api_token_issues_a_new_token_each_time_and_creates_users_only_on_request():
    with pytest.raises(CommandError, match="--create"):
        run("api_token", "newbie")
    key = run("api_token", "newbie", "--create", "--name", "laptop").strip()
    token = ApiToken.objects.get(user__username="newbie")
    assert token.key_hash == hash_key(key) and token.name == "laptop"
    assert token.prefix == key[:8] and token.expires_at is None
    second = run("api_token", "newbie", "--expires-days", "30").strip()
    assert second != key
    assert ApiToken.objects.get(key_hash=hash_key(second)).expires_at is not None
    assert get_user_model().objects.filter(username="newbie").count() == 1


def test_make_demo_builds_a_filled_challenge_once(settings):
    output = run("make_demo")
    assert "participant / podium-demo" in output
    # A file to upload for every task, each of its kind's format.
    files = dict(line.strip().split(": ", 1) for line in
                 output.split("files to upload (Submit on each task's phase):")[1].splitlines()
                 if line.strip())
    archive = files["Task01_DemoLiver"]
    challenge = Challenge.objects.get(slug="decathlon-demo")
    tasks = {t.key: t for t in Task.objects.filter(challenge=challenge)}
    assert set(tasks) == {"Task01_DemoLiver", "Task02_DemoProstate", "Task03_DemoLungDx",
                          "Task04_DemoRadiogenomicsEGFR", "Task05_DemoRadiogenomicsSurvival"}
    assert set(files) == set(tasks) and all(Path(path).is_file() for path in files.values())
    assert Path(files["Task03_DemoLungDx"]).read_text().startswith(
        "image_id,label,score,xmin,ymin,xmax,ymax\n")
    assert Path(files["Task04_DemoRadiogenomicsEGFR"]).read_text().startswith(
        "case,probability\n")
    assert Path(files["Task05_DemoRadiogenomicsSurvival"]).read_text().startswith(
        "case,risk,S@365,S@730\n")
    # Every demo task's data has a provenance the citation page can show (no DOI: made up).
    for task in tasks.values():
        truth = task.phases.get().active_ground_truth
        assert truth.source_collection == f"Podium Demo Collection: {task.name}"
        assert (truth.source_version, truth.source_licence, truth.source_doi) == (
            "1.0", "CC BY 4.0", "")
    citation = Client().get("/challenges/decathlon-demo/citation/").content.decode()
    assert "Podium Demo Collection: DemoLungDx (version 1.0) [Data set]. Licence: CC BY 4.0." \
        in citation and "Collection —" not in citation
    assert tasks["Task02_DemoProstate"].tensor_image_size == "4D"
    assert tasks["Task02_DemoProstate"].cases[0]["geometry"]["shape"][3] == 2
    assert tasks["Task01_DemoLiver"].cases[0]["geometry"]["spacing_mm"] == pytest.approx(
        [0.8, 0.8, 2.5])
    assert tasks["Task03_DemoLungDx"].kind == Task.DETECTION
    assert tasks["Task04_DemoRadiogenomicsEGFR"].kind == Task.CLASSIFICATION
    assert tasks["Task05_DemoRadiogenomicsSurvival"].kind == Task.SURVIVAL
    assert Submission.objects.count() == 5 * len(RIVALS)
    assert Participation.objects.filter(user__username=PARTICIPANT[0],
                                        status="accepted").exists()
    assert archive.endswith(".zip") and str(settings.DATA_DIR) in archive
    again = run("make_demo")
    assert "already present" in again
    assert Submission.objects.count() == 5 * len(RIVALS)
    # The newcomer's archive is a plausible submission: between the demo teams, not a copy of
    # the hidden labels.
    root = Path(archive).parent.parent
    labels = root / "tasks" / "Task01_DemoLiver" / "labelsTs"
    newcomer = mean_dice(Path(archive), labels)
    rivals = [mean_dice(root / "rivals" / f"{name}-Task01_DemoLiver.zip", labels)
              for name, _ in RIVALS]
    assert min(rivals) < newcomer < max(rivals) and newcomer < 0.9
    # The demo detectors differ as their descriptions say, rather than all tying at mAP 1.
    detection = root / "tasks" / "Task03_DemoLungDx"
    maps = [detection_map(root / "rivals" / f"{name}-boxes.csv", detection)
            for name, _ in RIVALS]
    assert maps == sorted(maps, reverse=True) and len(set(maps)) == len(maps) == len(RIVALS)
    assert maps[0] < 1 and maps[-1] < 0.8


def detection_map(predictions: Path, task: Path) -> float:
    """VOC mAP of a demo team's boxes against the detection task's hidden labels."""
    classes = list(json.loads((task / "dataset.json").read_text())["labels"].values())
    images = [path.stem for path in sorted((task / "labelsTs").glob("*.xml"))]
    truth = {image: read_voc_xml(task / "labelsTs" / f"{image}.xml", name=image,
                                 classes=classes) for image in images}
    boxes = read_box_csv(predictions, name=predictions.name, image_ids=images, classes=classes)
    return evaluate_voc(truth, boxes)["mAP"]


def mean_dice(archive: Path, labels: Path) -> float:
    """Mean over cases of the Dice averaged over the liver's two labels."""
    values = []
    with zipfile.ZipFile(archive) as members:
        for name in members.namelist():
            prediction, _ = read_label_map(name, name=name, labels=[0, 1, 2],
                                           content=members.read(name))
            reference, _ = read_label_map(labels / name, name=name, labels=[0, 1, 2])
            scores = score_case(prediction, reference, spacing_mm=(0.8, 0.8, 2.5),
                                labels=[1, 2], nsd_tolerance_mm=1.0, metrics=["dice"])
            values.append((scores[1]["dice"] + scores[2]["dice"]) / 2)
    return sum(values) / len(values)

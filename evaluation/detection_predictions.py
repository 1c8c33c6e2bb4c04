"""Detection submissions: predicted boxes as a CSV file or COCO results JSON.

The upload is the file itself, or a zip/tar archive holding exactly one such file. Image ids are
the test images' names (the VOC XML file stems), class names those of the task.

The file's size follows from the task (``scorers.boxes.caps_for_images``: at most 1000 boxes
per test image, 1 KiB per box on average): a larger bare upload is refused by its size, a
larger archive member by its declared size as soon as the listing reaches it, before anything
is extracted or inflated. Other files in an archive (a README) are ignored; with the
predictions file they may unpack to at most twice that size.
"""

import dataclasses
import tempfile
from pathlib import Path

from challenges.models import Task
from core.archives import Member, detect_format, extract, human_size, list_members
from core.errors import GroundTruthError
from core.storage import local_path, private_storage
from scorers.boxes import (
    MAX_BOXES_PER_IMAGE,
    MAX_BYTES_PER_BOX,
    Detections,
    caps_for_images,
    read_box_csv,
    read_coco_results,
)
from scorers.detection import evaluate_coco, evaluate_voc
from scorers.errors import InputError
from scorers.voc import AnnotatedImage, read_voc_xml

from .models import Evaluation
from .predictions import archive_limits

BOX_FILE_SUFFIXES = (".csv", ".json")


def validate_upload(upload: Path, task: Task) -> Detections:
    """Parse and validate every predicted box (boxes are small: the quick check is complete)."""
    with tempfile.TemporaryDirectory(dir=upload.parent) as tmp:
        return load(upload, task, Path(tmp))


def load(upload: Path, task: Task, scratch: Path) -> Detections:
    """The predicted boxes of ``upload`` (a box file or an archive holding one), validated
    against the task's images and classes within the caps its image count allows."""
    images = len(task.case_names)
    max_rows, max_bytes = caps_for_images(images)
    box_file, kind = _box_file(upload, scratch, max_bytes=max_bytes, images=images)
    reader = read_coco_results if kind == "json" else read_box_csv
    return reader(box_file, name="the predictions file", image_ids=task.case_names,
                  classes=task.class_names, max_rows=max_rows, max_bytes=max_bytes)


def score(archive: Path, evaluation: Evaluation, scratch: Path) -> dict:
    """mAP (VOC rules, the phase's IoU, interpolation and +1 convention) and COCO AP."""
    task = evaluation.submission.phase.task
    config = evaluation.metric_config
    detections = load(archive, task, scratch)
    truth = ground_truth(evaluation, task, scratch)
    voc = evaluate_voc(truth, detections, iou_threshold=config["iou_threshold"],
                       voc2007=config["voc2007"], plus_one=config["plus_one"])
    coco = evaluate_coco(truth, detections)
    return {"mAP": voc["mAP"], "per_class": voc["per_class"], **coco}


def ground_truth(evaluation: Evaluation, task: Task, scratch: Path) -> dict[str, AnnotatedImage]:
    storage = private_storage()
    truth = {}
    for case in task.case_names:
        with local_path(storage, evaluation.ground_truth.files[case]["path"], scratch) as path:
            try:
                truth[case] = read_voc_xml(path, name=f"{case}.xml", classes=task.class_names)
            except InputError as exc:
                raise GroundTruthError(
                    f"ground truth v{evaluation.ground_truth.version}: {exc}") from exc
    return truth


def _box_file(upload: Path, scratch: Path, *, max_bytes: int, images: int) -> tuple[Path, str]:
    def too_large(what: str, size: int) -> InputError:
        return InputError(
            f"{what} is {human_size(size)}, more than the {human_size(max_bytes)} a predictions "
            f"file for {images} test image{'' if images == 1 else 's'} can hold (at most "
            f"{MAX_BOXES_PER_IMAGE} boxes per image, {human_size(MAX_BYTES_PER_BOX)} each)")

    def check_size(member: Member) -> None:
        if member.size > max_bytes:
            raise too_large(f"'{member.name}'", member.size)

    kind = _sniff(upload)
    if kind != "archive":
        if (size := upload.stat().st_size) > max_bytes:
            raise too_large("the predictions file", size)
        return upload, kind
    base = archive_limits()
    limits = dataclasses.replace(base, max_total_bytes=min(base.max_total_bytes, 2 * max_bytes))
    members = [m for m in list_members(upload, limits, check_member=check_size)
               if m.name.lower().endswith(BOX_FILE_SUFFIXES)]
    if len(members) != 1:
        raise InputError(
            "a detection archive must hold exactly one predictions file (.csv with columns "
            "image_id,label,score,xmin,ymin,xmax,ymax, or COCO results .json); "
            f"found {len(members)}"
        )
    path = extract(upload, members, scratch, limits)[members[0].name]
    return path, ("json" if members[0].name.lower().endswith(".json") else "csv")


def _sniff(upload: Path) -> str:
    try:
        detect_format(upload)
        return "archive"
    except InputError:
        pass
    with open(upload, "rb") as fh:
        head = fh.read(64).lstrip()
    return "json" if head[:1] in (b"[", b"{") else "csv"

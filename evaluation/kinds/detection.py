"""Detection submissions: predicted boxes as a CSV file or COCO results JSON.

The upload is the file itself, or a zip/tar archive holding exactly one such file. Image ids are
the test images' names (the VOC XML file stems), class names those of the task. On a task
imported from DICOM series (docs/dicom.md, "Detection on DICOM") the stems, and so the image
ids, are the annotated slices' SOP Instance UIDs, exactly as on a plain task from the same files.

The file's size follows from the task (``scorers.boxes.caps_for_images``: at most 1000 boxes
per test image, 1 KiB per box on average): a larger bare upload is refused by its size, a
larger archive member by its declared size as soon as the listing reaches it, before anything
is extracted or inflated. Other files in an archive (a README) are ignored; with the
predictions file they may unpack to at most twice that size.
"""

import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

from challenges.models import Phase, Task
from core.archives import Member, detect_format, extract, human_size, list_members
from core.errors import GroundTruthError, InvalidInput, from_scorers
from core.storage import local_path, private_storage
from scorers.boxes import (
    MAX_BOXES_PER_IMAGE,
    MAX_BYTES_PER_BOX,
    Detections,
    caps_for_images,
    read_box_csv,
    read_coco_results,
)
from scorers.detection import VocMatches, evaluate_coco, match_voc, voc_result
from scorers.errors import InputError as ScorerInputError
from scorers.metrics import DETECTION
from scorers.voc import AnnotatedImage, read_voc_xml

from ..models import CaseResult, Evaluation
from .base import Row, ScoringJob, TaskKind
from .segmentation import archive_limits

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
    with from_scorers():
        return reader(box_file, name="the predictions file", image_ids=task.case_names,
                      classes=task.class_names, max_rows=max_rows, max_bytes=max_bytes)


class DetectionKind(TaskKind):
    """Boxes of the whole test set in one file; VOC mAP and COCO AP of the set, and per image
    and class the VOC decisions the leaderboard's bootstrap needs (so refreshes never re-read
    uploads). Scored in one shard."""

    name = DETECTION

    def check_in_request(self, upload: Path, phase: Phase) -> bool:
        return False  # a box file is parsed whole: its cost grows with its size

    def check(self, upload: Path, phase: Phase) -> None:
        validate_upload(upload, phase.task)

    def score(self, job: ScoringJob) -> Iterator[tuple[str, list[Row]]]:
        """mAP (VOC rules: the phase's IoU, interpolation and +1 convention) and COCO AP into
        ``job.summary``; one row per image and class with boxes or detections, holding the
        class's VOC decisions for that image (``matches``)."""
        task, config = job.task, job.evaluation.metric_config
        detections = load(job.archive, task, job.scratch)
        truth = ground_truth(job.evaluation, task, job.scratch)
        matches = match_voc(truth, detections, iou_threshold=config["iou_threshold"],
                            plus_one=config["plus_one"])
        job.summary = {**voc_result(matches, voc2007=config["voc2007"]),
                       **evaluate_coco(truth, detections)}
        yield from stored_matches(matches, task)

    def summarize(self, job: ScoringJob) -> tuple[dict, str]:
        return job.summary, f"Scored {len(job.task.cases)} images."


def stored_matches(matches: VocMatches, task: Task) -> Iterator[tuple[str, list[Row]]]:
    """(image, rows) for every image with boxes or detections: one row per class, ``label``
    the class's index among the task's class names, ``matches`` its non-difficult boxes and
    its detections as [position in the class's score order, TP flag]."""
    label_of = {name: index for index, name in enumerate(task.class_names)}
    by_image: dict[int, list[Row]] = {}
    for image, c, boxes, pairs in matches.per_image():
        by_image.setdefault(image, []).append(Row(
            label_of[matches.classes[c]], {},
            matches={"positives": boxes, "detections": pairs.tolist()}))
    for image, rows in sorted(by_image.items()):
        yield matches.image_ids[image], rows


def matches_of(evaluation_ids: list, task: Task) -> dict:
    """Evaluation id → its :class:`VocMatches`, rebuilt from the stored rows (no upload is read);
    evaluations without stored rows (scored before rows were kept) are left out."""
    image_ids = sorted(task.case_names)
    image_index = {name: i for i, name in enumerate(image_ids)}
    names = task.class_names
    items: dict = {}
    rows = CaseResult.objects.filter(evaluation_id__in=evaluation_ids, matches__isnull=False)
    for evaluation_id, case, label, found in rows.values_list(
            "evaluation_id", "case", "label", "matches").iterator(chunk_size=5000):
        items.setdefault(evaluation_id, []).append(
            (image_index[case], names[label], found["positives"], found["detections"]))
    result = {}
    for evaluation_id, entries in items.items():
        classes = sorted({name for _, name, boxes, _ in entries if boxes})
        column = {name: c for c, name in enumerate(classes)}
        result[evaluation_id] = VocMatches.from_per_image(
            image_ids, classes,
            [(i, column[name], boxes, pairs) for i, name, boxes, pairs in entries
             if name in column])
    return result


def ground_truth(evaluation: Evaluation, task: Task, scratch: Path) -> dict[str, AnnotatedImage]:
    storage = private_storage()
    truth = {}
    for case in task.case_names:
        with local_path(storage, evaluation.ground_truth.files[case]["path"], scratch) as path:
            try:
                truth[case] = read_voc_xml(path, name=f"{case}.xml", classes=task.class_names)
            except ScorerInputError as exc:
                raise GroundTruthError(
                    f"ground truth v{evaluation.ground_truth.version}: {exc}") from exc
    return truth


def _box_file(upload: Path, scratch: Path, *, max_bytes: int, images: int) -> tuple[Path, str]:
    def too_large(what: str, size: int) -> InvalidInput:
        return InvalidInput(
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
        raise InvalidInput(
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
    except InvalidInput:
        pass
    with open(upload, "rb") as fh:
        head = fh.read(64).lstrip()
    return "json" if head[:1] in (b"[", b"{") else "csv"

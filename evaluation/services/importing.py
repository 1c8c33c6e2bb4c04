"""Importing an MSD-format task (folder or tar) with its hidden test labels.

Segmentation: ``dataset.json``, ``imagesTs/`` and ``labelsTs/`` (one label map per test image,
same name, same geometry). Detection: ``dataset.json`` (optional), ``labelsTs/`` holding one
PASCAL VOC XML file per test image (Lung-PET-CT-Dx style), and optionally ``imagesTs/`` with one
image per annotation file, named by its image id (what participants download), or one folder
per subject holding its DICOM series, the VOC files then named by SOP Instance UID (docs/dicom.md,
"Detection on DICOM"). Classification
and survival (a ``"clinical"`` block in ``dataset.json``, docs/clinical.md): test images as for
segmentation and one CSV of hidden clinical labels (:mod:`.clinical_import`). Labels go to
private storage, files named by content; the task, a ground-truth version and (first time) an
open phase are created.
Importing the same content twice changes nothing; changed labels make a new version.
"""

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.files import File
from django.db import transaction

from challenges import deid_gate
from challenges import provenance as ground_truth_provenance
from challenges.models import Challenge, GroundTruth, Phase, Task
from core.archives import ArchiveLimits, extract, list_members
from core.errors import InvalidInput, from_scorers
from core.storage import file_sha256, private_storage
from imaging import deid, voc_dicom
from imaging.errors import DicomError
from scorers.nifti import ReadLimits, check_geometry, read_geometry, read_label_map
from scorers.voc import read_voc_xml

from ..kinds.segmentation import case_name, listing
from .clinical_import import clinical_definition, clinical_kind, default_primary_metric
from .dicom_cases import dicom_case
from .reevaluation import activate_ground_truth

log = logging.getLogger(__name__)

# An organizer's task archive is trusted more than an upload but still read safely.
_TASK_ARCHIVE_LIMITS = ArchiveLimits(
    max_members=200_000, max_total_bytes=2 * 1024**4, max_ratio=1100
)
_DATASET_JSON_MAX_BYTES = 64 * 1024 * 1024
DETECTION_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm")


@dataclass
class ImportResult:
    task: Task
    ground_truth: GroundTruth
    task_created: bool
    ground_truth_created: bool
    phase: Phase | None
    queued: int = 0
    notes: list[str] = field(default_factory=list)


def import_task(
    path: Path,
    *,
    challenge_slug: str,
    kind: str | None = None,
    note: str = "",
    activate: bool = False,
    progress: Callable[[str], None] = lambda message: None,
    imported_by=None,
    deidentify: bool = False,
) -> ImportResult:
    """Import the task at ``path`` (folder or .tar/.tar.gz) into challenge ``challenge_slug``;
    ``imported_by``: the user recorded with a new ground-truth version; ``deidentify``: store
    de-identified copies of the test images (``imaging.deid.deidentify_file``), never the
    given files."""
    path = Path(path)
    if path.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            folder = _unpack(path, Path(tmp))
            return import_task(folder, challenge_slug=challenge_slug, kind=kind, note=note,
                               activate=activate, progress=progress, imported_by=imported_by,
                               deidentify=deidentify)
    if not path.is_dir():
        raise InvalidInput(f"{path}: no such folder or archive")
    dataset = _read_dataset_json(path)
    source = {**ground_truth_provenance.from_dataset(dataset), "imported_by": imported_by}
    kind = kind or dataset.get("task_type") or clinical_kind(dataset) or (
        Task.DETECTION if _has_xml_labels(path) else Task.SEGMENTATION
    )
    if kind in Task.CLINICAL_KINDS:  # the hidden labels are normalised into a scratch folder
        with from_scorers(), tempfile.TemporaryDirectory() as scratch:
            definition, label_files, images = clinical_definition(
                path, dataset, kind, Path(scratch), progress)
            if deidentify:
                images = _deidentified(images, Path(scratch), progress)
            return _save(path.name, definition, label_files, images,
                         challenge_slug=challenge_slug, note=note, activate=activate,
                         provenance=source)
    with from_scorers():  # the files are read by the metric library
        if kind == Task.DETECTION:
            definition, label_files, images = _detection_definition(path, dataset, progress)
        else:
            definition, label_files, images = _segmentation_definition(path, dataset, progress)
    with tempfile.TemporaryDirectory() as scratch:
        if deidentify:
            images = _deidentified(images, Path(scratch), progress)
        return _save(path.name, definition, label_files, images,
                     challenge_slug=challenge_slug, note=note, activate=activate,
                     provenance=source)


def _deidentified(images: dict, scratch: Path, progress) -> dict:
    """De-identified copies of the test images (by case), written under ``scratch``."""
    progress(f"de-identifying {len(images)} test images (docs/dicom.md)")
    copies = {}
    for case, source in images.items():
        dest = scratch / f"deid-{len(copies)}-{Path(source).name}"
        try:
            deid.deidentify_file(Path(source), dest)
        except (deid.UnreadableFile, OSError, ValueError) as exc:
            raise InvalidInput(f"case {case}: its test image could not be de-identified "
                               f"({type(exc).__name__})") from None
        copies[case] = dest
    return copies


def _unpack(archive: Path, dest: Path) -> Path:
    """The task folder inside ``archive``, unpacked under ``dest``. An archive that holds the
    task's files at its root (no folder around them) gives a folder named like the archive
    (``Task05_Prostate.tar.gz`` → ``Task05_Prostate``): the task key is the folder's name."""
    members = list_members(archive, _TASK_ARCHIVE_LIMITS, flat=False)
    extract(archive, members, dest, _TASK_ARCHIVE_LIMITS, keep_folders=True)
    found = sorted(p.parent for p in dest.rglob("dataset.json"))
    if not found:
        found = sorted(p.parent.parent for p in dest.rglob("labelsTs/*"))
        if not found:
            raise InvalidInput(f"{archive.name}: no dataset.json inside")
    if found[0] != dest:
        return found[0]
    named = dest / _archive_stem(archive.name)
    named.mkdir()
    for child in list(dest.iterdir()):
        if child != named:
            child.rename(named / child.name)
    return named


def _archive_stem(name: str) -> str:
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "task"
    return name


def _read_dataset_json(folder: Path) -> dict:
    path = folder / "dataset.json"
    if not path.exists():
        return {}
    if path.stat().st_size > _DATASET_JSON_MAX_BYTES:
        raise InvalidInput("dataset.json is implausibly large")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"dataset.json is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput("dataset.json must hold a JSON object")
    return data


def _has_xml_labels(folder: Path) -> bool:
    return any((folder / "labelsTs").glob("*.xml"))


def _text(dataset: dict, key: str, limit: int = 10_000) -> str:
    value = dataset.get(key, "")
    return value[:limit] if isinstance(value, str) else json.dumps(value)[:limit]


def _common_fields(folder: Path, dataset: dict) -> dict:
    return {
        "name": _text(dataset, "name", 200) or folder.name,
        "description": _text(dataset, "description"),
        "reference": _text(dataset, "reference"),
        "licence": _text(dataset, "licence", 200),
        "release": _text(dataset, "release", 100),
        "modality": dataset.get("modality") if isinstance(dataset.get("modality"), dict) else {},
        "tensor_image_size": _text(dataset, "tensorImageSize", 10),
    }


def _segmentation_definition(folder: Path, dataset: dict, progress):
    if not dataset:
        raise InvalidInput(f"{folder.name}: dataset.json is missing")
    labels = dataset.get("labels")
    if not isinstance(labels, dict) or not labels:
        raise InvalidInput('dataset.json: "labels" must map label values to names')
    try:
        label_values = sorted(int(value) for value in labels)
    except ValueError:
        raise InvalidInput('dataset.json: "labels" keys must be integers') from None
    if 0 not in label_values:
        raise InvalidInput('dataset.json: "labels" must include "0" (background)')
    test = dataset.get("test")
    if not isinstance(test, list) or not test:
        raise InvalidInput('dataset.json: "test" must list the test images')
    cases, label_files, images, missing = [], {}, {}, []
    limits = ReadLimits()
    for index, entry in enumerate(test, start=1):
        relative = entry.get("image") if isinstance(entry, dict) else entry
        if not isinstance(relative, str):
            raise InvalidInput(f'dataset.json: test entry {index} is not a file name')
        image_path = _inside(folder, relative)
        file_name = image_path.name
        case = case_name(file_name)
        if case is None:
            raise InvalidInput(f"dataset.json: test image '{relative}' is not a NIfTI file")
        if not image_path.is_file():
            raise InvalidInput(f"test image {file_name} listed in dataset.json is missing")
        label_path = folder / "labelsTs" / file_name
        if not label_path.is_file():
            missing.append(file_name)
            continue
        image_geometry = read_geometry(image_path, name=f"test image {case}", limits=limits)
        _, label_geometry = read_label_map(label_path, name=f"label {case}", labels=label_values,
                                           limits=limits)
        check_geometry(label_geometry, image_geometry, name=f"label {case}")
        cases.append({"name": case, "image": f"imagesTs/{file_name}",
                      "geometry": image_geometry.to_dict(),
                      **dicom_case(image_path, case, image_geometry)})  # a DICOM series
        label_files[case] = label_path
        images[case] = image_path
        progress(f"checked case {case} ({index}/{len(test)})")
    if missing:
        raise InvalidInput(
            f"labelsTs/ has no label for {len(missing)} test image(s): {listing(missing)}"
        )
    if len({case["name"] for case in cases}) != len(cases):
        raise InvalidInput("dataset.json lists a test image twice")
    definition = {**_common_fields(folder, dataset), "kind": Task.SEGMENTATION,
                  "labels": {str(k): str(v) for k, v in labels.items()}, "cases": cases}
    return definition, label_files, images


def _detection_definition(folder: Path, dataset: dict, progress):
    label_folder = folder / "labelsTs" if (folder / "labelsTs").is_dir() else folder
    classes = None
    if isinstance(dataset.get("labels"), dict):
        classes = sorted(str(name) for name in dataset["labels"].values())
    xml_files = sorted(label_folder.glob("*.xml"))
    if not xml_files:
        raise InvalidInput(f"{folder.name}: no PASCAL VOC XML files in labelsTs/")
    cases, label_files, seen_classes, annotations = [], {}, set(), {}
    for index, xml_path in enumerate(xml_files, start=1):
        image = read_voc_xml(xml_path, name=xml_path.name, classes=classes)
        annotations[image.image_id] = image
        seen_classes.update(box.label for box in image.boxes)
        cases.append({"name": image.image_id, "image": None,
                      "geometry": {"width": image.width, "height": image.height}})
        label_files[image.image_id] = xml_path
        if index % 100 == 0:
            progress(f"read {index}/{len(xml_files)} annotation files")
    classes = classes or sorted(seen_classes)
    if _detection_dicom_layout(folder):
        images = _detection_dicom_images(folder, cases, annotations, progress)
    else:
        images = _detection_images(folder, cases)
    definition = {**_common_fields(folder, dataset), "kind": Task.DETECTION,
                  "labels": {str(i): name for i, name in enumerate(classes)}, "cases": cases}
    return definition, label_files, images


def _detection_images(folder: Path, cases: list[dict]) -> dict[str, Path]:
    """The test images of a detection task, from imagesTs/ when the folder has one: the file
    named like each annotated image (its id plus an image suffix), recorded in ``cases`` and
    returned by image id. Every annotated image needs one; other files are refused."""
    images_folder = folder / "imagesTs"
    if not images_folder.is_dir():
        return {}
    by_id = {}
    for path in sorted(images_folder.iterdir()):
        image_id = next((path.name[: -len(suffix)] for suffix in DETECTION_IMAGE_SUFFIXES
                         if path.name.lower().endswith(suffix)), None)
        if image_id is None or not path.is_file() or path.is_symlink():
            raise InvalidInput(f"imagesTs/{path.name}: not an image file of a test case "
                               f"(expected <image id>{' or '.join(DETECTION_IMAGE_SUFFIXES)})")
        if image_id in by_id:
            raise InvalidInput(f"imagesTs/ holds two images of {image_id}")
        by_id[image_id] = path
    known = {case["name"] for case in cases}
    extra = sorted(set(by_id) - known)
    if extra:
        raise InvalidInput(f"imagesTs/ holds images without annotations: {listing(extra)}")
    missing = [case["name"] for case in cases if case["name"] not in by_id]
    if missing:
        raise InvalidInput(f"imagesTs/ has no image for {len(missing)} annotated image(s): "
                           f"{listing(missing)}")
    for case in cases:
        case["image"] = f"imagesTs/{by_id[case['name']].name}"
    return by_id


def _detection_dicom_layout(folder: Path) -> bool:
    """Whether imagesTs/ holds DICOM series (a folder per subject) rather than one image per
    annotation (docs/dicom.md, "Detection on DICOM")."""
    images_folder = folder / "imagesTs"
    return images_folder.is_dir() and any(
        path.is_dir() and not path.name.startswith(".") for path in images_folder.iterdir())


def _detection_dicom_images(folder: Path, cases: list[dict], annotations: dict,
                            progress) -> dict[str, Path]:
    """The annotated slices of the DICOM series in imagesTs/<subject>/: each VOC file's stem
    (a SOP Instance UID) is located in its series; its boxes must lie within the slice and its
    <size> be the slice's Columns×Rows. The case keeps the UID as its name, serves the slice
    itself as ``imagesTs/<UID>.dcm`` and records where it lies (``dicom_slice``: subject, series,
    slice index along the RAS volume's slice axis)."""
    progress(f"locating {len(cases)} annotated slices in the DICOM series of imagesTs/")
    try:
        index = voc_dicom.index_slices(folder / "imagesTs", wanted=set(annotations))
        images = {}
        for case in cases:
            uid, image = case["name"], annotations[case["name"]]
            name = f"labelsTs/{uid}.xml"
            ref = index.locate(uid, name=name)
            voc_dicom.check_boxes(ref, [(b.xmin, b.ymin, b.xmax, b.ymax) for b in image.boxes],
                                  name=name)
            voc_dicom.check_size(ref, image.width, image.height, name=name)
            case["image"] = f"imagesTs/{uid}.dcm"
            case["dicom_slice"] = ref.to_dict()
            images[uid] = ref.file
    except DicomError as exc:
        raise InvalidInput(str(exc)) from exc
    return images


def _save(key: str, definition: dict, label_files: dict, images: dict, *, challenge_slug: str,
          note: str, activate: bool, provenance: dict | None = None) -> ImportResult:
    storage = private_storage()
    hashes = {case: file_sha256(path) for case, path in label_files.items()}
    content = hashlib.sha256(
        "".join(f"{case}:{digest}\n" for case, digest in sorted(hashes.items())).encode()
    ).hexdigest()
    with transaction.atomic():
        challenge, _ = Challenge.objects.get_or_create(
            slug=challenge_slug, defaults={"title": challenge_slug.replace("-", " ").title()}
        )
        task = Task.objects.select_for_update().filter(challenge=challenge, key=key).first()
        task_created = task is None
        if task_created:
            task = Task.objects.create(challenge=challenge, key=key, **definition)
            task.images = {case: _store(storage, f"images/{task.id}", path, file_sha256(path))
                           for case, path in images.items()}
            task.save(update_fields=["images"])
        else:
            _check_same_definition(task, definition)
        files = {case: {"path": _store(storage, f"groundtruth/{task.id}", path, hashes[case]),
                        "sha256": hashes[case], "size": path.stat().st_size}
                 for case, path in label_files.items()}
        existing = GroundTruth.objects.filter(task=task, content_sha256=content).first()
        result = ImportResult(task=task, ground_truth=existing, task_created=task_created,
                              ground_truth_created=existing is None, phase=task.phases.first())
        if task_created:  # the de-identification gate checks the stored test images
            result.notes.extend(deid_gate.import_notes(deid_gate.check_task(task)))
        if existing is None:
            latest = task.ground_truths.order_by("-version").first()
            result.ground_truth = GroundTruth.objects.create(
                task=task, version=(latest.version + 1) if latest else 1,
                content_sha256=content, files=files, note=note[:300], **(provenance or {}),
            )
        elif ground_truth_provenance.differs(existing, provenance or {}):
            result.notes.append(
                f"ground truth v{existing.version} holds these labels already and keeps its "
                "provenance; correct it in the console or the organizer API"
            )
        if result.phase is None:
            result.phase = Phase.objects.create(
                task=task, name="Test", active_ground_truth=result.ground_truth,
                primary_metric=default_primary_metric(task),
            )
        elif activate and result.phase.active_ground_truth_id != result.ground_truth.id:
            result.queued = activate_ground_truth(result.phase, result.ground_truth)
        elif result.ground_truth_created:
            result.notes.append(
                f"ground truth v{result.ground_truth.version} created but not active; "
                "activate it in the admin or import again with --activate"
            )
    return result


def _check_same_definition(task: Task, definition: dict) -> None:
    for field_name in ("kind", "labels", "clinical"):
        if getattr(task, field_name) != definition.get(field_name, {}):
            raise InvalidInput(f"task {task.key} already exists with different {field_name}")
    if task.case_names != [case["name"] for case in definition["cases"]]:
        raise InvalidInput(f"task {task.key} already exists with a different list of test cases")


def _store(storage, prefix: str, path: Path, digest: str) -> str:
    suffix = ".nii.gz" if path.name.endswith(".nii.gz") else path.suffix
    name = f"{prefix}/{digest}{suffix}"
    if not storage.exists(name):
        with open(path, "rb") as fh:
            saved = storage.save(name, File(fh))
        if saved != name:
            raise RuntimeError(f"private storage renamed {name} to {saved}")
    return name



def _inside(folder: Path, relative: str) -> Path:
    path = (folder / relative).resolve()
    if folder.resolve() not in path.parents:
        raise InvalidInput(f"dataset.json: '{relative}' points outside the task folder")
    return path

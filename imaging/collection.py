"""A TCIA-style DICOM collection (image series + SEG ground truth) as an MSD-style task folder.

:func:`convert_collection` reads a folder of DICOM files in any nesting, a manifest CSV
(``subject,split`` with split ``test`` or ``train``) and optional metadata (``dataset.json``-like:
name, description, reference, licence, release, labels, segment_map, modality, overlap, and the
provenance fields collection, version, doi, url), and writes
``dataset.json``, ``imagesTs/``, ``labelsTs/``, ``imagesTr/``, ``labelsTr/`` that Podium's
importer (``evaluation/services/importing.py``) reads as they are. Rules (docs/dicom.md,
"Collections"):

* A subject is a PatientID. Series are grouped by SeriesInstanceUID; SEG objects are the files
  with Modality SEG. Files named ``DICOMDIR``, hidden files and ``.csv``/``.json``/``.txt``/
  ``.md``/``.xml``/``.pdf`` files are skipped; every other file must be DICOM.
* Each subject of the manifest needs exactly one SEG (several are refused, naming them); the
  image series is the one its ReferencedSeriesSequence names (or the subject's only image
  series when it names none). Other series of the subject are left out and reported.
  RTSTRUCT is not converted: a subject with RTSTRUCT and no SEG is refused.
* Case names are the subject IDs (letters, digits, ``.``, ``_``, ``-``); images are written with
  :func:`~imaging.series.write_nifti`, labels as uint8/uint16 NIfTI on the same grid.
* ``content_sha256`` = SHA-256 of the sorted lines ``<SOPInstanceUID> <file SHA-256>`` of every
  file used (series slices and SEGs): the same inputs give the same hash, whatever the folder
  layout or file names.
* ``dataset.json`` carries a ``provenance`` block (docs/dicom.md, "Provenance"): the metadata's
  collection, version, doi, licence, url and reference, the manifest (subject → split, series
  and SEG UIDs) and ``sha256`` = ``content_sha256``.
* Beside each image, ``<case>.dicom.json`` (:data:`SIDECAR_SUFFIX`) keeps what SEG predictions
  are validated against without the series: ``geometry`` (:meth:`SeriesGeometry.to_dict`),
  ``series_instance_uid``, ``frame_of_reference_uid`` and ``sop_instance_uids`` (index k = the
  NIfTI array's slice k along the geometry's ``slice_axis``).
* No DICOM is copied: the task holds NIfTI only, written with empty text fields (``descrip``,
  ``aux_file``, ``intent_name``) and no extensions, so nothing of the DICOM header but the
  geometry and the UIDs reaches it (the de-identification gate checks the result).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from imaging.errors import DicomError
from imaging.geometry import SeriesGeometry
from imaging.seg import DEFAULT_MAX_FRAMES, OVERLAP_RULES, read_seg
from imaging.series import DEFAULT_MAX_VOXELS, read_dicom, read_series, write_nifti

SPLITS = ("test", "train")
SCAN_PROGRESS_EVERY = 1000
SIDECAR_SUFFIX = ".dicom.json"
PROVENANCE_KEYS = ("collection", "version", "doi", "licence", "url", "reference")
METADATA_KEYS = frozenset({"name", "description", "reference", "licence", "release", "labels",
                           "segment_map", "modality", "overlap", "collection", "version", "doi",
                           "url"})
SKIPPED_SUFFIXES = {".csv", ".json", ".txt", ".md", ".xml", ".pdf"}
_SUBJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_METADATA_TEXT = ("name", "description", "reference", "licence", "release")


@dataclass(frozen=True)
class CaseReport:
    """What one subject became: the case name, its split, the series and SEG used, the image
    shape and spacing (mm, RAS axes) and the segment → label mapping applied."""

    subject: str
    split: str
    case: str
    series_instance_uid: str
    slices: int
    seg_sop_instance_uid: str
    seg_file: str
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    segments: dict[int, int]


@dataclass(frozen=True)
class CollectionReport:
    cases: tuple[CaseReport, ...]
    content_sha256: str
    dataset: dict
    notes: tuple[str, ...] = field(default=())


@dataclass
class _File:
    path: Path
    name: str  # relative to the collection folder, for messages
    modality: str
    subject: str
    series: str
    sop_instance_uid: str
    referenced_series: tuple[str, ...]


def convert_collection(
    source: Path,
    destination: Path,
    *,
    manifest: Path,
    metadata: Path | Mapping | None = None,
    overlap: str = "refuse",
    max_voxels: int = DEFAULT_MAX_VOXELS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    progress: Callable[[str], None] = lambda message: None,
) -> CollectionReport:
    """Convert the collection under ``source`` into an MSD-style task at ``destination`` (new
    or empty; emptied again when the conversion fails). ``overlap``, ``max_voxels`` and
    ``max_frames`` are passed to :func:`~imaging.seg.read_seg` and
    :func:`~imaging.series.read_series`; ``progress`` hears one line per subject. Raises
    :class:`~imaging.errors.DicomError` naming the file, subject or manifest row."""
    source, destination = Path(source), Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise DicomError(f"{destination.name}: the destination folder is not empty")
    created = not destination.exists()
    try:
        return _convert(source, destination, Path(manifest), metadata, overlap=overlap,
                        max_voxels=max_voxels, max_frames=max_frames, progress=progress)
    except BaseException:
        # Never leave half a task behind: the importer would take it for a whole one.
        if created:
            shutil.rmtree(destination, ignore_errors=True)
        else:
            for child in destination.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def _convert(source: Path, destination: Path, manifest: Path, metadata, *, overlap: str,
             max_voxels: int, max_frames: int, progress) -> CollectionReport:
    rows = manifest_rows(manifest)
    splits = {subject: split for subject, (split, _) in rows.items()}
    meta = read_metadata(metadata)
    overlap = meta.get("overlap", overlap)
    files = _scan(source, skip={manifest.resolve()}, progress=progress)
    by_subject: dict[str, list[_File]] = defaultdict(list)
    for item in files:
        by_subject[item.subject].append(item)
    missing = [s for s in splits if s not in by_subject]
    if missing:
        found = "; ".join(f"row {rows[s][1]}: no DICOM files with PatientID {s}"
                          for s in missing[:10])
        more = f" (and {len(missing) - 10} more rows)" if len(missing) > 10 else ""
        raise DicomError(f"manifest {found}{more}")
    notes = []
    skipped = sorted(set(by_subject) - set(splits))
    if skipped:
        notes.append(f"{len(skipped)} subject(s) not in the manifest left out: "
                     f"{', '.join(skipped[:10])}")
    for folder in ("imagesTs", "labelsTs", "imagesTr", "labelsTr"):
        (destination / folder).mkdir(parents=True, exist_ok=True)
    labels = meta.get("labels")
    allowed = None if labels is None else [int(k) for k in labels]
    cases, used, modalities, seen_labels = [], [], set(), {}
    for index, (subject, split) in enumerate(splits.items(), start=1):
        image_files, seg = _subject_files(subject, by_subject[subject], notes)
        try:
            volume = read_series([f.path for f in image_files],
                                 names=[f.name for f in image_files], max_voxels=max_voxels)
        except DicomError as error:  # the files' names need not say whose they are
            raise DicomError(f"subject {subject}: {error}") from None
        label_map = read_seg(seg.path, reference=volume, segment_map=segment_values(meta),
                             labels=allowed, overlap=overlap, max_frames=max_frames,
                             name=f"subject {subject}: {seg.name}")
        suffix = "Ts" if split == "test" else "Tr"
        write_nifti(volume, destination / f"images{suffix}" / f"{subject}.nii.gz")
        write_nifti(volume, destination / f"labels{suffix}" / f"{subject}.nii.gz",
                    array=label_map.array)
        (destination / f"images{suffix}" / f"{subject}{SIDECAR_SUFFIX}").write_text(
            json.dumps(dicom_case(volume.geometry)) + "\n")
        modalities.add(volume.modality)
        for segment in label_map.segments:
            if segment.value:
                seen_labels.setdefault(str(segment.value), segment.label)
        used.extend([*image_files, seg])
        cases.append(CaseReport(
            subject=subject, split=split, case=subject,
            series_instance_uid=volume.series_instance_uid, slices=len(image_files),
            seg_sop_instance_uid=label_map.sop_instance_uid, seg_file=seg.name,
            shape=tuple(volume.array.shape), spacing=volume.spacing,
            segments=label_map.label_of_segment,
        ))
        progress(f"converted subject {subject} ({index}/{len(splits)})")
    digest = content_hash(used)
    dataset = _dataset_json(meta, cases, modalities, labels or {"0": "background",
                                                                 **seen_labels})
    dataset["provenance"] = provenance_block(meta, cases, digest)
    (destination / "dataset.json").write_text(json.dumps(dataset, indent=2) + "\n")
    return CollectionReport(cases=tuple(cases), content_sha256=digest,
                            dataset=dataset, notes=tuple(notes))


def dicom_case(geometry: SeriesGeometry) -> dict:
    """What a task keeps per case of a DICOM series (the ``<case>.dicom.json`` sidecar, then
    ``Task.cases[i]["dicom"]``): the geometry, the series' identity and its SOP Instance UIDs
    in the NIfTI array's slice order (index k along ``geometry.slice_axis``)."""
    return {"geometry": geometry.to_dict(),
            "series_instance_uid": geometry.series_instance_uid,
            "frame_of_reference_uid": geometry.frame_of_reference_uid,
            "sop_instance_uids": list(geometry.ras_sop_instance_uids)}


def provenance_block(meta: Mapping, cases: list[CaseReport], digest: str) -> dict:
    """The ``provenance`` block of ``dataset.json``: the metadata's descriptive fields (given
    ones only; ``release`` stands in for a missing ``version``), the manifest and the hash."""
    block = {key: str(meta[key]) for key in PROVENANCE_KEYS if meta.get(key)}
    if "version" not in block and meta.get("release"):
        block["version"] = str(meta["release"])
    block["manifest"] = {case.subject: {"split": case.split,
                                        "series": case.series_instance_uid,
                                        "seg": case.seg_sop_instance_uid} for case in cases}
    block["sha256"] = digest
    return block


def read_manifest(path: Path) -> dict[str, str]:
    """``subject → split`` from a CSV with the columns ``subject`` and ``split``."""
    return {subject: split for subject, (split, _) in manifest_rows(path).items()}


def manifest_rows(path: Path) -> dict[str, tuple[str, int]]:
    """``subject → (split, row)`` from a CSV with the columns ``subject`` and ``split``; the
    row is the line number a spreadsheet shows (the header is row 1), so that later errors
    can name it."""
    try:  # the reader skips blank lines: each row keeps the number of the line it ends on
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DicomError(f"manifest: cannot be read as CSV ({type(error).__name__})") from None
    if not rows or not {"subject", "split"} <= set(rows[0][1]):
        raise DicomError("manifest: expected a CSV with the columns subject,split")
    splits: dict[str, tuple[str, int]] = {}
    for line, row in rows:
        subject, split = (row.get("subject") or "").strip(), (row.get("split") or "").strip()
        if not subject and not split:
            continue
        if not _SUBJECT.fullmatch(subject):
            raise DicomError(f"manifest row {line}: subject '{subject[:100]}' must be letters, "
                             "digits, '.', '_' or '-' (it becomes the case name)")
        if split not in SPLITS:
            raise DicomError(f"manifest row {line}: split '{split[:20]}' must be test or train")
        if subject in splits:
            raise DicomError(f"manifest row {line}: subject {subject} is listed twice")
        splits[subject] = (split, line)
    if not any(split == "test" for split, _ in splits.values()):
        raise DicomError("manifest: no subject has split test")
    return splits


def read_metadata(metadata: Path | Mapping | None) -> dict:
    """The collection's metadata (a JSON file or a dict), checked; ``segment_map`` values may
    be label values or label names of ``labels``. Unknown keys are refused by name (a typo
    would otherwise be ignored silently)."""
    if metadata is None:
        return {}
    if isinstance(metadata, Mapping):
        data = dict(metadata)
    else:
        try:
            data = json.loads(Path(metadata).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DicomError(f"metadata: not valid JSON ({type(error).__name__})") from None
    if not isinstance(data, dict):
        raise DicomError("metadata: expected a JSON object")
    unknown = sorted(str(key) for key in data if key not in METADATA_KEYS)
    if unknown:
        raise DicomError(f"metadata: unknown key(s) {', '.join(unknown[:5])}; expected some of "
                         f"{', '.join(sorted(METADATA_KEYS))}")
    for key in ("name", "description", "reference", "licence", "release", *PROVENANCE_KEYS):
        if key in data and not isinstance(data[key], str | int | float):
            raise DicomError(f'metadata: "{key}" must be text')
    labels = data.get("labels")
    if labels is not None:
        if not isinstance(labels, dict) or not all(str(k).isdigit() for k in labels):
            raise DicomError('metadata: "labels" must map label values ("0", "1", …) to names')
        if "0" not in {str(k) for k in labels}:
            raise DicomError('metadata: "labels" must include "0" (background)')
        data["labels"] = {str(k): str(v) for k, v in labels.items()}
    if data.get("overlap", "refuse") not in OVERLAP_RULES:
        raise DicomError(f'metadata: "overlap" must be one of {", ".join(OVERLAP_RULES)}')
    if data.get("segment_map") is not None:
        segment_values(data)  # checked now, before any file is read
    return data


def segment_values(meta: Mapping) -> dict[str, int] | None:
    """The metadata's ``segment_map`` with label names resolved to label values (None without
    a map: segment number n becomes label n)."""
    mapping, labels = meta.get("segment_map"), meta.get("labels")
    if mapping is None:
        return None
    if not isinstance(mapping, dict):
        raise DicomError('metadata: "segment_map" must map segment labels or '
                         '"<scheme>:<code>" to label values (integers) or label names')
    by_name = {name: int(value) for value, name in (labels or {}).items()}
    values = {}
    for key, value in mapping.items():
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            values[str(key)] = value
        elif isinstance(value, str) and value in by_name:
            values[str(key)] = by_name[value]
        elif isinstance(value, str):
            known = ", ".join(f"'{name}'" for name in by_name) or "none: give \"labels\""
            raise DicomError(f'metadata: segment_map "{str(key)[:64]}" names label '
                             f"'{value[:64]}', which \"labels\" does not hold (known: {known})")
        else:
            raise DicomError(f'metadata: segment_map "{str(key)[:64]}" must map to a label '
                             "value (an integer ≥ 0) or a label name")
    return values


def _scan(source: Path, skip: set[Path], progress=lambda message: None) -> list[_File]:
    if not source.is_dir():
        raise DicomError(f"{source.name}: no such collection folder")
    found = []
    for path in sorted(source.rglob("*")):
        if (path.is_symlink() or not path.is_file() or path.name == "DICOMDIR"
                or path.name.startswith(".") or path.suffix.lower() in SKIPPED_SUFFIXES
                or path.resolve() in skip):
            continue
        name = path.relative_to(source).as_posix()
        ds = read_dicom(path, name, headers_only=True)
        for keyword in ("PatientID", "SeriesInstanceUID", "SOPInstanceUID"):
            if not ds.get(keyword):
                raise DicomError(f"{name}: missing {keyword}")
        referenced = tuple(str(item.get("SeriesInstanceUID", ""))
                           for item in ds.get("ReferencedSeriesSequence", []))
        found.append(_File(path, name, str(ds.get("Modality", "")), str(ds.PatientID),
                           str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID), referenced))
        if len(found) % SCAN_PROGRESS_EVERY == 0:
            progress(f"read the headers of {len(found)} DICOM files")
    if not found:
        raise DicomError(f"{source.name}: no DICOM files found")
    progress(f"read the headers of {len(found)} DICOM files")
    return found


def _subject_files(subject: str, files: list[_File], notes: list[str]
                   ) -> tuple[list[_File], _File]:
    """The subject's image slices and its one SEG (rules in the module doc)."""
    segs = [f for f in files if f.modality == "SEG"]
    if not segs:
        if any(f.modality == "RTSTRUCT" for f in files):
            raise DicomError(f"subject {subject}: ground truth is an RTSTRUCT, which is not "
                             "converted (docs/dicom.md); convert it to a DICOM SEG first")
        raise DicomError(f"subject {subject}: no DICOM SEG (Modality SEG) found")
    if len(segs) > 1:
        raise DicomError(f"subject {subject}: {len(segs)} SEG objects "
                         f"({', '.join(s.name for s in segs[:5])}); keep one per subject")
    seg = segs[0]
    series: dict[str, list[_File]] = defaultdict(list)
    for f in files:
        if f.modality not in ("SEG", "RTSTRUCT", "SR", "PR", "KO", "REG"):
            series[f.series].append(f)
    if seg.referenced_series:
        chosen = next((uid for uid in seg.referenced_series if uid in series), None)
        if chosen is None:
            raise DicomError(f"subject {subject}: {seg.name} references series "
                             f"{', '.join(seg.referenced_series)}, which the collection does "
                             "not hold for this subject")
    elif len(series) == 1:
        chosen = next(iter(series))
    else:
        raise DicomError(f"subject {subject}: {seg.name} names no referenced series and the "
                         f"subject has {len(series)} image series")
    others = sorted(set(series) - {chosen})
    if others:
        notes.append(f"subject {subject}: {len(others)} other series left out "
                     f"({', '.join(others[:3])})")
    return sorted(series[chosen], key=lambda f: f.name), seg


def content_hash(files: list[_File]) -> str:
    """SHA-256 of the sorted ``<SOPInstanceUID> <file SHA-256>`` lines of ``files``."""
    lines = sorted(f"{f.sop_instance_uid} {_sha256(f.path)}\n" for f in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _dataset_json(meta: dict, cases: list[CaseReport], modalities: set[str],
                  labels: dict) -> dict:
    if len(modalities) > 1 and "modality" not in meta:
        raise DicomError(f"the series mix modalities ({', '.join(sorted(modalities))}); give "
                         '"modality" in the metadata')
    test = [c for c in cases if c.split == "test"]
    train = [c for c in cases if c.split == "train"]
    dataset = {key: str(meta[key]) for key in _METADATA_TEXT if key in meta}
    dataset.setdefault("name", "DICOM collection")
    dataset.update({
        "tensorImageSize": "3D",
        "modality": meta.get("modality") or {"0": next(iter(modalities), "")},
        "labels": dict(sorted(labels.items(), key=lambda item: int(item[0]))),
        "numTraining": len(train),
        "numTest": len(test),
        "training": [{"image": f"./imagesTr/{c.case}.nii.gz",
                      "label": f"./labelsTr/{c.case}.nii.gz"} for c in train],
        "test": [f"./imagesTs/{c.case}.nii.gz" for c in test],
    })
    if "segment_map" in meta:
        dataset["segment_map"] = meta["segment_map"]
    return dataset

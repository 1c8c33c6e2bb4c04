"""Importing a TCIA-style DICOM collection (CT/MR series with DICOM SEG ground truth) as a task.

The collection — a folder, or a zip/tar(.gz) archive unpacked with the protections of
:mod:`core.archives` — is converted by :func:`imaging.collection.convert_collection` into an
MSD-style task folder in the work folder, which :func:`.importing.import_task` then imports as
any MSD task (ground truth with its provenance, the de-identification gate, the phase). Entry
points: ``import_dicom_collection`` (management command) and the console's *Import task*
(:func:`import_upload`, called by :mod:`.import_jobs`), which takes an archive holding
``manifest.csv`` and DICOM files and no ``dataset.json`` (nor MSD folders) for a collection.

Layout inside a folder or archive (docs/dicom.md, "Import"): the DICOM files in any nesting,
``manifest.csv`` (``subject,split``) and optionally ``metadata.json`` at the collection's root
(the folder holding the manifest; the command may name both files elsewhere). The task key is
the root folder's name (an archive holding the collection at its top: the archive's name).

Every refusal of :mod:`imaging` becomes :class:`~core.errors.InvalidInput` with its message,
which names the subject, the file relative to the collection or the manifest row, never a
server path.
"""

import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from django.conf import settings

from challenges import provenance
from challenges.models import Task
from core.archives import ArchiveLimits, Member, extract, list_members
from core.errors import InvalidInput
from imaging.collection import PROVENANCE_KEYS, convert_collection, read_metadata
from imaging.errors import DicomError

from .importing import ImportResult, import_task

MANIFEST_NAME = "manifest.csv"
METADATA_NAME = "metadata.json"
METADATA_MAX_BYTES = 1024 * 1024
MSD_MARKERS = frozenset({"imagesTs", "labelsTs", "imagesTr", "labelsTr"})
"""Folders that make an archive an MSD task, whatever else it holds."""
DICOM_ARCHIVE_LIMITS = ArchiveLimits(
    max_members=500_000, max_total_bytes=2 * 1024**4, max_ratio=1100
)
"""As the MSD import's (importing.py), with room for one file per slice: 500,000 files are
about 1,600 CT series of 300 slices."""
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")


def import_upload(archive: Path, *, challenge_slug: str, note: str = "",
                  activate: bool = False, progress: Callable[[str], None] = lambda m: None,
                  imported_by=None, name: str = "", deidentify: bool = False) -> ImportResult:
    """The console's import of an uploaded archive: a DICOM collection (see
    :func:`collection_members`) is converted and imported, anything else goes to
    :func:`.importing.import_task` as before. ``name``: the file name the organizer uploaded
    (the task key of a collection at the archive's top, which has no folder to name it)."""
    options = {"challenge_slug": challenge_slug, "note": note, "activate": activate,
               "progress": progress, "imported_by": imported_by, "deidentify": deidentify}
    members = collection_members(archive)
    if members is None:
        return import_task(archive, **options)
    progress("the archive holds a DICOM collection (manifest.csv, no dataset.json)")
    return _from_archive(Path(archive), members, None, None, options, name=name)


class _MsdArchive(Exception):
    """Raised from the listing's member check to stop at the first sign of an MSD task."""


def collection_members(archive: Path) -> list[Member] | None:
    """The archive's members if it holds a DICOM collection — a ``manifest.csv``, and no
    ``dataset.json`` nor a member under imagesTs/, labelsTs/, imagesTr/ or labelsTr/ — else
    None. The listing stops at the first MSD member, so an MSD archive is not read through
    twice. Raises InvalidInput for a hostile archive, as :mod:`core.archives` words it."""
    def check(member: Member) -> None:
        parts = PurePosixPath(member.path).parts
        if member.name == "dataset.json" or MSD_MARKERS & set(parts[:-1]):
            raise _MsdArchive

    try:
        members = list_members(Path(archive), DICOM_ARCHIVE_LIMITS, flat=False,
                               check_member=check)
    except _MsdArchive:
        return None
    return members if any(m.name == MANIFEST_NAME for m in members) else None


def import_collection(path: Path, *, challenge_slug: str, manifest: Path | None = None,
                      metadata: Path | None = None, note: str = "", activate: bool = False,
                      progress: Callable[[str], None] = lambda message: None,
                      imported_by=None) -> ImportResult:
    """Convert and import the collection at ``path`` (a folder or a zip/tar(.gz) archive).
    ``manifest``/``metadata``: files outside the collection; by default ``manifest.csv`` and
    ``metadata.json`` (optional) at its root."""
    path = Path(path)
    options = {"challenge_slug": challenge_slug, "note": note, "activate": activate,
               "progress": progress, "imported_by": imported_by}
    if path.is_file():
        members = list_members(path, DICOM_ARCHIVE_LIMITS, flat=False)
        return _from_archive(path, members, manifest, metadata, options)
    if not path.is_dir():
        raise InvalidInput(f"{path.name}: no such folder or archive")
    return _from_folder(path, path.resolve().name, manifest, metadata, options)


def _from_archive(archive: Path, members: list[Member], manifest: Path | None,
                  metadata: Path | None, options: dict, *, name: str = "") -> ImportResult:
    with tempfile.TemporaryDirectory(dir=settings.WORK_DIR) as scratch:
        unpacked = Path(scratch) / "collection"  # the name messages give a collection at the top
        options["progress"](f"unpacking {len(members)} files")
        extract(archive, members, unpacked, DICOM_ARCHIVE_LIMITS, keep_folders=True)
        root = _collection_root(unpacked, manifest is None)
        key = root.name if root != unpacked else _stem(name or archive.name)
        return _from_folder(root, key, manifest, metadata, options)


def _collection_root(unpacked: Path, manifest_inside: bool) -> Path:
    """The folder holding the collection: the one with ``manifest.csv`` (the shallowest), or,
    with a manifest given apart, the archive's only top folder if it has one."""
    if manifest_inside:
        found = sorted(unpacked.rglob(MANIFEST_NAME), key=lambda p: (len(p.parts), str(p)))
        if not found:
            raise InvalidInput(f"the archive holds no {MANIFEST_NAME} (columns subject,split)")
        top = [p for p in found if len(p.parts) == len(found[0].parts)]
        if len(top) > 1:
            shown = ", ".join(p.relative_to(unpacked).as_posix() for p in top[:3])
            raise InvalidInput(f"the archive holds {len(top)} {MANIFEST_NAME} files at the same "
                               f"depth ({shown}); keep one, at the collection's root")
        return found[0].parent
    children = [child for child in unpacked.iterdir()]
    return children[0] if len(children) == 1 and children[0].is_dir() else unpacked


def _stem(name: str) -> str:
    for suffix in _ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or "collection"
    return name


def _safe_key(key: str) -> str:
    """The task key: the folder's name, cut to 100 characters; never a path."""
    key = key.strip()[:100]
    return "collection" if key in ("", ".", "..") or "/" in key or "\\" in key else key


def _from_folder(root: Path, key: str, manifest: Path | None, metadata: Path | None,
                 options: dict) -> ImportResult:
    manifest = Path(manifest) if manifest else root / MANIFEST_NAME
    if not manifest.is_file():
        raise InvalidInput(f"no manifest: expected {MANIFEST_NAME} (columns subject,split) at "
                           "the collection's root, or one named with --manifest")
    if metadata is None and (root / METADATA_NAME).is_file():
        metadata = root / METADATA_NAME
    meta = _metadata(metadata)
    with tempfile.TemporaryDirectory(dir=settings.WORK_DIR) as scratch:
        task_folder = Path(scratch) / _safe_key(key)
        try:
            report = convert_collection(root, task_folder, manifest=manifest, metadata=meta,
                                        progress=options["progress"])
        except DicomError as exc:
            raise InvalidInput(str(exc)) from None
        options["progress"](f"converted {len(report.cases)} subjects; importing the task")
        result = import_task(task_folder, kind=Task.SEGMENTATION, **options)
    result.notes[:0] = list(report.notes)
    return result


def _metadata(path: Path | None) -> dict:
    """The metadata file, checked as the converter does and its provenance fields as the
    importer will (so a bad DOI is refused before hours of conversion)."""
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"metadata: {path.name} not found")
    if path.stat().st_size > METADATA_MAX_BYTES:
        raise InvalidInput(f"metadata: larger than {METADATA_MAX_BYTES // 1024} KiB")
    try:
        meta = read_metadata(path)
    except DicomError as exc:
        raise InvalidInput(str(exc)) from None
    given = {key: str(meta[key]) for key in PROVENANCE_KEYS if meta.get(key)}
    if "version" not in given and meta.get("release"):
        given["version"] = str(meta["release"])
    _, errors = provenance.clean(given)
    if errors:
        raise InvalidInput("metadata: " + "; ".join(f"{name}: {message}"
                                                    for name, message in errors.items()))
    return meta

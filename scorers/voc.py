"""PASCAL VOC XML ground truth: a hostile-input-safe reader and validator.

One XML file describes the boxes of one image. The reader follows the VOC format but accepts
what real collections write: Lung-PET-CT-Dx spells ``<Difficult>`` with a capital D, fills
``<folder>``/``<filename>`` with the placeholder "Unknow" and names each file after the
slice's SOPInstanceUID. Tags are therefore matched case-insensitively, ``folder``/``filename``
are never read, and an image is identified by the XML file's name without ``.xml``.

Parsing uses defusedxml with DTDs, entity declarations and external references forbidden, on
at most ``max_bytes`` bytes, so billion-laughs and XXE files are rejected before expansion.
"""

import sys
import xml.etree.ElementTree as ET  # ParseError and Element types; parsing is defusedxml's
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import defusedxml
import defusedxml.ElementTree
from tqdm import tqdm

from scorers._parse import check_name, parse_decimal, parse_integer, read_capped
from scorers.errors import InputError

DEFAULT_MAX_XML_BYTES = 1 << 20
# Caps width and height so that no ground-truth box area exceeds 1e10, COCOeval's upper area
# bound; the COCO area rule then never applies to ground truth (see docs/detection.md).
MAX_IMAGE_SIDE = 100_000


@dataclass(frozen=True)
class Box:
    """One ground-truth box in VOC pixel coordinates (xmin < xmax, ymin < ymax)."""

    label: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool = False


@dataclass(frozen=True)
class AnnotatedImage:
    """The ground truth of one image: its name, size in pixels and boxes (possibly none)."""

    image_id: str
    width: int
    height: int
    boxes: tuple[Box, ...]


def read_voc_xml(
    path: str | Path,
    *,
    name: str,
    classes: Collection[str] | None = None,
    max_bytes: int = DEFAULT_MAX_XML_BYTES,
) -> AnnotatedImage:
    """Read and validate one VOC annotation file.

    ``name`` is how the file is named in error messages (never a server path). The image id is
    the file's stem (its name without the ``.xml`` suffix). ``<size>`` needs integer width and
    height in 1..100000. Every object needs a non-empty ``name`` (in ``classes`` when given)
    and a ``bndbox`` with ``0 <= xmin < xmax <= width`` and ``0 <= ymin < ymax <= height``;
    ``difficult`` is 0 or 1 and defaults to 0. Raises :class:`InputError` on any violation.
    """
    path = Path(path)
    data = read_capped(path, name=name, max_bytes=max_bytes, what="VOC XML file")
    root = _parse(data, name=name)
    if _local(root.tag) != "annotation":
        raise InputError(f"{name}: root element must be <annotation>, got <{_local(root.tag)}>")
    children = _children(root)
    width, height = _read_size(children, name=name)
    allowed = None if classes is None else frozenset(classes)
    boxes = tuple(
        _read_object(_children(obj), name=f"{name}: object {number}", width=width,
                     height=height, classes=allowed)
        for number, obj in enumerate(children.get("object", []), start=1)
    )
    image_id = check_name(path.stem, where=f"{name}: image id")
    return AnnotatedImage(image_id=image_id, width=width, height=height, boxes=boxes)


def read_voc_folder(
    folder: str | Path,
    *,
    classes: Collection[str] | None = None,
    progress: bool = False,
) -> dict[str, AnnotatedImage]:
    """Read every ``*.xml`` file directly in ``folder`` (not recursive), keyed by image id.

    Other files are ignored. Raises :class:`InputError` when the folder holds no XML file,
    when two files give the same image id, or when any file is invalid (see
    :func:`read_voc_xml`). ``progress`` shows a progress bar on stderr.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder.name}: is not a folder of VOC XML files")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".xml" and p.is_file())
    if not files:
        raise InputError(f"{folder.name}: contains no VOC XML (.xml) file")
    images: dict[str, AnnotatedImage] = {}
    for path in tqdm(files, desc="reading VOC XML", unit="file", disable=not progress,
                     file=sys.stderr):
        image = read_voc_xml(path, name=path.name, classes=classes)
        if image.image_id in images:
            raise InputError(f"{path.name}: image id {image.image_id!r} appears twice")
        images[image.image_id] = image
    return dict(sorted(images.items()))


def _parse(data: bytes, *, name: str) -> ET.Element:
    try:
        return defusedxml.ElementTree.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as error:
        raise InputError(f"{name}: DTDs and entity declarations are not allowed "
                         f"({type(error).__name__})") from None
    except ET.ParseError as error:
        raise InputError(f"{name}: not well-formed XML ({error})") from None


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1].lower()


def _children(element: ET.Element) -> dict[str, list[ET.Element]]:
    """Child elements grouped by lower-case tag (VOC tags are matched case-insensitively)."""
    children: dict[str, list[ET.Element]] = {}
    for child in element:
        children.setdefault(_local(child.tag), []).append(child)
    return children


def _one(
    children: dict[str, list[ET.Element]], tag: str, *, where: str, required: bool = True
) -> ET.Element | None:
    found = children.get(tag, [])
    if len(found) > 1:
        raise InputError(f"{where}: <{tag}> appears {len(found)} times, expected once")
    if not found:
        if required:
            raise InputError(f"{where}: <{tag}> is missing")
        return None
    return found[0]


def _read_size(root: dict[str, list[ET.Element]], *, name: str) -> tuple[int, int]:
    size = _children(_one(root, "size", where=name))
    sides = []
    for tag in ("width", "height"):
        side = parse_integer(_one(size, tag, where=f"{name}: <size>").text,
                             where=f"{name}: <size> {tag}")
        if not 1 <= side <= MAX_IMAGE_SIDE:
            raise InputError(f"{name}: <size> {tag} {side} is outside 1..{MAX_IMAGE_SIDE}")
        sides.append(side)
    return sides[0], sides[1]


def _read_object(
    obj: dict[str, list[ET.Element]],
    *,
    name: str,
    width: int,
    height: int,
    classes: frozenset[str] | None,
) -> Box:
    label = check_name(_one(obj, "name", where=name).text, where=f"{name} <name>")
    if classes is not None and label not in classes:
        raise InputError(f"{name}: class {label!r} is not one of the task's classes "
                         f"({', '.join(sorted(classes))})")
    difficult_tag = _one(obj, "difficult", where=name, required=False)
    difficult = False
    if difficult_tag is not None:
        flag = (difficult_tag.text or "").strip()
        if flag not in ("0", "1"):
            raise InputError(f"{name}: <difficult> must be 0 or 1, got {flag[:20]!r}")
        difficult = flag == "1"
    bndbox = _children(_one(obj, "bndbox", where=name))
    xmin, ymin, xmax, ymax = (
        parse_decimal(_one(bndbox, tag, where=f"{name} <bndbox>").text, where=f"{name} {tag}")
        for tag in ("xmin", "ymin", "xmax", "ymax")
    )
    if not 0 <= xmin < xmax <= width or not 0 <= ymin < ymax <= height:
        raise InputError(
            f"{name}: box ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) needs 0 <= xmin < xmax <= "
            f"{width} and 0 <= ymin < ymax <= {height}"
        )
    return Box(label=label, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, difficult=difficult)

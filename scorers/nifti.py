"""NIfTI-1/-2 reading and validation (``.nii``, ``.nii.gz``), header first, hostile input safe.

Rules (docs/scorers.md lists them with their messages):

* The header is parsed (with nibabel) from at most 544 bytes before anything else is read; it
  must be a single-file NIfTI-1 or NIfTI-2 header with 1–7 dimensions of positive size,
  finite positive spatial zooms, a finite affine and a numeric data type.
* The data offset (``vox_offset``) lies past the header and its 4-byte extender (352 bytes
  for NIfTI-1, 544 for NIfTI-2) and past the header extensions the extender announces, at most
  15 bytes further (writers align the data to 16 bytes), never past
  ``ReadLimits.max_header_bytes``. Extensions are walked from their 8-byte heads (an int32
  size, a multiple of 16 and at least 16, and an int32 code) without reading their content.
* The declared voxel count and byte size are checked against :class:`ReadLimits` before any
  pixel data is read; ``.gz`` files are inflated only up to the declared size — the header,
  its extensions and the voxels, so a gzip bomb costs no more than a valid file — and a stream
  that ends early is reported as truncated.
* Scaling follows nibabel: a ``scl_slope`` of 0 or NaN (nibabel's "unset") means none; an
  infinite slope, or a non-finite ``scl_inter`` with a slope in use, is refused.
* Label maps are 2D or 3D (trailing dimensions of size 1 are dropped), hold integers — float
  data only if every value is integral, never NaN/inf — whose values belong to the task's
  label set (0, background, is always allowed), and, when a reference geometry is given, match
  its spatial shape and its affine/spacing within 1e-3 mm.

Messages start with ``name`` exactly as the caller gave it ("case liver_017: …"), never a path
on the server.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from nibabel.nifti1 import Nifti1Header
from nibabel.nifti2 import Nifti2Header
from nibabel.spatialimages import HeaderDataError

from scorers._gzip import inflate
from scorers.errors import InputError

GEOMETRY_TOLERANCE_MM = 1e-3
_HEADER_BYTES = {348: Nifti1Header, 540: Nifti2Header}
_SINGLE_FILE_MAGIC = {b"n+1", b"n+2"}
_NUMERIC_KINDS = "uif"
_EXTENDER_BYTES = 4  # after the header; a non-zero first byte announces extensions
_ALIGN = 16  # extension sizes are multiples of it; writers align the data to it
_FIRST_READ = 540 + _EXTENDER_BYTES


@dataclass(frozen=True)
class Geometry:
    """Voxel grid of an image: data shape, spatial spacing (mm) and the 4×4 voxel→mm affine.

    ``shape`` is the full data shape (a 4D multi-channel image keeps its 4th dimension);
    ``spacing_mm`` holds the spatial zooms (2 or 3 values) and so tells how many leading axes
    are spatial; ``affine`` is the header's best affine (sform, else qform, as nibabel picks).
    """

    shape: tuple[int, ...]
    spacing_mm: tuple[float, ...]
    affine: tuple[tuple[float, ...], ...]

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """The spatial part of ``shape``."""
        return self.shape[: len(self.spacing_mm)]

    def to_dict(self) -> dict:
        """JSON-safe form: lists of ints and floats."""
        return {
            "shape": list(self.shape),
            "spacing_mm": list(self.spacing_mm),
            "affine": [list(row) for row in self.affine],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Geometry:
        """Inverse of :meth:`to_dict`; raises InputError on a malformed dict."""
        try:
            shape = tuple(int(n) for n in data["shape"])
            spacing = tuple(float(s) for s in data["spacing_mm"])
            affine = tuple(tuple(float(v) for v in row) for row in data["affine"])
        except (KeyError, TypeError, ValueError):
            raise InputError("geometry must have shape, spacing_mm and affine") from None
        if len(affine) != 4 or any(len(row) != 4 for row in affine):
            raise InputError("geometry affine must be 4×4")
        if len(spacing) not in (2, 3) or len(spacing) > len(shape):
            raise InputError("geometry spacing_mm must have 2 or 3 values, one per spatial axis")
        return cls(shape, spacing, affine)


@dataclass(frozen=True)
class ReadLimits:
    """Caps checked before reading pixel data.

    ``max_voxels`` caps the declared voxel count (default 2^29 ≈ 537 M, e.g. 512×512×2048);
    ``max_header_bytes`` caps the header with its extensions, i.e. the data offset (default
    1 MiB); ``max_decompressed_bytes`` caps the data offset plus the declared data size, which
    is all that is ever inflated from a ``.nii.gz`` (default 2 GiB).
    """

    max_voxels: int = 1 << 29
    max_decompressed_bytes: int = 1 << 31
    max_header_bytes: int = 1 << 20


def _fail(name: str, message: str) -> InputError:
    return InputError(f"{name}: {message}")


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".nii.gz")


def _check_suffix(path: Path, name: str) -> None:
    lowered = path.name.lower()
    if not (lowered.endswith(".nii") or lowered.endswith(".nii.gz")):
        raise _fail(name, "expected a NIfTI file (.nii or .nii.gz)")


def _opened(path: Path, content: bytes | bytearray | None) -> BinaryIO:
    """The file as a stream: its bytes when already in memory, else the file at ``path``."""
    return path.open("rb") if content is None else io.BytesIO(content)


def _head(path: Path, name: str, content: bytes | bytearray | None, size: int) -> bytes:
    """The file's first ``size`` bytes (fewer if it is shorter), inflated for ``.nii.gz``."""
    try:
        with _opened(path, content) as stream:
            if _is_gzip(path):
                return inflate(stream, size=size, name=name, header_only=True).tobytes()
            return stream.read(size)
    except OSError:
        raise _fail(name, "file cannot be read") from None


def _parse_header(raw: bytes, name: str) -> Nifti1Header:
    sizes = [struct.unpack(f"{order}i", raw[:4])[0] for order in "<>"] if len(raw) >= 4 else []
    klass = next((_HEADER_BYTES[s] for s in sizes if s in _HEADER_BYTES), None)
    if klass is None or len(raw) < klass.sizeof_hdr:
        raise _fail(name, "not a NIfTI-1 or NIfTI-2 file (bad header size)")
    # check=False: nibabel's checks would "fix" bad fields (a zero zoom becomes 1) instead of
    # rejecting them; _checked_geometry checks every field used.
    try:
        header = klass.from_fileobj(io.BytesIO(raw[: klass.sizeof_hdr]), check=False)
    except (HeaderDataError, ValueError) as error:
        raise _fail(name, f"invalid NIfTI header ({error})") from None
    if bytes(header["magic"]).rstrip(b"\x00") not in _SINGLE_FILE_MAGIC:
        raise _fail(name, "not a single-file NIfTI image (magic must be n+1 or n+2)")
    return header


def _geometry(header: Nifti1Header, name: str, limits: ReadLimits) -> Geometry:
    try:
        return _checked_geometry(header, name, limits)
    except (HeaderDataError, ValueError, OverflowError, KeyError) as error:
        if isinstance(error, InputError):
            raise
        raise _fail(name, f"invalid NIfTI header ({error})") from None


def _checked_geometry(header: Nifti1Header, name: str, limits: ReadLimits) -> Geometry:
    dims = [int(n) for n in header["dim"]]
    if not 1 <= dims[0] <= 7:
        raise _fail(name, f"invalid number of dimensions {dims[0]}")
    shape = tuple(dims[1 : dims[0] + 1])
    if not 1 <= len(shape) <= 7 or any(n < 1 for n in shape):
        raise _fail(name, f"invalid image dimensions {shape}")
    if math.prod(shape) > limits.max_voxels:
        raise _fail(name, f"declared size {shape} exceeds the limit of {limits.max_voxels} voxels")
    dtype = header.get_data_dtype()
    if dtype.kind not in _NUMERIC_KINDS or dtype.itemsize > 8:
        raise _fail(name, f"unsupported NIfTI data type {dtype}")
    spatial = min(len(shape), 3)
    if spatial < 2:
        raise _fail(name, f"expected a 2D or 3D image, got shape {shape}")
    # Magnitudes, as nibabel's get_zooms() reports them: some writers store a negative pixdim
    # (the orientation lives in the affine); zero, NaN and inf stay invalid.
    zooms = tuple(abs(float(z)) for z in header["pixdim"][1 : spatial + 1])
    if not all(math.isfinite(z) and z > 0 for z in zooms):
        raise _fail(name, f"voxel spacing must be finite and positive, got {zooms}")
    affine = np.asarray(header.get_best_affine(), dtype=float)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise _fail(name, "affine must be finite")
    return Geometry(shape, zooms, tuple(tuple(float(v) for v in row) for row in affine))


def _check_layout(
    header: Nifti1Header, geometry: Geometry, name: str, limits: ReadLimits,
    region: Callable[[int], bytes], *, whole: bool,
) -> None:
    """The data offset rules of the module docstring, then the declared size. ``region(n)``
    gives the file's first ``n`` bytes; ``whole`` says whether a short file is truncated
    (else it may be a prefix, and extensions that run past it are left unchecked)."""
    try:
        offset = int(header.get_data_offset())
    except (ValueError, OverflowError):
        raise _fail(name, "invalid data offset") from None
    start = header.sizeof_hdr + _EXTENDER_BYTES
    if offset < start:
        raise _fail(name, f"data offset {offset} points into the header ({start} bytes)")
    end = start
    if region(start)[header.sizeof_hdr : start][:1] not in (b"", b"\0"):
        if offset > limits.max_header_bytes:
            raise _fail(name, f"data offset {offset} lies past the {limits.max_header_bytes}"
                              "-byte limit for the header and its extensions")
        end = _extensions_end(region(offset), start, offset, header.endianness, name,
                              whole=whole)
    if offset - end >= _ALIGN:
        raise _fail(name, f"data offset {offset} lies past the header and its extensions "
                          f"({end} bytes)")
    data_bytes = math.prod(geometry.shape) * header.get_data_dtype().itemsize
    if offset + data_bytes > limits.max_decompressed_bytes:
        raise _fail(name, f"declared data size exceeds {limits.max_decompressed_bytes} bytes")


def _extensions_end(
    region: bytes, start: int, offset: int, order: str, name: str, *, whole: bool
) -> int:
    """Where the extensions that follow each other from ``start`` end: the last one to fit
    before the data offset, with less than 16 bytes to spare (``offset`` when ``region``, a
    prefix of the file, ends before that can be told)."""
    position, number = start, 1
    while offset - position >= _ALIGN:
        if len(region) < position + 8:
            if not whole:
                return offset
            raise _fail(name, f"file is truncated (header extensions end after {len(region)} "
                              f"of {offset} bytes)")
        size = struct.unpack_from(f"{order}i", region, position)[0]
        if size < _ALIGN or size % _ALIGN:
            raise _fail(name, f"header extension {number} at byte {position} has an invalid "
                              f"size {size} (expected a multiple of 16, at least 16)")
        if position + size > offset:
            raise _fail(name, f"header extension {number} at byte {position} runs past the data "
                              f"offset {offset}")
        position += size
        number += 1
    return position


def _read_header(
    path: str | Path, name: str, limits: ReadLimits, content: bytes | bytearray | None = None,
    *, whole: bool,
) -> tuple[Nifti1Header, Geometry]:
    path = Path(path)
    _check_suffix(path, name)
    head = _head(path, name, content, _FIRST_READ)
    header = _parse_header(head, name)
    geometry = _geometry(header, name, limits)
    _scaling(header, name)  # a header rule: refused at upload, before any data is read

    def region(size: int) -> bytes:
        if size <= len(head) or len(head) < _FIRST_READ:  # held, or the file is that short
            return head[:size]
        return _head(path, name, content, size)

    _check_layout(header, geometry, name, limits, region, whole=whole)
    return header, geometry


def read_geometry(
    path: str | Path, *, name: str, limits: ReadLimits = ReadLimits(),
    content: bytes | bytearray | None = None,
) -> Geometry:
    """Validated geometry of a NIfTI file from its header alone (no pixel data is read).

    ``name`` starts every message ("case liver_017"); ``content`` is the file's bytes (or its
    first bytes) when they are already in memory, and then ``path`` only tells ``.nii`` from
    ``.nii.gz``. Raises InputError on any rule of the module docstring that the header breaks;
    header extensions that run past the end of ``content`` are left to :func:`read_label_map`.
    """
    return _read_header(path, name, limits, content, whole=content is None)[1]


def check_geometry(actual: Geometry, expected: Geometry, *, name: str) -> None:
    """Raise InputError unless ``actual`` lies on the grid of ``expected``.

    Spatial shapes must be equal (so a 4D image can be compared with its 3D label map);
    spacing and every affine entry must agree within 1e-3 mm.
    """
    if actual.spatial_shape != expected.spatial_shape:
        raise _fail(
            name,
            f"prediction shape {actual.spatial_shape} does not match the reference "
            f"{expected.spatial_shape}",
        )
    spacing_a = np.array(actual.spacing_mm)
    spacing_e = np.array(expected.spacing_mm)
    if spacing_a.shape != spacing_e.shape or np.any(
        np.abs(spacing_a - spacing_e) > GEOMETRY_TOLERANCE_MM
    ):
        raise _fail(
            name,
            f"prediction voxel spacing {_rounded(actual.spacing_mm)} mm does not match the "
            f"reference {_rounded(expected.spacing_mm)} mm",
        )
    if np.any(np.abs(np.array(actual.affine) - np.array(expected.affine)) > GEOMETRY_TOLERANCE_MM):
        raise _fail(
            name, "prediction affine (orientation/origin) does not match the reference within "
            f"{GEOMETRY_TOLERANCE_MM} mm",
        )


def _rounded(values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(round(v, 4) for v in values)


def _pixel_bytes(
    path: Path, header: Nifti1Header, nbytes: int, name: str, content: bytes | bytearray | None
) -> tuple[np.ndarray, int]:
    """(buffer, offset of the pixel data in it)."""
    offset = int(header.get_data_offset())
    with _opened(path, content) as stream:
        if _is_gzip(path):
            return inflate(stream, size=offset + nbytes, name=name), offset
        buffer = np.empty(nbytes, np.uint8)
        stream.seek(offset)
        got = stream.readinto(memoryview(buffer))
    if got != nbytes:
        raise _fail(name, f"file is truncated (image data ends after {got} of {nbytes} bytes)")
    return buffer, 0


def _label_shape(geometry: Geometry, name: str) -> tuple[int, ...]:
    shape = geometry.shape
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) not in (2, 3):
        raise _fail(name, f"a label map must be 2D or 3D, got shape {geometry.shape}")
    return shape


def _integral(data: np.ndarray, name: str) -> np.ndarray:
    if not np.all(np.isfinite(data)):
        raise _fail(name, "label map contains NaN or infinite values")
    if not np.array_equal(data, np.rint(data)):
        raise _fail(name, "label map contains non-integer values")
    return data


def _scaling(header: Nifti1Header, name: str) -> tuple[float, float] | None:
    """(slope, intercept) to apply, None for none. As nibabel's ``get_slope_inter``, a slope
    of 0 or NaN means no scaling; where nibabel ignores an infinite slope and raises
    HeaderDataError on a non-finite intercept, both are refused."""
    slope, inter = float(header["scl_slope"]), float(header["scl_inter"])
    if slope == 0 or math.isnan(slope):
        return None
    if not (math.isfinite(slope) and math.isfinite(inter)):
        raise _fail(name, "scaling (scl_slope/scl_inter) must be finite")
    return None if (slope, inter) == (1.0, 0.0) else (slope, inter)


def _scaled(raw: np.ndarray, scaling: tuple[float, float] | None, name: str) -> np.ndarray:
    if scaling is None:
        return _integral(raw, name) if raw.dtype.kind == "f" else raw
    slope, inter = scaling
    with np.errstate(over="ignore", invalid="ignore"):  # _integral refuses what overflows
        return _integral(raw * np.float64(slope) + np.float64(inter), name)


def _compact(data: np.ndarray, low: int, high: int, name: str) -> np.ndarray:
    """``data`` (integral values in [low, high]) in the smallest of uint8/uint16/int32/int64."""
    for dtype in (np.uint8, np.uint16, np.int32, np.int64):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            break
    else:
        raise _fail(name, "label values exceed the 64-bit integer range")
    if data.dtype == dtype and data.dtype.isnative:
        return data
    return data.astype(dtype, order="K")


def _check_values(
    data: np.ndarray, low: int, high: int, labels: Collection[int], name: str
) -> None:
    allowed = sorted({int(label) for label in labels} | {0})
    if low >= 0 and high - low < len(allowed) and set(range(low, high + 1)) <= set(allowed):
        return
    inside = np.isin(data, allowed)
    if inside.all():
        return
    unexpected = np.unique(data[~inside])
    shown = ", ".join(str(int(v)) for v in unexpected[:5])
    more = " …" if unexpected.size > 5 else ""
    raise _fail(
        name, f"label map contains values {shown}{more} outside the task's labels {allowed}"
    )


def read_label_map(
    path: str | Path,
    *,
    name: str,
    labels: Collection[int] | None = None,
    expected: Geometry | None = None,
    limits: ReadLimits = ReadLimits(),
    content: bytes | bytearray | None = None,
) -> tuple[np.ndarray, Geometry]:
    """Read and validate a 2D/3D integer label map; return (array, geometry).

    The array has the header's shape without trailing size-1 dimensions, Fortran order (as
    stored), and the smallest of uint8/uint16/int32/int64 that holds its values. ``labels`` is
    the task's label set (0 is always allowed; None skips the value check); ``expected`` the
    reference geometry it must match, checked before pixel data is read; ``content`` the file's
    bytes when they are already in memory (``path`` then only tells ``.nii`` from ``.nii.gz``);
    ``name`` starts every message ("case liver_017"). Raises InputError.
    """
    path = Path(path)
    header, geometry = _read_header(path, name, limits, content, whole=True)
    shape = _label_shape(geometry, name)
    if expected is not None:
        check_geometry(geometry, expected, name=name)
    scaling = _scaling(header, name)
    dtype = header.get_data_dtype()
    count = math.prod(shape)
    try:
        buffer, offset = _pixel_bytes(path, header, count * dtype.itemsize, name, content)
    except OSError:
        raise _fail(name, "file cannot be read") from None
    raw = np.frombuffer(buffer, dtype=dtype, count=count, offset=offset).reshape(shape, order="F")
    data = _scaled(raw, scaling, name)
    low, high = (int(data.min()), int(data.max())) if data.size else (0, 0)
    data = _compact(data, low, high, name)
    if labels is not None:
        _check_values(data, low, high, labels, name)
    return data, geometry

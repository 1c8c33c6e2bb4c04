"""Strict reading and text-to-number parsing shared by the VOC XML, box CSV and COCO JSON
readers."""

import math
import re
from pathlib import Path

from scorers.errors import InputError

# Plain decimal notation only: Python's float() also takes "nan", "inf", "1_000" and
# surrounding whitespace, none of which belongs in an annotation or a prediction file.
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"\+?\d{1,9}")


def read_capped(path: Path, *, name: str, max_bytes: int, what: str = "file") -> bytes:
    """The file's bytes, refusing (InputError naming ``name``) one larger than ``max_bytes``."""
    try:
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise InputError(f"{name}: cannot be read ({error.strerror})") from None
    if len(data) > max_bytes:
        raise InputError(f"{name}: larger than the {max_bytes}-byte limit for a {what}")
    return data


def parse_decimal(text: str | None, *, where: str) -> float:
    """Parse a finite decimal number such as ``"302"``, ``"-1.5"`` or ``"2e3"``.

    ``where`` names the file and field for the error message ("a.xml: object 2 xmin").
    """
    value = (text or "").strip()
    if not _DECIMAL.fullmatch(value):
        raise InputError(f"{where}: expected a decimal number, got {_shorten(value)!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{where}: number {_shorten(value)!r} is out of range")
    return number


def parse_integer(text: str | None, *, where: str) -> int:
    """Parse a non-negative integer of at most nine digits, such as an image width."""
    value = (text or "").strip()
    if not _INTEGER.fullmatch(value):
        raise InputError(f"{where}: expected a whole number, got {_shorten(value)!r}")
    return int(value)


def check_name(text: str | None, *, where: str) -> str:
    """Return a stripped, non-empty, printable identifier (class name or image id)."""
    value = (text or "").strip()
    if not value:
        raise InputError(f"{where}: is empty")
    if len(value) > 256 or not value.isprintable():
        raise InputError(f"{where}: expected a printable name of at most 256 characters")
    return value


def _shorten(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."

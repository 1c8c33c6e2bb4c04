"""Strict, bounded reading and text-to-number parsing shared by the VOC XML, box CSV, COCO
JSON and clinical CSV readers.

Every reader here costs memory in proportion to what it returns, never to the bytes of the
file: lines are read up to a length cap and counted as they come, and a JSON list is read one
entry at a time, each entry at most a few KiB with at most two levels of lists or objects in
it, so junk in an entry (a million empty lists, a 10 MB number) is refused after reading those
few KiB.
"""

import csv
import itertools
import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from scorers.errors import InputError

# Plain decimal notation only: Python's float() also takes "nan", "inf", "1_000" and
# surrounding whitespace, none of which belongs in an annotation or a prediction file.
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"\+?\d{1,9}")

_CHUNK = 1 << 20
_MAX_INT_DIGITS = 18
_SPACE = re.compile(rb"[ \t\n\r]*+")
_STRING = rb'"(?:[^"\\]++|\\.)*+"'
_FLAT = rb'(?:[^"\[\]{}]++|' + _STRING + rb")*+"
_ONE_DEEP = rb'(?:[^"\[\]{}]++|' + _STRING + rb"|\[" + _FLAT + rb"\]|\{" + _FLAT + rb"\})*+"
_TWO_DEEP = (rb'(?:[^"\[\]{}]++|' + _STRING + rb"|\[" + _ONE_DEEP + rb"\]|\{" + _ONE_DEEP
             + rb"\})*+")
# An object whose values hold lists or objects at most two levels deep; json.loads then
# checks the JSON itself.
_OBJECT = re.compile(rb"\{" + _TWO_DEEP + rb"\}", re.DOTALL)
_BRACKET_OR_STRING = re.compile(_STRING + rb'|"|[\[\]{}]', re.DOTALL)
_KINDS = {b"{": "an object", b"[": "a list", b'"': "a string", b"]": "the end of the list",
          b"": "the end of the file", b"t": "true", b"f": "false", b"n": "null"}


def read_capped(path: Path, *, name: str, max_bytes: int, what: str = "file") -> bytes:
    """The file's bytes, refusing (InputError naming ``name``) one larger than ``max_bytes``."""
    with open_capped(path, name=name, max_bytes=max_bytes, what=what) as stream:
        try:
            data = stream.read(max_bytes + 1)
        except OSError as error:
            raise InputError(f"{name}: cannot be read ({error.strerror})") from None
    if len(data) > max_bytes:
        raise _too_large(name, max_bytes, what)
    return data


def open_capped(path: Path, *, name: str, max_bytes: int, what: str, **text: str) -> IO:
    """``path`` opened (binary, or text with ``text``'s ``open`` arguments), refusing a file
    whose size is over ``max_bytes`` before anything is read. Readers still count what they
    read: a pipe or a growing file reports no useful size."""
    try:
        stream = path.open("r" if text else "rb", **text)
        size = os.fstat(stream.fileno()).st_size
    except OSError as error:
        raise InputError(f"{name}: cannot be read ({error.strerror})") from None
    if size > max_bytes:
        stream.close()
        raise _too_large(name, max_bytes, what)
    return stream


def bounded_lines(stream: IO[str], *, name: str, max_lines: int, max_chars: int
                  ) -> Iterator[str]:
    """The lines of ``stream`` (with their line ends), refusing a line longer than
    ``max_chars`` characters ("NAME row 7: …", lines numbered from 1) and more than
    ``max_lines`` lines, blank ones included ("NAME: more than … rows", counted without the
    first line, the CSV header). Neither reads more than the offending line."""
    for number in itertools.count(1):
        line = stream.readline(max_chars + 2)  # room for "\r\n" after a line at the limit
        if not line:
            return
        if len(line.rstrip("\r\n")) > max_chars:
            raise InputError(f"{name} row {number}: longer than {max_chars} characters")
        if number > max_lines:
            raise InputError(f"{name}: more than {max_lines - 1} rows")
        yield line


@contextmanager
def capped_csv(path: Path, *, name: str, max_bytes: int, max_lines: int, max_chars: int,
               what: str) -> Iterator[tuple[list[str], Iterator[list[str]]]]:
    """``path`` opened as UTF-8 CSV (a BOM allowed) within :func:`open_capped`'s and
    :func:`bounded_lines`' caps (``max_lines`` counts the header): yields the header's cells,
    stripped (empty for an empty file), and a strict ``csv.reader`` over the rows after it
    (its ``line_num`` numbers them as the messages do). A read error, text that is not UTF-8
    or malformed CSV, in the block too, becomes an InputError naming ``name``."""
    try:
        with open_capped(path, name=name, max_bytes=max_bytes, what=what,
                         encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(bounded_lines(stream, name=name, max_lines=max_lines,
                                              max_chars=max_chars), strict=True)
            yield [cell.strip() for cell in next(reader, None) or []], reader
    except OSError as error:
        raise InputError(f"{name}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: is not UTF-8 text") from None
    except csv.Error as error:
        raise InputError(f"{name}: not a valid CSV file ({error})") from None


def iter_json_objects(
    stream: IO[bytes], *, name: str, max_bytes: int, max_items: int, max_item_bytes: int,
    what: str, items: str, expected: str,
) -> Iterator[tuple[str, dict]]:
    """("NAME entry N", object) for each entry of the UTF-8 JSON list in ``stream``, read one
    entry at a time.

    Rules: a list (a UTF-8 BOM and whitespace around it are allowed) of at most ``max_items``
    objects (``items`` names them in messages, ``expected`` describes one); each entry at most
    ``max_item_bytes`` bytes with lists or objects nested at most two levels in it; no NaN or
    Infinity, no integer of more than 18 digits, no key twice in an object; at most
    ``max_bytes`` bytes in all (``what`` names the file in that message). Raises InputError
    naming the entry.
    """
    source = _Source(stream, name=name, max_bytes=max_bytes, what=what)
    source.skip(b"\xef\xbb\xbf")
    first = source.next_byte()
    if first != b"[":
        if b"\0" in source.data[:4] or source.data.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise InputError(f"{name}: is not UTF-8 text")  # UTF-16 or UTF-32
        raise InputError(f"{name}: expected a JSON list of {items}, got {_kind(first)}")
    source.pos += 1
    number = 0
    if source.next_byte() == b"]":
        source.pos += 1
    else:
        while True:
            number += 1
            if number > max_items:
                raise InputError(f"{name}: more than {max_items} {items}")
            where = f"{name} entry {number}"
            yield where, _object(source, where=where, max_bytes=max_item_bytes,
                                 expected=expected)
            after = source.next_byte()
            source.pos += 1
            if after == b"]":
                break
            if after != b",":
                ends = "the file ends" if after == b"" else "expected , or ]"
                raise InputError(f"{name}: not valid JSON ({ends} after entry {number})")
    if source.next_byte() != b"":
        raise InputError(f"{name}: not valid JSON (data after the closing ])")


class _Source:
    """A byte stream read forward in 1 MiB chunks; only the unread part is kept."""

    def __init__(self, stream: IO[bytes], *, name: str, max_bytes: int, what: str) -> None:
        self.stream, self.name, self.max_bytes, self.what = stream, name, max_bytes, what
        self.data, self.pos, self.total, self.eof = b"", 0, 0, False

    def fill(self, want: int) -> None:
        """Hold at least ``want`` unread bytes, unless the stream ends first."""
        while len(self.data) - self.pos < want and not self.eof:
            try:
                chunk = self.stream.read(_CHUNK)
            except OSError as error:
                raise InputError(f"{self.name}: cannot be read ({error.strerror})") from None
            self.total += len(chunk)
            if self.total > self.max_bytes:
                raise _too_large(self.name, self.max_bytes, self.what)
            self.eof = not chunk
            self.data, self.pos = self.data[self.pos:] + chunk, 0

    def skip(self, prefix: bytes) -> None:
        self.fill(len(prefix))
        if self.data.startswith(prefix, self.pos):
            self.pos += len(prefix)

    def next_byte(self) -> bytes:
        """The next byte that is not JSON whitespace (b"" at the end), left unread."""
        while True:
            self.pos = _SPACE.match(self.data, self.pos).end()
            if self.pos < len(self.data) or self.eof:
                return self.data[self.pos:self.pos + 1]
            self.fill(1)


def _object(source: _Source, *, where: str, max_bytes: int, expected: str) -> dict:
    first = source.next_byte()
    if first != b"{":
        raise InputError(f"{where}: expected {expected}, got {_kind(first)}")
    source.fill(max_bytes)
    start = source.pos
    match = _OBJECT.match(source.data, start, start + max_bytes)
    if match is None:
        window = source.data[start:start + max_bytes]
        raise InputError(f"{where}: {_why_not(window, complete=len(window) < max_bytes)}")
    source.pos = match.end()
    try:
        return _DECODER.decode(match[0].decode("utf-8"))
    except _Refused as error:
        raise InputError(f"{where}: {error}") from None
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{where}: not valid JSON ({error.msg})") from None


def _why_not(window: bytes, *, complete: bool) -> str:
    """Why ``window`` (an entry's first bytes; ``complete`` when the file ends in it) does
    not start with a JSON object nested at most three levels."""
    opened = []
    for token in _BRACKET_OR_STRING.finditer(window):
        text = token[0]
        if text in (b"{", b"["):
            opened.append(b"}" if text == b"{" else b"]")
            if len(opened) > 3:
                return "values nested more than two lists or objects deep"
        elif text in (b"}", b"]"):
            if not opened or opened.pop() != text:
                return "not valid JSON (brackets do not match)"
        elif text == b'"':
            break  # a string that does not end in the window
    if complete:
        return "not valid JSON (the file ends inside the entry)"
    return f"longer than {len(window)} bytes"


class _Refused(Exception):
    """A value the JSON hooks refuse; json.loads lets it through unchanged."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    result = dict(pairs)
    if len(result) < len(pairs):
        twice = next(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
        raise _Refused(f"key {_shorten(twice)!r} appears twice")
    return result


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _Refused(f"number {_shorten(text)!r} has more than {_MAX_INT_DIGITS} digits")
    return int(text)


def _no_constant(constant: str) -> float:
    raise _Refused(f"{constant} is not a number")


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_int=_bounded_int,
                            parse_constant=_no_constant)


def _kind(first: bytes) -> str:
    if first[:1].isdigit() or first == b"-":
        return "a number"
    return _KINDS.get(first, "something that is not JSON")


def _too_large(name: str, max_bytes: int, what: str) -> InputError:
    return InputError(f"{name}: larger than the {max_bytes}-byte limit for a {what}")


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

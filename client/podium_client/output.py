"""Showing answers: aligned text tables for people, JSON and CSV for programs."""

import csv
import json
import sys
from collections.abc import Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence], out=None) -> None:
    """Columns padded to their widest cell; an empty list says so."""
    out = out or sys.stdout
    cells = [[_text(value) for value in row] for row in rows]
    if not cells:
        print("(none)", file=out)
        return
    widths = [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True))
              .rstrip(), file=out)


def as_json(data, out=None) -> None:
    json.dump(data, out or sys.stdout, indent=2)
    print(file=out or sys.stdout)


# Text a spreadsheet would run as a formula (an entrant's name or description is anyone's
# text): the cell gets a leading ', as the server's own CSV exports do.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def as_csv(headers: Sequence[str], rows: Sequence[Sequence], out=None) -> None:
    writer = csv.writer(out or sys.stdout, lineterminator="\n")
    writer.writerow([_cell(value) for value in headers])
    writer.writerows([[_cell(value) for value in row] for row in rows])


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def number(value, decimals: int) -> str:
    """A metric value as the server's pages show it: the metric's decimals, "—" if undefined."""
    return "—" if not isinstance(value, int | float) else f"{value:.{decimals}f}"


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1e4 or value == 0 else f"{value:.4f}"
    return str(value)

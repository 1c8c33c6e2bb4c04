"""What the ``podium-score`` subcommands share (:mod:`scorers.cli`): the subcommand with its
``--pred`` and ``--ref`` files, and a run that writes one JSON result or ends in one line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from scorers.errors import InputError


def add_subcommand(subparsers: argparse._SubParsersAction, name: str, *, help: str,
                   description: str, pred: str, ref: str) -> argparse.ArgumentParser:
    """Register subcommand ``name`` with its required ``--pred`` and ``--ref`` paths (``pred``
    and ``ref`` their help) and return its parser, for the subcommand's other options."""
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.add_argument("--pred", required=True, type=Path, help=pred)
    parser.add_argument("--ref", required=True, type=Path, help=ref)
    return parser


def run_to_json(args: argparse.Namespace, score: Callable[[argparse.Namespace], dict]) -> int:
    """``score(args)`` written to ``args.out`` as JSON, and 0; on bad input (InputError) or an
    ``--out`` that cannot be written, one line on stderr and 1 (never a traceback)."""
    try:
        result = score(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        args.out.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    except OSError as error:
        print(f"error: cannot write {args.out.name} ({error.strerror})", file=sys.stderr)
        return 1
    return 0

"""``podium-score`` (or ``python -m scorers``): score predictions offline, exactly as the
platform does.

Subcommands: ``segmentation`` (:mod:`scorers.cli_segmentation`), ``detection``
(:mod:`scorers.cli_detection`) and ``clinical`` (:mod:`scorers.cli_clinical`); ``--config``
takes a phase's exported configuration (:mod:`scorers.cli_config`). Bad input ends with exit
status 1 and one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from scorers import cli_clinical, cli_detection, cli_segmentation


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description="Reproduce Podium's scores offline from prediction and reference files.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    cli_segmentation.add_parser(subparsers)
    cli_detection.add_parser(subparsers)
    cli_clinical.add_parser(subparsers)
    return parser


def _prog() -> str:
    """The name the command was run by: the installed ``podium-score``, or the module."""
    name = Path(sys.argv[0]).name
    return "python -m scorers" if name in ("__main__.py", "") else name


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), run the subcommand, return its exit status."""
    args = build_parser().parse_args(argv)
    runners = {"segmentation": cli_segmentation.run, "detection": cli_detection.run,
               "clinical": cli_clinical.run}
    return runners[args.command](args)

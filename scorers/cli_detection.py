"""``python -m scorers detection``: score a box CSV or COCO results JSON against VOC XML.

Registered by ``scorers/cli.py``; this module only defines the subcommand's options and its
run. Output JSON: ``{"mAP": float, "per_class": {name: AP}}`` plus, with ``--coco``,
``"coco": {"AP": float, "AP50": float, "AP75": float}``. ``--config`` (a detection phase's
exported configuration) sets the IoU threshold, the 11-point setting and the +1 convention.
"""

import argparse
import sys
from pathlib import Path

from scorers._cli_common import add_subcommand, run_to_json
from scorers.boxes import Detections, caps_for_images, read_box_csv, read_coco_results
from scorers.cli_config import read_phase_config
from scorers.detection import evaluate_coco, evaluate_voc
from scorers.errors import InputError
from scorers.metrics import DETECTION
from scorers.voc import AnnotatedImage, read_voc_folder


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``detection`` subcommand and its options on ``subparsers``."""
    parser = add_subcommand(
        subparsers, "detection",
        help="PASCAL VOC mAP (and COCO AP) of predicted boxes against VOC XML ground truth",
        description="Score predicted boxes (a box CSV image_id,label,score,xmin,ymin,xmax,ymax "
                    "or a COCO results JSON) against a folder of PASCAL VOC XML files.",
        pred="predicted boxes: FILE.csv or COCO results FILE.json",
        ref="folder of VOC XML files, one per image, named after the image",
    )
    parser.add_argument("--iou", type=float,
                        help="IoU threshold for a true positive (default 0.5)")
    parser.add_argument("--voc2007", action="store_true",
                        help="11-point interpolated AP (VOC2007) instead of all-point")
    parser.add_argument("--no-plus-one", action="store_true",
                        help="continuous box areas instead of the devkit's +1-pixel convention")
    parser.add_argument("--coco", action="store_true",
                        help='also report COCO AP@[.5:.95], AP50 and AP75 under "coco"')
    parser.add_argument("--config", type=Path,
                        help="a detection phase's config.json (its Evaluation page): its IoU "
                             "threshold, 11-point setting and +1 convention")
    parser.add_argument("--out", required=True, type=Path, help="result FILE.json")


def run(args: argparse.Namespace) -> int:
    """Score, write ``args.out`` and return 0; on bad input print one line and return 1."""
    return run_to_json(args, _score)


def _score(args: argparse.Namespace) -> dict:
    if args.out.suffix.lower() != ".json":
        raise InputError(f"--out {args.out.name}: expected a .json file")
    iou, voc2007, plus_one = _settings(args)
    if not 0.0 < iou <= 1.0:
        raise InputError(f"--iou {iou}: expected a threshold in (0, 1]")
    ground_truth = read_voc_folder(args.ref, progress=sys.stderr.isatty())
    detections = _read_predictions(args.pred, ground_truth)
    _warn_unscored_classes(ground_truth, detections)
    result = evaluate_voc(ground_truth, detections, iou_threshold=iou, voc2007=voc2007,
                          plus_one=plus_one)
    if not result["per_class"]:
        raise InputError(f"{args.ref.name}: no class has a non-difficult ground-truth box")
    if args.coco:
        result["coco"] = evaluate_coco(ground_truth, detections)
    return result


def _settings(args: argparse.Namespace) -> tuple[float, bool, bool]:
    """IoU threshold, 11-point AP and +1 convention: the phase's with --config, else the
    options'."""
    if args.config is None:
        return (0.5 if args.iou is None else args.iou), args.voc2007, not args.no_plus_one
    if args.iou is not None or args.voc2007 or args.no_plus_one:
        raise InputError("--config sets the IoU threshold, 11-point AP and +1 convention; "
                         "leave out --iou, --voc2007 and --no-plus-one")
    phase = read_phase_config(args.config, DETECTION)
    return phase.iou_threshold, phase.voc2007, phase.plus_one


def _read_predictions(path: Path, ground_truth: dict[str, AnnotatedImage]) -> Detections:
    """The boxes of ``path``, within the caps that the number of images allows."""
    max_rows, max_bytes = caps_for_images(len(ground_truth))
    caps = {"image_ids": ground_truth.keys(), "max_rows": max_rows, "max_bytes": max_bytes}
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_box_csv(path, name=path.name, **caps)
    if suffix == ".json":
        return read_coco_results(path, name=path.name, **caps)
    raise InputError(f"--pred {path.name}: expected a .csv box file or a .json COCO results file")


def _warn_unscored_classes(ground_truth: dict[str, AnnotatedImage], detections: Detections
                           ) -> None:
    known = {box.label for image in ground_truth.values() for box in image.boxes}
    unknown = sorted(set(detections.labels.tolist()) - known)
    if unknown:
        print(f"warning: predicted classes without ground-truth boxes are not scored: "
              f"{', '.join(unknown)}", file=sys.stderr)

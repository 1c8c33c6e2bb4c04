"""Scorer benchmark: Podium against DeepMind surface-distance, MONAI and medpy, same run.

Cases (issue 2): one 512×512×200 uint8 CT-like label map, spacing 0.8×0.8×2.5 mm, with one
irregular ≈200k-voxel object and a prediction of Dice ≈ 0.86; a 3-label variant (an organ, a
lesion inside it and a second organ). Every library gets the masks it wants, prepared outside
the timing (bool arrays; one-hot torch tensors for MONAI). Times are medians; "extra memory" is
the peak resident memory of a fresh process during the call, above its memory just before
(libraries loaded and warmed up on a small crop, freed heap returned with ``malloc_trim``), so
every allocator counts: numpy, numba, torch. Also measured: reading a ``.nii.gz`` label map
(zlib-ng, zlib, ISA-L, nibabel), numba's compile and cache-load time, and the detection rows
of ``benchmarks/_detection_cases.py``.

Run: ``.venv/bin/pip install -r requirements-bench.txt`` (edt, isal), then
``.venv/bin/python benchmarks/scorers.py`` (about 7 minutes; ``--quick`` skips medpy).
"""

from __future__ import annotations

import argparse
import ctypes
import gzip
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # this file is benchmarks/scorers.py: never shadow the package

from scorers.nifti import read_label_map  # noqa: E402
from scorers.segmentation import score_case  # noqa: E402

SHAPE = (512, 512, 200)
SPACING = (0.8, 0.8, 2.5)
TOLERANCE_MM = 1.0


def _field(rng: np.random.Generator, box: tuple[int, ...]) -> np.ndarray:
    noise = ndimage.gaussian_filter(rng.standard_normal(box).astype(np.float32), (6, 6, 2.5))
    return noise / noise.std()


def _object(box: tuple[int, ...], radii: tuple[float, ...], noise: np.ndarray) -> np.ndarray:
    grid = np.indices(box, dtype=np.float32)
    centre = [n / 2 for n in box]
    distance = sum(((grid[i] - centre[i]) / radii[i]) ** 2 for i in range(3))
    return distance + 0.35 * noise < 1.0


def _place(volume: np.ndarray, mask: np.ndarray, corner: tuple[int, ...], label: int) -> None:
    window = tuple(slice(c, c + n) for c, n in zip(corner, mask.shape, strict=True))
    volume[window][mask] = label


def build_case(labels: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(pred, ref) uint8 label maps: label 1 an irregular ≈200k-voxel object; with 3 labels
    also a lesion inside it (2) and a second, smaller organ (3)."""
    rng = np.random.default_rng(seed)
    pred, ref = np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)
    parts = [((150, 150, 56), (52, 48, 19), (180, 170, 70), 1)]
    if labels == 3:
        parts += [((40, 40, 16), (14, 12, 5), (230, 220, 90), 2),
                  ((90, 70, 40), (40, 30, 15), (300, 330, 40), 3)]
    for box, radii, corner, label in parts:
        shared, own = _field(rng, box), _field(rng, box)
        _place(ref, _object(box, radii, shared), corner, label)
        _place(pred, _object(box, radii, 0.75 * shared + 0.66 * own), corner, label)
    return pred, ref


def median_seconds(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def peak_extra_mb(name: str, labels: int) -> float:
    """Peak resident memory (MiB) of one call of ``name`` above the process's memory just
    before it, measured in a fresh process (a fork would hang in torch's thread pool)."""
    output = subprocess.run(
        [sys.executable, __file__, "--memory-of", name, "--labels", str(labels)],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return float(output.split()[-1])


def _measure_memory(name: str, labels: int) -> None:
    _calls(labels, crop=True)[name]()  # load and compile what the library needs, on a crop
    call = _calls(labels)[name]
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    start = _status_kib("VmRSS")
    call()
    print((_status_kib("VmHWM") - start) / 1024)


def _surface_distance():
    for name in ("Inf", "NaN"):
        if not hasattr(np, name):
            setattr(np, name, getattr(np, name.lower()))
    import surface_distance

    return surface_distance


def surface_distance_all(masks: list[tuple[np.ndarray, np.ndarray]]) -> list[dict]:
    library = _surface_distance()
    results = []
    for pred, ref in masks:
        distances = library.compute_surface_distances(ref, pred, SPACING)
        to_pred, to_ref = library.compute_average_surface_distance(distances)
        results.append({
            "nsd": library.compute_surface_dice_at_tolerance(distances, TOLERANCE_MM),
            "hd95": library.compute_robust_hausdorff(distances, 95),
            "hd": library.compute_robust_hausdorff(distances, 100),
            "assd": (to_pred + to_ref) / 2,
        })
    return results


def monai_all(tensors) -> None:
    from monai.metrics import (
        compute_average_surface_distance,
        compute_hausdorff_distance,
        compute_surface_dice,
    )

    y_pred, y = tensors
    common = {"include_background": True, "spacing": list(SPACING)}
    compute_surface_dice(y_pred, y, [TOLERANCE_MM] * y.shape[1], **common)
    compute_hausdorff_distance(y_pred, y, percentile=95, **common)
    compute_hausdorff_distance(y_pred, y, **common)
    compute_average_surface_distance(y_pred, y, symmetric=True, **common)


def medpy_all(masks: list[tuple[np.ndarray, np.ndarray]]) -> None:
    from medpy.metric.binary import assd, hd, hd95

    for pred, ref in masks:
        for metric in (hd, hd95, assd):
            metric(pred, ref, voxelspacing=SPACING)


def _row(what, podium_s, reference, reference_s, podium_mb=None, reference_mb=None) -> dict:
    return {"what": what, "podium_s": podium_s, "reference": reference,
            "reference_s": reference_s, "ratio": reference_s / podium_s,
            "podium_mb": podium_mb, "reference_mb": reference_mb}


def _calls(labels: int, crop: bool = False) -> dict[str, Callable[[], object]]:
    """Every library's call on the case (or a small crop of it), inputs prepared in the form
    each library wants."""
    import torch

    pred, ref = build_case(labels)
    if crop:
        window = (slice(170, 340), slice(160, 330), slice(60, 130))
        pred, ref = pred[window].copy(), ref[window].copy()
    values = list(range(1, labels + 1))
    masks = [(pred == v, ref == v) for v in values]
    one_hot = [torch.from_numpy(np.stack([a == v for v in values])[None]) for a in (pred, ref)]

    def podium(surface):
        return lambda: score_case(pred, ref, spacing_mm=SPACING, labels=values,
                                  nsd_tolerance_mm=TOLERANCE_MM, surface=surface)

    return {
        "podium-surfel": podium("surfel"),
        "podium-voxel": podium("voxel"),
        "surface-distance": lambda: surface_distance_all(masks),
        "monai": lambda: monai_all(one_hot),
        "medpy": lambda: medpy_all(masks),
    }


def segmentation_rows(labels: int, *, medpy: bool, repeats: int) -> list[dict]:
    calls = _calls(labels)
    name = f"{labels}-label 512×512×200"
    rows = []
    for surface, reference, title, count in (
        ("surfel", "surface-distance", "surface-distance 0.1 (NSD+HD95+HD+ASSD)", 3),
        ("voxel", "monai", "MONAI 1.6 (NSD+HD95+HD+ASSD, 4 calls)", 3),
        ("voxel", "medpy", "medpy 0.5.2 (HD+HD95+ASSD)", 1),
    ):
        if reference == "medpy" and not medpy:
            continue
        podium = calls[f"podium-{surface}"]
        podium()
        print(f"measuring {name}: Podium {surface} vs {reference}", file=sys.stderr)
        rows.append(_row(f"{name}, all five metrics, {surface}",
                         median_seconds(podium, repeats), title,
                         median_seconds(calls[reference], count),
                         peak_extra_mb(f"podium-{surface}", labels),
                         peak_extra_mb(reference, labels)))
    return rows


def agreement() -> list[str]:
    """Podium's surfel metrics next to surface-distance's on the binary case."""
    pred, ref = build_case(1)
    ours = score_case(pred, ref, spacing_mm=SPACING, labels=[1], nsd_tolerance_mm=TOLERANCE_MM)
    theirs = surface_distance_all([(pred == 1, ref == 1)])[0]
    return [f"{metric}: Podium {ours[1][metric]!r}  surface-distance {float(theirs[metric])!r}"
            for metric in ("nsd", "hd95", "hd", "assd")] + [f"dice: {ours[1]['dice']:.4f}"]


def _stepped_inflate(module, compressed: bytes, size: int) -> Callable[[], np.ndarray]:
    """Inflate as scorers._gzip does (1 MiB steps into one numpy buffer) with ``module``."""

    def run() -> np.ndarray:
        out = np.empty(size, np.uint8)
        view = memoryview(out)
        filled, pending = 0, compressed
        inflater = module.decompressobj(31)
        while filled < size:
            piece = inflater.decompress(pending, min(1 << 20, size - filled))
            view[filled : filled + len(piece)] = piece
            filled += len(piece)
            pending = inflater.unconsumed_tail
        return out

    return run


def reading_rows(folder: Path) -> list[dict]:
    import nibabel as nib
    from isal import isal_zlib
    from zlib_ng import zlib_ng

    _, ref = build_case(1)
    path = folder / "ref.nii.gz"
    nib.Nifti1Image(ref, np.diag([*SPACING, 1.0])).to_filename(path)
    podium = median_seconds(lambda: read_label_map(path, name="ref", labels=[1]), 7)
    rows = [_row("read + validate one 52 MB .nii.gz label map", podium,
                 "nibabel load + asarray (zlib)",
                 median_seconds(lambda: np.asarray(nib.load(path).dataobj), 5))]
    ct = np.random.default_rng(0).normal(0, 100, (512, 512, 50)).astype(np.int16)
    for what, data in (("52 MB label map", ref), ("26 MB CT-like int16 image", ct)):
        compressed = gzip.compress(data.tobytes(), compresslevel=6)
        ours = median_seconds(_stepped_inflate(zlib_ng, compressed, data.nbytes), 7)
        for name, module in (("zlib", zlib), ("ISA-L (isal)", isal_zlib)):
            rows.append(_row(f"inflate {what}: zlib-ng", ours, name, median_seconds(
                _stepped_inflate(module, compressed, data.nbytes), 7)))
    return rows


def distance_rows() -> list[dict]:
    """One direction of the surface distances on the binary case's surfel grid: Podium's
    query-restricted search against full distance transforms (edt package, scipy)."""
    import edt

    from scorers import _kernels, surfaces
    from scorers.segmentation import _padded_mask, label_boxes

    pred, ref = build_case(1)
    (pred_box,), _ = label_boxes(pred, (1,))
    (ref_box,), _ = label_boxes(ref, (1,))
    box = np.stack([np.minimum(pred_box[:, 0], ref_box[:, 0]),
                    np.maximum(pred_box[:, 1], ref_box[:, 1])], axis=1)
    table = surfaces.measure_table(SPACING)
    grid_r, _, _ = surfaces._surfels(_padded_mask(ref, 1, box), table)
    _, points_p, _ = surfaces._surfels(_padded_mask(pred, 1, box), table)
    features = grid_r.view(np.uint8)
    budget = 4 * (features.shape[1] + features.shape[2])

    def podium():
        return _kernels.squared_distances_at(features, points_p, *SPACING, budget)

    podium()
    what = f"distances P→∂R, surfel grid of {features.size / 1e6:.2f} M points"
    seconds = median_seconds(podium, 15)
    return [
        _row(what, seconds, "edt 3.1 full EDT (float32)", median_seconds(
            lambda: edt.edt(~grid_r, anisotropy=SPACING, black_border=False), 7)),
        _row(what, seconds, "scipy distance_transform_edt", median_seconds(
            lambda: ndimage.distance_transform_edt(~grid_r, sampling=SPACING), 5)),
    ]


def numba_startup() -> list[str]:
    """Seconds to import scorers.segmentation and score a first small case in a new process:
    with an empty numba cache (compile) and again with the cache it left (load)."""
    script = ("import time; t = time.perf_counter(); import numpy as np; "
              "from scorers.segmentation import score_case; i = time.perf_counter() - t; "
              "a = np.zeros((9, 9, 9), np.uint8); a[2:6, 3:7, 1:5] = 1; "
              "[score_case(a, np.roll(a, 1, 0), spacing_mm=(1, 1, 1), labels=[1], "
              "nsd_tolerance_mm=1.0, surface=s) for s in ('surfel', 'voxel')]; "
              "print(f'{i:.2f} {time.perf_counter() - t - i:.2f}')")
    lines = []
    with tempfile.TemporaryDirectory() as cache:
        environment = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for state in ("empty cache (compile)", "warm cache (load)"):
            output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment,
                                    capture_output=True, text=True, check=True).stdout.split()
            lines.append(f"{state}: import {output[0]} s, first case (surfel + voxel) "
                         f"{output[1]} s")
    return lines


def detection_rows() -> list[dict]:
    path = Path(__file__).with_name("_detection_cases.py")
    spec = importlib.util.spec_from_file_location("_detection_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.detection_benchmark()


def print_table(rows: list[dict]) -> None:
    print("| what | Podium s | Podium MB | reference | reference s | reference MB | ratio |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        mb = [f"{row[k]:.0f}" if row.get(k) is not None else "" for k in
              ("podium_mb", "reference_mb")]
        print(f"| {row['what']} | {row['podium_s']:.4f} | {mb[0]} | {row['reference']} | "
              f"{row['reference_s']:.4f} | {mb[1]} | {row['ratio']:.1f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip medpy (≈ 1 minute per case)")
    parser.add_argument("--repeats", type=int, default=15, help="Podium repetitions")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    parser.add_argument("--labels", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.memory_of:
        _measure_memory(args.memory_of, args.labels)
        return
    rows = []
    for labels in (1, 3):
        rows += segmentation_rows(labels, medpy=not args.quick and labels == 1,
                                  repeats=args.repeats)
    rows += distance_rows()
    with tempfile.TemporaryDirectory() as folder:
        rows += reading_rows(Path(folder))
    rows += detection_rows()
    print(f"inputs: two {SHAPE} uint8 volumes = {2 * np.prod(SHAPE) / 2**20:.0f} MB; "
          f"{os.cpu_count()} CPUs; numpy {np.__version__}")
    print_table(rows)
    print("\nagreement on the binary case (surfel):")
    print("\n".join(agreement()))
    print("\nnumba start-up in a new process:")
    print("\n".join(numba_startup()))


if __name__ == "__main__":
    main()

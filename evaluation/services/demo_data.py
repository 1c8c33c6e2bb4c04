"""Synthetic Decathlon-like data: MSD task folders, VOC detection folders, and predictions of a
chosen quality. Used by ``make_demo`` and by the tests (real NIfTI files written with nibabel).
"""

import json
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

CT = {"0": "CT"}


def ellipsoid(shape, center, radii) -> np.ndarray:
    """A boolean ellipsoid (voxel units) inside an array of ``shape``."""
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    inside = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, center, radii, strict=True))
    return inside <= 1.0


def organ_label_map(rng: np.random.Generator, shape, n_labels: int) -> np.ndarray:
    """An organ (label 1) with up to ``n_labels - 1`` smaller structures inside it."""
    shape = tuple(shape)
    center = [n / 2 + rng.uniform(-0.08, 0.08) * n for n in shape]
    radii = [n * rng.uniform(0.22, 0.32) for n in shape]
    label = ellipsoid(shape, center, radii).astype(np.uint8)
    for value in range(2, n_labels + 1):
        offset = [c + rng.uniform(-0.4, 0.4) * r for c, r in zip(center, radii, strict=True)]
        small = [max(1.5, r * rng.uniform(0.2, 0.35)) for r in radii]
        label[ellipsoid(shape, offset, small) & (label > 0)] = value
    return label


def image_for(label: np.ndarray, rng: np.random.Generator, channels: int | None) -> np.ndarray:
    """A CT/MR-like image whose intensities follow the label map, with noise."""
    base = np.where(label > 0, 60.0 + 25.0 * label, -80.0).astype(np.float32)
    base += rng.normal(0, 15, size=label.shape).astype(np.float32)
    base = ndimage.gaussian_filter(base, 1.0)
    if channels is None:
        return base
    return np.stack([base * (1 + 0.2 * c) for c in range(channels)], axis=-1)


def write_nifti(path: Path, data: np.ndarray, spacing) -> None:
    affine = np.diag([*spacing, 1.0])
    image = nib.Nifti1Image(data, affine)
    image.header.set_zooms(tuple(spacing) + (1.0,) * (data.ndim - len(spacing)))
    nib.save(image, str(path))


def write_segmentation_task(
    root: Path, *, key: str, name: str, labels: dict[str, str], n_cases: int, shape, spacing,
    modality: dict[str, str] = CT, seed: int = 0, prefix: str | None = None,
) -> Path:
    """An MSD task folder: dataset.json, imagesTs/ and labelsTs/ (the hidden test labels)."""
    rng = np.random.default_rng(seed)
    folder = root / key
    (folder / "imagesTs").mkdir(parents=True, exist_ok=True)
    (folder / "labelsTs").mkdir(parents=True, exist_ok=True)
    channels = len(modality) if len(modality) > 1 else None
    prefix = prefix or name.lower()
    test = []
    for index in range(n_cases):
        file_name = f"{prefix}_{index:03d}.nii.gz"
        label = organ_label_map(rng, shape, len(labels) - 1)
        write_nifti(folder / "labelsTs" / file_name, label, spacing)
        write_nifti(folder / "imagesTs" / file_name, image_for(label, rng, channels), spacing)
        test.append(f"./imagesTs/{file_name}")
    dataset = {
        "name": name, "description": segmentation_description(labels, n_cases, shape, spacing,
                                                              modality),
        "reference": "Podium demo data", "licence": "CC-BY-SA 4.0", "release": "1.0",
        "tensorImageSize": "4D" if channels else "3D", "modality": modality, "labels": labels,
        "numTraining": 0, "numTest": n_cases, "training": [], "test": test,
    }
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=2))
    return folder


def segmentation_description(labels: dict[str, str], n_cases: int, shape, spacing,
                             modality: dict[str, str]) -> str:
    """What a newcomer needs to know of a synthetic segmentation task, as its dataset.json's
    description: what the images are, and what a prediction must be."""
    channels = (f"{len(modality)}-channel ({', '.join(modality.values())})" if len(modality) > 1
                else next(iter(modality.values())))
    grid = " × ".join(str(n) for n in shape)
    mm = " × ".join(f"{s:g}" for s in spacing)
    values = ", ".join(f"{value} for {name}" for value, name in labels.items())
    return (f"{n_cases} synthetic {channels} volumes made by Podium's demo (no patient data), "
            f"{grid} voxels of {mm} mm, each an organ with smaller structures inside it. "
            f"Predict one label map per test image: a 3D NIfTI file named like the image, on "
            f"the image's voxel grid, whose voxels hold {values}.")


def degrade(label: np.ndarray, rng: np.random.Generator, quality: float) -> np.ndarray:
    """A prediction of roughly the given quality (1 = perfect): shifted, eroded or dilated,
    with small structures sometimes missed and spurious blobs added."""
    if quality >= 1.0:
        return label.copy()
    out = label.copy()
    shift = np.round(rng.normal(0, (1 - quality) * 3, size=label.ndim)).astype(int)
    out = np.roll(out, tuple(shift), axis=tuple(range(label.ndim)))
    iterations = round((1 - quality) * 3)
    if iterations:
        grow = rng.random() < 0.5
        for value in np.unique(label)[1:]:
            mask = out == value
            changed = (ndimage.binary_dilation(mask, iterations=iterations) if grow
                       else ndimage.binary_erosion(mask, iterations=iterations))
            out[mask & ~changed] = 0
            out[changed & (out == 0)] = value
    if rng.random() > quality:
        out[out == out.max()] = 1 if out.max() > 1 else 0
    if rng.random() > quality:
        spot = [int(rng.integers(2, n - 2)) for n in label.shape]
        out[ellipsoid(label.shape, spot, [2.5] * label.ndim) & (out == 0)] = 1
    return out


def write_predictions_archive(task_folder: Path, dest: Path, *, quality: float, seed: int,
                              skip: int = 0) -> Path:
    """A zip of predictions for the task's test cases (the last ``skip`` cases left out)."""
    rng = np.random.default_rng(seed)
    dest.parent.mkdir(parents=True, exist_ok=True)
    labels = sorted((task_folder / "labelsTs").glob("*.nii.gz"))
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in labels[: len(labels) - skip]:
            image = nib.load(str(path))
            prediction = degrade(np.asarray(image.dataobj), rng, quality)
            tmp = dest.parent / f".tmp-{path.name}"
            write_nifti(tmp, prediction.astype(np.uint8), image.header.get_zooms()[:3])
            archive.write(tmp, arcname=path.name)
            tmp.unlink()
    return dest


VOC_TEMPLATE = """<annotation verified="no">
  <folder>Unknow</folder>
  <filename>Unknow</filename>
  <path>Unknow</path>
  <source><database>Unknown</database></source>
  <size><width>{width}</width><height>{height}</height><depth>1</depth></size>
  <segmented>0</segmented>
{objects}</annotation>
"""
VOC_OBJECT = """  <object>
    <name>{label}</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <Difficult>{difficult}</Difficult>
    <bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>
  </object>
"""


def write_detection_task(root: Path, *, key: str, n_images: int, classes=("A", "B", "E", "G"),
                         size: int = 512, seed: int = 0) -> tuple[Path, dict]:
    """A Lung-PET-CT-Dx-style folder: dataset.json, labelsTs/<SOPInstanceUID>.xml and the test
    images imagesTs/<SOPInstanceUID>.nii.gz (noise with a brighter blob in every box).

    Returns the folder and the boxes written ({image_id: [(label, xmin, ymin, xmax, ymax)]}).
    """
    rng = np.random.default_rng(seed)
    folder = root / key
    (folder / "labelsTs").mkdir(parents=True, exist_ok=True)
    (folder / "imagesTs").mkdir(exist_ok=True)
    boxes: dict[str, list] = {}
    for index in range(n_images):
        image_id = f"1.3.6.1.4.1.14519.5.2.1.6655.2359.{seed}{index:06d}"
        objects, image_boxes = [], []
        for _ in range(int(rng.integers(1, 3))):
            w, h = (int(v) for v in rng.integers(20, 80, size=2))
            x, y = int(rng.integers(0, size - w - 1)), int(rng.integers(0, size - h - 1))
            label = str(rng.choice(classes))
            difficult = int(rng.random() < 0.1)
            objects.append(VOC_OBJECT.format(label=label, difficult=difficult, xmin=x, ymin=y,
                                             xmax=x + w, ymax=y + h))
            if not difficult:
                image_boxes.append((label, x, y, x + w, y + h))
        (folder / "labelsTs" / f"{image_id}.xml").write_text(
            VOC_TEMPLATE.format(width=size, height=size, objects="".join(objects)))
        noise = np.random.default_rng([seed, index])  # the boxes drawn stay as they were
        pixels = noise.normal(0, 40, size=(size, size)).astype(np.int16)
        for _, x0, y0, x1, y1 in image_boxes:
            pixels[y0:y1, x0:x1] += 300
        write_nifti(folder / "imagesTs" / f"{image_id}.nii.gz", pixels.T[:, :, None].copy(),
                    (0.7, 0.7, 1.0))
        boxes[image_id] = image_boxes
    dataset = {"name": "DemoLungDx", "description": detection_description(n_images, size),
               "task_type": "detection", "tensorImageSize": "2D", "modality": CT,
               "labels": {str(i): c for i, c in enumerate(classes)}}
    (folder / "dataset.json").write_text(json.dumps(dataset, indent=2))
    return folder, boxes


def detection_description(n_images: int, size: int) -> str:
    """What a newcomer needs to know of the synthetic detection task, as its dataset.json's
    description: the images, the classes' letters, and the CSV a prediction is."""
    return (f"{n_images} synthetic CT slices made by Podium's demo (no patient data), "
            f"{size} × {size} pixels, named by a DICOM SOP Instance UID as in Lung-PET-CT-Dx; "
            "each holds one or two tumours, drawn as brighter rectangles (one marked "
            "difficult in the labels is neither drawn nor counted). The classes are "
            "Lung-PET-CT-Dx's letters: A adenocarcinoma, B small cell carcinoma, E large cell "
            "carcinoma, G squamous cell carcinoma. Predict boxes in one CSV file with the header "
            "image_id,label,score,xmin,ymin,xmax,ymax: a row per box, the image's name without "
            ".nii.gz, the class letter, a confidence, and the corners in pixels (x along the "
            "image array's first axis, y along its second).")


def write_box_predictions(boxes: dict, dest: Path, *, quality: float, seed: int,
                          size: int = 512) -> Path:
    """A predictions CSV of roughly the given quality (1 = every box found exactly): each true
    box is missed with probability (1 - quality) / 2, else jittered by (1 - quality) × 16 px,
    with a confidence that falls with the quality; false boxes of the task's classes, up to
    1 + 4 × (1 - quality) per image, get confidences that overlap the true ones'. So lower
    qualities lose recall and precision, and demo detectors rank apart, not all at mAP 1."""
    rng = np.random.default_rng(seed)
    classes = sorted({label for image_boxes in boxes.values() for label, *_ in image_boxes})
    rows = ["image_id,label,score,xmin,ymin,xmax,ymax"]
    for image_id, image_boxes in boxes.items():
        for label, x0, y0, x1, y1 in image_boxes:
            if rng.random() < (1 - quality) / 2:
                continue
            jitter = rng.normal(0, (1 - quality) * 16, size=4)
            a, b, c, d = (float(np.clip(v + j, 0, size - 1))
                          for v, j in zip((x0, y0, x1, y1), jitter, strict=True))
            if c > a + 1 and d > b + 1:
                score = float(np.clip(rng.normal(0.4 + quality / 2, 0.15), 0.01, 1.0))
                rows.append(f"{image_id},{label},{score:.4f},{a:.1f},{b:.1f},{c:.1f},{d:.1f}")
        for _ in range(int(rng.integers(0, 2 + round((1 - quality) * 4)))):
            x, y = (float(v) for v in rng.integers(0, size - 80, size=2))
            label = str(rng.choice(classes)) if classes else "A"
            rows.append(f"{image_id},{label},{rng.uniform(0.05, 0.85):.4f},{x},{y},{x + 40},"
                        f"{y + 40}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n".join(rows) + "\n")
    return dest


RADIOGENOMICS = {"egfr": "Task04_DemoRadiogenomicsEGFR",
                 "overall_survival": "Task05_DemoRadiogenomicsSurvival"}


def write_radiogenomics_tasks(root: Path, *, n_cases: int = 24, seed: int = 4, size: int = 32,
                              ) -> tuple[Path, Path, dict[str, float]]:
    """Two clinical task folders on the same synthetic CT volumes, as NSCLC Radiogenomics pairs
    images with clinical data: EGFR mutation status (classification) and overall survival in
    days (survival, censored at the end of follow-up). One latent "aggressiveness" per case
    drives the tumour's size, the odds of a mutation and the hazard, so an image holds signal
    for both. Returns both folders and the latent value per case (what demo predictions of
    varied quality are built from)."""
    rng = np.random.default_rng(seed)
    cases = [f"rg_{i:03d}" for i in range(n_cases)]
    latent = rng.normal(size=n_cases)
    mutant = rng.random(n_cases) < 1 / (1 + np.exp(-1.5 * latent))
    survival = rng.exponential(3 * 365 / np.exp(0.9 * latent))
    follow_up = rng.uniform(300, 5 * 365, size=n_cases)  # heavy censoring, as in the collection
    time = np.maximum(1.0, np.round(np.minimum(survival, follow_up)))
    event = (survival <= follow_up).astype(int)
    rows = ["case,egfr,time,event"] + [
        f"{case},{'mutant' if m else 'wildtype'},{t:g},{e}"
        for case, m, t, e in zip(cases, mutant, time, event, strict=True)]
    shape, centre = (size, size, size // 2), (size / 2, size / 2, size / 4)
    volumes = {}
    for case, z in zip(cases, np.clip(latent, -2, 2) + 2, strict=True):  # 0 … 4
        tumour = ellipsoid(shape, centre, (2 + 1.5 * z, 2 + 1.5 * z, 1.5 + 0.5 * z))
        volumes[case] = image_for(tumour.astype(np.uint8), rng, None)
    blocks = {
        "egfr": {"kind": "classification", "target": "egfr", "classes": ["wildtype", "mutant"],
                 "positive_class": "mutant", "labels": "labelsTs/labels.csv"},
        "overall_survival": {"kind": "survival", "target": "overall_survival",
                             "time_unit": "days", "time_column": "time",
                             "event_column": "event", "labels": "labelsTs/labels.csv"},
    }
    folders = []
    for target, key in RADIOGENOMICS.items():
        folder = root / key
        (folder / "imagesTs").mkdir(parents=True, exist_ok=True)
        (folder / "labelsTs").mkdir(parents=True, exist_ok=True)
        for case, volume in volumes.items():
            write_nifti(folder / "imagesTs" / f"{case}.nii.gz", volume, (1.0, 1.0, 2.0))
        (folder / "labelsTs" / "labels.csv").write_text("\n".join(rows) + "\n")
        what = ("the probability that the tumour is EGFR-mutant: case,probability"
                if target == "egfr" else
                "a risk score, larger for an earlier death: case,risk")
        dataset = {
            "name": key.split("_", 1)[1], "reference": "Podium demo data",
            "description": f"{n_cases} synthetic CT volumes made by Podium's demo (no patient "
                           "data), each with one lung tumour, in the style of NSCLC "
                           f"Radiogenomics. Predict, in one CSV file, {what}.",
            "licence": "CC-BY-SA 4.0", "release": "1.0", "tensorImageSize": "3D",
            "modality": CT, "numTest": n_cases, "clinical": blocks[target],
            "test": [f"./imagesTs/{case}.nii.gz" for case in cases],
        }
        (folder / "dataset.json").write_text(json.dumps(dataset, indent=2))
        folders.append(folder)
    return folders[0], folders[1], dict(zip(cases, latent.tolist(), strict=True))


def write_clinical_predictions(latent: dict[str, float], dest: Path, *, column: str,
                               quality: float, seed: int, times: tuple = ()) -> Path:
    """A predictions CSV of roughly the given quality (1 = the latent value itself): the latent
    value plus noise of standard deviation 2 × (1 − quality); ``column`` "probability" maps it
    through a logistic function, "risk" keeps it. With ``times`` (a risk), a survival curve
    too: ``S@<t>`` = exp(−t · e^{0.9·risk} / 1095), the hazard the demo's times are drawn
    with."""
    rng = np.random.default_rng(seed)
    rows = [f"case,{column}" + "".join(f",S@{t:g}" for t in times)]
    for case, value in latent.items():
        score = quality * value + rng.normal(0, 2 * (1 - quality))
        shown = 1 / (1 + np.exp(-1.5 * score)) if column == "probability" else score
        curve = "".join(f",{np.exp(-t * np.exp(0.9 * score) / 1095):.6f}" for t in times)
        rows.append(f"{case},{shown:.6f}{curve}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n".join(rows) + "\n")
    return dest

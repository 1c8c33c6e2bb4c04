"""Importing a TCIA-style DICOM collection: ``import_dicom_collection`` (folder, tar, zip) and the
console's import job on a small synthetic collection (tests/dicom_factories.py). The task gets
its cases (with what SEG predictions are validated against), labels from the SEG, the ground
truth with its provenance, a clean de-identification review; hostile inputs are refused with
messages that name the subject or file and never a server path."""

import io
import json
import tarfile
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from django.core.files import File
from django.core.management import CommandError, call_command

from challenges.models import Challenge, DeidReview, GroundTruth, Task
from core.storage import private_storage
from evaluation.models import ImportJob
from evaluation.services import import_jobs
from imaging import deid
from imaging.collection import convert_collection
from imaging.geometry import SeriesGeometry
from tests import dicom_factories as f
from tests import factories

pytestmark = pytest.mark.django_db

SUBJECTS = {"LUNG1-001": ("test", "axial", False), "LUNG1-002": ("test", "sagittal", True),
            "LUNG1-003": ("train", "axial", True)}
METADATA = {"name": "Lung DICOM", "description": "Tumour and liver on CT",
            "labels": {"0": "background", "1": "tumour", "2": "liver"},
            "segment_map": {"Tumor": "tumour", "SCT:10200004": 2},
            "collection": "NSCLC Radiogenomics", "version": "4",
            "doi": "https://doi.org/10.7937/K9/TCIA.2017.7hs46erv", "licence": "CC BY 3.0",
            "url": "https://www.cancerimagingarchive.net/collection/nsclc-radiogenomics/"}


def write_subject(root: Path, subject: str, orientation: str, descending: bool):
    series = f.ct_series(root / subject / "01-01-2000-study" / "2.000000-CT",
                         shape=(12, 14, 6), patient_id=subject, orientation=orientation,
                         descending=descending)
    world = series.pixel_world()
    centre = world.reshape(-1, 3).mean(axis=0)
    tumour = f.sphere_mask(world, centre - np.array([2.0, 2.0, 0.0]), 3.1)
    liver = f.sphere_mask(world, centre + np.array([3.0, 3.0, 0.0]), 2.6)
    seg = f.seg_object(root / subject / "01-01-2000-study" / "300.000000-Segmentation" / "1-1.dcm",
                       series, [f.Segment("Tumor", tumour), f.Segment("Liver", liver, f.ORGAN)])
    return series, seg


def write_collection(folder: Path, metadata: dict | None = METADATA) -> dict:
    """``folder`` (named like the task) holding the subjects, manifest.csv and metadata.json."""
    written = {subject: write_subject(folder, subject, orientation, descending)
               for subject, (_, orientation, descending) in SUBJECTS.items()}
    (folder / "manifest.csv").write_text(
        "subject,split\n" + "".join(f"{s},{split}\n" for s, (split, *_) in SUBJECTS.items()))
    if metadata is not None:
        (folder / "metadata.json").write_text(json.dumps(metadata))
    return written


def command(path, *args, challenge: str = "lung") -> str:
    out = io.StringIO()
    call_command("import_dicom_collection", str(path), "--challenge", challenge, *args,
                 stdout=out)
    return out.getvalue()


def tar_of(folder: Path, path: Path, arcname: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname=arcname or folder.name)
    return path


def zip_of(folder: Path, path: Path, *, top: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                inside = file.relative_to(folder).as_posix()
                archive.write(file, f"{top}/{inside}" if top else inside)
    return path


def check_imported(task: Task, written: dict, source_sha256: str) -> GroundTruth:
    assert task.kind == Task.SEGMENTATION and task.key == "NSCLC-Test"
    assert task.case_names == ["LUNG1-001", "LUNG1-002"]  # the test subjects only
    assert task.labels == METADATA["labels"]
    assert task.name == "Lung DICOM" and task.modality == {"0": "CT"}
    for case in task.cases:
        series, _ = written[case["name"]]
        dicom = case["dicom"]
        assert set(dicom) == {"geometry", "series_instance_uid", "frame_of_reference_uid",
                              "sop_instance_uids"}
        geometry = SeriesGeometry.from_dict(dicom["geometry"])
        assert dicom["series_instance_uid"] == geometry.series_instance_uid == series.series_uid
        assert dicom["frame_of_reference_uid"] == series.frame_uid
        assert list(geometry.shape) == case["geometry"]["shape"]
        # Slice order: index k of the NIfTI's slice axis holds the slice at that position.
        positions = {ds.SOPInstanceUID: np.array(ds.ImagePositionPatient, float)
                     for ds in series.datasets}
        affine = np.asarray(case["geometry"]["affine"])
        for k, uid in enumerate(dicom["sop_instance_uids"]):
            voxel = np.zeros(4)
            voxel[3], voxel[geometry.slice_axis] = 1, k
            ras = affine @ voxel
            slice_normal = geometry.normal
            assert np.dot(np.diag([-1, -1, 1]) @ ras[:3] - positions[uid], slice_normal) \
                == pytest.approx(0, abs=1e-3)
    gt = GroundTruth.objects.get(task=task)
    assert set(gt.files) == {"LUNG1-001", "LUNG1-002"}
    assert (gt.source_collection, gt.source_version, gt.source_licence) == (
        "NSCLC Radiogenomics", "4", "CC BY 3.0")
    assert gt.source_doi == "10.7937/K9/TCIA.2017.7hs46erv"
    assert gt.source_url == METADATA["url"] and gt.source_sha256 == source_sha256
    assert gt.source_manifest == {
        subject: {"split": split, "series": written[subject][0].series_uid,
                  "seg": str(pydicom.dcmread(written[subject][1]).SOPInstanceUID)}
        for subject, (split, *_) in SUBJECTS.items()}
    return gt


def test_command_imports_a_collection_folder(tmp_path):
    folder = tmp_path / "NSCLC-Test"
    written = write_collection(folder)
    expected = convert_collection(folder, tmp_path / "reference", manifest=folder /
                                  "manifest.csv", metadata=METADATA)
    output = command(folder, "--manifest", str(folder / "manifest.csv"), "--metadata",
                     str(folder / "metadata.json"))
    assert "task NSCLC-Test (2 test cases): created" in output
    assert f"source: NSCLC Radiogenomics version 4, DICOM content " \
           f"{expected.content_sha256[:12]}" in output
    task = Task.objects.get(challenge__slug="lung")
    gt = check_imported(task, written, expected.content_sha256)
    storage = private_storage()
    for case in task.case_names:  # the stored labels are the converted SEGs
        stored = nib.load(storage.path(gt.files[case]["path"]))
        reference = nib.load(tmp_path / "reference" / "labelsTs" / f"{case}.nii.gz")
        assert np.array_equal(np.asanyarray(stored.dataobj), np.asanyarray(reference.dataobj))
        assert set(np.unique(np.asanyarray(stored.dataobj))) == {0, 1, 2}
    # The gate checked the stored images: NIfTI written with empty text fields, nothing found.
    assert task.deid_review.status == DeidReview.CLEAN
    for name in task.images.values():
        assert deid.check_nifti(storage.path(name)) == []
    assert "unchanged" in command(folder)  # again, manifest and metadata found at the root


def test_converted_nifti_carries_no_text_and_the_sidecars_hold_no_identity(tmp_path):
    folder = tmp_path / "NSCLC-Test"
    write_collection(folder)
    out = tmp_path / "task"
    convert_collection(folder, out, manifest=folder / "manifest.csv", metadata=METADATA)
    written = sorted(out.rglob("*.nii.gz"))
    assert len(written) == 6
    for path in written:
        assert deid.check_nifti(path) == []
        header = nib.load(path).header
        assert header.extensions == [] and header["descrip"].item().strip(b"\0 ") == b""
    sidecar = json.loads((out / "imagesTs" / "LUNG1-001.dicom.json").read_text())
    text = json.dumps(sidecar)
    assert "Anonymous" not in text and "LUNG1-001" not in text and "2020" not in text


def test_command_imports_tar_and_zip_archives(tmp_path):
    folder = tmp_path / "NSCLC-Test"
    written = write_collection(folder)
    digest = convert_collection(folder, tmp_path / "ref", manifest=folder / "manifest.csv",
                                metadata=METADATA).content_sha256
    command(tar_of(folder, tmp_path / "upload.tar.gz"))  # manifest and metadata inside
    check_imported(Task.objects.get(challenge__slug="lung"), written, digest)
    # A zip with the files at its top and the manifest given apart: the archive names the task.
    (tmp_path / "manifest.csv").write_bytes((folder / "manifest.csv").read_bytes())
    (folder / "manifest.csv").unlink()
    output = command(zip_of(folder, tmp_path / "NSCLC-Test.zip"), "--manifest",
                     str(tmp_path / "manifest.csv"), challenge="lung-zip")
    assert "task NSCLC-Test (2 test cases): created" in output
    check_imported(Task.objects.get(challenge__slug="lung-zip"), written, digest)


def test_labels_come_from_the_seg_without_metadata(tmp_path):
    folder = tmp_path / "NSCLC-Test"
    write_collection(folder, metadata=None)
    command(folder)
    task = Task.objects.get(challenge__slug="lung")
    assert task.labels == {"0": "background", "1": "Tumor", "2": "Liver"}
    gt = task.ground_truths.get()
    assert gt.source_collection == "" and len(gt.source_sha256) == 64
    assert set(gt.source_manifest) == set(SUBJECTS)


def refused(path, *args) -> str:
    with pytest.raises(CommandError) as caught:
        command(path, *args)
    message = str(caught.value)
    assert "Traceback" not in message and "/tmp" not in message and str(path) not in message
    assert not Task.objects.exists()
    return message


@pytest.mark.parametrize(("change", "expected"), [
    ({"doi": "10.7937"}, "metadata: doi: '10.7937' is not a DOI"),
    ({"url": "ftp://example.org/x"}, "metadata: url: 'ftp://example.org/x' is not an http"),
    ({"colection": "typo"}, "metadata: unknown key(s) colection"),
    ({"segment_map": {"Tumor": "tumor"}}, "segment_map \"Tumor\" names label 'tumor', which "
                                          "\"labels\" does not hold (known: 'background', "
                                          "'tumour', 'liver')"),
    ({"segment_map": {"Tumor": 1}}, "subject LUNG1-001: LUNG1-001/01-01-2000-study/"
                                    "300.000000-Segmentation/1-1.dcm: no label for segment 2 "
                                    "'Liver'"),
    ({"overlap": "union"}, "metadata: \"overlap\" must be one of refuse, highest_label"),
])
def test_bad_metadata_is_refused_by_field(tmp_path, change, expected):
    folder = tmp_path / "NSCLC-Test"
    write_collection(folder, metadata={**METADATA, **change})
    assert expected in refused(folder)


def test_hostile_collections_are_refused_naming_subject_and_file(tmp_path):
    folder = tmp_path / "NSCLC-Test"
    written = write_collection(folder)
    series, seg = written["LUNG1-002"]
    original = seg.read_bytes()
    f.edit(seg, FrameOfReferenceUID="1.2.3.4")
    assert refused(folder).startswith(
        "subject LUNG1-002: LUNG1-002/01-01-2000-study/300.000000-Segmentation/1-1.dcm: "
        f"FrameOfReferenceUID 1.2.3.4 is not the image's {series.frame_uid}")
    seg.write_bytes(original)
    f.truncated(series.files[2], series.files[2], keep=0.6)
    assert "LUNG1-002/01-01-2000-study/2.000000-CT/slice_002.dcm: truncated DICOM file" \
        in refused(folder)
    (folder / "manifest.csv").write_text("subject,split\nLUNG1-001,validation\n")
    assert refused(folder) == "manifest row 2: split 'validation' must be test or train"
    (folder / "manifest.csv").unlink()
    assert "no manifest: expected manifest.csv" in refused(folder)
    assert refused(tmp_path / "missing") == "missing: no such folder or archive"


def test_hostile_archives_are_refused(tmp_path):
    escaping = tmp_path / "escape.tar"
    with tarfile.open(escaping, "w") as archive:
        data = b"subject,split\n"
        info = tarfile.TarInfo("../manifest.csv")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    assert refused(escaping) == "archive member '../manifest.csv' points outside the archive"
    linked = tmp_path / "link.tar"
    with tarfile.open(linked, "w") as archive:
        info = tarfile.TarInfo("collection/manifest.csv")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(info)
    assert refused(linked) == ("archive member 'collection/manifest.csv' is a symbolic link; "
                               "only regular files are accepted")
    (tmp_path / "notes.txt").write_text("no archive")
    assert "not a zip or tar" in refused(tmp_path / "notes.txt")


def test_a_stale_sidecar_is_refused_by_the_importer(tmp_path):
    folder = tmp_path / "NSCLC-Test"
    write_collection(folder)
    out = tmp_path / "Task06_Lung"
    convert_collection(folder, out, manifest=folder / "manifest.csv", metadata=METADATA)
    sidecar = out / "imagesTs" / "LUNG1-002.dicom.json"
    other = json.loads((out / "imagesTs" / "LUNG1-001.dicom.json").read_text())
    sidecar.write_text(json.dumps(other))  # another series' geometry
    with pytest.raises(CommandError, match=r"imagesTs/LUNG1-002.dicom.json: the series "
                                           r"geometry is not the grid of test image LUNG1-002"):
        call_command("import_msd_task", str(out), "--challenge", "lung", stdout=io.StringIO())
    sidecar.write_text(json.dumps({**other, "sop_instance_uids": []}))
    with pytest.raises(CommandError, match="sop_instance_uids does not agree with its geometry"):
        call_command("import_msd_task", str(out), "--challenge", "lung", stdout=io.StringIO())
    assert not Task.objects.exists()


# --- the console's import job (evaluation/services/import_jobs.py) ----------------------------

def stored_job(archive: Path, *, name: str, user=None, slug: str = "lung") -> ImportJob:
    """A job as the console's form stores it (the archive in private storage), not yet run."""
    challenge, _ = Challenge.objects.get_or_create(slug=slug, defaults={"title": slug})
    job = ImportJob.objects.create(challenge=challenge, file_name=name, user=user)
    with open(archive, "rb") as fh:
        job.file.save("archive", File(fh), save=True)
    return job


def run_job(job: ImportJob, settings) -> ImportJob:
    settings.PODIUM_HEARTBEAT_TIMEOUT_S = 3600  # no heartbeat write while the test runs
    import_jobs.run(str(job.id), worker="test-worker")
    job.refresh_from_db()
    return job


def test_the_import_job_detects_and_imports_a_collection_archive(tmp_path, settings):
    folder = tmp_path / "NSCLC-Test"
    written = write_collection(folder)
    digest = convert_collection(folder, tmp_path / "ref", manifest=folder / "manifest.csv",
                                metadata=METADATA).content_sha256
    organizer = factories.user("olga")
    job = run_job(stored_job(zip_of(folder, tmp_path / "upload.zip", top="NSCLC-Test"),
                             name="upload.zip", user=organizer), settings)
    assert job.state == ImportJob.SUCCEEDED, job.error
    lines = job.progress.splitlines()
    assert "the archive holds a DICOM collection (manifest.csv, no dataset.json)" in lines
    assert "converted subject LUNG1-003 (3/3)" in lines and "checked case LUNG1-002 (2/2)" in lines
    gt = check_imported(job.task, written, digest)
    assert gt == job.ground_truth and gt.imported_by == organizer
    assert job.summary.startswith("task NSCLC-Test (2 test cases): created") and not job.file
    # Files at the archive's top: the uploaded file's name names the task.
    job = run_job(stored_job(tar_of(folder, tmp_path / "a.tar.gz", arcname="."),
                             name="NSCLC-Test.tar.gz", slug="lung-top"), settings)
    assert job.state == ImportJob.SUCCEEDED, job.error
    assert job.task.key == "NSCLC-Test"


def test_the_import_job_reports_refusals_without_paths(tmp_path, settings):
    folder = tmp_path / "NSCLC-Test"
    written = write_collection(folder)
    series, _ = written["LUNG1-001"]
    series.files[3].unlink()  # a missing slice: non-uniform spacing
    job = run_job(stored_job(tar_of(folder, tmp_path / "upload.tar.gz"), name="up.tar.gz"),
                  settings)
    assert job.state == ImportJob.FAILED
    assert job.error.startswith(f"subject LUNG1-001: series {series.series_uid}: slice spacing "
                                "is not uniform (2.500–5.000 mm, e.g. 5.000 mm between "
                                "LUNG1-001/01-01-2000-study/2.000000-CT/slice_002.dcm and "), \
        job.error
    assert "slice spacing is not uniform" in job.error
    assert "/tmp" not in job.error and "Traceback" not in job.error and "work" not in job.error
    assert not Task.objects.exists() and not job.file


def test_the_import_job_still_imports_msd_archives(tmp_path, settings):
    task_folder = factories.write_cube_task(tmp_path)
    job = run_job(stored_job(tar_of(task_folder, tmp_path / "Task09_Cubes.tar.gz"),
                             name="Task09_Cubes.tar.gz"), settings)
    assert job.state == ImportJob.SUCCEEDED, job.error
    assert job.task.key == "Task09_Cubes" and "dicom" not in job.task.cases[0]
    assert not any("DICOM collection" in line for line in job.progress.splitlines())


def test_overlapping_segments_are_refused_unless_the_metadata_resolves_them(tmp_path):
    folder = tmp_path / "NSCLC-Test"
    series = f.ct_series(folder / "LUNG1-001" / "ct", shape=(12, 14, 6), patient_id="LUNG1-001")
    world = series.pixel_world()
    centre = world.reshape(-1, 3).mean(axis=0)
    organ, lesion = f.sphere_mask(world, centre, 4.0), f.sphere_mask(world, centre, 2.0)
    f.seg_object(folder / "LUNG1-001" / "seg" / "1-1.dcm", series,
                 [f.Segment("Liver", organ, f.ORGAN), f.Segment("Tumor", lesion)])
    (folder / "manifest.csv").write_text("subject,split\nLUNG1-001,test\n")
    metadata = {"labels": {"0": "background", "1": "liver", "2": "tumour"},
                "segment_map": {"Liver": "liver", "Tumor": "tumour"}}
    (folder / "metadata.json").write_text(json.dumps(metadata))
    assert f"subject LUNG1-001: LUNG1-001/seg/1-1.dcm: {int(lesion.sum())} voxels belong to " \
           "segments of different labels" in refused(folder)
    (folder / "metadata.json").write_text(json.dumps({**metadata, "overlap": "highest_label"}))
    command(folder)
    gt = GroundTruth.objects.get(task__key="NSCLC-Test")
    stored = np.asanyarray(nib.load(private_storage().path(gt.files["LUNG1-001"]["path"])).dataobj)
    assert (np.sum(stored == 2), np.sum(stored == 1)) == (lesion.sum(), organ.sum() - lesion.sum())

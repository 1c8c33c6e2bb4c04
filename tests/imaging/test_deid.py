"""The de-identification checks (imaging/deid.py): DICOM datasets built in memory with pydicom,
NIfTI headers written with nibabel."""

import copy
import gzip

import nibabel as nib
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from imaging.deid import (
    HIGH,
    MEDIUM,
    PREVIEW_CHARS,
    DeidOptions,
    UnreadableFile,
    check_dicom,
    check_nifti,
    declared_deidentification,
    deidentify_dicom,
    is_placeholder,
    preview,
)


def clean_ct() -> Dataset:
    """A CT slice's attributes with nothing that identifies anyone."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "CT"
    ds.PatientName = ""
    ds.PatientID = "ANONYMOUS"
    ds.PatientSex = "F"
    ds.PatientAge = "063Y"
    ds.StudyDate = ""
    ds.Rows, ds.Columns = 4, 4
    ds.PixelSpacing = [0.7, 0.7]
    ds.SliceThickness = "1.25"
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.BurnedInAnnotation = "NO"
    return ds


def identified_ct() -> Dataset:
    ds = clean_ct()
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "MRN0012345"
    ds.PatientBirthDate = "19610304"
    ds.StudyDate = "20190512"
    ds.SeriesDate = "20190512"
    ds.AcquisitionTime = "101503.25"
    ds.InstitutionName = "St. Elsewhere Hospital"
    ds.ReferringPhysicianName = "House^Gregory"
    ds.AccessionNumber = "A77"
    ds.DeviceSerialNumber = "SN-4471"
    ds.StationName = "CT02"
    ds.ImageComments = "Jane's follow-up, room 12"
    ds.BurnedInAnnotation = "YES"
    block = ds.private_block(0x0009, "ACME HOSPITAL", create=True)
    block.add_new(0x10, "LO", "Jane Doe internal")
    item = Dataset()
    item.PatientName = "Roe^Richard"
    item.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedImageSequence = Sequence([item])
    return ds


def by_attribute(findings) -> dict:
    return {finding.attribute: finding for finding in findings}


def test_each_identifying_attribute_is_a_finding():
    found = by_attribute(check_dicom(identified_ct(), name="slice1.dcm"))
    expected = {
        "PatientName (0010,0010)": ("patient identity (Z)", "Doe^Jane", HIGH),
        "PatientID (0010,0020)": ("patient identity (Z)", "MRN0012345", HIGH),
        "PatientBirthDate (0010,0030)": ("patient identity (Z)", "19610304", HIGH),
        "StudyDate (0008,0020)": ("date or time (Z)", "20190512", HIGH),
        "SeriesDate (0008,0021)": ("date or time (X/D)", "20190512", HIGH),
        "AcquisitionTime (0008,0032)": ("date or time (X/D)", "101503.25", HIGH),
        "InstitutionName (0008,0080)": ("institution (X/Z/D)", "St. Elsewhere Hospital", HIGH),
        "ReferringPhysicianName (0008,0090)": ("person name (Z)", "House^Gregory", HIGH),
        "AccessionNumber (0008,0050)": ("study identifier (Z)", "A77", HIGH),
        "DeviceSerialNumber (0018,1000)": ("device (X/Z/D)", "SN-4471", MEDIUM),
        "StationName (0008,1010)": ("device (X/Z/D)", "CT02", MEDIUM),
        "ImageComments (0020,4000)": ("free text (X)", "Jane's follow-up, room 12", MEDIUM),
        "BurnedInAnnotation (0028,0301)": ("burned-in annotation (C)", "YES", HIGH),
        "private (0009,1010)": ("private attribute of ACME HOSPITAL (X)", "Jane Doe internal",
                                MEDIUM),
        "ReferencedImageSequence[0].PatientName (0010,0010)": ("patient identity (Z)",
                                                              "Roe^Richard", HIGH),
    }
    assert {key: (f.rule, f.value_preview, f.severity) for key, f in found.items()} == expected
    assert {f.file for f in found.values()} == {"slice1.dcm"}


def test_a_clean_dataset_has_no_findings():
    assert check_dicom(clean_ct()) == []


def test_uids_sex_and_age_are_kept_but_an_age_over_89_is_not():
    ds = clean_ct()
    assert check_dicom(ds) == []
    ds.PatientAge = "090Y"
    (finding,) = check_dicom(ds)
    assert finding.attribute == "PatientAge (0010,1010)" and finding.value_preview == "090Y"
    ds.PatientAge = "063Y"
    strict = DeidOptions(retain_patient_characteristics=False)
    assert {f.attribute for f in check_dicom(ds, options=strict)} == {
        "PatientSex (0010,0040)", "PatientAge (0010,1010)"}


def test_options_keep_dates_descriptions_and_safe_private_attributes():
    ds = clean_ct()
    ds.StudyDate, ds.PatientBirthDate, ds.SeriesDescription = "20190512", "19610304", "CT CHEST"
    ds.private_block(0x0019, "GEMS_ACQU_01", create=True).add_new(0x23, "DS", "12.5")
    assert {f.attribute for f in check_dicom(ds)} == {
        "StudyDate (0008,0020)", "PatientBirthDate (0010,0030)",
        "SeriesDescription (0008,103E)", "private (0019,1023)"}
    kept = DeidOptions(retain_dates=True, retain_descriptors=True,
                       safe_private=frozenset({("GEMS_ACQU_01", 0x23)}))
    (birth,) = check_dicom(ds, options=kept)  # a birth date is never kept
    assert birth.attribute == "PatientBirthDate (0010,0030)"


@pytest.mark.parametrize("value", ["", "  ", "ANONYMOUS", "Removed", "0", None])
def test_placeholders_are_no_findings(value):
    ds = clean_ct()
    ds.PatientName = value
    ds.PatientID = value
    assert check_dicom(ds) == []
    ds.PatientName = "anonymous^^"  # a name's separators aside
    assert check_dicom(ds) == []


def test_placeholder_rule():
    assert is_placeholder(["ANON", ""]) and not is_placeholder(["ANON", "X1"])
    assert is_placeholder("=^^", vr="PN") and not is_placeholder("LUNG1-001")
    assert not is_placeholder("00")  # only "0" itself


def test_a_listed_sequence_is_one_finding_and_nested_sequences_are_walked():
    ds = clean_ct()
    other = Dataset()
    other.PatientID = "OLD-1"
    ds.OtherPatientIDsSequence = Sequence([other])
    inner, outer = Dataset(), Dataset()
    inner.OperatorsName = "Tech^Tom"
    outer.ReferencedSeriesSequence = Sequence([inner])
    ds.SourceImageSequence = Sequence([Dataset(), outer])
    found = by_attribute(check_dicom(ds))
    assert found["OtherPatientIDsSequence (0010,1002)"].value_preview == "1 item(s)"
    nested = "SourceImageSequence[1].ReferencedSeriesSequence[0].OperatorsName (0008,1070)"
    assert found[nested].value_preview == "Tech^Tom"
    assert len(found) == 2


def test_previews_are_short_and_printable():
    ds = clean_ct()
    ds.ImageComments = "x" * 500 + "\nend"
    (finding,) = check_dicom(ds)
    assert len(finding.value_preview) == PREVIEW_CHARS and finding.value_preview.endswith("…")
    assert preview(b"\x01\x02\xff") == "<3 bytes>" and preview("a\nb\tc") == "a b c"


def test_deidentify_leaves_nothing_to_find_and_keeps_uids():
    ds = identified_ct()
    ds.BurnedInAnnotation = "NO"
    cleaned = deidentify_dicom(ds)
    assert check_dicom(cleaned) == []
    assert cleaned.SOPInstanceUID == ds.SOPInstanceUID
    assert cleaned.PatientName == "" and "InstitutionName" not in cleaned  # Z and X
    assert ds.PatientName == "Doe^Jane"  # the original is untouched
    assert cleaned.ReferencedImageSequence[0].PatientName == ""
    assert declared_deidentification(cleaned) == (
        "PatientIdentityRemoved=YES; method: PS3.15 Basic Application Confidentialit…; "
        "codes: 113100, 113110, 113108")
    assert declared_deidentification(clean_ct()) == ""


def test_deidentify_cannot_clean_burned_in_pixels():
    (finding,) = check_dicom(deidentify_dicom(identified_ct()))
    assert finding.attribute == "BurnedInAnnotation (0028,0301)"


def test_deidentify_with_options_keeps_what_they_keep():
    ds = identified_ct()
    ds.BurnedInAnnotation = "NO"
    cleaned = deidentify_dicom(ds, options=DeidOptions(retain_dates=True))
    assert cleaned.StudyDate == "20190512" and "PatientBirthDate" in cleaned
    assert check_dicom(cleaned, options=DeidOptions(retain_dates=True)) == []
    codes = [item.CodeValue for item in cleaned.DeidentificationMethodCodeSequence]
    assert "113106" in codes


def saved(ds: Dataset, path, *, pixels: bool = True):
    """``ds`` written as a DICOM file (with 4×4 16-bit pixels unless ``pixels`` is false)."""
    ds = copy.deepcopy(ds)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    if pixels:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.SamplesPerPixel, ds.PixelRepresentation = 1, 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.PixelData = bytes(range(32))
    ds.save_as(path, enforce_file_format=True)
    return path


def test_check_dicom_reads_files_and_refuses_others(tmp_path):
    path = saved(identified_ct(), tmp_path / "slice.dcm")
    found = by_attribute(check_dicom(path))
    assert found["PatientName (0010,0010)"].file == str(path)
    assert len(found) == 15
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all")
    with pytest.raises(UnreadableFile, match=r"bad\.dcm: not a readable DICOM file"):
        check_dicom(bad)


def test_a_dicom_file_cut_short_is_unreadable_not_clean(tmp_path):
    whole = saved(identified_ct(), tmp_path / "whole.dcm").read_bytes()
    for size in (300, len(whole) // 2):
        cut = tmp_path / f"cut{size}.dcm"
        cut.write_bytes(whole[:size])
        with pytest.raises(UnreadableFile, match=rf"cut{size}\.dcm: no"):
            check_dicom(cut)
    with pytest.raises(UnreadableFile, match="no pixel data"):
        check_dicom(saved(identified_ct(), tmp_path / "header.dcm", pixels=False))


def nifti(path, *, descrip=b"", aux_file=b"", intent_name=b"", extension=None, version=1):
    klass = nib.Nifti1Image if version == 1 else nib.Nifti2Image
    image = klass(np.zeros((4, 4, 2), np.int16), np.eye(4))
    image.header["descrip"] = descrip
    image.header["aux_file"] = aux_file
    image.header["intent_name"] = intent_name
    if extension is not None:
        image.header.extensions.append(nib.nifti1.Nifti1Extension(*extension))
    nib.save(image, str(path))
    return path


def test_a_clean_nifti_has_no_findings(tmp_path):
    assert check_nifti(nifti(tmp_path / "a.nii.gz")) == []
    assert check_nifti(nifti(tmp_path / "b.nii", version=2)) == []


def test_nifti_text_fields_and_extensions_are_findings(tmp_path):
    path = nifti(tmp_path / "case.nii.gz", descrip=b"Doe Jane 1961-03-04", aux_file=b"mrn77.txt",
                 intent_name=b"jd", extension=(6, b"scanned by Dr House"))
    found = by_attribute(check_nifti(path, name="imagesTs/case.nii.gz"))
    assert {key: (f.rule, f.value_preview) for key, f in found.items()} == {
        "descrip (header field)": ("NIfTI text field", "Doe Jane 1961-03-04"),
        "aux_file (header field)": ("NIfTI text field", "mrn77.txt"),
        "intent_name (header field)": ("NIfTI text field", "jd"),
        "extension code 6 (comment)": ("NIfTI extension", "scanned by Dr House"),
    }
    assert {f.file for f in found.values()} == {"imagesTs/case.nii.gz"}


def test_nifti2_descrip_and_open_files(tmp_path):
    path = nifti(tmp_path / "c.nii.gz", descrip=b"Jane", version=2)
    with open(path, "rb") as handle:
        (finding,) = check_nifti(handle, name="c")
    assert finding.attribute == "descrip (header field)"


def test_db_name_of_nifti1(tmp_path):
    image = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    image.header["db_name"] = b"PACS-7"
    nib.save(image, str(tmp_path / "d.nii"))
    (finding,) = check_nifti(tmp_path / "d.nii")
    assert (finding.attribute, finding.value_preview) == ("db_name (header field)", "PACS-7")


@pytest.mark.parametrize("content", [b"", b"x" * 600, gzip.compress(b"y" * 600),
                                     b"\x1f\x8b broken gzip"])
def test_a_file_that_is_not_nifti_is_unreadable(tmp_path, content):
    path = tmp_path / "x.nii.gz"
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=r"x\.nii\.gz: not a"):
        check_nifti(path)

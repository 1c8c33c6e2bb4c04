"""De-identification checks of test images: DICOM attributes of the PS3.15 Basic Application
Level Confidentiality Profile and the text fields of NIfTI headers (docs/dicom.md,
"De-identification gate").

Pure library (pydicom, nibabel; no Django). :func:`check_dicom` and :func:`check_nifti` list
:class:`Finding` rows, one per attribute that may identify a patient; :func:`deidentify_dicom`
applies the profile below so that :func:`check_dicom` then finds nothing (the burned-in
annotation flag excepted: pixels are not cleaned).

DICOM rules (DICOM PS3.15 2024b, Annex E, Table E.1-1; action codes as the table gives them:
X remove, Z empty or dummy, D dummy, U replace UID, C clean, K keep):

==========================  =================================================  =============
what                        attributes (action)                                option keeping
==========================  =================================================  =============
patient identity            PatientName Z, PatientID Z, PatientBirthDate Z,    —
                            IssuerOfPatientID X, OtherPatientIDs X,
                            OtherPatientNames X, OtherPatientIDsSequence X,
                            PatientBirthName X, PatientBirthTime X,
                            PatientMotherBirthName X, MedicalRecordLocator X,
                            MilitaryRank X, BranchOfService X, Occupation X,
                            CountryOfResidence X, RegionOfResidence X,
                            PatientReligiousPreference X
addresses, telephones       PatientAddress X, PatientTelephoneNumbers X,       —
                            InstitutionAddress X, ReferringPhysicianAddress X,
                            ReferringPhysicianTelephoneNumbers X
patient characteristics     PatientSex Z, PatientAge X, PatientSize X,         retain_patient_
                            PatientWeight X, EthnicGroup X, SmokingStatus X,   characteristics
                            PregnancyStatus X                                  (default: kept)
dates and times             StudyDate Z, StudyTime Z, ContentDate Z/D,         retain_dates
                            ContentTime Z/D, SeriesDate X/D, SeriesTime X/D,   (birth date
                            AcquisitionDate X/D, AcquisitionTime X/D,          never kept)
                            AcquisitionDateTime X/D, InstanceCreationDate X/D,
                            InstanceCreationTime X/D, and any other element
                            of VR DA, DT or TM (X)
institution                 InstitutionName X/Z/D, InstitutionalDepartment-    —
                            Name X, InstitutionCodeSequence X/Z/D
people                      ReferringPhysicianName Z, PhysiciansOfRecord X,    —
                            PerformingPhysicianName X, OperatorsName X/Z/D,
                            NameOfPhysiciansReadingStudy X,
                            RequestingPhysician X, ContentCreatorName Z, and
                            any other element of VR PN (X)
study identifiers           AccessionNumber Z, StudyID Z, AdmissionID X,       —
                            RequestedProcedureID X, PerformedProcedureStepID X,
                            RequestAttributesSequence X
device                      DeviceSerialNumber X/Z/D, StationName X/Z/D        —
free text                   ImageComments X, PatientComments X,                —
                            AdditionalPatientHistory X, DerivationDescription X,
                            AdmittingDiagnosesDescription X, TextValue X,
                            RequestedProcedureDescription X/Z, ContentSequence X,
                            PerformedProcedureStepDescription X
descriptions                StudyDescription X, SeriesDescription X,           retain_
                            ProtocolName X/D                                   descriptors
private attributes          every data element of an odd group (X); its        safe_private
                            private creator element is no finding
overlays                    OverlayData (60xx,3000) X, OverlayComments X       —
burned-in annotation        BurnedInAnnotation "YES" (C: pixels need           — (never)
                            cleaning, which this module does not do)
==========================  =================================================  =============

Decisions: patient sex, age, size and weight are kept by default, as the Retain Patient
Characteristics Option does and TCIA's collections do (models may use them), but an age over
89 years (``090Y`` and up) is a finding even then (HIPAA Safe Harbor). UIDs (action U in the
profile) are no findings and are never replaced: Podium matches SEG objects, series and VOC
files by them (the Retain UIDs Option). ``PatientIdentityRemoved`` and
``DeidentificationMethod`` are recorded, not trusted: :func:`declared_deidentification`.

Empty and placeholder values are no findings. The exact rule: the value, with leading and
trailing spaces and NULs removed (for a person name also the ``^`` and ``=`` separators), is
empty or, ignoring case, one of :data:`PLACEHOLDERS`; a value of several items is a
placeholder when each item is; an empty sequence is none. Any other value is a finding,
pseudonyms such as ``LUNG1-001`` included: a program cannot tell a pseudonym from a real ID, so
the organizer accepts them once (the gate's review).
"""

import copy
import gzip
import io
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import nibabel as nib
import numpy as np
import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import Tag

NIFTI_TEXT_FIELDS = ("descrip", "aux_file", "intent_name", "db_name")

HIGH = "high"  # identifies a person, a date of care or a place (names, IDs, dates, addresses)
MEDIUM = "medium"  # may identify: free text, private attributes, devices, pixels, NIfTI text
PREVIEW_CHARS = 40
PLACEHOLDERS = frozenset({"ANONYMOUS", "ANONYMIZED", "ANONYMISED", "ANON", "REMOVED", "NONE",
                          "UNKNOWN", "N/A", "NA", "0"})


class UnreadableFile(ValueError):
    """A file that is not the DICOM or NIfTI it should be, so it could not be checked."""


@dataclass(frozen=True)
class Finding:
    """One attribute of one file that may identify a patient."""

    file: str
    attribute: str  # keyword and tag, "PatientName (0010,0010)"; nested: "Seq[0].PatientName ..."
    rule: str  # the table's row and action code, "patient identity (Z)"
    value_preview: str  # at most PREVIEW_CHARS characters
    severity: str  # HIGH or MEDIUM

    def to_dict(self) -> dict:
        return {"file": self.file, "attribute": self.attribute, "rule": self.rule,
                "value_preview": self.value_preview, "severity": self.severity}


@dataclass(frozen=True)
class DeidOptions:
    """The profile's options. ``safe_private``: (private creator, element byte) pairs an
    organizer vouches for, e.g. ``{("SIEMENS CSA HEADER", 0x08)}`` (Retain Safe Private
    Option; PS3.15 Table E.3.10-1 lists candidates)."""

    retain_dates: bool = False  # Retain Longitudinal Temporal Information Full Dates Option
    retain_patient_characteristics: bool = True  # Retain Patient Characteristics Option
    retain_descriptors: bool = False  # Clean Descriptors Option, descriptions reviewed by hand
    safe_private: frozenset = frozenset()


_ROWS = {  # what → (severity, option that keeps it or None, {keyword: action})
    "patient identity": (HIGH, None, {
        "PatientName": "Z", "PatientID": "Z", "PatientBirthDate": "Z", "IssuerOfPatientID": "X",
        "OtherPatientIDs": "X", "OtherPatientNames": "X", "OtherPatientIDsSequence": "X",
        "PatientBirthName": "X", "PatientBirthTime": "X", "PatientMotherBirthName": "X",
        "MedicalRecordLocator": "X", "MilitaryRank": "X", "BranchOfService": "X",
        "Occupation": "X", "CountryOfResidence": "X", "RegionOfResidence": "X",
        "PatientReligiousPreference": "X"}),
    "address or telephone": (HIGH, None, {
        "PatientAddress": "X", "PatientTelephoneNumbers": "X", "InstitutionAddress": "X",
        "ReferringPhysicianAddress": "X", "ReferringPhysicianTelephoneNumbers": "X"}),
    "patient characteristics": (MEDIUM, "retain_patient_characteristics", {
        "PatientSex": "Z", "PatientAge": "X", "PatientSize": "X", "PatientWeight": "X",
        "EthnicGroup": "X", "SmokingStatus": "X", "PregnancyStatus": "X"}),
    "date or time": (HIGH, "retain_dates", {
        "StudyDate": "Z", "StudyTime": "Z", "ContentDate": "Z/D", "ContentTime": "Z/D",
        "SeriesDate": "X/D", "SeriesTime": "X/D", "AcquisitionDate": "X/D",
        "AcquisitionTime": "X/D", "AcquisitionDateTime": "X/D", "InstanceCreationDate": "X/D",
        "InstanceCreationTime": "X/D"}),
    "institution": (HIGH, None, {
        "InstitutionName": "X/Z/D", "InstitutionalDepartmentName": "X",
        "InstitutionCodeSequence": "X/Z/D"}),
    "person name": (HIGH, None, {
        "ReferringPhysicianName": "Z", "PhysiciansOfRecord": "X", "PerformingPhysicianName": "X",
        "OperatorsName": "X/Z/D", "NameOfPhysiciansReadingStudy": "X",
        "RequestingPhysician": "X", "ContentCreatorName": "Z"}),
    "study identifier": (HIGH, None, {
        "AccessionNumber": "Z", "StudyID": "Z", "AdmissionID": "X", "RequestedProcedureID": "X",
        "PerformedProcedureStepID": "X", "RequestAttributesSequence": "X"}),
    "device": (MEDIUM, None, {"DeviceSerialNumber": "X/Z/D", "StationName": "X/Z/D"}),
    "free text": (MEDIUM, None, {
        "ImageComments": "X", "PatientComments": "X", "AdditionalPatientHistory": "X",
        "DerivationDescription": "X", "AdmittingDiagnosesDescription": "X", "TextValue": "X",
        "RequestedProcedureDescription": "X/Z", "ContentSequence": "X",
        "PerformedProcedureStepDescription": "X"}),
    "description": (MEDIUM, "retain_descriptors", {
        "StudyDescription": "X", "SeriesDescription": "X", "ProtocolName": "X/D"}),
}
PROFILE = {Tag(tag_for_keyword(keyword)): (what, action, severity, option)
           for what, (severity, option, actions) in _ROWS.items()
           for keyword, action in actions.items()}
"""The table above by tag: (row, action code, severity, option that keeps it or None)."""

_BY_VR = {"PN": ("person name", HIGH, None),
          "DA": ("date or time", HIGH, "retain_dates"),
          "DT": ("date or time", HIGH, "retain_dates"),
          "TM": ("date or time", HIGH, "retain_dates")}
_NEVER_KEPT = {Tag(tag_for_keyword(k)) for k in ("PatientBirthDate", "PatientBirthTime")}
_AGE = Tag(tag_for_keyword("PatientAge"))
_BURNED_IN = Tag(tag_for_keyword("BurnedInAnnotation"))
_DEID_CODES = {None: "113100", "retain_dates": "113106",
               "retain_patient_characteristics": "113108", "retain_descriptors": "113105",
               "safe_private": "113111", "uids": "113110"}  # CID 7050
_PIXEL_TAGS = (Tag(0x7FE0, 0x0010), Tag(0x7FE0, 0x0008), Tag(0x7FE0, 0x0009))
_DEFER_BYTES = 64 * 1024 * 1024
METHOD = "PS3.15 Basic Application Confidentiality Profile (Podium)"  # LO: 64 chars at most


def preview(value) -> str:
    """``value`` as at most :data:`PREVIEW_CHARS` printable characters ("…" when cut)."""
    if isinstance(value, bytes):
        text = value.rstrip(b"\x00 ").decode("latin-1")
        if any(not (c.isprintable() or c.isspace()) for c in text):
            return f"<{len(value)} bytes>"
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def is_placeholder(value, *, vr: str = "") -> bool:
    """Whether ``value`` is empty or a placeholder (the module's rule, quoted above)."""
    if value is None:
        return True
    if isinstance(value, MultiValue | list | tuple):
        return all(is_placeholder(item, vr=vr) for item in value)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = str(value).strip(" \x00")
    if vr == "PN":
        text = text.replace("^", "").replace("=", "").strip()
    return text == "" or text.upper() in PLACEHOLDERS


def _label(tag, keyword: str, path: str) -> str:
    name = keyword or ("private" if tag.is_private else "unknown")
    return f"{path}{name} ({tag.group:04X},{tag.element:04X})"


def _private_creator(dataset: Dataset, tag) -> str:
    creator = dataset.get((tag.group, tag.element >> 8))
    return str(creator.value).strip() if creator is not None else ""


def _rule_of(element: DataElement, dataset: Dataset, options: DeidOptions):
    """(row, action, severity) if ``element`` falls under the profile as ``options`` apply it,
    else None."""
    tag = element.tag
    if tag.is_private:
        if tag.is_private_creator:
            return None
        creator = _private_creator(dataset, tag)
        if (creator, tag.element & 0xFF) in options.safe_private:
            return None
        return f"private attribute of {creator or 'no creator'}", "X", MEDIUM
    if 0x6000 <= tag.group <= 0x60FF and tag.element in (0x3000, 0x4000):
        return "overlay", "X", MEDIUM
    if tag in PROFILE:
        what, action, severity, option = PROFILE[tag]
    elif element.VR in _BY_VR:
        (what, severity, option), action = _BY_VR[element.VR], "X"
    else:
        return None
    kept = option is not None and getattr(options, option) and tag not in _NEVER_KEPT
    if kept and not (tag == _AGE and _over_89(element.value)):
        return None
    return what, action, severity


def _over_89(age) -> bool:
    text = str(age or "").strip()
    return len(text) == 4 and text[3] == "Y" and text[:3].isdigit() and int(text[:3]) > 89


def check_dicom(dataset: Dataset | str | Path, *, options: DeidOptions = DeidOptions(),
                name: str | None = None) -> list[Finding]:
    """The findings of one DICOM file or dataset, nested sequences included. ``name`` labels
    them (default: the path, or the dataset's SOP Instance UID). Raises :class:`UnreadableFile`
    for a path that is not a DICOM image (:func:`read_dicom`)."""
    if not isinstance(dataset, Dataset):
        name = name or str(dataset)
        dataset = read_dicom(dataset, name=name, image=True)
    name = name or str(dataset.get("SOPInstanceUID", "dataset"))
    findings = []
    burned_in = dataset.get(_BURNED_IN)
    if burned_in is not None and str(burned_in.value).strip().upper() == "YES":
        findings.append(Finding(name, _label(_BURNED_IN, "BurnedInAnnotation", ""),
                                "burned-in annotation (C)", "YES", HIGH))
    findings.extend(_walk(dataset, options, name, ""))
    return findings


def read_dicom(source: str | Path | BinaryIO, *, name: str, image: bool = False) -> Dataset:
    """A DICOM file's attributes without its pixels; :class:`UnreadableFile` if not DICOM, or
    (``image``) if it holds no pixel data: a file cut short could otherwise pass the check with
    its later attributes never read. Pixel data over 64 MiB is never read (deferred)."""
    try:
        dataset = pydicom.dcmread(source, defer_size=_DEFER_BYTES)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError) as exc:
        raise UnreadableFile(f"{name}: not a readable DICOM file ({type(exc).__name__})") \
            from None
    if "SOPClassUID" not in dataset:
        raise UnreadableFile(f"{name}: not a DICOM object (no SOPClassUID)")
    pixels = [tag for tag in _PIXEL_TAGS if tag in dataset]
    if image and not pixels:
        raise UnreadableFile(f"{name}: no pixel data (a file cut short?)")
    for tag in pixels:
        del dataset[tag]
    return dataset


def _walk(dataset: Dataset, options: DeidOptions, name: str, path: str) -> list[Finding]:
    findings = []
    for element in dataset:
        rule = _rule_of(element, dataset, options)
        label = _label(element.tag, element.keyword, path)
        if element.VR == "SQ":
            items = element.value or Sequence()
            if rule is not None:  # a listed or private sequence: one finding for all of it
                if len(items):
                    findings.append(Finding(name, label, f"{rule[0]} ({rule[1]})",
                                            f"{len(items)} item(s)", rule[2]))
                continue
            for index, item in enumerate(items):
                findings.extend(_walk(item, options, name,
                                      f"{path}{element.keyword or 'private'}[{index}]."))
        elif rule is not None and not is_placeholder(element.value, vr=element.VR):
            findings.append(Finding(name, label, f"{rule[0]} ({rule[1]})",
                                    preview(element.value), rule[2]))
    return findings


def declared_deidentification(dataset: Dataset) -> str:
    """What the file says of its own de-identification (``PatientIdentityRemoved``,
    ``DeidentificationMethod`` and its codes), "" when nothing: recorded, never trusted."""
    parts = []
    if "PatientIdentityRemoved" in dataset:
        parts.append(f"PatientIdentityRemoved={dataset.PatientIdentityRemoved}")
    if "DeidentificationMethod" in dataset:
        parts.append(f"method: {preview(dataset.DeidentificationMethod)}")
    codes = [str(item.get("CodeValue", "")) for item in
             dataset.get("DeidentificationMethodCodeSequence", None) or []]
    if codes:
        parts.append("codes: " + ", ".join(codes))
    return "; ".join(parts)


def deidentify_dicom(dataset: Dataset, *, options: DeidOptions = DeidOptions()) -> Dataset:
    """A copy of ``dataset`` with the profile applied: every attribute :func:`check_dicom`
    would report removed (X, X/D, X/Z, X/Z/D, and private and overlay elements) or emptied
    (Z, Z/D: kept with a zero-length value, as type 2 attributes must stay). D is applied as
    X or Z, never as a made-up dummy. UIDs are kept (Retain UIDs Option); pixels are not
    cleaned, so a ``BurnedInAnnotation`` of YES stays, and stays a finding. The copy records
    ``PatientIdentityRemoved`` YES, ``DeidentificationMethod`` and the CID 7050 codes of the
    options used."""
    result = copy.deepcopy(dataset)
    _strip(result, options)
    result.PatientIdentityRemoved = "YES"
    result.DeidentificationMethod = METHOD
    used = [None, "uids"] + [option for option in _DEID_CODES
                             if option not in (None, "uids") and getattr(options, option)]
    codes = []
    for option in used:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator = _DEID_CODES[option], "DCM"
        codes.append(item)
    result.DeidentificationMethodCodeSequence = Sequence(codes)
    return result


def deidentify_file(source: Path, dest: Path, *, options: DeidOptions = DeidOptions()) -> None:
    """Write a de-identified copy of the test image ``source`` to ``dest``: a DICOM file
    (``.dcm``) through :func:`deidentify_dicom`, a NIfTI file (``.nii``/``.nii.gz``) with its
    text fields (``descrip``, ``aux_file``, ``intent_name``, ``db_name``) emptied and its header
    extensions dropped, the voxels and geometry unchanged. Other files are copied as they
    are (the check reports what it cannot read)."""
    name = source.name.lower()
    if name.endswith(".dcm"):
        try:
            dataset = pydicom.dcmread(source)  # pixels included: they are copied unchanged
        except (InvalidDicomError, EOFError, ValueError, KeyError) as exc:
            raise UnreadableFile(f"{source.name}: not a readable DICOM file "
                                 f"({type(exc).__name__})") from None
        deidentify_dicom(dataset, options=options).save_as(dest, enforce_file_format=True)
    elif name.endswith((".nii", ".nii.gz")):
        image = nib.load(source)
        header = image.header
        for field in NIFTI_TEXT_FIELDS:
            header[field] = b""
        header.extensions.clear()
        nib.save(nib.Nifti1Image(np.asanyarray(image.dataobj), image.affine, header), dest)
    else:
        shutil.copyfile(source, dest)


def _strip(dataset: Dataset, options: DeidOptions) -> None:
    for element in list(dataset):
        rule = _rule_of(element, dataset, options)
        if rule is None:
            for item in (element.value or []) if element.VR == "SQ" else []:
                _strip(item, options)
        elif rule[1].startswith("Z"):
            element.value = Sequence() if element.VR == "SQ" else ""
        else:
            del dataset[element.tag]


def check_nifti(source: str | Path | BinaryIO, *, name: str | None = None) -> list[Finding]:
    """The findings of a NIfTI-1 or NIfTI-2 header (``.nii`` or ``.nii.gz``, a path or an open
    binary file; only the header and its extensions are read): ``descrip``, ``aux_file``,
    ``intent_name`` and ``db_name`` when not empty (spaces and NULs aside), and every header
    extension, named by its code. Raises :class:`UnreadableFile` for anything else."""
    name = name or str(source)
    if isinstance(source, str | Path):
        with open(source, "rb") as handle:
            return check_nifti(handle, name=name)
    header = _read_nifti_header(source, name)
    findings = []
    for field in NIFTI_TEXT_FIELDS:
        value = header[field].item() if field in header else b""
        if value.strip(b" \x00"):
            findings.append(Finding(name, f"{field} (header field)", "NIfTI text field",
                                    preview(value), MEDIUM))
    for extension in header.extensions:
        code = extension.get_code()
        codes = nib.nifti1.extension_codes
        label = codes.label[code] if code in codes.value_set() else "unregistered"
        findings.append(Finding(name, f"extension code {code} ({label})", "NIfTI extension",
                                preview(extension.get_content()), MEDIUM))
    return findings


def _read_nifti_header(handle: BinaryIO, name: str):
    start = handle.read(2)
    handle.seek(0)
    stream = gzip.GzipFile(fileobj=handle, mode="rb") if start == b"\x1f\x8b" else handle
    try:
        head = stream.read(540 + 4)
        size = int.from_bytes(head[:4], "little")
        if size not in (348, 540):
            size = int.from_bytes(head[:4], "big")
        klass = {348: nib.Nifti1Header, 540: nib.Nifti2Header}.get(size)
        if klass is None or head[344 if size == 348 else 4:][:3] not in (b"n+1", b"ni1",
                                                                       b"n+2", b"ni2"):
            raise UnreadableFile(f"{name}: not a NIfTI file (no NIfTI header)")
        rest = io.BytesIO(head + _extension_bytes(stream, klass, head))
        return klass.from_fileobj(rest, check=False)
    except (OSError, EOFError, ValueError) as exc:
        if isinstance(exc, UnreadableFile):
            raise
        raise UnreadableFile(f"{name}: not a readable NIfTI file ({type(exc).__name__})") \
            from None


def _extension_bytes(stream, klass, head: bytes) -> bytes:
    """The bytes after the header up to ``vox_offset`` (where the extensions are), capped at
    64 MiB so a hostile offset cannot make the check read a whole volume."""
    header = klass(head[: klass.template_dtype.itemsize], check=False)
    offset = int(header["vox_offset"])
    wanted = min(max(offset - len(head), 0), 64 * 1024 * 1024)
    return stream.read(wanted) if wanted else b""

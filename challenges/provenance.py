"""Provenance of a ground-truth version: where its labels come from (collection, version, DOI,
licence, URL, reference), the import's manifest and the source's own content hash.

One place for the rules, read by the importer (``dataset.json``), the console, the organizer
API, the pages and the exports:

* :func:`from_dataset` maps an MSD ``dataset.json`` (``release`` → version, ``licence``,
  ``reference``; a DOI or URL found in ``reference``) and its optional ``provenance`` block,
  which is validated and wins field by field.
* :func:`clean` validates given values (API names: :data:`FIELDS`), each error naming its field.
* :func:`public` is what participants and visitors see: everything but the manifest (which may
  name the test subjects, and so where their labels can be looked up). Never a label file or a
  storage path.
"""

import hashlib
import json
import re
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from core.errors import InvalidInput

FIELDS = {  # API name → (model field, most characters)
    "collection": ("source_collection", 200),
    "version": ("source_version", 100),
    "doi": ("source_doi", 200),
    "licence": ("source_licence", 200),
    "url": ("source_url", 500),
    "reference": ("source_reference", 1000),
}
"""The descriptive fields: set by the import, editable afterwards by the organizers."""
IMPORTED = {"manifest": "source_manifest", "sha256": "source_sha256"}
"""Set by the import only: what was imported, which editing by hand would falsify."""
EDITABLE_FIELDS = tuple(model_field for model_field, _ in FIELDS.values())
MANIFEST_MAX_BYTES = 1024 * 1024
"""The most a manifest may hold, as compact JSON (about 5,000 subjects with their series and
SEG UIDs)."""

DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>]+")
_DOI_PREFIXES = re.compile(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = URLValidator(schemes=["http", "https"])


def clean_value(name: str, value) -> object:
    """The stored form of provenance field ``name`` (an API name of :data:`FIELDS` or
    :data:`IMPORTED`) given ``value``; ValueError with what was expected otherwise. Empty text
    clears a field."""
    if name == "manifest":
        return _clean_manifest(value)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    value = value.strip()
    if name == "sha256":
        value = value.lower()
        if value and not _SHA256.fullmatch(value):
            raise ValueError("expected a SHA-256 digest: 64 hexadecimal digits")
        return value
    limit = FIELDS[name][1]
    if len(value) > limit:
        raise ValueError(f"at most {limit} characters (got {len(value)})")
    if _CONTROL.search(value):
        raise ValueError("one line of text without control characters")
    if name == "doi" and value:
        value = _DOI_PREFIXES.sub("", value)
        if not DOI.fullmatch(value):
            raise ValueError(f"{value!r} is not a DOI: expected 10.NNNN/suffix, e.g. "
                             "10.7937/K9/TCIA.2015.PF0M9REI (a doi.org link is accepted too)")
    if name == "url" and value:
        try:
            _URL(value)
        except ValidationError:
            raise ValueError(f"{value!r} is not an http(s) URL") from None
    return value


def _clean_manifest(value) -> dict | list:
    if value is None:
        return {}
    if not isinstance(value, dict | list):
        raise ValueError(f"expected a JSON object or list, got {type(value).__name__}")
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MANIFEST_MAX_BYTES:
        raise ValueError(f"at most {MANIFEST_MAX_BYTES // 1024} KiB as JSON (got "
                         f"{size // 1024} KiB)")
    return value


def clean(given: Mapping, *, imported: bool = False) -> tuple[dict, dict[str, str]]:
    """``given`` (API names) validated: the model fields to store and the errors by API name
    (an unknown name is an error too). ``imported``: the import's own ``manifest`` and
    ``sha256`` are accepted as well."""
    known = {**FIELDS, **(IMPORTED if imported else {})}
    stored, errors = {}, {}
    for name, value in given.items():
        if name not in known:
            errors[str(name)] = f"not a provenance field; expected one of {', '.join(known)}"
            continue
        try:
            stored[FIELDS[name][0] if name in FIELDS else IMPORTED[name]] = clean_value(
                name, value)
        except ValueError as exc:
            errors[name] = str(exc)
    return stored, errors


def from_dataset(dataset: Mapping) -> dict:
    """The provenance fields (model names) of a ground truth imported with ``dataset``
    (``dataset.json``). MSD's own keys are read leniently, as the task's are (cut to length;
    a DOI or http(s) link in ``reference`` picked out); a ``provenance`` block is validated,
    and an error names ``dataset.json``, the block and the field."""
    reference = _text(dataset.get("reference"), FIELDS["reference"][1])
    fields = {"source_version": _text(dataset.get("release"), FIELDS["version"][1]),
              "source_licence": _text(dataset.get("licence"), FIELDS["licence"][1]),
              "source_reference": reference}
    found = DOI.search(reference)
    if found:
        fields["source_doi"] = found.group().rstrip(".,;)")
    link = re.search(r"https?://[^\s\"<>]+", reference)
    if link and len(link.group()) <= FIELDS["url"][1]:
        fields["source_url"] = link.group().rstrip(".,;)")
    block = dataset.get("provenance")
    if block is None:
        return fields
    if not isinstance(block, dict):
        raise InvalidInput('dataset.json: "provenance" must be a JSON object with collection, '
                           "version, doi, licence, url (optional: reference, manifest, sha256)")
    stored, errors = clean(block, imported=True)
    if errors:
        raise InvalidInput("dataset.json: " + "; ".join(
            f"provenance.{name}: {message}" for name, message in errors.items()))
    return {**fields, **stored}


def _text(value, limit: int) -> str:
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub(" ", value).strip()[:limit]


def doi_url(doi: str) -> str:
    return f"https://doi.org/{doi}" if doi else ""


def manifest_sha256(manifest) -> str:
    """The digest of a manifest as canonical JSON (sorted keys, compact): public, where the
    manifest is not. Empty without a manifest."""
    if not manifest:
        return ""
    text = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def public(ground_truth) -> dict:
    """What anyone who may see the version sees of it: its number and its source (API names,
    ``doi_url`` added, the manifest only as its digest). Not the hash of the label files: for
    a small label set (a clinical CSV of a few dozen binary labels) it would let anyone test
    guesses of the hidden labels offline; the organizers see it (:func:`organizer_view`)."""
    return {
        "ground_truth_version": ground_truth.version,
        **{name: getattr(ground_truth, model_field)
           for name, (model_field, _) in FIELDS.items()},
        "doi_url": doi_url(ground_truth.source_doi),
        "source_sha256": ground_truth.source_sha256,
        "manifest_sha256": manifest_sha256(ground_truth.source_manifest),
    }


def organizer_view(ground_truth) -> dict:
    """:func:`public` plus what only the organizers see: the manifest, who imported it, when
    the provenance was last edited."""
    user = ground_truth.imported_by
    changed = ground_truth.provenance_changed
    return {**public(ground_truth), "ground_truth_sha256": ground_truth.content_sha256,
            "manifest": ground_truth.source_manifest,
            "imported_at": ground_truth.created.isoformat(),
            "imported_by": user.get_username() if user else None,
            "provenance_changed": changed.isoformat() if changed else None}


CSV_COLUMNS = ("ground_truth_version", "collection", "version", "doi", "licence", "url",
               "source_sha256")
"""The provenance columns of the CSV exports, in this order, under these names prefixed
``source_`` where they would read ambiguously (:func:`csv_header`)."""


def csv_header() -> list[str]:
    return [name if name.startswith("ground_truth") or name == "source_sha256"
            else f"source_{name}" for name in CSV_COLUMNS]


def csv_cells(source: Mapping | None) -> list:
    """The provenance cells of one CSV row from :func:`public`'s ``source`` (empty cells
    without a ground truth)."""
    if source is None:
        return [None] * len(CSV_COLUMNS)
    return [source[name] for name in CSV_COLUMNS]


def citation_text(task, ground_truth) -> str:
    """A plain citation of the task's data as one ground-truth version records it: "Reference.
    Collection (Version) [Data set]. Licence. https://doi.org/DOI" (the parts it has), as
    DataCite's recommended data citation orders them."""
    parts = [ground_truth.source_reference.rstrip(".")] if ground_truth.source_reference else []
    title = ground_truth.source_collection or task.name
    if ground_truth.source_version:
        title += f" (version {ground_truth.source_version})"
    parts.append(f"{title} [Data set]")
    if ground_truth.source_licence:
        parts.append(f"Licence: {ground_truth.source_licence}")
    link = doi_url(ground_truth.source_doi) or ground_truth.source_url
    return ". ".join(parts) + "." + (f" {link}" if link else "")


def bibtex(task, ground_truth) -> str:
    """A BibTeX ``@misc`` entry for the data, keyed by the task and the version."""
    key = re.sub(r"[^A-Za-z0-9]+", "_", f"{task.key}_v{ground_truth.version}")
    fields = [("title", ground_truth.source_collection or task.name),
              ("version", ground_truth.source_version),
              ("note", ground_truth.source_reference),
              ("doi", ground_truth.source_doi),
              ("url", doi_url(ground_truth.source_doi) or ground_truth.source_url),
              ("howpublished", f"Licence: {ground_truth.source_licence}"
               if ground_truth.source_licence else "")]
    body = ",\n".join(f"  {name} = {{{_bibtex_escape(value)}}}" for name, value in fields
                      if value)
    return f"@misc{{{key},\n{body}\n}}"


def _bibtex_escape(value: str) -> str:
    return re.sub(r"([{}\\])", r"\\\1", value)


def differs(ground_truth, fields: Mapping) -> bool:
    """Whether ``fields`` (model names, as :func:`from_dataset` gives them) describe another
    source than ``ground_truth`` records (who imported it aside)."""
    return any(getattr(ground_truth, name) != value for name, value in fields.items()
               if name != "imported_by")


def sources(task) -> list[dict]:
    """The ground-truth versions ``task``'s phases score against (prefetched with their active
    version), each once, newest first: its public provenance, the phases, and its citations."""
    by_version: dict = {}
    for phase in task.phases.all():
        ground_truth = phase.active_ground_truth
        if ground_truth is not None:
            by_version.setdefault(ground_truth.version, (ground_truth, []))[1].append(phase.name)
    return [{"task": task, "phases": names, **public(ground_truth),
             "citation": citation_text(task, ground_truth),
             "bibtex": bibtex(task, ground_truth)}
            for _, (ground_truth, names) in sorted(by_version.items(), reverse=True)]

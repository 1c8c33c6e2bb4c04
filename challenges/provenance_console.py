"""The console's form of a ground-truth version's provenance: the descriptive fields
(collection, version, DOI, licence, URL, reference) editable and validated by
:func:`challenges.provenance.clean_value`; the labels, the manifest and the source's hash stay
as the import recorded them."""

import json

from django import forms
from django.utils import timezone
from django.utils.html import format_html

from . import provenance
from .models import GroundTruth

LABELS = {"source_collection": "Collection", "source_version": "Collection version",
          "source_doi": "DOI", "source_licence": "Licence", "source_url": "Source URL",
          "source_reference": "Reference"}
MANIFEST_SHOWN_CHARS = 20_000
"""The most of a manifest the page shows (the whole is in the organizer API)."""


class ProvenanceForm(forms.ModelForm):
    class Meta:
        model = GroundTruth
        fields = list(provenance.EDITABLE_FIELDS)
        labels = LABELS
        field_classes = {"source_url": forms.CharField}  # clean_value checks it (http(s))
        help_texts = {
            "source_doi": "e.g. 10.7937/K9/TCIA.2015.PF0M9REI (a https://doi.org/ link is "
                          "accepted too).",
            "source_url": "The collection's page (http or https).",
            "source_reference": "Who released the data, or the paper to cite with it.",
        }
        widgets = {"source_reference": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        by_field = {field: name for name, (field, _) in provenance.FIELDS.items()}
        for field, name in by_field.items():
            if field in self.fields:
                self.fields[field].validators = []  # clean_value says it once, in words
                setattr(self, f"clean_{field}", _cleaner(self, field, name))


def _cleaner(form: forms.ModelForm, field: str, name: str):
    def clean():
        try:
            return provenance.clean_value(name, form.cleaned_data.get(field))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
    return clean


def save_provenance(ground_truth: GroundTruth, changed: list[str]) -> None:
    """Store the changed provenance fields of ``ground_truth`` (its labels stay immutable)."""
    fields = [name for name in changed if name in provenance.EDITABLE_FIELDS]
    if fields:
        ground_truth.provenance_changed = timezone.now()
        ground_truth.save(update_fields=[*fields, "provenance_changed"])


def manifest_html(ground_truth: GroundTruth) -> str:
    """The import's manifest as indented JSON (cut after :data:`MANIFEST_SHOWN_CHARS`)."""
    if not ground_truth.source_manifest:
        return "—"
    text = json.dumps(ground_truth.source_manifest, indent=1, ensure_ascii=False)
    if len(text) > MANIFEST_SHOWN_CHARS:
        text = text[:MANIFEST_SHOWN_CHARS] + "\n… (the whole manifest: the organizer API)"
    return format_html('<pre class="manifest">{}</pre>', text)

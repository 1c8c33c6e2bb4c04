"""Medical-image input/output that is not scoring: DICOM series and Segmentation objects to
volumes, and de-identification checks. A pure library like scorers (no Django, no app)."""

"""The one exception family for bad input to the imaging library.

``imaging`` sits below ``scorers`` in the layers (pyproject.toml), so it cannot raise
:class:`scorers.errors.InputError`; :class:`DicomError` has the same shape (a ``ValueError``
whose message is for the person who supplied the files). Callers in the apps translate both the
same way (``core.errors``).
"""


class DicomError(ValueError):
    """DICOM input that cannot be converted as given.

    The message names the series, file or segment and says what was found and what was
    expected ("series 1.2.3: slice spacing is not uniform (2.5 mm expected, 5.0 mm between
    slices 11 and 12)"). File names are given as the caller named them (relative to the
    collection folder), never as a server path; no pixel or label content is quoted.
    """

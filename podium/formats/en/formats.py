"""Dates in Django's own rendering (the console, forms) in the site's one format:
"2026-12-07 14:05 UTC", as core/templatetags/when.py renders them on pages."""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"

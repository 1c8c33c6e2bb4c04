"""The upload settings the submission page's script needs (static/uploads.js)."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def upload_chunk_bytes() -> int:
    """The largest chunk of an upload in chunks: a larger file goes in chunks from the page,
    a smaller one whole, in one request."""
    return settings.PODIUM_UPLOAD_CHUNK_BYTES

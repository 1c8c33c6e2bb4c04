"""The organizers' Markdown, rendered for the challenge pages and made safe.

Markdown (CommonMark with tables and strikethrough, by markdown-it-py) becomes HTML, raw HTML
included, and then only what the allow-list below keeps reaches a page (nh3, the Python binding
of the Rust sanitizer ammonia): text structure, tables, links and images. Everything else goes:
scripts and styles with their content, other tags (their text stays), event handlers, style
and class attributes, comments. Links may point to http, https, mailto or a relative address
and get ``rel="noopener noreferrer nofollow"``; images load from https addresses only, so a
page never mixes insecure content and never requests a path of this site on a visitor's
behalf.
"""

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote",
    "ul", "ol", "li", "dl", "dt", "dd",
    "strong", "em", "b", "i", "del", "s", "sub", "sup", "code", "pre", "abbr",
    "table", "thead", "tbody", "tr", "th", "td",
    "a", "img", "details", "summary",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "abbr": {"title"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"

_markdown = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _only_https_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not value.lower().startswith("https://"):
        return None
    return value


_cleaner = nh3.Cleaner(
    tags=TAGS,
    clean_content_tags={"script", "style"},
    attributes=ATTRIBUTES,
    attribute_filter=_only_https_images,
    url_schemes=URL_SCHEMES,
    link_rel=LINK_REL,
    strip_comments=True,
)


def render(text: str) -> SafeString:
    """``text`` (Markdown, possibly with raw HTML) as sanitised HTML, safe to put in a page."""
    return mark_safe(_cleaner.clean(_markdown.render(text)))  # noqa: S308 - sanitised above

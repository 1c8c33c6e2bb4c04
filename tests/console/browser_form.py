"""What a browser sends when a console form is saved as it was served: the form's own inputs,
selects and text areas with their initial values (a real client, no form object)."""

from html.parser import HTMLParser


class _FormValues(HTMLParser):
    def __init__(self, pick: bool):
        super().__init__(convert_charrefs=True)
        self.pick = pick
        self.values: list[tuple[str, str]] = []
        self._in_form = False
        self._select: str | None = None
        self._select_first: str | None = None
        self._selected = False
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method", "").lower() == "post":
            self._in_form = True
        if not self._in_form or "disabled" in attrs:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.values.append((name, attrs.get("value", "on")))
            elif kind not in ("submit", "file", "button"):
                self.values.append((name, attrs.get("value", "")))
        elif tag == "select" and name:
            self._select, self._select_first, self._selected = name, None, False
        elif tag == "option" and self._select:
            value = attrs.get("value", "")
            if self._select_first is None and (value or not self.pick):
                self._select_first = value
            if "selected" in attrs:
                self.values.append((self._select, value))
                self._selected = True
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select:
            if not self._selected and self._select_first is not None:
                self.values.append((self._select, self._select_first))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.values.append((self._textarea, "".join(self._text).removeprefix("\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)


def served_values(html: str, *, pick: bool = False) -> dict[str, list[str]]:
    """The form fields of the page's POST form, as a browser would submit them untouched
    (``pick``: with the first real choice of every list that offers none)."""
    parser = _FormValues(pick)
    parser.feed(html)
    data: dict[str, list[str]] = {}
    for name, value in parser.values:
        data.setdefault(name, []).append(value)
    return data

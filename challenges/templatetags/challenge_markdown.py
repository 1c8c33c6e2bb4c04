"""``{{ text|markdown }}``: an organizer's Markdown as sanitised HTML (challenges/markdown.py)."""

from django import template

from challenges.markdown import render

register = template.Library()


@register.filter
def markdown(text: str):
    return render(text or "")

"""People named on pages in one way: ``{{ user|person }}`` gives the full name they gave at
sign-up (their profile's), else their username. Django's first and last names are never filled
by sign-up, so pages never show them."""

from django import template

register = template.Library()


def display_name(user) -> str:
    """``user``'s full name from their profile, else their username. Read by attribute (a
    missing profile reads as None): core sits below accounts, which defines profiles."""
    profile = getattr(user, "profile", None)
    full_name = (getattr(profile, "full_name", "") or "").strip()
    return full_name or user.get_username()


@register.filter
def person(user) -> str:
    return "—" if user is None else display_name(user)

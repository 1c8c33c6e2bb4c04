"""The profile page, the header's account links, and allauth's pages in Podium's page."""

import re

import pytest
from django.test import Client

from accounts.models import Profile
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_header_offers_sign_up_and_log_in_then_profile_and_log_out():
    anonymous = Client().get("/accounts/login/").content.decode()
    assert 'href="/accounts/signup/"' in anonymous and 'href="/accounts/login/?next=' in anonymous
    assert "/accounts/profile/" not in anonymous
    client = Client()
    client.force_login(factories.user("hal"))
    page = client.get("/accounts/profile/").content.decode()
    assert 'href="/accounts/profile/"' in page and 'action="/accounts/logout/"' in page
    assert 'href="/accounts/signup/"' not in page


def test_the_profile_page_needs_a_login_and_saves_name_and_affiliation():
    assert Client().get("/accounts/profile/")["Location"] == \
        "/accounts/login/?next=/accounts/profile/"
    user = factories.user("ida", password="ida-password")
    client = Client()
    page = client.get("/accounts/login/?next=/accounts/profile/").content.decode()
    assert 'name="next" value="/accounts/profile/"' in page
    back = client.post("/accounts/login/", {"login": "ida", "password": "ida-password",
                                            "next": "/accounts/profile/"})
    assert back["Location"] == "/accounts/profile/"
    page = client.get("/accounts/profile/").content.decode()
    assert 'href="/accounts/email/"' in page and 'href="/accounts/password/change/"' in page
    response = client.post("/accounts/profile/", {"full_name": "Ida Rhodes",
                                                  "affiliation": "National Bureau of Standards"})
    assert response.status_code == 302
    profile = Profile.objects.get(user=user)
    assert profile.full_name == "Ida Rhodes"
    assert profile.affiliation == "National Bureau of Standards"
    too_long = client.post("/accounts/profile/", {"full_name": "x" * 201, "affiliation": ""})
    assert too_long.status_code == 200 and 'class="error"' in too_long.content.decode()
    assert Profile.objects.get(user=user).full_name == "Ida Rhodes"


def test_allauth_pages_render_inside_podiums_page_without_inline_code():
    """The content policy would block inline scripts and styles (docs/security.md)."""
    client = Client()
    pages = ["/accounts/password/reset/", "/accounts/confirm-email/", "/accounts/signup/"]
    for url in pages:
        assert_plain_podium_page(client.get(url).content.decode(), url)
    client.force_login(factories.user("jo"))
    for url in ("/accounts/email/", "/accounts/password/change/", "/accounts/logout/"):
        assert_plain_podium_page(client.get(url).content.decode(), url)


def assert_plain_podium_page(page: str, url: str) -> None:
    assert '<header class="top">' in page and page.count("<html") == 1, url
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == [], url
    assert " style=" not in page and "<style" not in page, url

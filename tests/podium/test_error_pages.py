"""Errors answer with the site's own pages: header, navigation and a way back, not Django's
bare defaults; the 500 page needs nothing that could fail again."""

import pytest
from django.test import Client, RequestFactory
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_an_unknown_page_has_the_sites_look():
    response = Client().get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in body and 'class="top"' in body and "All challenges" in body
    assert "The requested resource was not found on this server" not in body


def test_the_server_error_page_stands_alone():
    response = server_error(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body and "{%" not in body and "Traceback" not in body

"""Password reset by mail and password change, through the real pages and real SMTP."""

import pytest
from django.test import Client

from .pages import PASSWORD, log_in, logged_in, verified_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-longer-passphrase-4"


def test_password_reset_by_mail(mailbox):
    verified_user(mailbox, "dora", "dora@example.org")
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": "dora@example.org"})
    assert response.status_code == 302
    reset_mail = mailbox.wait_for("dora@example.org", 2)
    link = mailbox.link(reset_mail)
    assert "/accounts/password/reset/key/" in link
    # allauth moves the key from the link into the session, then shows the form.
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and "password1" in form_page.content.decode()
    assert form_page.redirect_chain  # to the same page without the key in its address
    done = client.post(form_page.redirect_chain[-1][0],
                       {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert log_in(Client(), "dora", PASSWORD).status_code == 200  # the old one is refused
    fresh = Client()
    assert log_in(fresh, "dora@example.org", NEW_PASSWORD).status_code == 302
    assert logged_in(fresh)
    # The link works once.
    assert "password1" not in Client().get(link, follow=True).content.decode()


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_no_link(mailbox):
    verified_user(mailbox, "eve", "eve@example.org")
    unknown = Client().post("/accounts/password/reset/", {"email": "nobody@example.org"})
    known = Client().post("/accounts/password/reset/", {"email": "eve@example.org"})
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"]
    mailbox.wait_for("eve@example.org", 2)
    # allauth tells the address that it has no account here: no key in it.
    (notice,) = mailbox.to("nobody@example.org")
    assert "/password/reset/key/" not in notice.get_body(("plain",)).get_content()


def test_password_change(mailbox):
    verified_user(mailbox, "finn", "finn@example.org")
    client = Client()
    assert log_in(client, "finn").status_code == 302
    assert client.get("/accounts/password/change/").status_code == 200
    wrong = client.post("/accounts/password/change/", {
        "oldpassword": "not-it", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert wrong.status_code == 200
    changed = client.post("/accounts/password/change/", {
        "oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert changed.status_code == 302
    assert logged_in(client)  # the session that changed it stays logged in
    assert log_in(Client(), "finn", PASSWORD).status_code == 200
    assert log_in(Client(), "finn", NEW_PASSWORD).status_code == 302

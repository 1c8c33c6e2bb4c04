"""Managing one's email addresses: add one, verify it by mail, make it the primary one."""

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from .pages import confirm, log_in, logged_in, verified_user

pytestmark = pytest.mark.django_db


def test_add_verify_and_make_primary_a_second_address(mailbox):
    verified_user(mailbox, "kai", "kai@example.org")
    client = Client()
    assert log_in(client, "kai").status_code == 302
    added = client.post("/accounts/email/", {"action_add": "", "email": "kai@work.example"})
    assert added.status_code == 302
    second = EmailAddress.objects.get(email="kai@work.example")
    assert not second.verified
    # An unverified address cannot be made the primary one.
    client.post("/accounts/email/", {"action_primary": "", "email": "kai@work.example"})
    second.refresh_from_db()
    assert not second.primary
    assert confirm(client, mailbox, "kai@work.example").status_code == 302
    client.post("/accounts/email/", {"action_primary": "", "email": "kai@work.example"})
    second.refresh_from_db()
    assert second.verified and second.primary
    by_new_address = Client()
    assert log_in(by_new_address, "kai@work.example").status_code == 302
    assert logged_in(by_new_address)
    # The last address cannot be removed (every account keeps one it can be reached at).
    client.post("/accounts/email/", {"action_remove": "", "email": "kai@example.org"})
    client.post("/accounts/email/", {"action_remove": "", "email": "kai@work.example"})
    assert list(EmailAddress.objects.filter(user__username="kai")
                .values_list("email", flat=True)) == ["kai@work.example"]

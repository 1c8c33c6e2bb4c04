"""The console's phase form names its date and time boxes for assistive technology."""

import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db


def test_date_and_time_boxes_have_names():
    phase = factories.phase()
    admin = factories.user("labels-admin", staff=True)
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/challenges/phase/{phase.id}/change/").content.decode()
    for field in ("opens at", "closes at"):
        assert f'aria-label="{field}: date"' in page and f'aria-label="{field}: time"' in page
    assert "console.css" in page

"""The mail preferences on the profile page: results for everyone, the organizer mail choice
for organizers only."""

import pytest
from django.test import Client

from accounts.models import Profile
from tests import factories

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_participant_opts_out_of_result_mails_and_sees_no_organizer_choice(phase):
    pia = factories.participant(phase, "pia")
    client = logged_in(pia)
    page = client.get("/accounts/profile/").content.decode()
    assert 'name="notify_results"' in page and "checked" in page
    assert 'name="organizer_digest"' not in page
    response = client.post("/accounts/profile/", {"full_name": "Pia", "affiliation": ""})
    assert response.status_code == 302
    assert Profile.objects.get(user=pia).notify_results is False
    client.post("/accounts/profile/", {"full_name": "Pia", "affiliation": "",
                                       "notify_results": "on", "organizer_digest": "off"})
    profile = Profile.objects.get(user=pia)
    assert profile.notify_results is True and profile.organizer_digest == Profile.IMMEDIATE


def test_an_organizer_chooses_the_daily_digest(phase):
    olly = factories.user("olly")
    phase.task.challenge.organizers.add(olly)
    client = logged_in(olly)
    page = client.get("/accounts/profile/").content.decode()
    assert 'name="organizer_digest" value="immediate"' in page and "One daily digest" in page
    client.post("/accounts/profile/", {"full_name": "", "affiliation": "",
                                       "organizer_digest": "daily"})
    assert Profile.objects.get(user=olly).organizer_digest == Profile.DAILY
    refused = client.post("/accounts/profile/", {"organizer_digest": "hourly"})
    assert refused.status_code == 200 and 'class="error"' in refused.content.decode()
    assert Profile.objects.get(user=olly).organizer_digest == Profile.DAILY

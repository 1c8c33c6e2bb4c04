"""Creating a challenge in the console: a platform administrator grants a staff user the
platform's "Can add challenge" permission; that user adds challenges, becomes their organizer,
and still sees only the challenges they organize. Staff without the permission cannot add."""

import pytest
from django.contrib.auth.models import Permission

from challenges.models import Challenge
from tests.security.test_roles import logged_in, staff_user

pytestmark = pytest.mark.django_db

ADD = "/admin/challenges/challenge/add/"
CHANGELIST = "/admin/challenges/challenge/"


def creator(username: str):
    user = staff_user(username)
    user.user_permissions.add(Permission.objects.get(codename="add_challenge",
                                                     content_type__app_label="challenges"))
    return user


def form(slug: str, **fields) -> dict:
    return {"title": slug.title(), "slug": slug, "description": "", "terms": "",
            "overview": "## Aims", "rules": "", "data_description": "", "timeline": "",
            "citation": "", "requires_approval": "on", **fields}


def test_a_granted_staff_user_creates_a_challenge_and_organizes_only_it(world):
    client = logged_in(creator("maker"))
    index = client.get("/admin/")
    assert [m["object_name"] for app in index.context["app_list"] for m in app["models"]] == \
        ["Challenge"]
    assert client.get(CHANGELIST).context["cl"].result_count == 0
    assert client.get(ADD).status_code == 200
    preview = client.post("/admin/challenges/challenge/preview/", {"text": "## Aims"})
    assert preview.json()["html"].startswith("<h2>Aims</h2>")

    response = client.post(ADD, form("makers-decathlon"))
    assert response.status_code == 302, response.content.decode()[-2000:]
    made = Challenge.objects.get(slug="makers-decathlon")
    assert list(made.organizers.values_list("username", flat=True)) == ["maker"]
    assert made.requires_approval and made.overview == "## Aims"

    listed = client.get(CHANGELIST).context["cl"].result_list
    assert [row.slug for row in listed] == ["makers-decathlon"]
    change = f"/admin/challenges/challenge/{made.id}/change/"
    assert client.post(change, form("makers-decathlon", title="Renamed")).status_code == 302
    made.refresh_from_db()
    assert made.title == "Renamed"
    # Another organizer's challenge stays out of reach.
    assert client.get(f"/admin/challenges/challenge/{world.a.id}/change/").status_code == 404
    assert client.post(f"/admin/challenges/challenge/{world.a.id}/change/",
                       form(world.a.slug, title="Taken")).status_code == 404
    world.a.refresh_from_db()
    assert world.a.title == "Alpha Decathlon"
    # The creator cannot make themselves organizer of more than what they create.
    assert made.organizers.count() == 1 and not world.a.organizers.filter(
        username="maker").exists()


def test_staff_without_the_permission_cannot_add(world):
    for user in (world.staff, world.organizer_a):
        client = logged_in(user)
        assert client.get(ADD).status_code == 403, user
        assert client.post(ADD, form(f"by-{user.username}")).status_code == 403, user
    assert not Challenge.objects.filter(slug__startswith="by-").exists()
    assert logged_in(world.staff).get(CHANGELIST).status_code == 403


def test_a_platform_administrator_names_the_organizers_and_is_not_added(world):
    client = logged_in(world.superuser)
    response = client.post(ADD, form("admins-decathlon", organizers=[world.organizer_a.pk]))
    assert response.status_code == 302, response.content.decode()[-2000:]
    made = Challenge.objects.get(slug="admins-decathlon")
    assert list(made.organizers.all()) == [world.organizer_a]

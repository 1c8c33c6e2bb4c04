"""The API's resources (docs/api.md, "Resources"): a challenge's pages and tasks, the caller's
participation and team, a team's submissions, a submission's evaluations with labels by value
and name, a phase's test data as links, the leaderboards' exports and statistics, and the
algorithm images — each shown to whom the pages show it, never with label content or a storage
path, and each list at a cost in queries that does not grow with its rows."""

import json
import urllib.request

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Profile
from challenges.models import Participation, Phase, Task
from challenges.services.participation import create_team, join_team
from core.storage import private_storage
from evaluation.models import CaseResult, Submission
from leaderboard import services
from tests import factories
from tests.challenges.test_downloads import s3_private  # noqa: F401  (a fixture)
from tests.leaderboard.helpers import challenge_phases, labelled_phase, random_board

pytestmark = pytest.mark.django_db

LABELS = {"1": "liver", "2": "tumour"}
IMAGE_BYTES = {"c0": b"\x1f\x8b image zero " * 40, "c1": b"\x1f\x8b image one " * 30}


class Cast:
    """A challenge with a phase (labels liver and tumour, two stored test images), its
    organizer, team Alpha (alice, who submitted, and her teammate amos), team Beta (bob) and a
    rejected participant (rita)."""

    def __init__(self, slug: str = "res", **phase_fields):
        self.phase = labelled_phase(cases=("c0", "c1"), labels=LABELS, slug=slug,
                                    **{"show_scores": True, "show_case_results": True,
                                       **phase_fields})
        self.task, self.challenge = self.phase.task, self.phase.task.challenge
        tag = "" if slug == "res" else f"-{slug}"  # usernames unique across casts
        self.challenge.overview = "# Welcome\n\nSee <script>alert(1)</script>**the data**."
        self.challenge.rules = "1. Be *fair*."
        self.challenge.save()
        self.organizer = factories.user("olga" + tag)
        self.challenge.organizers.add(self.organizer)
        Profile.objects.create(user=self.organizer, full_name="Olga Organizer")
        self.alice = factories.participant(self.phase, "alice" + tag)
        Profile.objects.create(user=self.alice, full_name="Alice Anders")
        self.amos = factories.participant(self.phase, "amos" + tag)
        self.bob = factories.participant(self.phase, "bob" + tag)
        self.rita = factories.participant(self.phase, "rita" + tag)
        self.alpha = create_team(self.participation(self.alice), "Alpha")
        join_team(self.participation(self.amos), self.alpha.join_code)
        self.beta = create_team(self.participation(self.bob), "Beta")
        Participation.objects.filter(user=self.rita).update(status=Participation.REJECTED)
        storage = private_storage()
        for case, data in IMAGE_BYTES.items():
            self.task.images[case] = storage.save(f"images/{self.task.id}/{case}.nii.gz",
                                                  ContentFile(data))
        self.task.save()
        self.submission, self.evaluation = self.scored(self.alice, self.alpha)

    def participation(self, user) -> Participation:
        return Participation.objects.get(user=user, challenge=self.challenge)

    def scored(self, user, team, phase: Phase | None = None):
        """A succeeded submission of ``user`` for ``team`` with per-case values."""
        phase = phase or self.phase
        submission, evaluation = factories.submission(
            phase, user, state="succeeded",
            aggregate={"1": {"dice": 0.9, "nsd": 0.8}, "2": {"dice": 0.5, "nsd": 0.4}})
        submission.team = team
        submission.save()
        CaseResult.objects.bulk_create(
            CaseResult(evaluation=evaluation, case=case, label=label,
                       values={"dice": 0.1 * label, "nsd": 0.2})
            for case in ("c0", "c1") for label in (1, 2))
        return submission, evaluation

    def storage_names(self) -> list[str]:
        """Every server-side name an answer must not carry."""
        truths = [entry["path"] for entry in self.phase.active_ground_truth.files.values()]
        files = [s.file.name for s in Submission.objects.all()]
        return [*truths, *self.task.images.values(), *files, "groundtruth", "organizer_log"]


@pytest.fixture
def cast() -> Cast:
    return Cast()


def get(user, path: str, **headers):
    """``path`` as ``user`` (None: anonymous) with a real API token."""
    return factories.api_client(user).get(path, **headers)


def body_of(response) -> str:
    return response.content.decode()


def assert_no_storage_names(cast: Cast, response) -> None:
    text = body_of(response)
    for name in cast.storage_names():
        assert name not in text, name


# --- pages ---------------------------------------------------------------------------------


def test_pages_are_listed_in_tab_order_as_source_and_safe_html(cast):
    response = get(None, f"/api/v1/challenges/{cast.challenge.slug}/pages/")
    assert response.status_code == 200
    pages = response.json()["results"]
    assert [page["name"] for page in pages] == ["overview", "rules", "data", "evaluation",
                                                "timeline", "organizers", "citation"]
    overview = pages[0]
    assert overview["source"] == cast.challenge.overview
    assert "<h1>Welcome</h1>" in overview["html"] and "<strong>the data</strong>" in \
        overview["html"]
    assert "<script" not in overview["html"] and "alert(1)" not in overview["html"]
    assert overview["url"].endswith(f"/challenges/{cast.challenge.slug}/")
    by_name = {page["name"]: page for page in pages}
    assert by_name["rules"]["html"] == "<ol>\n<li>Be <em>fair</em>.</li>\n</ol>\n"
    assert by_name["data"] == {**by_name["data"], "source": "", "html": ""}
    assert by_name["organizers"]["source"] == "- Olga Organizer"
    assert by_name["organizers"]["generated"] and not overview["generated"]
    assert "Dice" in by_name["evaluation"]["source"]
    assert "<h3>" in by_name["evaluation"]["html"]


def test_one_page_by_name_and_an_unknown_name(cast):
    base = f"/api/v1/challenges/{cast.challenge.id}/pages/"
    assert get(None, base + "rules/").json()["source"] == "1. Be *fair*."
    missing = get(None, base + "faq/")
    assert missing.status_code == 404 and "the pages are overview, rules" in \
        missing.json()["detail"]


def test_an_unpublished_challenge_shows_its_pages_and_tasks_to_its_organizers_only(cast):
    cast.challenge.is_published = False
    cast.challenge.save()
    for path in ("pages/", "tasks/", "pages/overview/", f"tasks/{cast.task.key}/"):
        url = f"/api/v1/challenges/{cast.challenge.slug}/{path}"
        assert get(None, url).status_code == 404
        assert get(cast.alice, url).status_code == 404
        assert get(cast.organizer, url).status_code == 200


# --- tasks ---------------------------------------------------------------------------------


def test_tasks_carry_labels_by_value_and_name_case_names_and_kind(cast):
    response = get(None, f"/api/v1/challenges/{cast.challenge.slug}/tasks/")
    assert response.status_code == 200 and response.json()["count"] == 1
    task = response.json()["results"][0]
    assert task["labels"] == [{"value": 0, "name": "background"},
                              {"value": 1, "name": "liver"}, {"value": 2, "name": "tumour"}]
    assert task["cases"] == ["c0", "c1"] and task["kind"] == "segmentation"
    assert task["phases"] == [str(cast.phase.id)]
    detail = get(None, f"/api/v1/challenges/{cast.challenge.slug}/tasks/{cast.task.key}/")
    assert detail.json() == task
    assert_no_storage_names(cast, response)
    assert "images" not in task and "imagesTs" not in body_of(response)
    assert get(None, f"/api/v1/challenges/{cast.challenge.slug}/tasks/Task99_X/"
               ).status_code == 404


# --- participation and teams ---------------------------------------------------------------


def test_the_callers_participation_with_their_team_and_its_members(cast):
    answer = get(cast.alice, f"/api/v1/challenges/{cast.challenge.slug}/participation/").json()
    assert answer["status"] == "accepted"
    assert answer["team"] == {"id": str(cast.alpha.id), "challenge": str(cast.challenge.id),
                              "name": "Alpha", "join_code": cast.alpha.join_code,
                              "members": [{"name": "Alice Anders"}, {"name": "amos"}]}
    rejected = get(cast.rita, f"/api/v1/challenges/{cast.challenge.slug}/participation/")
    assert rejected.json()["status"] == "rejected" and rejected.json()["team"] is None
    stranger = get(factories.user(), f"/api/v1/challenges/{cast.challenge.slug}/participation/")
    assert stranger.status_code == 404 and "not joined" in stranger.json()["detail"]
    assert get(None, f"/api/v1/challenges/{cast.challenge.slug}/participation/"
               ).status_code == 401


def test_a_team_is_shown_to_its_members_and_the_organizers_only(cast):
    url = f"/api/v1/teams/{cast.alpha.id}/"
    assert get(cast.amos, url).json()["join_code"] == cast.alpha.join_code
    organizer = get(cast.organizer, url)
    assert organizer.status_code == 200 and "join_code" not in organizer.json()
    assert [m["name"] for m in organizer.json()["members"]] == ["Alice Anders", "amos"]
    for outsider in (cast.bob, cast.rita, factories.user()):
        assert get(outsider, url).status_code == 404
    assert get(None, url).status_code == 401


def test_a_teams_submissions_for_its_members_and_the_organizers(cast):
    teammate, _ = cast.scored(cast.amos, cast.alpha)
    cast.scored(cast.bob, cast.beta)
    url = f"/api/v1/teams/{cast.alpha.id}/submissions/"
    listed = get(cast.alice, url + "?ordering=created").json()
    assert [s["id"] for s in listed["results"]] == [str(cast.submission.id), str(teammate.id)]
    assert listed["results"][0]["results"]["labels"] == [{"value": 1, "name": "liver"},
                                                        {"value": 2, "name": "tumour"}]
    assert get(cast.organizer, url).json()["count"] == 2
    assert get(cast.bob, url).status_code == 404
    assert get(cast.alice, url + "?state=failed").json()["count"] == 0
    assert get(cast.alice, url + "?ordering=size").status_code == 400


# --- submissions, evaluations and results ----------------------------------------------------


def test_results_name_their_labels_beside_the_values_they_always_carried(cast):
    results = get(cast.alice, f"/api/v1/submissions/{cast.submission.id}/").json()["results"]
    assert sorted(results["aggregate"]) == ["1", "2"]  # keys unchanged: label values
    assert results["labels"] == [{"value": 1, "name": "liver"}, {"value": 2, "name": "tumour"}]
    assert [(row["label"], row["label_name"]) for row in results["cases"]] == [
        (1, "liver"), (2, "tumour"), (1, "liver"), (2, "tumour")]
    listed = get(cast.alice, f"/api/v1/phases/{cast.phase.id}/submissions/").json()
    assert listed["results"][0]["results"]["labels"][1]["name"] == "tumour"


def test_the_evaluations_of_a_submission_with_results_by_label_value_and_name(cast):
    again = cast.submission.evaluations.create(
        ground_truth=cast.phase.active_ground_truth, metric_config=cast.phase.metric_config(),
        state="failed", participant_message="case c1: prediction shape differs",
        organizer_log="Traceback: /srv/private/groundtruth/secret")
    url = f"/api/v1/submissions/{cast.submission.id}/evaluations/"
    response = get(cast.amos, url)
    assert response.status_code == 200
    newest, first = response.json()["results"]
    assert newest["id"] == str(again.id) and newest["state"] == "failed"
    assert newest["message"] == "case c1: prediction shape differs" and newest["results"] is None
    assert first["results"]["labels"][0] == {"value": 1, "name": "liver"}
    assert first["results"]["aggregate"]["2"]["dice"] == 0.5 and "cases" not in first["results"]
    assert "Traceback" not in body_of(response)
    detail = get(cast.alice, f"/api/v1/evaluations/{cast.evaluation.id}/").json()
    assert [row["label_name"] for row in detail["results"]["cases"]][:2] == ["liver", "tumour"]
    assert_no_storage_names(cast, response)
    for outsider in (cast.bob, cast.rita):
        assert get(outsider, url).status_code == 404
        assert get(outsider, f"/api/v1/evaluations/{cast.evaluation.id}/").status_code == 404
    assert get(cast.organizer, url).json()["count"] == 2
    assert get(None, url).status_code == 401


def test_evaluations_keep_hidden_scores_hidden_except_from_organizers():
    cast = Cast(show_scores=False, show_case_results=False)
    url = f"/api/v1/evaluations/{cast.evaluation.id}/"
    assert "results" not in get(cast.alice, url).json()
    assert get(cast.organizer, url).json()["results"]["cases"][0]["label_name"] == "liver"


# --- test data -----------------------------------------------------------------------------


def test_test_data_is_a_list_of_links_per_case_and_the_archive(cast):
    response = get(cast.bob, f"/api/v1/phases/{cast.phase.id}/test-data/")
    assert response.status_code == 200
    answer = response.json()
    assert answer["task"] == cast.task.key and answer["count"] == 2
    assert [(f["case"], f["file_name"], f["size"]) for f in answer["results"]] == [
        ("c0", "c0.nii.gz", len(IMAGE_BYTES["c0"])), ("c1", "c1.nii.gz", len(IMAGE_BYTES["c1"]))]
    assert answer["archive"] == f"http://testserver/tasks/{cast.task.id}/images.zip"
    assert_no_storage_names(cast, response)
    client = factories.api_client(cast.bob)
    first = answer["results"][0]["url"]
    assert b"".join(client.get(first).streaming_content) == IMAGE_BYTES["c0"]
    part = client.get(first, HTTP_RANGE="bytes=10-")
    assert part.status_code == 206 and b"".join(part.streaming_content) == \
        IMAGE_BYTES["c0"][10:]
    assert client.get(answer["archive"]).status_code == 200


def test_test_data_comes_in_pages(cast):
    answer = get(cast.alice, f"/api/v1/phases/{cast.phase.id}/test-data/?page_size=1").json()
    assert [f["case"] for f in answer["results"]] == ["c0"]
    following = get(cast.alice, answer["next"]).json()
    assert [f["case"] for f in following["results"]] == ["c1"] and following["next"] is None
    assert following["archive"] == answer["archive"]


def test_test_data_is_refused_to_whoever_may_not_download_it(cast):
    url = f"/api/v1/phases/{cast.phase.id}/test-data/"
    rejected = get(cast.rita, url)
    assert rejected.status_code == 403 and "was not accepted" in rejected.json()["detail"]
    stranger = get(factories.user(), url)
    assert stranger.status_code == 403 and "join the challenge" in stranger.json()["detail"]
    assert get(None, url).status_code == 401
    assert get(cast.organizer, url).json()["count"] == 2


def test_on_s3_each_link_hands_over_a_short_lived_signed_url(s3_private):  # noqa: F811
    cast = Cast()
    answer = get(cast.alice, f"/api/v1/phases/{cast.phase.id}/test-data/").json()
    assert [f["size"] for f in answer["results"]] == [len(IMAGE_BYTES["c0"]),
                                                      len(IMAGE_BYTES["c1"])]
    assert_no_storage_names(cast, get(cast.alice, f"/api/v1/phases/{cast.phase.id}/test-data/"))
    handed = factories.api_client(cast.alice).get(answer["results"][1]["url"])
    assert handed.status_code == 302 and handed["Location"].startswith(s3_private)
    assert "X-Amz-Signature=" in handed["Location"] and "X-Amz-Expires=" in handed["Location"]
    with urllib.request.urlopen(handed["Location"]) as fetched:  # noqa: S310  (local server)
        assert fetched.read() == IMAGE_BYTES["c1"]


def test_a_task_without_stored_images_lists_none_and_no_archive():
    phase = factories.phase()
    answer = get(factories.participant(phase), f"/api/v1/phases/{phase.id}/test-data/").json()
    assert answer["count"] == 0 and answer["results"] == [] and answer["archive"] is None


# --- leaderboards: exports and statistics --------------------------------------------------


def test_exports_are_those_the_leaderboard_page_offers(cast):
    response = get(None, f"/api/v1/phases/{cast.phase.id}/leaderboard/exports/")
    found = [(e["name"], e["format"]) for e in response.json()["exports"]]
    assert found == [("leaderboard", "json"), ("leaderboard", "csv"), ("cases", "csv"),
                     ("cases", "json"), ("ranking-input", "csv")]
    client = factories.api_client()
    for export in response.json()["exports"]:
        assert client.get(export["url"]).status_code == 200, export
    overall = get(None, f"/api/v1/challenges/{cast.challenge.slug}/leaderboard/exports/")
    assert [(e["name"], e["format"]) for e in overall.json()["exports"]] == [
        ("leaderboard", "csv"), ("leaderboard", "json")]


def test_exports_follow_what_the_phase_publishes():
    cast = Cast(show_case_results=False)
    url = f"/api/v1/phases/{cast.phase.id}/leaderboard/exports/"
    assert [e["name"] for e in get(None, url).json()["exports"]] == ["leaderboard"] * 2
    assert len(get(cast.organizer, url).json()["exports"]) == 5
    Phase.objects.filter(pk=cast.phase.pk).update(show_scores=False)
    assert get(cast.alice, url).json()["exports"] == []
    Phase.objects.filter(pk=cast.phase.pk).update(is_public=False)
    assert get(cast.alice, url).status_code == 404
    assert get(None, url).status_code == 404


def test_phase_and_overall_leaderboards_carry_the_statistics_the_pages_show():
    phases = challenge_phases(["Task01_A", "Task02_B"], cases=["c0", "c1", "c2", "c3"],
                              slug="stats", bootstrap_samples=20)
    for phase in phases:
        random_board(phase, 3, seed=2, names=[f"{phase.task.key}-p{k}" for k in range(3)])
        services.refresh(phase.id)
    services.refresh_challenge(phases[0].task.challenge_id)
    board = get(None, f"/api/v1/phases/{phases[0].id}/leaderboard/").json()
    assert board["n_boot"] == 20
    entry = board["entries"][0]
    assert entry["score_q025"] <= entry["score"] <= entry["score_q975"]
    assert entry["rank_q025"] <= entry["rank_median"] <= entry["rank_q975"]
    assert 0 <= entry["p_rank1"] <= 1 and entry["n_cases"] == 4
    statistics = board["statistics"]
    assert statistics["rank_distribution"] and statistics["significance"]
    overall = get(None, "/api/v1/challenges/stats/leaderboard/").json()
    ranking = overall["rankings"][0]
    assert [task["key"] for task in ranking["tasks"]] == ["Task01_A", "Task02_B"]
    first = ranking["entries"][0]
    assert len(first["task_ranks"]) == 2 and first["tasks_ranked"] == 1
    assert ranking["msd_entries"]


# --- algorithm images --------------------------------------------------------------------


def test_algorithm_images_the_caller_may_see_never_anyone_elses(cast):
    phase = Phase.objects.create(task=cast.task, name="Algorithms", submission_kind="algorithm",
                                 active_ground_truth=cast.phase.active_ground_truth)
    own, _ = cast.scored(cast.alice, cast.alpha, phase)
    Submission.objects.filter(pk=own.pk).update(image_id="sha256:" + "a" * 64, is_valid=True)
    other, _ = cast.scored(cast.bob, cast.beta, phase)
    url = f"/api/v1/phases/{phase.id}/algorithm-images/"
    mine = get(cast.amos, url)
    assert [i["submission"] for i in mine.json()["results"]] == [str(own.id)]
    image = mine.json()["results"][0]
    assert image["image_id"] == "sha256:" + "a" * 64 and image["valid"] is True
    assert image["team"] == "Alpha" and image["size"] == 3
    assert_no_storage_names(cast, mine)
    assert [i["submission"] for i in get(cast.bob, url).json()["results"]] == [str(other.id)]
    assert get(cast.rita, url).json()["count"] == 0
    assert get(cast.organizer, url).json()["count"] == 2
    assert get(cast.organizer, url + "?team=Beta").json()["results"][0]["team"] == "Beta"
    assert get(None, url).status_code == 401


# --- everything together -------------------------------------------------------------------


def test_no_answer_carries_label_content_or_a_storage_path(cast):
    paths = [
        f"/api/v1/challenges/{cast.challenge.slug}/pages/",
        f"/api/v1/challenges/{cast.challenge.slug}/tasks/",
        f"/api/v1/challenges/{cast.challenge.slug}/participation/",
        f"/api/v1/teams/{cast.alpha.id}/", f"/api/v1/teams/{cast.alpha.id}/submissions/",
        f"/api/v1/submissions/{cast.submission.id}/",
        f"/api/v1/submissions/{cast.submission.id}/evaluations/",
        f"/api/v1/evaluations/{cast.evaluation.id}/",
        f"/api/v1/phases/{cast.phase.id}/test-data/",
        f"/api/v1/phases/{cast.phase.id}/algorithm-images/",
        f"/api/v1/phases/{cast.phase.id}/leaderboard/exports/",
    ]
    for user in (cast.alice, cast.organizer):
        for path in paths:
            if user == cast.organizer and path.endswith("/participation/"):
                continue  # organizers do not join
            response = get(user, path)
            assert response.status_code == 200, path
            assert_no_storage_names(cast, response)
            json.loads(response.content)


@pytest.mark.parametrize("path", ["page=0", "page_size=101", "page=9", "ordering=name"])
def test_a_malformed_query_is_answered_with_a_message(cast, path):
    response = get(cast.alice, f"/api/v1/phases/{cast.phase.id}/algorithm-images/?{path}")
    assert response.status_code in (400, 404) and response.json()["detail"]


# --- queries constant in the rows ----------------------------------------------------------


def counted(user, url: str) -> int:
    client = factories.api_client(user)
    assert client.get(url).status_code == 200, url  # caches warm
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return len(queries)


def _cast_with(n: int) -> tuple[Cast, Phase]:
    """A cast whose team Alpha sent ``n`` more scored submissions (of predictions and of
    algorithm images) and whose task has ``n`` more stored test images and tasks."""
    cast = Cast(slug=f"res-{n}")
    algorithms = Phase.objects.create(task=cast.task, name="Algorithms",
                                      submission_kind="algorithm",
                                      active_ground_truth=cast.phase.active_ground_truth)
    for k in range(n):
        cast.scored(cast.amos, cast.alpha)
        cast.scored(cast.alice, cast.alpha, algorithms)
        cast.submission.evaluations.create(ground_truth=cast.phase.active_ground_truth,
                                           metric_config=cast.phase.metric_config(),
                                           state="failed")
        case = f"extra{k}"
        cast.task.cases.append({"name": case, "image": f"imagesTs/{case}.nii.gz",
                                "geometry": cast.task.cases[0]["geometry"]})
        cast.task.images[case] = private_storage().save(f"images/{cast.task.id}/{case}.nii.gz",
                                                        ContentFile(b"x" * (k + 1)))
        Task.objects.create(challenge=cast.challenge, key=f"Task{k + 10}_More", name="More",
                            labels=LABELS, cases=cast.task.cases[:1])
    cast.task.save()
    return cast, algorithms


@pytest.mark.parametrize("who, path", [
    ("alice", "/api/v1/teams/{team}/submissions/"),
    ("organizer", "/api/v1/teams/{team}/submissions/"),
    ("alice", "/api/v1/submissions/{submission}/evaluations/"),
    ("alice", "/api/v1/phases/{phase}/test-data/"),
    ("alice", "/api/v1/phases/{algorithms}/algorithm-images/"),
    ("organizer", "/api/v1/phases/{algorithms}/algorithm-images/"),
    ("alice", "/api/v1/challenges/{challenge}/tasks/"),
])
def test_lists_cost_the_same_queries_for_few_and_many_rows(who, path):
    counts = []
    for n in (1, 8):
        cast, algorithms = _cast_with(n)
        url = path.format(team=cast.alpha.id, submission=cast.submission.id,
                          phase=cast.phase.id, algorithms=algorithms.id,
                          challenge=cast.challenge.slug)
        counts.append(counted(cast.alice if who == "alice" else cast.organizer, url))
    assert counts[0] == counts[1], counts

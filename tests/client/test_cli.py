"""The ``podium`` command end to end, against a live server started by the test and, for
scoring, a real Celery worker process: login, challenges, joining, downloading (resuming a
partial file), submitting (an upload interrupted, then resumed at the server's offset), waiting
with exit codes, results in three formats, the leaderboard, tokens, and one-line errors."""

import csv
import io
import json
import signal
import stat
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from challenges.models import DownloadLog
from evaluation.models import Submission, UploadSession
from tests import factories
from tests.conftest import wait_for
from tests.evaluation.helpers import cube_predictions_zip

from .conftest import one_error_line
from .proxy import Proxy

pytestmark = pytest.mark.django_db(transaction=True)

CHUNK = 64
PUT = b"PUT /api/v1/uploads/"


def logged_in(site, token=None) -> dict:
    return {"PODIUM_URL": site.url, "PODIUM_TOKEN": token or site.token}


def test_login_keeps_the_token_for_its_owner_and_the_environment_overrides_it(podium, site):
    wrong = podium("login", site.url, "--token", "not-a-token")
    assert wrong.code == 1
    assert one_error_line(wrong) == ("invalid token (HTTP 401); run `podium login` with a valid "
                                     "token")
    assert not podium.config.exists()

    ran = podium("login", f"{site.url}/", "--token", site.token)
    assert ran.code == 0, ran.err
    assert stat.S_IMODE(podium.config.stat().st_mode) == 0o600
    assert stat.S_IMODE(podium.config.parent.stat().st_mode) == 0o700
    assert json.loads(podium.config.read_text()) == {"url": site.url, "token": site.token}
    listed = podium("challenges")
    assert listed.code == 0
    assert listed.out.splitlines()[0].split() == ["slug", "title", "phases", "approval"]
    assert listed.out.splitlines()[1].split() == ["cubes", "Cubes", "1", "no"]
    overridden = podium("challenges", env={"PODIUM_TOKEN": "revoked-long-ago"})
    assert overridden.code == 1 and "invalid token (HTTP 401)" in one_error_line(overridden)


def test_join_then_download_and_resume_a_partial_file(podium, site):
    challenge = site.phase.challenge
    challenge.terms = "Cite the challenge paper."
    challenge.save()
    env = logged_in(site, factories.token(factories.user("newcomer")))
    phases = podium("phases", "cubes", env=env)
    assert phases.code == 0
    assert phases.out.splitlines()[1].split() == [str(site.phase.id), "Task09_Cubes",
                                                  site.phase.name, "predictions", "yes"]
    refused = podium("download", site.phase.id, env=env)
    assert refused.code == 1
    assert one_error_line(refused) == "join the challenge to download its test data (HTTP 403)"
    unread = podium("join", "cubes", env=env)
    assert unread.code == 1 and one_error_line(unread) == (
        f"cubes has terms of participation: read them at {site.url}/challenges/cubes/rules/ "
        "and run `podium join cubes --accept-terms`")
    joined = podium("join", "cubes", "--accept-terms", env=env)
    assert joined.code == 0 and joined.out.startswith("Joined cubes: accepted")

    got = podium("download", site.phase.id, "--to", "data", env=env)
    assert got.code == 0, got.err
    assert got.out == ("2 test images in data/: 2 downloaded, 0 resumed, 0 already "
                       "complete.\n")
    folder = podium.home / "data"
    originals = {p.name: p.read_bytes() for p in (site.task_folder / "imagesTs").iterdir()}
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == originals

    # Interrupted halfway through cube_001: its bytes so far are in the .part file.
    image = originals["cube_001.nii.gz"]
    (folder / "cube_001.nii.gz").unlink()
    (folder / "cube_001.nii.gz.part").write_bytes(image[: len(image) // 2])
    DownloadLog.objects.all().delete()
    again = podium("download", site.phase.id, "--to", "data", env=env)
    assert again.code == 0, again.err
    assert again.out == "2 test images in data/: 0 downloaded, 1 resumed, 1 already complete.\n"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == originals
    # Only the missing half crossed the network (a Range request), and nothing of cube_000.
    assert list(DownloadLog.objects.values_list("item", "bytes")) == [
        ("cube_001", len(image) - len(image) // 2)]


def test_an_interrupted_upload_resumes_and_is_scored_ranked_and_shown(
        podium, site, settings, celery_worker, tmp_path):
    settings.PODIUM_UPLOAD_CHUNK_BYTES = CHUNK
    archive = cube_predictions_zip(tmp_path)
    size = archive.stat().st_size
    assert size > 5 * CHUNK
    server = urlsplit(site.url)
    proxy = Proxy((server.hostname, server.port))
    env = {"PODIUM_URL": proxy.url, "PODIUM_TOKEN": site.token}
    try:
        # The connection hangs at the third chunk; the participant presses Ctrl-C.
        proxy.hold_at(PUT, 3)
        process = podium.start("submit", archive, "--phase", site.phase.id, env=env)
        assert proxy.held.wait(60), "the upload never reached its third chunk"
        assert UploadSession.objects.get().received == 2 * CHUNK
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
        assert process.returncode == 130
        assert err.strip().splitlines()[-1] == ("podium: error: interrupted; run the same "
                                                "command again to go on where it stopped")
        assert not Submission.objects.exists()

        # Run again: it resumes at the server's offset, and a connection dropped on the way
        # costs one retry from the offset the server then reports.
        proxy.cut_at(PUT, 2)
        ran = podium("submit", archive, "--phase", site.phase.id, env=env)
        assert ran.code == 0, ran.err
        assert proxy.cut.is_set()
    finally:
        proxy.close()
    assert f"Resuming the earlier upload at byte {2 * CHUNK} of {size}." in ran.err
    assert "100%" in ran.err  # the progress bar, finished
    submission = Submission.objects.get()
    assert ran.out == f"Submitted preds.zip: submission {submission.id}, queued.\n"
    assert submission.file.read() == archive.read_bytes()
    assert UploadSession.objects.get().submission_id == submission.id
    assert json.loads((podium.home / "config" / "podium" / "uploads.json").read_text()) == {}

    env = logged_in(site)
    waited = podium("wait", submission.id, "--interval", "0.5", "--timeout", "120", env=env)
    assert waited.code == 0, waited.err
    assert waited.out.startswith("succeeded")

    table = podium("results", submission.id, env=env)
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["case", "label", "Dice", "NSD", "HD", "(mm)", "HD95", "(mm)",
                                "ASSD", "(mm)"]
    assert lines[1].split()[:3] == ["all", "big", "0.9000"]
    assert lines[2].split()[:3] == ["all", "small", "0.6667"]
    assert lines[3].split()[:2] == ["cube_000", "big"]
    as_json = json.loads(podium("results", submission.id, "--format", "json", env=env).out)
    assert [(r["label"], r["label_name"]) for r in as_json["aggregate"]] == [(1, "big"),
                                                                            (2, "small")]
    assert as_json["aggregate"][0]["dice"] == pytest.approx(0.9)
    assert {m["name"]: m["unit"] for m in as_json["metrics"]}["hd95"] == "mm"
    assert len(as_json["cases"]) == 4
    rows = list(csv.DictReader(io.StringIO(
        podium("results", submission.id, "--format", "csv", env=env).out)))
    assert [(r["case"], r["label_name"]) for r in rows] == [
        ("", "big"), ("", "small"), ("cube_000", "big"), ("cube_000", "small"),
        ("cube_001", "big"), ("cube_001", "small")]
    assert float(rows[0]["Dice"]) == pytest.approx(0.9) and "HD95 (mm)" in rows[0]

    wait_for(lambda: APIClient().get(f"/api/v1/phases/{site.phase.id}/leaderboard/")
             .json()["entries"], timeout=60, what="the leaderboard snapshot")
    board = podium("leaderboard", site.phase.id, env=env)
    assert board.code == 0, board.err
    assert board.out.splitlines()[0].split()[:3] == ["rank", "entrant", "dice"]
    assert board.out.splitlines()[1].split()[:3] == ["1", "cli-user", f"{(0.9 + 2 / 3) / 2:.4f}"]
    ranked = list(csv.DictReader(io.StringIO(
        podium("leaderboard", site.phase.id, "--format", "csv", env=env).out)))
    assert [(r["rank"], r["entrant"]) for r in ranked] == [("1", "cli-user")]


@pytest.mark.parametrize("state, code, shown", [
    ("failed", 1, "failed: case cube_000: prediction shape (20, 20, 9) does not match the "
                  "image (20, 20, 10)\n"),
    ("cancelled", 2, "cancelled\n"),
])
def test_wait_says_how_a_submission_ended_in_its_exit_code(podium, site, state, code, shown):
    submission, _ = factories.submission(site.phase, site.user, state=state,
                                         participant_message=shown.partition(": ")[2].strip())
    waited = podium("wait", submission.id, "--interval", "0.2", env=logged_in(site))
    assert (waited.code, waited.out) == (code, shown)


def test_wait_gives_up_after_its_timeout_with_exit_code_2(podium, site):
    submission, _ = factories.submission(site.phase, site.user, state="queued")
    waited = podium("wait", submission.id, "--timeout", "1", "--interval", "0.2",
                    env=logged_in(site))
    assert waited.code == 2
    assert waited.err.splitlines() == [  # each state once as it is seen, then the reason
        f"{submission.id}: queued",
        f"podium: error: submission {submission.id} is still queued after 1 s"]
    status = podium("status", submission.id, env=logged_in(site))
    assert status.code == 0 and "state:      queued" in status.out


def test_tokens_are_created_listed_and_revoked(podium, site):
    env = logged_in(site)
    created = podium("tokens", "create", "--name", "ci", "--expires-days", "7", env=env)
    assert created.code == 0, created.err
    header, key = created.out.splitlines()
    token = ApiToken.objects.get(name="ci")
    assert header.startswith(f"Token {token.id} (ci), expires: ")
    assert key.startswith(token.prefix) and "only time the key is shown" in created.err
    listed = podium("tokens", "list", env=logged_in(site, key))
    assert listed.code == 0
    assert f"{token.prefix}…" in listed.out and key not in listed.out
    assert len(listed.out.splitlines()) == 3  # the heading, the session's token, ci
    revoked = podium("tokens", "revoke", token.id, env=env)
    assert (revoked.code, revoked.out) == (0, f"Token {token.id} revoked: it no longer works.\n")
    after = podium("tokens", env=logged_in(site, key))
    assert after.code == 1
    assert one_error_line(after) == ("invalid token (HTTP 401); run `podium login` with a "
                                     "valid token")
    again = podium("tokens", "revoke", token.id, env=env)
    assert one_error_line(again) == f"you have no token with id {token.id} (HTTP 404)"


def test_every_failure_is_one_line_with_the_reason(podium, site, tmp_path):
    env = logged_in(site)
    notes = tmp_path / "notes.txt"
    notes.write_text("not an archive " * 40)
    missing = "00000000-0000-0000-0000-000000000000"
    cases = [
        (("challenges",), {}, "not logged in: run `podium login URL --token TOKEN` (or set "
                              "PODIUM_URL and PODIUM_TOKEN)"),
        (("challenges",), {"PODIUM_URL": "http://127.0.0.1:9", "PODIUM_TOKEN": "x"},
         "cannot reach http://127.0.0.1:9: Connection refused"),
        (("submit", "nothing.zip", "--phase", site.phase.id), env,
         "cannot read nothing.zip: No such file or directory"),
        (("submit", notes, "--phase", site.phase.id, "--quiet"), env, "not a zip or tar"),
        (("status", missing), env, "(HTTP 404)"),
        (("phases", "no-such-challenge"), env, "(HTTP 404)"),
        (("download", "not-a-phase"), env, "(HTTP 404)"),
    ]
    for args, extra, message in cases:
        ran = podium(*args, env=extra)
        assert ran.code == 1, args
        assert message in one_error_line(ran), (args, ran.err)
    usage = podium("results", "x", "--format", "xml", env=env)
    assert usage.code == 2 and "invalid choice: 'xml'" in usage.err

"""A participant's archive cannot name (and so take over) the platform's images: loading
drops every tag, and the platform addresses images by id only."""

import gzip
import io
import json
import tarfile
import threading
import time

import pytest

from evaluation.runners.base import Outcome, RunRequest
from evaluation.runners.docker_api import _untagged_chunks
from evaluation.runners.image_archive import write_image_archive
from tests.evaluation.runners import images
from tests.evaluation.runners.conftest import TEST_LIMITS

pytestmark = pytest.mark.engine

PLATFORM_TAG = "localhost/podium-gpu-worker:latest"


def members(chunks) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        return {m.name: tar.extractfile(m).read() if m.isreg() else b"" for m in tar}


def test_the_stream_keeps_everything_but_the_tags(tmp_path):
    spec = images.base_spec(cmd=("/bin/sh", "/algo/correct.sh"))
    path = tmp_path / "tagged.tar"
    write_image_archive(spec, path, tag=PLATFORM_TAG)
    original = members([path.read_bytes()])
    rewritten = members(_untagged_chunks(path))
    assert set(rewritten) == set(original)
    manifest = json.loads(rewritten["manifest.json"])
    assert manifest[0]["RepoTags"] is None
    assert {k: v for k, v in manifest[0].items() if k != "RepoTags"} == {
        k: v for k, v in json.loads(original["manifest.json"])[0].items() if k != "RepoTags"}
    assert all(rewritten[name] == original[name] for name in original if name != "manifest.json")
    gz = tmp_path / "tagged.tar.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert members(_untagged_chunks(gz)) == rewritten


def test_loading_a_participant_archive_never_moves_a_platform_tag(runner, tmp_path):
    platform = images.base_spec(cmd=("/bin/sh", "/algo/sleep.sh"))
    platform_id = write_image_archive(platform, tmp_path / "platform.tar", tag=PLATFORM_TAG)
    for line in runner.client.api.load_image((tmp_path / "platform.tar").read_bytes()):
        assert not (isinstance(line, dict) and line.get("error")), line
    hostile = images.base_spec(cmd=("/bin/sh", "/algo/correct.sh"))
    hostile_path = tmp_path / "hostile.tar"
    hostile_id = write_image_archive(hostile, hostile_path, tag=PLATFORM_TAG)
    assert hostile_id != platform_id
    try:
        assert runner.load_image(hostile_path) == hostile_id
        assert runner.client.images.get(PLATFORM_TAG).id == platform_id
        assert runner.client.images.get(hostile_id).tags == []
    finally:
        runner.remove_image(hostile_id)
        runner.remove_image(platform_id)


def test_stop_kills_a_run_in_flight(runner, algorithm, case_folders):
    inputs, outputs = case_folders
    request = RunRequest(run_id="stop-me", image_id=algorithm("sleep"), input_dir=inputs,
                         output_dir=outputs, limits=TEST_LIMITS)
    stopper = threading.Timer(3.0, runner.stop, args=["stop-me"])
    started = time.monotonic()
    stopper.start()
    result = runner.run(request)
    stopper.join()
    assert time.monotonic() - started < TEST_LIMITS.wall_time_s - 5
    assert result.outcome != Outcome.SUCCEEDED and result.outcome != Outcome.TIME_LIMIT
    assert runner.client.api.containers(all=True, filters={"name": "podium-test-stop-me"}) == []

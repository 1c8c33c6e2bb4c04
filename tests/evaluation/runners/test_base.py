"""The runner interface: participant-facing messages, validation, backend lookup, GPU index."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.runners import Outcome, ResourceLimits, RunRequest, RunResult, get_runner
from evaluation.runners.base import MIB, gpu_index_from_env
from evaluation.runners.docker_api import DockerApiRunner


@pytest.mark.parametrize(
    ("outcome", "fields", "message"),
    [
        (Outcome.SUCCEEDED, {}, ""),
        (Outcome.EXIT_NONZERO, {"exit_code": 3}, "the algorithm exited with code 3"),
        (Outcome.MEMORY_LIMIT, {"exit_code": 137}, "memory limit exceeded"),
        (Outcome.TIME_LIMIT, {}, "time limit of 600 s exceeded"),
        (
            Outcome.OUTPUT_TOO_LARGE,
            {},
            "the outputs exceed the limit of 512 MiB or 300 files and folders",
        ),
        (Outcome.ENGINE_ERROR, {}, "the algorithm could not be run because of an internal error"),
    ],
)
def test_messages(outcome, fields, message):
    limits = ResourceLimits(wall_time_s=600, output_bytes=512 * MIB, output_files=300)

    assert RunResult(outcome=outcome, limits=limits, **fields).message == message


def test_time_limits_keep_their_fraction_in_the_message():
    limits = ResourceLimits(wall_time_s=2.5)

    assert RunResult(outcome=Outcome.TIME_LIMIT, limits=limits).message == (
        "time limit of 2.5 s exceeded"
    )


def test_an_engine_error_never_shows_its_detail_to_participants():
    result = RunResult(
        outcome=Outcome.ENGINE_ERROR, limits=ResourceLimits(), error="socket /run/x refused"
    )

    assert "/run/x" not in result.message


@pytest.mark.parametrize("field", ["memory_bytes", "pids", "wall_time_s", "output_files"])
@pytest.mark.parametrize("value", [0, -1])
def test_limits_must_be_positive(field, value):
    with pytest.raises(ValueError, match=field):
        ResourceLimits(**{field: value})


@pytest.mark.parametrize("run_id", ["", "Eval-1", "eval_1", "-eval", "a" * 64, "../x", "a b"])
def test_run_ids_are_safe_engine_names(run_id):
    with pytest.raises(ValueError, match="run_id"):
        RunRequest(run_id=run_id, image_id="i", input_dir=Path("/i"), output_dir=Path("/o"))


def test_get_runner_builds_a_configured_docker_api_runner():
    runner = get_runner(
        "docker_api", docker_host="unix:///run/podium.sock", name_prefix="podium-gpu0-"
    )

    assert isinstance(runner, DockerApiRunner)
    assert runner.config.docker_host == "unix:///run/podium.sock"
    assert runner.config.name_prefix == "podium-gpu0-"


def test_get_runner_refuses_unknown_backends_and_bad_prefixes():
    with pytest.raises(ValueError, match="unknown runner backend"):
        get_runner("slurm")
    with pytest.raises(ValueError, match="name_prefix"):
        get_runner("docker_api", name_prefix="Podium/")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, None), ({"PODIUM_GPU_INDEX": ""}, None), ({"PODIUM_GPU_INDEX": " 2 "}, "2"),
     ({"PODIUM_GPU_INDEX": "0"}, "0"), ({"PODIUM_GPU_INDEX": "10"}, "10")],
)
def test_gpu_index_from_env(environ, expected):
    assert gpu_index_from_env(environ) == expected


# One parser for every id that reaches the engine (parse_decimal): ASCII digits, one reading.
@pytest.mark.parametrize("value", ["-1", "gpu0", "all", "0,1", "01", "+1", "¹", "٣", "1 2"])
def test_gpu_index_from_env_refuses_anything_but_one_index(value):
    with pytest.raises(ValueError, match="PODIUM_GPU_INDEX"):
        gpu_index_from_env({"PODIUM_GPU_INDEX": value})
